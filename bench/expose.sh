#!/bin/sh
# EXPOSE end to end: HTTP through hoody-tunnel + htc expose, side by side
# with the same wrk run direct to nginx and through ssh -R (aes128-gcm).
# Workloads (WORKLOADS, FILE:CONNECTIONS): 100-byte file at 64 connections,
# 1 MiB file at 64 connections, 100-byte file at 1,000 connections, at 1
# connection (the latency one hop adds) and at 10,000 connections; wrk -t2
# (-t1 at one connection) -d${DURATION}s --latency.
# Case "routed" is the same daemon reached by Host (--domain, htc http) on
# its --vhost-listen port, right beside the port binding ("expose"): the
# route lookup must cost nothing measurable (routed >= 0.95 x expose).
# Case "noinsp" is a third htc of the same daemon, port-bound like "expose"
# but run with --no-inspect, whereas "expose" captures every exchange for its
# request inspector (on by default; nobody watching): capture must not slow
# the tunnel
# (expose >= 0.90 x noinsp at 100 B, within 5 % at 1 MiB).
# Case "pull" (not in the default CASES) is a fourth htc of the same daemon,
# `htc pull` to the same nginx: wrk's bytes cross the same tunnel as raw TCP,
# no HTTP read or written by either program and one stream per connection,
# not per request. It is the floor of this two-process path: what the
# sockets, the WebSocket framing, the mux and the credits cost, without the
# HTTP layer. Not at 10,000 connections: nginx's one worker could not hold
# pull's connections beside those htc expose keeps in its pool.
#
#   sh bench/expose.sh                (as root, for sshd; loopback only)
#   DURATION=8 BUILD=build-bench HT_FLAGS='--log-level warn' HTC_FLAGS=--quiet sh bench/expose.sh
#
# Figures are one run each; the three paths of a workload run back to back so
# that they can be compared (this machine drifts 20-35 % between runs). Every
# process started here is stopped by PID on exit. Runtime: about 1.5 minutes.
#
#   BASE_ROUNDS=3 SKIP_SSH=1 sh bench/expose.sh      (port and routed three times, in turn)
#   BASE_ROUNDS=5 WORKLOADS=100b:1000 CASES=expose sh bench/expose.sh
#
# BASE_ROUNDS=N runs ssh -R and each of our cases N times per workload, the
# order swapped every round; the bars and goals use the means of the rounds.
#   WORKLOADS='100b:1000 100b:1' CASES=expose sh bench/expose.sh
#
# CASES picks our cases (default: expose noinsp routed; also pull); WORKLOADS the
# workloads (default: 100b:64 1m:64 100b:1000 100b:1 100b:10000).
#   BASE_BUILD=/tmp/base/build SKIP_SSH=1 sh bench/expose.sh
#
# also runs each workload through an older build's daemon and htc
# ("expose-base", right beside "expose") and ends with ours/base per workload
# and a PASS/FAIL within BASE_TOL (5) %; BASE_ROUNDS=N repeats each pair N times.
set -u
. "$(dirname "$0")/lib.sh"
bench_init expose
base_init

ROWS="$TMP/rows"
: >"$ROWS"
WORKLOADS=${WORKLOADS:-100b:64 1m:64 100b:1000 100b:1 100b:10000}
CASES=${CASES:-expose noinsp routed}
has_case() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }
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
worker_rlimit_nofile $(ulimit -n);
events { worker_connections $(($(ulimit -n) - 64)); }
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
if [ -z "$SKIP_SSH" ] && sshd_start; then
	RPORT=$(free_port)
	ssh_forward ssh-http "$RPORT" "$NGINX_PORT" && SSH_PORT=$RPORT
