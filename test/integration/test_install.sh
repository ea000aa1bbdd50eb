#!/bin/sh
# make install and make uninstall into a DESTDIR: every file where it
# belongs with its mode, the paths in the service filled in, a changed
# /etc/default/hoody-tunnel kept, nothing left after uninstall. The example
# environment file names every HOODY_TUNNEL_* variable the daemon knows.
# Then systemd-analyze: `verify` is clean on the installed units (the
# service, the socket, the vhost socket example, the privileged-ports
# drop-in) and `security` rates the service at most 2.0 (1.1 with systemd
# 252; 1.4 with the drop-in). Those two need systemd-analyze, and say SKIP
# without it (sh third_party/deps.sh pkg installs it).
#
# The programs come from $BUILD as they are: make is told not to rebuild
# them (-o), whatever build this test runs under.
set -eu
: "${BUILD:=build}"
root=${HT_ROOT:-$(pwd)}
cd "$root"
daemon=$BUILD/hoody-tunnel
htc=$BUILD/htc
[ -x "$daemon" ] && [ -x "$htc" ] || { echo "FAIL: build $daemon and $htc first"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# make, from inside another make or not, with the programs as they are
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -o "$daemon" -o "$htc" BUILD="$BUILD" "$@"
}

# ---- install into a DESTDIR ---------------------------------------------
dest=$tmp/dest
mk install DESTDIR="$dest" PREFIX=/usr/local >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }

expect="755 usr/local/sbin/hoody-tunnel
755 usr/local/bin/htc
644 usr/local/share/man/man8/hoody-tunnel.8
644 usr/local/share/man/man1/htc.1
644 usr/local/lib/systemd/system/hoody-tunnel.service
644 usr/local/lib/systemd/system/hoody-tunnel.socket
644 usr/local/share/doc/hoody-tunnel/privileged-ports.conf
644 usr/local/share/doc/hoody-tunnel/hoody-tunnel-vhost.socket
644 etc/default/hoody-tunnel"
got=$(cd "$dest" && find . -type f | sed 's|^\./||' | while read -r f; do echo "$(stat -c %a "$f") $f"; done | sort)
[ "$got" = "$(echo "$expect" | sort)" ] || fail "installed files differ; expected:
$expect
got:
$got"
cmp -s "$daemon" "$dest/usr/local/sbin/hoody-tunnel" || fail "the installed daemon is not $daemon"
cmp -s "$htc" "$dest/usr/local/bin/htc" || fail "the installed htc is not $htc"
cmp -s dist/hoody-tunnel.env "$dest/etc/default/hoody-tunnel" || fail "the environment file is not dist/hoody-tunnel.env"
for f in "$dest"/usr/local/lib/systemd/system/*; do
	! grep -n '@[a-z]*@' "$f" || fail "$f: a path was not filled in"
done
unit=$dest/usr/local/lib/systemd/system/hoody-tunnel.service
grep -qx 'ExecStart=/usr/local/sbin/hoody-tunnel $DAEMON_OPTS' "$unit" || fail "ExecStart: $(grep ExecStart= "$unit")"
grep -qx 'EnvironmentFile=-/etc/default/hoody-tunnel' "$unit" || fail "EnvironmentFile: $(grep EnvironmentFile= "$unit")"
grep -qx '#LoadCredential=token:/etc/hoody-tunnel/token' "$unit" || fail "no LoadCredential= example"
echo "ok: make install DESTDIR=... PREFIX=/usr/local: 9 files, modes, paths"

# A second install keeps a changed environment file; so does uninstall.
echo "HOODY_TUNNEL_LOG_LEVEL=debug" >>"$dest/etc/default/hoody-tunnel"
mk install DESTDIR="$dest" PREFIX=/usr/local >"$tmp/install2.log" 2>&1 || { cat "$tmp/install2.log"; fail "second make install"; }
grep -q '^kept .*/etc/default/hoody-tunnel' "$tmp/install2.log" || fail "install did not say it kept the environment file"
grep -q 'LOG_LEVEL=debug' "$dest/etc/default/hoody-tunnel" || fail "install overwrote a changed environment file"
mk uninstall DESTDIR="$dest" PREFIX=/usr/local >"$tmp/uninstall.log" 2>&1 || { cat "$tmp/uninstall.log"; fail "make uninstall"; }
grep -q '^kept .*/etc/default/hoody-tunnel: changed' "$tmp/uninstall.log" || fail "uninstall did not say it kept the environment file"
left=$(cd "$dest" && find . -type f)
[ "$left" = "./etc/default/hoody-tunnel" ] || fail "after uninstall, left: $left"
echo "ok: a changed /etc/default/hoody-tunnel is kept by install and uninstall"

