#!/bin/sh
# The Debian packages: dpkg-buildpackage -us -uc -b (nocheck, parallel=2)
# on a copy of the tree in a temporary directory, so that nothing is left
# in the tree or beside it. Both .deb files hold what they should (the
# service names /usr/sbin/hoody-tunnel, /etc/default/hoody-tunnel is a
# conffile, installing enables the socket), the package's version is the
# daemon's, and lintian says no E: or W: beyond debian/*.lintian-overrides.
#
# It builds from the source alone, so it runs once: not again under a
# sanitizer build. Without the tools (sh third_party/deps.sh pkg) or the
# build dependencies it says SKIP. `make package-check` runs it alone.
set -eu
: "${BUILD:=build}"
root=${HT_ROOT:-$(pwd)}
cd "$root"
fail() { echo "FAIL: $*"; exit 1; }

case $(basename "$BUILD") in
*san*) echo "SKIP: the packages are built and checked in the plain build's run"; exit 0 ;;
esac
for t in dpkg-buildpackage dpkg-checkbuilddeps dpkg-deb dh lintian; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: no $t (sh third_party/deps.sh pkg installs it)"; exit 0; }
done
if ! unmet=$(dpkg-checkbuilddeps 2>&1); then
	echo "SKIP: $unmet (sh third_party/deps.sh pkg installs them)"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status_before=$(git status --porcelain --ignored 2>/dev/null || true)

# The tree as it is (tracked files and new ones, not build output).
src=$tmp/hoody-tunnel
mkdir "$src"
if git rev-parse --show-toplevel >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src"
else
	tar -cf - --exclude='./build*' --exclude=./.git . | tar -xf - -C "$src"
fi

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
upstream=${version%-*}
ht_version=$(sed -n 's/^#define HT_VERSION "\(.*\)"/\1/p' src/config.h)
[ "$upstream" = "$ht_version" ] || fail "debian/changelog says $version, HT_VERSION is $ht_version"

start=$(date +%s)
if ! (cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD DEB_BUILD_OPTIONS="nocheck parallel=2" \
	dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log"
	fail "dpkg-buildpackage"
fi
echo "ok: dpkg-buildpackage -us -uc -b in $(($(date +%s) - start))s"

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
daemon_deb=$tmp/hoody-tunnel_${version}_$arch.deb
htc_deb=$tmp/htc_${version}_$arch.deb
changes=$tmp/hoody-tunnel_${version}_$arch.changes
for f in "$daemon_deb" "$htc_deb" "$changes"; do
	[ -f "$f" ] || fail "no $(basename "$f"); made: $(ls "$tmp")"
done

# has DEB PATH...: each path is in the package
has() {
	deb=$1
	shift
	dpkg-deb -c "$deb" | awk '{ print $6 }' >"$tmp/contents"
	for p in "$@"; do
		grep -qx "./$p" "$tmp/contents" || fail "$(basename "$deb") has no /$p; it has:
$(cat "$tmp/contents")"
	done
}
has "$daemon_deb" usr/sbin/hoody-tunnel lib/systemd/system/hoody-tunnel.service \
	lib/systemd/system/hoody-tunnel.socket usr/share/man/man8/hoody-tunnel.8.gz etc/default/hoody-tunnel \
	usr/share/doc/hoody-tunnel/privileged-ports.conf usr/share/doc/hoody-tunnel/hoody-tunnel-vhost.socket \
	usr/share/doc/hoody-tunnel/copyright
has "$htc_deb" usr/bin/htc usr/share/man/man1/htc.1.gz usr/share/doc/htc/copyright
dpkg-deb -c "$daemon_deb" | grep -q '/usr/bin/htc' && fail "hoody-tunnel ships htc"
dpkg-deb -c "$htc_deb" | grep -q 'sbin/hoody-tunnel' && fail "htc ships the daemon"

dpkg-deb --fsys-tarfile "$daemon_deb" | tar -xOf - ./lib/systemd/system/hoody-tunnel.service >"$tmp/unit"
grep -qx 'ExecStart=/usr/sbin/hoody-tunnel $DAEMON_OPTS' "$tmp/unit" || fail "packaged ExecStart: $(grep ExecStart= "$tmp/unit")"
mkdir "$tmp/ctl"
dpkg-deb -e "$daemon_deb" "$tmp/ctl"
grep -qx /etc/default/hoody-tunnel "$tmp/ctl/conffiles" || fail "/etc/default/hoody-tunnel is not a conffile"
grep -q "enable 'hoody-tunnel.socket'" "$tmp/ctl/postinst" || fail "postinst does not enable the socket"
echo "ok: hoody-tunnel and htc .deb contents, conffile, postinst"

lintian "$changes" >"$tmp/lintian" 2>&1 || true
sed 's/^/  lintian: /' "$tmp/lintian" | grep -v 'running with root privileges' || true
if grep -qE '^(E|W):' "$tmp/lintian"; then
	fail "lintian: errors or warnings above (fix them, or override with a reason in debian/*.lintian-overrides)"
fi
echo "ok: lintian: no E: or W:"

status_after=$(git status --porcelain --ignored 2>/dev/null || true)
[ "$status_before" = "$status_after" ] || fail "the tree changed:
$status_after"