fi
HT_PORTC="" ROUTED_PORT="" NOINSP_PORTC="" PULL_PORTC=""
VHOST_PORT=$(free_port)
# one stream per visitor in flight: the session's stream cap must cover the most connections
MAXC=$(for w in $WORKLOADS; do echo "${w#*:}"; done | sort -n | tail -1)
HT_FLAGS="${HT_FLAGS:-}"
[ "$MAXC" -gt 1024 ] && HT_FLAGS="$HT_FLAGS --max-streams-per-session $((MAXC + MAXC / 10))"
HT_FLAGS_SAVED=$HT_FLAGS
HT_FLAGS="$HT_FLAGS_SAVED --domain bench.test --vhost-listen 127.0.0.1:$VHOST_PORT"
HTC_FLAGS_SAVED=${HTC_FLAGS:-}
# each htc with the inspector gets a port of its own (capturing, nobody watching)
HTC_FLAGS="$HTC_FLAGS_SAVED --inspect 127.0.0.1:$(free_port)"
if tunnel_start ht-http htc-http expose "$NGINX_PORT"; then
	HT_PORTC=$T_PORT O_HT=$T_HT O_HTC=$T_HTC
	# a second client of the same daemon, host-routed: bench.bench.test
	HTC_FLAGS="$HTC_FLAGS_SAVED --inspect 127.0.0.1:$(free_port)"
	has_case routed && bg_start htc-http-routed "$HTC_USE" --url "$HT_URL" --token "$HT_TOKEN" ${HTC_FLAGS:-} \
		http "$NGINX_PORT" --subdomain bench
	R_HTC=$BG_PID
	if ! has_case routed; then
		R_HTC=""
	elif wait_line "$TMP/htc-http-routed.out" 'public: ' 5 "$R_HTC"; then
		ROUTED_PORT=$VHOST_PORT
	else
		say "htc http did not bind: $(cat "$TMP/htc-http-routed.out" "$TMP/htc-http-routed.err" | tail -3 | tr '\n' ' ')"
		stop_pid "$R_HTC"
	fi
	# a third client of the same daemon, port-bound like the first, without the inspector
	HTC_FLAGS="$HTC_FLAGS_SAVED --no-inspect"
	_np=$(free_port)
	if has_case noinsp && htc_start htc-http-noinsp expose "$NGINX_PORT" --port "$_np"; then
		NOINSP_PORTC=$_np N_HTC=$HTC_PID
	fi
	# a fourth, htc pull: the same tunnel as raw TCP (the floor without the HTTP layer)
	HTC_FLAGS=$HTC_FLAGS_SAVED
	_np=$(free_port)
	if has_case pull && htc_start htc-http-pull pull "$NGINX_PORT" --port "$_np"; then
		PULL_PORTC=$_np P_HTC=$HTC_PID
	fi
fi
HT_FLAGS=$HT_FLAGS_SAVED
HTC_FLAGS=$HTC_FLAGS_SAVED
BASE_PORTC=""
if [ -n "$BASE_BUILD" ]; then
	bench_bins base
	if tunnel_start ht-http-base htc-http-base expose "$NGINX_PORT"; then
		BASE_PORTC=$T_PORT B_HT=$T_HT B_HTC=$T_HTC
	fi
	bench_bins ours
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
	_t0=0 _e0=""
	[ $# -gt 0 ] && _t0=$(cpu_ticks "$@")
	for _pid in "$@"; do _e0="$_e0${_e0:+ }$(cpu_ticks "$_pid")"; done
	_host=""
	[ "$_case" = routed ] && _host="Host: bench.bench.test"
	_thr=2
	[ "$_c" -lt 2 ] && _thr=1
	# --timeout 10s: a slow answer counts in the latency, not as an error
	bg_start wrk timeout $((DURATION + 30)) wrk -t$_thr -c"$_c" -d"${DURATION}s" --timeout 10s --latency \
		${_host:+-H "$_host"} "http://127.0.0.1:$_port$_path"
	_wpid=$BG_PID
	sleep $((DURATION / 2))
	_rss=""
	for _pid in "$@"; do _rss="$_rss${_rss:+/}$(rss_kib "$_pid")"; done
	wait "$_wpid"
	stop_pid "$_wpid"
	_t1=0
	[ $# -gt 0 ] && _t1=$(cpu_ticks "$@")
	_cpu=- _each=""
	[ "$_t1" -gt 0 ] && _cpu=$((_t1 - _t0))
	for _pid in "$@"; do
		_e1=$(cpu_ticks "$_pid")
		_each="$_each${_each:+/}$((_e1 - ${_e0%% *}))"
		_e0=${_e0#* }
	done
	_res=$(wrk_parse "$TMP/wrk.out")
	cat "$TMP/wrk.out" >>"$TMP/wrk.all"
	case "$_res" in
	ERR*)
		say "$_w $_case: wrk failed: ${_res#ERR } $(tail -1 "$TMP/wrk.err")"
		echo "$_w $_case - - - - - - - - - - ${_res#ERR }" >>"$ROWS"
		;;
	*)
		echo "$_w $_case $_res $_cpu ${_rss:--} ${_each:--}" >>"$ROWS"
		set -- $_res
		say "$_w $_case: $1 req/s, p50 $2 ms, p99 $3 ms, non-2xx $6, socket errors $7"
		;;
	esac
	sleep 0.5
}

