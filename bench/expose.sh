#!/bin/sh
# EXPOSE end to end: HTTP through hoody-tunnel + htc expose, side by side
# with the same wrk run direct to nginx and through ssh -R (aes128-gcm).
# Workloads: 100-byte file at 64 connections, 1 MiB file at 64 connections,
# 100-byte file at 1,000 connections; wrk -t2 -d${DURATION}s --latency.
#
#   sh bench/expose.sh                (as root, for sshd; loopback only)
#   DURATION=8 BUILD=build-bench HT_FLAGS='--log-level warn' HTC_FLAGS=--quiet sh bench/expose.sh
#
# Figures are one run each; the three paths of a workload run back to back so
# that they can be compared (this machine drifts 20-35 % between runs). Every
# process started here is stopped by PID on exit. Runtime: about 1.5 minutes.
set -u
. "$(dirname "$0")/lib.sh"
bench_init expose

ROWS="$TMP/rows"
: >"$ROWS"
for t in wrk python3; do
	command -v $t >/dev/null 2>&1 || { say "$t missing: sh third_party/deps.sh bench"; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { say "nginx missing: sh third_party/deps.sh bench"; exit 1; }

# ---- nginx: one worker, a 100-byte and a 1 MiB file -------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$TMP/www" "$TMP/nginx-tmp"
chmod 755 "$TMP/www" "$TMP/nginx-tmp"
head -c 100 /dev/zero | tr '\0' 'x' >"$TMP/www/100b"
head -c 1048576 /dev/urandom >"$TMP/www/1m"
chmod 644 "$TMP/www/100b" "$TMP/www/1m"
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx.error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
	access_log off;
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	client_body_temp_path $TMP/nginx-tmp/body;
	proxy_temp_path $TMP/nginx-tmp/proxy;
	fastcgi_temp_path $TMP/nginx-tmp/fastcgi;
	uwsgi_temp_path $TMP/nginx-tmp/uwsgi;
	scgi_temp_path $TMP/nginx-tmp/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $TMP/www;
	}
}
EOF
bg_start nginx "$NGINX" -p "$TMP/" -c "$TMP/nginx.conf"
NGINX_PID=$BG_PID
if ! wait_listen "$NGINX_PORT" 5 "$NGINX_PID"; then
	say "nginx did not start: $(cat "$TMP/nginx.err" "$TMP/nginx.error.log" 2>/dev/null | tail -3 | tr '\n' ' ')"
	exit 1
fi

# ---- ssh -R and hoody-tunnel in front of it ------------------------------------------------
SSH_PORT=""
if sshd_start; then
	RPORT=$(free_port)
	ssh_forward ssh-http "$RPORT" "$NGINX_PORT" && SSH_PORT=$RPORT
fi
HT_PORTC=""
if ht_start ht-http; then
	CPORT=$(free_port)
	htc_start htc-http expose "$NGINX_PORT" --port "$CPORT" && HT_PORTC=$CPORT
fi

# wrk_parse FILE: "RPS P50_MS P99_MS REQUESTS BYTES_PER_S NON2XX SOCKERRS" where
# SOCKERRS is connect/read/write/timeout joined by "/", or "ERR reason".
wrk_parse() {
	python3 - "$1" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def lat(s):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % s, t, re.M)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
req = re.search(r"(\d+) requests in", t)
tr = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", t)
if not rps or not req:
    print("ERR " + (t.strip().splitlines() or ["no output"])[-1][:120])
    sys.exit()
bps = float(tr.group(1)) * {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}[tr.group(2)] if tr else 0
non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
p50, p99 = lat(50), lat(99)
print("%s %s %s %s %.0f %s %s" % (rps.group(1), "%.3f" % p50 if p50 is not None else "-",
      "%.3f" % p99 if p99 is not None else "-", req.group(1), bps,
      non.group(1) if non else 0, "/".join(se.groups()) if se else "0/0/0/0"))
EOF
}

# run WORKLOAD CASE PORT PATH CONNS PIDS...: one wrk run; CPU ticks of the
# PIDS' trees before/after, their RSS sampled halfway; appends a row to $ROWS.
run() {
	_w=$1 _case=$2 _port=$3 _path=$4 _c=$5
	shift 5
	_t0=0
	[ $# -gt 0 ] && _t0=$(cpu_ticks "$@")
	bg_start wrk timeout $((DURATION + 30)) wrk -t2 -c"$_c" -d"${DURATION}s" --latency \
		"http://127.0.0.1:$_port$_path"
	_wpid=$BG_PID
	sleep $((DURATION / 2))
	_rss=""
	for _pid in "$@"; do _rss="$_rss${_rss:+/}$(rss_kib "$_pid")"; done
	wait "$_wpid"
	stop_pid "$_wpid"
	_t1=0
	[ $# -gt 0 ] && _t1=$(cpu_ticks "$@")
	_cpu=-
	[ "$_t1" -gt 0 ] && _cpu=$((_t1 - _t0))
	_res=$(wrk_parse "$TMP/wrk.out")
	cat "$TMP/wrk.out" >>"$TMP/wrk.all"
	case "$_res" in
	ERR*)
		say "$_w $_case: wrk failed: ${_res#ERR } $(tail -1 "$TMP/wrk.err")"
		echo "$_w $_case - - - - - - - - - ${_res#ERR }" >>"$ROWS"
		;;
	*)
		echo "$_w $_case $_res $_cpu ${_rss:--}" >>"$ROWS"
		set -- $_res
		say "$_w $_case: $1 req/s, p50 $2 ms, p99 $3 ms, non-2xx $6, socket errors $7"
		;;
	esac
	sleep 0.5
}

