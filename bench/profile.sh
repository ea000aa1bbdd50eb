#!/bin/sh
# Where the daemon and htc spend their CPU under load: perf samples of each
# process (999 Hz, no call graphs) while wrk drives 100-byte requests
# through EXPOSE at CONNS keep-alive connections (nginx, one worker, as the
# local service). Prints, per program, the kernel / program / libc split of
# the samples and the TOP functions by self samples, and the CPU time per
# request of each process. With BASE_BUILD the same is done for that
# build's programs right after ours, so the two profiles can be compared.
#
#   sh bench/profile.sh                                   # build-bench's programs
#   CONNS=1000 DURATION=8 TOP=10 BASE_BUILD=/tmp/base/build sh bench/profile.sh
#
# Needs perf (linux-perf), wrk and nginx (sh third_party/deps.sh bench), and
# root or kernel.perf_event_paranoid <= 1 to sample other processes. The
# sampling costs each process a few percent; CPU per request is read from
# /proc, outside perf. Every process started here is stopped by PID on exit.
set -u
. "$(dirname "$0")/lib.sh"
CONNS=${CONNS:-1000}
TOP=${TOP:-10}
bench_init profile
for t in perf wrk /usr/sbin/nginx; do
	command -v $t >/dev/null || { say "missing $t (sh third_party/deps.sh bench)"; exit 1; }
done
[ -z "$BASE_BUILD" ] || base_init

NGINX_PORT=$(free_port)
nginx_100b "$NGINX_PORT"
wait_listen "$NGINX_PORT" 5 "$NGX_PID" || { say "nginx did not start"; exit 1; }

# report DATA: the dso split and the top functions of one perf data file
report() {
	perf report -i "$1" --no-children --sort dso --stdio 2>/dev/null |
		awk '/^ +[0-9.]+%/ { sub(/^ +/, ""); printf "%s%s %s", (n++ ? ", " : "    samples: "), $1, $2 }
			END { print "" }'
	perf report -i "$1" --no-children --sort sym --stdio 2>/dev/null |
		awk -v top="$TOP" '/^ +[0-9.]+%/ && n < top { n++; pct = $1; $1 = "";
			sub(/^ +/, ""); printf "    %2d  %6s  %s\n", n, pct, $0 }'
}

# profile LABEL: start that build's daemon and htc, warm up, sample both
# while wrk runs, print the reports, stop them.
profile() {
	HT_FLAGS="--log-level warn" HTC_FLAGS="--quiet"
	tunnel_start "ht-$1" "htc-$1" expose "$NGINX_PORT" || return 1
	_d=$T_HT _c=$T_HTC _p=$T_PORT
	timeout 20 wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$_p/" >/dev/null 2>&1
	_t0d=$(cpu_ticks "$_d") _t0c=$(cpu_ticks "$_c")
	bg_start "perf-d-$1" perf record -F 999 -o "$TMP/daemon-$1.data" -p "$_d" -- sleep "$DURATION"
	_pd=$BG_PID
	bg_start "perf-c-$1" perf record -F 999 -o "$TMP/htc-$1.data" -p "$_c" -- sleep "$DURATION"
	_pc=$BG_PID
	timeout $((DURATION + 30)) wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$_p/" >"$TMP/wrk-$1.out" 2>&1
	wait "$_pd" "$_pc" 2>/dev/null
	_req=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$TMP/wrk-$1.out")
	_t1d=$(cpu_ticks "$_d") _t1c=$(cpu_ticks "$_c")
	echo
	echo "== $1: $(sed -n 's/^Requests\/sec: *//p' "$TMP/wrk-$1.out") req/s at $CONNS connections (sampled)," \
		"CPU per request: daemon $(fmt '%.1f' "($_t1d - $_t0d) / $HZ * 1e6 / ${_req:-1}") us," \
		"htc $(fmt '%.1f' "($_t1c - $_t0c) / $HZ * 1e6 / ${_req:-1}") us"
	echo "  daemon:"
	report "$TMP/daemon-$1.data"
	echo "  htc:"
	report "$TMP/htc-$1.data"
	stop_pid "$_c"
	stop_pid "$_d"
}

echo "perf, 999 Hz, ${DURATION}s of wrk -t2 -c$CONNS, 100 B responses; top $TOP functions by self samples"
bench_bins ours
profile ours
if [ -n "$BASE_BUILD" ]; then
	bench_bins base
	profile base
fi
exit 0