# 1 s of wrk through each tunnel before anything is measured, so that no
# side's first measured run is its cold start.
for port in $HT_PORTC $NOINSP_PORTC $PULL_PORTC $BASE_PORTC; do
	timeout 20 wrk -t2 -c64 -d1s "http://127.0.0.1:$port/100b" >/dev/null 2>&1
done
[ -n "$ROUTED_PORT" ] &&
	timeout 20 wrk -t2 -c64 -d1s -H "Host: bench.bench.test" "http://127.0.0.1:$ROUTED_PORT/100b" >/dev/null 2>&1

# expose_case CASE SUFFIX PORT DAEMON HTC WORKLOAD PATH CONNS: one run through
# the tunnel at PORT (logs ht-httpSUFFIX, htc-httpSUFFIX) while both of its
# processes live; false when one of them died (the caller forgets PORT).
expose_case() {
	if [ -z "$3" ]; then
		echo "$6 $1 - - - - - - - - - - hoody-tunnel/htc did not start or died" >>"$ROWS"
		return 0
	fi
	kill -0 "$4" 2>/dev/null && kill -0 "$5" 2>/dev/null && run "$6" "$1" "$3" "$7" "$8" "$4" "$5"
	_l="" _alive=1
	[ "$2" = -base ] && _l="base "
	_d=$2 # routed and noinsp share the daemon of expose
	case $_d in -routed | -noinsp | -pull) _d="" ;; esac
	kill -0 "$4" 2>/dev/null ||
		{ say "ANOMALY: the ${_l}daemon died: $(tail -3 "$TMP/ht-http$_d.err" | tr '\n' ' ')"; _alive=""; }
	kill -0 "$5" 2>/dev/null ||
		{ say "ANOMALY: ${_l}htc died: $(tail -3 "$TMP/htc-http$2.err" | tr '\n' ' ')"; _alive=""; }
	[ -n "$_alive" ]
}

