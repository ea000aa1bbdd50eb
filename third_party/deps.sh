#!/bin/sh
# Find (and, on Debian, install) what the build needs.
#
#   sh third_party/deps.sh build    compiler, BearSSL, cmocka, c-ares, libinih
#   sh third_party/deps.sh test     + python3, python3-websockets, curl, openssl, tmux, systemd, sslscan
#                                     (integration tests), clang-format, mandoc (the manual pages' lint)
#   sh third_party/deps.sh fuzz     + clang and its sanitizer/libFuzzer runtimes
#   sh third_party/deps.sh bench    + iperf3, socat, wrk, nginx, openssh (baselines), valgrind, perf
#   sh third_party/deps.sh pkg      + libinih-dev, debhelper, dpkg-dev, lintian, systemd
#                                   (make package-check: the .deb build, lintian,
#                                   systemd-analyze on the units)
#
# Each missing piece is installed with apt-get (as root, or through sudo),
# printing what it runs; elsewhere it stops and says what to install.
set -eu
what=${1:-build}

# `make -j` may run two of these at once (the build's and fuzz's); apt-get
# allows one at a time, so the checks and the install run under one lock.
lock=${TMPDIR:-/tmp}/hoody-tunnel-deps.lock
if [ -z "${HOODY_DEPS_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
	HOODY_DEPS_LOCKED=1 exec flock "$lock" sh "$0" "$@"
fi

need=""
miss() { need="$need $1"; }

check_build() {
	command -v cc >/dev/null 2>&1 || miss gcc
	command -v make >/dev/null 2>&1 || miss make
	[ -f /usr/include/bearssl.h ] || miss libbearssl-dev
	[ -f /usr/include/cmocka.h ] || miss libcmocka-dev
	[ -f /usr/include/ares.h ] || miss libc-ares-dev
	[ -f /usr/include/ini.h ] || miss libinih-dev
}
check_test() {
	[ -x /usr/bin/python3 ] || miss python3
	/usr/bin/python3 -c 'import websockets' 2>/dev/null || miss python3-websockets
	command -v curl >/dev/null 2>&1 || miss curl
	command -v openssl >/dev/null 2>&1 || miss openssl
	command -v clang-format >/dev/null 2>&1 || miss clang-format
	command -v tmux >/dev/null 2>&1 || miss tmux
	command -v systemd-socket-activate >/dev/null 2>&1 || miss systemd
	command -v mandoc >/dev/null 2>&1 || miss mandoc
	command -v promtool >/dev/null 2>&1 || miss prometheus # promtool check metrics
	command -v chromium >/dev/null 2>&1 || miss chromium # test_inspect.py: the inspector page in a browser
	command -v sslscan >/dev/null 2>&1 || miss sslscan     # the daemon's TLS suites (test_tls_suites.py)
}
check_fuzz() {
	command -v clang >/dev/null 2>&1 || miss clang
	ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
		ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || miss libclang-rt-dev
}
check_bench() {
	command -v iperf3 >/dev/null 2>&1 || miss iperf3
	command -v valgrind >/dev/null 2>&1 || miss valgrind
	command -v perf >/dev/null 2>&1 || miss linux-perf
	command -v socat >/dev/null 2>&1 || miss socat
	command -v wrk >/dev/null 2>&1 || miss wrk
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || miss nginx-light
	[ -x /usr/sbin/sshd ] || miss openssh-server
	command -v ssh >/dev/null 2>&1 || miss openssh-client
}
check_pkg() {
	[ -f /usr/include/ini.h ] || miss libinih-dev
	command -v dpkg-buildpackage >/dev/null 2>&1 || miss dpkg-dev
	command -v dh >/dev/null 2>&1 || miss debhelper
	command -v lintian >/dev/null 2>&1 || miss lintian
	command -v systemd-analyze >/dev/null 2>&1 || miss systemd
}

case "$what" in
build) check_build ;;
test) check_build; check_test ;;
fuzz) check_build; check_fuzz ;;
bench) check_build; check_test; check_bench ;;
pkg) check_build; check_pkg ;;
*) echo "deps.sh: unknown set '$what' (build, test, fuzz, bench, pkg)" >&2; exit 2 ;;
esac

[ -z "$need" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing:$need" >&2
	echo "deps.sh: install the equivalents of these Debian packages and run make again" >&2
	exit 1
fi
if [ "$(id -u)" = 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps.sh: missing:$need; run as root: apt-get install$need" >&2
	exit 1
fi
echo "deps.sh: installing:$need"
echo "+ $sudo apt-get update -qq"
DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
echo "+ $sudo apt-get install -y --no-install-recommends$need"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
