#!/bin/sh
# Instructions per EXPOSE request in htc and in the daemon, counted by
# callgrind: deterministic, so a change of a few percent shows on a shared,
# noisy machine where req/s cannot. N keep-alive requests of 100 B over 4
# connections (nginx as the local service, the daemon in between); both run
# under callgrind in the same pass, their logs go to files, as in a pipe.
# With BASE_BUILD the same run is made with that build's two programs, and
# the ratios printed. BENCH_KEEP=1 keeps the counts (cg.htc-*, cg.daemon-*)
# for callgrind_annotate.
#
#   sh bench/callgrind.sh                                # build-bench's programs
#   BASE_BUILD=/tmp/base/build sh bench/callgrind.sh      # and an older build's
#   HTC_FLAGS=--no-inspect sh bench/callgrind.sh          # htc's flags (ours only)
#   MODE=pull sh bench/callgrind.sh                       # through htc pull: no HTTP layer
#
# Needs valgrind and nginx (sh third_party/deps.sh bench).
set -u
. "$(dirname "$0")/lib.sh"
N=${N:-2000}
MODE=${MODE:-expose}
case $MODE in expose | pull) ;; *) say "MODE is expose or pull"; exit 1 ;; esac
bench_init callgrind
for t in valgrind /usr/sbin/nginx; do
	command -v $t >/dev/null || { say "missing $t (sh third_party/deps.sh bench)"; exit 1; }
done

# stop_cg PID: SIGINT (both programs exit cleanly on it, and callgrind then
# writes its counts), up to 30 s for that, then stop_pid.
stop_cg() {
	kill -INT "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 300 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	stop_pid "$1"
}

# per_request FILE: callgrind's total instructions in FILE divided by N
per_request() {
	echo $(($(sed -n 's/^totals: //p' "$1") / N))
}

# count DAEMON HTC LABEL: prints "htc-per-request daemon-per-request"
count() {
	nginx_port=$(free_port) ctl=$(free_port) cport=$(free_port)
	tok=bench-callgrind-token-0123456789
	nginx_100b "$nginx_port"
	ngx=$NGX_PID
	bg_start "daemon-$3" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.daemon-$3" \
		"$1" --listen 127.0.0.1:$ctl --token $tok --log-level error
	dp=$BG_PID
	wait_listen $ctl 60 $dp || { say "the daemon did not start"; exit 1; }
	flags=${HTC_FLAGS:-}
	[ "$3" = ours ] || flags=""
	# shellcheck disable=SC2086
	bg_start "htc-$3" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.htc-$3" "$2" --url ws://127.0.0.1:$ctl \
		--token $tok $flags "$MODE" $nginx_port --port $cport
	hp=$BG_PID
	wait_listen $cport 60 $hp || { say "htc did not bind"; exit 1; }
	python3 - "$cport" "$N" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
for i in range(n // 4):
    for s in socks:
        s.sendall(req)
    for s in socks:
        got = b""
        while not got.endswith(b"x" * 100):
            got += s.recv(65536)
for s in socks:
    s.close()
PY
	stop_cg $hp
	stop_cg $dp
	stop_pid $ngx
	echo "$(per_request "$TMP/cg.htc-$3") $(per_request "$TMP/cg.daemon-$3")"
}

ours=$(count "$HT_USE" "$HTC_USE" ours)
say "instructions per request ($N requests of 100 B, 4 keep-alive connections, htc $MODE):"
say "  ours: htc ${ours% *}, daemon ${ours#* }"
if [ -n "$BASE_BUILD" ]; then
	base=$(count "$BASE_BUILD/hoody-tunnel" "$BASE_BUILD/htc" base)
	say "  base: htc ${base% *}, daemon ${base#* }"
	python3 -c "print('  ours/base: htc %.3f, daemon %.3f' % (${ours% *} / ${base% *}, ${ours#* } / ${base#* }))" >&2
fi