for w in $WORKLOADS; do
	path=/${w%:*}
	conns=${w#*:}
	run "$w" direct "$NGINX_PORT" "$path" "$conns"
	[ -z "$SSH_PORT" ] && [ -z "$SKIP_SSH" ] && echo "$w ssh-R - - - - - - - - - - sshd/ssh did not start" >>"$ROWS"
	r=1
	while [ $r -le "$BASE_ROUNDS" ]; do
		# ssh -R first in odd rounds, last in even ones, like our cases
		[ -n "$SSH_PORT" ] && [ $((r % 2)) = 1 ] && run "$w" ssh-R "$SSH_PORT" "$path" "$conns" "$SSHD_PID" "$SSH_PID"
		for who in $(base_order $r); do
			if [ "$who" = ours ]; then
				# port-bound, routed and without the inspector, in turn first (the machine drifts)
				for how in $( [ $((r % 2)) = 1 ] && echo port noinsp routed pull || echo pull routed noinsp port); do
					has_case "$([ $how = port ] && echo expose || echo $how)" || continue
					# nginx's one worker cannot also hold the 10,000 connections htc expose keeps pooled
					[ "$how" = pull ] && [ "$conns" -gt 5000 ] && continue
					if [ "$how" = pull ]; then
						expose_case pull -pull "$PULL_PORTC" "${O_HT:-}" "${P_HTC:-}" "$w" "$path" \
							"$conns" || PULL_PORTC=""
					elif [ "$how" = noinsp ]; then
						expose_case noinsp -noinsp "$NOINSP_PORTC" "${O_HT:-}" "${N_HTC:-}" "$w" "$path" \
							"$conns" || NOINSP_PORTC=""
					elif [ "$how" = port ]; then
						expose_case expose "" "$HT_PORTC" "${O_HT:-}" "${O_HTC:-}" "$w" "$path" \
							"$conns" || HT_PORTC=""
					elif [ -n "$ROUTED_PORT" ]; then
						expose_case routed -routed "$ROUTED_PORT" "${O_HT:-}" "${R_HTC:-}" "$w" \
							"$path" "$conns" || ROUTED_PORT=""
					else
						echo "$w routed - - - - - - - - - - host routing did not start" >>"$ROWS"
					fi
				done
			else
				expose_case expose-base -base "$BASE_PORTC" "${B_HT:-}" "${B_HTC:-}" "$w" "$path" "$conns" ||
					BASE_PORTC=""
			fi
		done
		[ -n "$SSH_PORT" ] && [ $((r % 2)) = 0 ] && run "$w" ssh-R "$SSH_PORT" "$path" "$conns" "$SSHD_PID" "$SSH_PID"
		r=$((r + 1))
	done
done

# ---- the table ------------------------------------------------------------------------------
echo
echo "HTTP through nginx (1 worker), wrk -t2 -d${DURATION}s --latency, loopback ($(nproc) CPUs)"
CW=7
[ -n "$BASE_BUILD" ] && CW=11
ROWF="%-10s %-${CW}s %9s %8s %9s %9s %7s %16s %5s %10s %15s  %s\n"
printf "$ROWF" workload case req/s x_direct p50_ms p99_ms \
	MiB/s CPU_us/req cores errors RSS_KiB "(tunnel processes)"
# figure WORKLOAD CASE FIELD (the mean when BASE_ROUNDS gave several rows)
figure() {
	awk -v w="$1" -v c="$2" -v f="$3" '$1 == w && $2 == c {
		n++; v = $f; if ($f != "-") { s += $f; k++ } }
		END { if (n == 1) print v; else if (k) printf "%.6g\n", s / k; else if (n) print "-" }' "$ROWS"
}
while read -r w c rps p50 p99 req bps non se ticks rss each note; do
	direct=$(figure "$w" direct 3)
	ratio=$(fmt '%.2f' "$rps / $direct")
	mib=$(fmt '%.1f' "$bps / 1048576")
	us=$(fmt '%.1f' "$ticks / $HZ * 1e6 / $req")
	# and per process: server side / client side
	case $each in */*) us="$us=$(fmt '%.1f' "${each%%/*} / $HZ * 1e6 / $req")+$(fmt '%.1f' "${each#*/} / $HZ * 1e6 / $req")" ;; esac
	cores=$(fmt '%.2f' "$ticks / $HZ / $DURATION")
	err="ok"
	[ "$non" != 0 ] && [ "$non" != - ] && err="non2xx=$non"
	[ "$se" != 0/0/0/0 ] && [ "$se" != - ] && err="$err sock=$se"
	case $c in
	direct) who="" us=- cores=- rss=- ;;
	ssh-R) who="sshd + ssh" ;;
	expose) who="daemon + htc (inspector capturing)" ;;
	noinsp) who="daemon + htc --no-inspect" ;;
	routed) who="daemon + htc http, by Host on --vhost-listen" ;;
	pull) who="daemon + htc pull: raw TCP, no HTTP layer (the floor)" ;;
	expose-base) who="daemon + htc, base build" ;;
	esac
	[ "$rps" = - ] && { who="FAILED: $note"; err=-; }
	printf "$ROWF" "$w" "$c" "$rps" "$ratio" "$p50" "$p99" \
		"$mib" "$us" "$cores" "$err" "$rss" "$who"
done <"$ROWS"
echo "errors: wrk non-2xx/3xx responses and socket errors (connect/read/write/timeout); cores: tunnel CPU s / run s;"
echo "CPU_us/req: all tunnel processes = server side + client side (sshd + ssh; daemon + htc)"
echo "RSS_KiB: server side / client side (sshd, all processes / ssh; daemon / htc), sampled halfway through the run"