# Unchanged, everything goes.
mk install DESTDIR="$dest" PREFIX=/usr/local >/dev/null 2>&1 || fail "third make install"
cp dist/hoody-tunnel.env "$dest/etc/default/hoody-tunnel"
mk uninstall DESTDIR="$dest" PREFIX=/usr/local >"$tmp/uninstall.log" 2>&1 || { cat "$tmp/uninstall.log"; fail "make uninstall"; }
left=$(cd "$dest" && find . -type f)
[ -z "$left" ] || fail "after uninstall, left: $left"
[ ! -d "$dest/usr/local/share/doc/hoody-tunnel" ] || fail "uninstall left the doc directory"
echo "ok: make uninstall leaves no file"

# ---- the environment file knows every variable -------------------------
"$daemon" --help | sed -n 's/.*env \(HOODY_TUNNEL_[A-Z0-9_]*\).*/\1/p' | sort -u >"$tmp/known"
[ -s "$tmp/known" ] || fail "hoody-tunnel --help names no variable"
sed -n 's/^#\{0,1\}\(HOODY_TUNNEL_[A-Z0-9_]*\)=.*/\1/p' dist/hoody-tunnel.env | sort -u >"$tmp/listed"
missing=$(comm -23 "$tmp/known" "$tmp/listed")
unknown=$(comm -13 "$tmp/known" "$tmp/listed")
[ -z "$missing" ] || fail "dist/hoody-tunnel.env does not mention: $missing"
[ -z "$unknown" ] || fail "dist/hoody-tunnel.env names unknown variables: $unknown"
! grep -n '^[A-Za-z]' dist/hoody-tunnel.env || fail "dist/hoody-tunnel.env sets something: every line must be a comment"
echo "ok: dist/hoody-tunnel.env lists the $(wc -l <"$tmp/known") variables, all commented"

# ---- systemd-analyze -----------------------------------------------------
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze verify/security: no systemd-analyze (sh third_party/deps.sh pkg)"
	exit 0
fi
# verify wants ExecStart's program at its path and the Documentation= page
# found by man: install under a prefix that is real, and point MANPATH there.
sys=$tmp/sys
mk install PREFIX="$sys/usr" sysconfdir="$sys/etc" >"$tmp/install3.log" 2>&1 || { cat "$tmp/install3.log"; fail "make install PREFIX=$sys/usr"; }
units=$sys/usr/lib/systemd/system
verify() {
	out=$(MANPATH=$sys/usr/share/man systemd-analyze verify "$@" 2>&1) || fail "systemd-analyze verify $*: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $*: $out"
}
verify "$units/hoody-tunnel.service" "$units/hoody-tunnel.socket"
cp "$sys/usr/share/doc/hoody-tunnel/hoody-tunnel-vhost.socket" "$units/"
verify "$units/hoody-tunnel-vhost.socket"
echo "ok: systemd-analyze verify: the service, the socket, the vhost socket"

# "→ Overall exposure level for hoody-tunnel.service: 1.1 OK 🙂"
exposure() {
	systemd-analyze security --offline=true --no-pager "$units/hoody-tunnel.service" >"$tmp/security" 2>&1 ||
		{ cat "$tmp/security"; fail "systemd-analyze security"; }
	score=$(sed -n 's/.*Overall exposure level for hoody-tunnel\.service: \([0-9.]*\).*/\1/p' "$tmp/security")
	[ -n "$score" ] || { cat "$tmp/security"; fail "no exposure level in the output"; }
	awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { grep '✗' "$tmp/security"; fail "exposure $score > 2.0 $1"; }
	echo "ok: systemd-analyze security: exposure $score $1"
}
exposure ""
mkdir "$units/hoody-tunnel.service.d"
cp "$sys/usr/share/doc/hoody-tunnel/privileged-ports.conf" "$units/hoody-tunnel.service.d/"
verify "$units/hoody-tunnel.service"
exposure "(with privileged-ports.conf)"