for w in 100b:64 1m:64 100b:1000; do
	path=/${w%:*}
	conns=${w#*:}
	run "$w" direct "$NGINX_PORT" "$path" "$conns"
	if [ -n "$SSH_PORT" ]; then
		run "$w" ssh-R "$SSH_PORT" "$path" "$conns" "$SSHD_PID" "$SSH_PID"
	else
		echo "$w ssh-R - - - - - - - - - sshd/ssh did not start" >>"$ROWS"
	fi
	if [ -n "$HT_PORTC" ]; then
		kill -0 "$HT_PID" 2>/dev/null && kill -0 "$HTC_PID" 2>/dev/null &&
			run "$w" expose "$HT_PORTC" "$path" "$conns" "$HT_PID" "$HTC_PID"
		kill -0 "$HT_PID" 2>/dev/null ||
			{ say "ANOMALY: the daemon died: $(tail -3 "$TMP/ht-http.err" | tr '\n' ' ')"; HT_PORTC=""; }
		kill -0 "$HTC_PID" 2>/dev/null ||
			{ say "ANOMALY: htc died: $(tail -3 "$TMP/htc-http.err" | tr '\n' ' ')"; HT_PORTC=""; }
	else
		echo "$w expose - - - - - - - - - hoody-tunnel/htc did not start or died" >>"$ROWS"
	fi
done

# ---- the table ------------------------------------------------------------------------------
echo
echo "HTTP through nginx (1 worker), wrk -t2 -d${DURATION}s --latency, loopback ($(nproc) CPUs)"
printf '%-9s %-7s %9s %8s %9s %9s %7s %10s %5s %10s %15s  %s\n' workload case req/s x_direct p50_ms p99_ms \
	MiB/s CPU_us/req cores errors RSS_KiB "(tunnel processes)"
# figure WORKLOAD CASE FIELD
figure() { awk -v w="$1" -v c="$2" -v f="$3" '$1 == w && $2 == c { print $f }' "$ROWS"; }
while read -r w c rps p50 p99 req bps non se ticks rss note; do
	direct=$(figure "$w" direct 3)
	ratio=$(fmt '%.2f' "$rps / $direct")
	mib=$(fmt '%.1f' "$bps / 1048576")
	us=$(fmt '%.1f' "$ticks / $HZ * 1e6 / $req")
	cores=$(fmt '%.2f' "$ticks / $HZ / $DURATION")
	err="ok"
	[ "$non" != 0 ] && [ "$non" != - ] && err="non2xx=$non"
	[ "$se" != 0/0/0/0 ] && [ "$se" != - ] && err="$err sock=$se"
	case $c in
	direct) who="" us=- cores=- rss=- ;;
	ssh-R) who="sshd + ssh" ;;
	expose) who="daemon + htc" ;;
	esac
	[ "$rps" = - ] && { who="FAILED: $note"; err=-; }
	printf '%-9s %-7s %9s %8s %9s %9s %7s %10s %5s %10s %15s  %s\n' "$w" "$c" "$rps" "$ratio" "$p50" "$p99" \
		"$mib" "$us" "$cores" "$err" "$rss" "$who"
done <"$ROWS"
echo "errors: wrk non-2xx/3xx responses and socket errors (connect/read/write/timeout); cores: tunnel CPU s / run s;"
echo "RSS_KiB: server side / client side (sshd, all processes / ssh; daemon / htc), sampled halfway through the run"

echo
echo "Bars (project issue): EXPOSE >= 1.5 x ssh -R req/s at 100 B / 64 conns, and p99 no worse than ssh -R's"
ours=$(figure 100b:64 expose 3)
theirs=$(figure 100b:64 ssh-R 3)
v=$(fmt '%.2f' "$ours / $theirs")
if ! isnum "$ours" "$theirs"; then
	echo "  req/s EXPOSE/ssh -R (>=1.5)     n/a (a case failed)"
elif awk "BEGIN { exit !($ours >= 1.5 * $theirs) }"; then
	echo "  req/s EXPOSE/ssh -R (>=1.5)     ${v}x  PASS"
else
	echo "  req/s EXPOSE/ssh -R (>=1.5)     ${v}x  FAIL"
fi
ours=$(figure 100b:64 expose 5)
theirs=$(figure 100b:64 ssh-R 5)
if ! isnum "$ours" "$theirs"; then
	echo "  p99 EXPOSE <= ssh -R            n/a (a case failed)"
elif awk "BEGIN { exit !($ours <= $theirs) }"; then
	echo "  p99 EXPOSE <= ssh -R            $ours ms vs $theirs ms  PASS"
else
	echo "  p99 EXPOSE <= ssh -R            $ours ms vs $theirs ms  FAIL"
fi
if [ -n "$HT_PORTC" ] && grep -qi 'reset\|error' "$TMP/htc-http.out" "$TMP/htc-http.err" 2>/dev/null; then
	echo "note: htc reported $(grep -ci 'reset\|error' "$TMP/htc-http.out") reset/error lines, e.g.: $(grep -i -m1 'reset\|error' "$TMP/htc-http.out" "$TMP/htc-http.err")"
fi
exit 0