has_case routed && echo && echo "Host routing: routed / port-bound req/s (>= 0.95: the route lookup costs nothing measurable)"
has_case routed && for w in $WORKLOADS; do
	ours=$(figure "$w" routed 3)
	port=$(figure "$w" expose 3)
	errs=$(figure "$w" routed 8)
	if ! isnum "$ours" "$port"; then
		echo "  $w  n/a (a case failed)"
	elif [ "$errs" != 0 ]; then
		echo "  $w  FAIL (non-2xx responses through the route: $errs)"
	elif awk "BEGIN { exit !($ours >= 0.95 * $port) }"; then
		echo "  $w  $(fmt '%.3f' "$ours / $port")x  PASS"
	else
		echo "  $w  $(fmt '%.3f' "$ours / $port")x  FAIL"
	fi
done

has_case noinsp && echo && echo "Inspector: expose (capturing) / noinsp (--no-inspect) req/s (>= 0.90 at 100 B, >= 0.95 at 1 MiB)"
has_case noinsp && for w in $WORKLOADS; do
	on=$(figure "$w" expose 3)
	off=$(figure "$w" noinsp 3)
	bar=0.90
	[ "$w" = 1m:64 ] && bar=0.95
	if ! isnum "$on" "$off"; then
		echo "  $w  n/a (a case failed)"
	elif awk "BEGIN { exit !($on >= $bar * $off) }"; then
		echo "  $w  $(fmt '%.3f' "$on / $off")x  PASS"
	else
		echo "  $w  $(fmt '%.3f' "$on / $off")x  FAIL"
	fi
done

echo
echo "Goals at scale: 100 B at 1,000 connections >= 1.3 x ssh -R req/s with p99 no worse; CPU <= 20 us per"
echo "request (daemon + htc); RSS daemon + htc <= 16 MiB; one connection adds <= 0.06 ms to direct p50;"
echo "10,000 connections served with no errors"
# goal LABEL OK DETAIL
goal() { printf '  %-34s %-44s %s\n' "$1" "$3" "$([ "$2" = 1 ] && echo PASS || echo FAIL)"; }
has_w() { case " $WORKLOADS " in *" $1 "*) return 0 ;; esac; return 1; }
if has_w 100b:1000; then
	ours=$(figure 100b:1000 expose 3) theirs=$(figure 100b:1000 ssh-R 3)
	if isnum "$ours" "$theirs"; then
		goal "c1000 req/s EXPOSE/ssh -R (>=1.3)" "$(awk "BEGIN { print ($ours >= 1.3 * $theirs) }")" \
			"$(fmt '%.2f' "$ours / $theirs")x ($ours vs $theirs)"
	fi
	ours=$(figure 100b:1000 expose 5) theirs=$(figure 100b:1000 ssh-R 5)
	isnum "$ours" "$theirs" && goal "c1000 p99 EXPOSE <= ssh -R" "$(awk "BEGIN { print ($ours <= $theirs) }")" \
		"$ours ms vs $theirs ms"
	t=$(figure 100b:1000 expose 10) n=$(figure 100b:1000 expose 6)
	isnum "$t" "$n" && goal "c1000 CPU us/req (<=20)" "$(awk "BEGIN { print ($t / $HZ * 1e6 / $n <= 20) }")" \
		"$(fmt '%.1f' "$t / $HZ * 1e6 / $n") us (daemon + htc)"
	rss=$(awk '$1 == "100b:1000" && $2 == "expose" && split($11, r, "/") == 2 { print r[1] + r[2]; exit }' "$ROWS")
	isnum "$rss" && goal "c1000 RSS daemon+htc (<=16 MiB)" "$(awk "BEGIN { print ($rss <= 16384) }")" \
		"$(fmt '%.1f' "$rss / 1024") MiB"
fi
if has_w 100b:1; then
	ours=$(figure 100b:1 expose 4) direct=$(figure 100b:1 direct 4)
	isnum "$ours" "$direct" && goal "c1 p50 added to direct (<=0.06 ms)" \
		"$(awk "BEGIN { print ($ours - $direct <= 0.06) }")" "+$(fmt '%.3f' "$ours - $direct") ms ($ours vs $direct)"
fi
if has_case pull && has_w 100b:1000; then
	t=$(figure 100b:1000 pull 10) n=$(figure 100b:1000 pull 6) ours=$(figure 100b:1000 pull 3)
	theirs=$(figure 100b:1000 ssh-R 3)
	isnum "$t" "$n" && printf '  %-34s %s\n' "floor: c1000 through pull" "$(fmt '%.1f' "$t / $HZ * 1e6 / $n") us/req$(
		isnum "$ours" "$theirs" && echo ", $(fmt '%.2f' "$ours / $theirs")x ssh -R req/s")"
fi
if has_case pull && has_w 100b:1; then
	ours=$(figure 100b:1 pull 4) direct=$(figure 100b:1 direct 4)
	isnum "$ours" "$direct" && printf '  %-34s %s\n' "floor: c1 through pull" "+$(fmt '%.3f' "$ours - $direct") ms to direct p50"
fi
if has_w 100b:10000; then
	err=$(awk '$1 == "100b:10000" && $2 == "expose" { print ($8 == "0" && $9 == "0/0/0/0") ? "none" : $8 " non-2xx, " $9; exit }' "$ROWS")
	ours=$(figure 100b:10000 expose 3)
	[ -n "$err" ] && goal "c10000 errors (none)" "$([ "$err" = none ] && echo 1 || echo 0)" \
		"$err; $ours req/s, p99 $(figure 100b:10000 expose 5) ms"
fi

has_w 100b:64 && echo && echo "Bars: EXPOSE >= 1.5 x ssh -R req/s at 100 B / 64 conns, and p99 no worse than ssh -R's"
if ! has_w 100b:64; then
	:
elif [ -z "$SKIP_SSH" ]; then
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
else
	echo "  (skipped: ssh -R)"
fi
if [ -n "$HT_PORTC" ] && grep -qi 'reset\|error' "$TMP/htc-http.out" "$TMP/htc-http.err" 2>/dev/null; then
	echo "note: htc reported $(grep -ci 'reset\|error' "$TMP/htc-http.out") reset/error lines, e.g.: $(grep -i -m1 'reset\|error' "$TMP/htc-http.out" "$TMP/htc-http.err")"
fi
if [ -n "$BASE_PORTC" ] && grep -qi 'reset\|error' "$TMP/htc-http-base.out" "$TMP/htc-http-base.err" 2>/dev/null; then
	echo "note: base htc reported $(grep -ci 'reset\|error' "$TMP/htc-http-base.out") reset/error lines, e.g.: $(grep -i -m1 'reset\|error' "$TMP/htc-http-base.out" "$TMP/htc-http-base.err")"
fi

# ---- ours against the base build ------------------------------------------------------------------
if [ -n "$BASE_BUILD" ]; then
	# agg WORKLOAD CASE rps|p99|cpu|rss: over the rows of that case, mean
	# req/s, mean p99 ms, CPU us per request (all ticks / all requests),
	# mean RSS KiB of daemon + htc
	agg() {
		awk -v w="$1" -v c="$2" -v m="$3" -v hz="$HZ" '$1 == w && $2 == c && $3 != "-" {
			n++; rps += $3
			if ($5 != "-") { p99 += $5; pn++ }
			if ($10 != "-") { t += $10; tr += $6 }
			if (split($11, r, "/") == 2) { rss += r[1] + r[2]; rn++ } }
			END {
				if (m == "rps" && n) printf "%.0f\n", rps / n
				else if (m == "p99" && pn) printf "%.2f\n", p99 / pn
				else if (m == "cpu" && tr) printf "%.1f\n", t / hz * 1e6 / tr
				else if (m == "rss" && rn) printf "%.0f\n", rss / rn
				else print "-" }' "$ROWS"
	}
	cmp_head
	for w in $WORKLOADS; do
		cmp_row "$w" req/s "$(agg "$w" expose rps)" "$(agg "$w" expose-base rps)" hi
		cmp_row "$w" p99_ms "$(agg "$w" expose p99)" "$(agg "$w" expose-base p99)" lo
		cmp_row "$w" CPU_us/req "$(agg "$w" expose cpu)" "$(agg "$w" expose-base cpu)" lo
		cmp_row "$w" RSS_KiB "$(agg "$w" expose rss)" "$(agg "$w" expose-base rss)" lo
	done
	cmp_end
fi
exit 0
