#!/bin/sh
# PULL end to end: TCP bulk throughput of iperf3 through hoody-tunnel + htc
# pull, side by side with the same iperf3 run direct, through a two-hop socat
# chain (the plain relay of our shape: container side + laptop side) and
# through ssh -R (aes128-gcm); the other way round, htc forward (the laptop-side
# client reaches a service inside the container) right beside each PULL run,
# with ssh -L (aes128-gcm) as its anchor; then the memory of 1,000 idle PULL
# connections (daemon and htc), beside ssh -R holding the same.
#
#   sh bench/pull.sh                  (as root, for sshd; loopback only)
#   DURATION=8 BUILD=build-bench HT_FLAGS='--log-level warn' sh bench/pull.sh
#
# Figures are one run each; compare only the rows of one invocation (this
# machine drifts 20-35 % between runs). Every process started here is stopped
# by PID on exit. Runtime: about 3 minutes (DURATION=8).
#
#   BASE_BUILD=/tmp/base/build SKIP_SSH=1 SKIP_SOCAT=1 sh bench/pull.sh
#
# also runs the PULL cases with an older build's binaries ("pull-base", each
# right beside the same "pull" run) and ends with ours/base per case and a
# PASS/FAIL within BASE_TOL (5) %; BASE_ROUNDS=N repeats each pair N times.
set -u
. "$(dirname "$0")/lib.sh"
bench_init pull
base_init

IDLE_CONNS=${IDLE_CONNS:-1000}
ROWS="$TMP/rows"
: >"$ROWS"

for t in iperf3 socat python3; do
	command -v $t >/dev/null 2>&1 || { say "$t missing: sh third_party/deps.sh bench"; exit 1; }
done

IPERF_PORT=$(free_port)
bg_start iperf3-server iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
IPERF_PID=$BG_PID
wait_listen "$IPERF_PORT" 5 "$IPERF_PID" || { say "iperf3 -s did not start"; exit 1; }

# ---- (a) direct --------------------------------------------------------------------
iperf_run direct "$IPERF_PORT" 1 fwd
iperf_run direct "$IPERF_PORT" 4 fwd
iperf_run direct "$IPERF_PORT" 1 rev
iperf_run direct "$IPERF_PORT" 4 rev

# ---- (b) two-hop socat chain -----------------------------------------------------------
if [ -z "$SKIP_SOCAT" ]; then
A=$(free_port)
B=$(free_port)
bg_start socat-b socat TCP-LISTEN:"$B",bind=127.0.0.1,fork,reuseaddr,rcvbuf=131072,sndbuf=131072 \
	TCP:127.0.0.1:"$IPERF_PORT"
SOCAT_B=$BG_PID
bg_start socat-a socat TCP-LISTEN:"$A",bind=127.0.0.1,fork,reuseaddr,rcvbuf=131072,sndbuf=131072 \
	TCP:127.0.0.1:"$B"
SOCAT_A=$BG_PID
if wait_listen "$A" 5 "$SOCAT_A" && wait_listen "$B" 5 "$SOCAT_B"; then
	iperf_run socat2hop "$A" 1 fwd "$SOCAT_A" "$SOCAT_B"
	iperf_run socat2hop "$A" 4 fwd "$SOCAT_A" "$SOCAT_B"
else
	say "socat chain did not start: $(cat "$TMP/socat-a.err" "$TMP/socat-b.err" | tail -2 | tr '\n' ' ')"
	echo "socat2hop 1 fwd - - - socat did not start" >>"$ROWS"
fi
stop_pid "$SOCAT_A"
stop_pid "$SOCAT_B"
fi

# ---- (c) ssh -R and ssh -L, aes128-gcm ------------------------------------------------
# The shapes of the PULL and forward runs below: streams and direction.
SHAPES="1-fwd 4-fwd 1-rev 4-rev"
SSH_OK=""
SSHL_OK=""
if [ -n "$SKIP_SSH" ]; then
	:
elif sshd_start; then
	RPORT=$(free_port)
	if ssh_forward ssh-bulk "$RPORT" "$IPERF_PORT"; then
		SSH_OK=1
		iperf_run ssh-R "$RPORT" 1 fwd "$SSHD_PID" "$SSH_PID"
		iperf_run ssh-R "$RPORT" 4 fwd "$SSHD_PID" "$SSH_PID"
		stop_pid "$SSH_PID"
	fi
	# ssh -L, the anchor of htc forward: the client connects to ssh's
	# local port, sshd opens the connection to the server.
	LPORT=$(free_port)
	if ssh_local ssh-local "$LPORT" "$IPERF_PORT"; then
		SSHL_OK=1
		for shape in $SHAPES; do
			iperf_run ssh-L "$LPORT" "${shape%-*}" "${shape#*-}" "$SSHD_PID" "$SSH_PID"
		done
		stop_pid "$SSH_PID"
	fi
fi
[ -n "$SSH_OK" ] || [ -n "$SKIP_SSH" ] || echo "ssh-R 1 fwd - - - sshd/ssh did not start (see above)" >>"$ROWS"
[ -n "$SSHL_OK" ] || [ -n "$SKIP_SSH" ] || echo "ssh-L 1 fwd - - - sshd/ssh did not start (see above)" >>"$ROWS"

# ---- (d) hoody-tunnel + htc pull (and pull-base, the older build, beside it) --------------
# ---- and hoody-tunnel + htc forward, beside each PULL run ---------------------------------
HT_OK=""
BASE_OK=""
FWD_OK=""
if tunnel_start ht-bulk htc-bulk pull "$IPERF_PORT"; then
	HT_OK=1 O_HT=$T_HT O_HTC=$T_HTC O_PORT=$T_PORT
fi
# forward: the iperf3 client connects to htc forward's local port, the
# daemon opens the connection to the server "inside the container".
if forward_start ht-fwd htc-fwd "127.0.0.1:$IPERF_PORT"; then
	FWD_OK=1 F_HT=$T_HT F_HTC=$T_HTC F_PORT=$T_PORT
fi
if [ -n "$BASE_BUILD" ]; then
	bench_bins base
	if tunnel_start ht-bulk-base htc-bulk-base pull "$IPERF_PORT"; then
		BASE_OK=1 B_HT=$T_HT B_HTC=$T_HTC B_PORT=$T_PORT
	fi
	bench_bins ours
fi
# With BASE_BUILD, 1 s of iperf3 through each tunnel before anything is
# measured, so that neither side's first measured run is its cold start.
WARM=0
if [ -n "$BASE_BUILD" ]; then
	WARM=1
	for port in ${O_PORT:-} ${F_PORT:-} ${B_PORT:-}; do
		timeout 20 iperf3 -c 127.0.0.1 -p "$port" -t 1 >/dev/null 2>&1
		sleep 0.5
	done
fi
# tunnel_check LABEL DNAME CNAME DAEMON HTC: the daemon and htc still run
# (logs $TMP/DNAME.*, $TMP/CNAME.*), resets in order.
tunnel_check() {
	kill -0 "$4" 2>/dev/null || say "ANOMALY: the $1 daemon died: $(tail -3 "$TMP/$2.err")"
	kill -0 "$5" 2>/dev/null || say "ANOMALY: $1 htc died: $(tail -3 "$TMP/$3.err")"
	# iperf3's server closes its data sockets with bytes still unread at
	# the end of a test (an RST), so each data stream may end in a reset
	# (1 + 4 + 1 + 4 per round, 1 for the warm-up); more than that is an
	# anomaly.
	n=$(grep -c 'reset' "$TMP/$3.out")
	[ "$n" -gt $((10 * BASE_ROUNDS + WARM)) ] && say "ANOMALY: $1: $n streams reset (e.g. $(grep -m1 reset "$TMP/$3.out"))"
}
# Each shape, each round: pull and forward back to back, their order swapped
# from one shape (and round) to the next, so that neither always runs first;
# with BASE_BUILD, pull-base before or after the pair (base_order).
if [ -n "$HT_OK$BASE_OK$FWD_OK" ]; then
	si=0
	for shape in $SHAPES; do
		si=$((si + 1))
		p=${shape%-*} d=${shape#*-}
		r=1
		while [ $r -le "$BASE_ROUNDS" ]; do
			for who in $(base_order $r); do
				if [ "$who" = ours ]; then
					order="pull forward"
					[ $(((si + r) % 2)) = 1 ] && order="forward pull"
					for c in $order; do
						if [ "$c" = pull ] && [ -n "$HT_OK" ]; then
							iperf_run pull "$O_PORT" "$p" "$d" "$O_HT" "$O_HTC"
						elif [ "$c" = forward ] && [ -n "$FWD_OK" ]; then
							iperf_run forward "$F_PORT" "$p" "$d" "$F_HT" "$F_HTC"
						fi
					done
				elif [ "$who" = base ] && [ -n "$BASE_OK" ]; then
					iperf_run pull-base "$B_PORT" "$p" "$d" "$B_HT" "$B_HTC"
				fi
			done
			r=$((r + 1))
		done
	done
fi
if [ -n "$HT_OK" ]; then
	tunnel_check PULL ht-bulk htc-bulk "$O_HT" "$O_HTC"
	stop_pid "$O_HTC"
	stop_pid "$O_HT"
fi
if [ -n "$FWD_OK" ]; then
	tunnel_check forward ht-fwd htc-fwd "$F_HT" "$F_HTC"
	stop_pid "$F_HTC"
	stop_pid "$F_HT"
fi
if [ -n "$BASE_OK" ]; then
	tunnel_check "base PULL" ht-bulk-base htc-bulk-base "$B_HT" "$B_HTC"
	stop_pid "$B_HTC"
	stop_pid "$B_HT"
fi
[ -n "$HT_OK" ] || echo "pull 1 fwd - - - hoody-tunnel/htc did not start (see above)" >>"$ROWS"
[ -n "$FWD_OK" ] || echo "forward 1 fwd - - - hoody-tunnel/htc forward did not start (see above)" >>"$ROWS"
[ -n "$BASE_OK" ] || [ -z "$BASE_BUILD" ] ||
	echo "pull-base 1 fwd - - - base hoody-tunnel/htc did not start (see above)" >>"$ROWS"
stop_pid "$IPERF_PID"

# ---- the table ----------------------------------------------------------------------------
echo
echo "TCP bulk, iperf3 -t $DURATION, loopback ($(nproc) CPUs); fwd = the client sends (container side for pull,"
echo "ssh-R, socat; laptop side for forward, ssh-L), rev = iperf3 -R"
printf '%-10s %7s %4s %9s %9s %11s %6s  %s\n' case streams dir Gbit/s x_direct CPU_s/GB cores "tunnel processes"
# figure CASE STREAMS DIR FIELD (the mean when BASE_ROUNDS gave several rows)
figure() {
	awk -v c="$1" -v p="$2" -v d="$3" -v f="$4" '$1 == c && $2 == p && $3 == d {
		n++; v = $f; if ($f != "-") { s += $f; k++ } }
		END { if (n == 1) print v; else if (k) printf "%.6g\n", s / k; else if (n) print "-" }' "$ROWS"
}
# the rows grouped by case, cases in the order they first ran
awk '!($1 in g) { g[$1] = ++n } { r[g[$1]] = r[g[$1]] $0 "\n" }
	END { for (i = 1; i <= n; i++) printf "%s", r[i] }' "$ROWS" >"$TMP/table"
while read -r c p d bps bytes ticks note; do
	direct=$(figure direct "$p" "$d" 4)
	gb=$(fmt '%.2f' "$bps / 1e9")
	ratio=$(fmt '%.2f' "$bps / $direct")
	cpu=$(fmt '%.2f' "$ticks / $HZ / ($bytes / 1e9)")
	cores=$(fmt '%.2f' "$ticks / $HZ / $DURATION")
	case $c in
	direct) who="" cpu=- cores=- ;;
	socat2hop) who="2 socat (+ forked children)" ;;
	ssh-R) who="sshd (session processes) + ssh" ;;
	ssh-L) who="sshd (session processes) + ssh -L" ;;
	pull) who="hoody-tunnel + htc" ;;
	forward) who="hoody-tunnel + htc forward" ;;
	pull-base) who="hoody-tunnel + htc, base build" ;;
	esac
	[ "$bps" = - ] && who="FAILED: $note"
	printf '%-10s %7s %4s %9s %9s %11s %6s  %s\n' "$c" "$p" "$d" "$gb" "$ratio" "$cpu" "$cores" "$who"
done <"$TMP/table"

echo
echo "Bars (project issue): PULL >= 1.5 x ssh -R and >= 0.9 x the two-hop socat chain"
bar() { # NAME OURS THEIRS FACTOR
	v=$(fmt '%.2f' "$2 / $3")
	if ! isnum "$2" "$3"; then
		printf '  %-40s %s\n' "$1" "n/a (a case failed)"
	elif awk "BEGIN { exit !($2 >= $4 * $3) }"; then
		printf '  %-40s %sx  PASS\n' "$1" "$v"
	else
		printf '  %-40s %sx  FAIL\n' "$1" "$v"
	fi
}
for p in 1 4; do
	ours=$(figure pull "$p" fwd 4)
	[ -n "$SKIP_SSH" ] || bar "PULL/ssh -R, $p stream(s) (>=1.5)" "$ours" "$(figure ssh-R "$p" fwd 4)" 1.5
	[ -n "$SKIP_SOCAT" ] || bar "PULL/socat 2 hops, $p stream(s) (>=0.9)" "$ours" "$(figure socat2hop "$p" fwd 4)" 0.9
done
skipped=${SKIP_SSH:+ssh -R}${SKIP_SSH:+${SKIP_SOCAT:+, }}${SKIP_SOCAT:+socat}
[ -z "$skipped" ] || echo "  (skipped: $skipped)"

echo
echo "Bars (forward): forward >= 1.5 x ssh -L and within 10 % of PULL (forward/PULL >= 0.90), same shape"
for shape in $SHAPES; do
	p=${shape%-*} d=${shape#*-}
	ours=$(figure forward "$p" "$d" 4)
	[ -n "$SKIP_SSH" ] || bar "forward/ssh -L, $p stream(s) $d (>=1.5)" "$ours" "$(figure ssh-L "$p" "$d" 4)" 1.5
	bar "forward/PULL, $p stream(s) $d (>=0.90)" "$ours" "$(figure pull "$p" "$d" 4)" 0.90
done
[ -z "$SKIP_SSH" ] || echo "  (skipped: ssh -L)"

# ---- memory of idle connections ---------------------------------------------------------------
# idle_case NAME HOLDPORT COUNTFILE SERVERPIDS...: RSS of the trees before and
# after $IDLE_CONNS idle connections are held through the tunnel to HOLDPORT.
idle_case() {
	_name=$1 _hp=$2 _cf=$3
	shift 3
	sleep 0.3
	_before=""
	for _pid in "$@"; do _before="$_before $(rss_kib "$_pid")"; done
	idle_hold "$_name-hold" "$_hp" "$IDLE_CONNS"
	_hold=$BG_PID
	wait_line "$TMP/$_name-hold.out" '^opened' 30 "$_hold"
	# until the local service holds them all, at most 2 s more
	_i=0
	while [ $_i -lt 40 ] && [ "$(cat "$_cf" 2>/dev/null || echo 0)" -lt "$IDLE_CONNS" ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	_after=""
	for _pid in "$@"; do _after="$_after $(rss_kib "$_pid")"; done
	IDLE_OPENED=$(sed -n 's/^opened \([0-9]*\) failed \([0-9]*\)/\1 (\2 failed)/p' "$TMP/$_name-hold.out")
	IDLE_HELD=$(cat "$_cf" 2>/dev/null || echo 0)
	IDLE_BEFORE=$_before
	IDLE_AFTER=$_after
	stop_pid "$_hold"
}
mem_row() { # LABEL BEFORE AFTER
	printf '  %-28s %9s KiB -> %9s KiB   %6s KiB/conn\n' "$1" "$2" "$3" "$(fmt '%.1f' "($3 - $2) / $IDLE_CONNS")"
}

# idle_tunnel SUFFIX LABEL: a fresh daemon and htc pull (logs ht-idleSUFFIX,
# htc-idleSUFFIX) in front of a local service holding $IDLE_CONNS idle
# connections; prints their RSS rows (LABEL before each name) and sets
# IDLE_TOT (daemon + htc KiB with the connections) and IDLE_GROW (KiB/conn).
idle_tunnel() {
	IDLE_TOT=- IDLE_GROW=-
	_hf=${HT_FLAGS:-}
	# one stream per connection: the session's stream cap must cover them all
	[ "$IDLE_CONNS" -gt 1024 ] && HT_FLAGS="$_hf --max-streams-per-session $((IDLE_CONNS + 100))"
	ht_start "ht-idle$1"
	_rc=$?
	HT_FLAGS=$_hf
	[ $_rc = 0 ] || return 0
	LP=$(free_port)
	idle_serve "idle-local$1" "$LP" "$TMP/idle-local$1.count"
	SERVE_PID=$BG_PID
	wait_listen "$LP" 5 "$SERVE_PID"
	CP=$(free_port)
	if htc_start "htc-idle$1" pull "$LP" --port "$CP"; then
		idle_case "idle-ht$1" "$CP" "$TMP/idle-local$1.count" "$HT_PID" "$HTC_PID"
		set -- "$1" "$2" $IDLE_BEFORE $IDLE_AFTER
		echo "  ${2}hoody-tunnel PULL: client opened $IDLE_OPENED, local service holds $IDLE_HELD"
		mem_row "${2}hoody-tunnel daemon" "$3" "$5"
		mem_row "${2}htc" "$4" "$6"
		mem_row "${2}daemon + htc" "$(($3 + $4))" "$(($5 + $6))"
		IDLE_TOT=$(($5 + $6))
		IDLE_GROW=$(fmt '%.2f' "($5 + $6 - $3 - $4) / $IDLE_CONNS")
		[ "$IDLE_HELD" -lt "$IDLE_CONNS" ] && say "ANOMALY: only $IDLE_HELD of $IDLE_CONNS PULL connections reached the local service"
		kill -0 "$HT_PID" 2>/dev/null || say "ANOMALY: the ${2}daemon died: $(tail -3 "$TMP/ht-idle$1.err")"
		stop_pid "$HTC_PID"
	fi
	stop_pid "$HT_PID"
	stop_pid "$SERVE_PID"
}

echo
echo "Memory with $IDLE_CONNS idle connections held through the tunnel (VmRSS)"
idle_tunnel "" ""
O_TOT=$IDLE_TOT O_GROW=$IDLE_GROW
if [ -n "$BASE_BUILD" ]; then
	bench_bins base
	idle_tunnel -base "base "
	B_TOT=$IDLE_TOT B_GROW=$IDLE_GROW
	bench_bins ours
fi
if [ -n "$SSH_OK" ]; then
	LP=$(free_port)
	idle_serve idle-local-ssh "$LP" "$TMP/idle-ssh.count"
	SERVE_PID=$BG_PID
	wait_listen "$LP" 5 "$SERVE_PID"
	RP=$(free_port)
	if ssh_forward ssh-idle "$RP" "$LP"; then
		idle_case idle-ssh "$RP" "$TMP/idle-ssh.count" "$SSHD_PID" "$SSH_PID"
		set -- $IDLE_BEFORE $IDLE_AFTER
		echo "  ssh -R: client opened $IDLE_OPENED, local service holds $IDLE_HELD"
		mem_row "sshd (all processes)" "$1" "$3"
		mem_row "ssh" "$2" "$4"
		mem_row "sshd + ssh" "$(($1 + $2))" "$(($3 + $4))"
		stop_pid "$SSH_PID"
	fi
	stop_pid "$SERVE_PID"
fi

# ---- ours against the base build ------------------------------------------------------------------
if [ -n "$BASE_BUILD" ]; then
	# cpu_gb CASE STREAMS DIR: CPU s per GB over all rows of that case
	cpu_gb() {
		awk -v c="$1" -v p="$2" -v d="$3" -v hz="$HZ" '$1 == c && $2 == p && $3 == d && $6 != "-" {
			b += $5; t += $6 } END { if (b > 0) printf "%.3f\n", t / hz / (b / 1e9); else print "-" }' "$ROWS"
	}
	cmp_head
	for shape in "1 fwd" "4 fwd" "1 rev" "4 rev"; do
		set -- $shape
		cmp_row "P$1 $2" Gbit/s "$(fmt '%.2f' "$(figure pull "$1" "$2" 4) / 1e9")" \
			"$(fmt '%.2f' "$(figure pull-base "$1" "$2" 4) / 1e9")" hi
		cmp_row "P$1 $2" CPU_s/GB "$(cpu_gb pull "$1" "$2")" "$(cpu_gb pull-base "$1" "$2")" lo
	done
	cmp_row "idle $IDLE_CONNS" RSS_KiB "$O_TOT" "$B_TOT" lo
	cmp_row "idle $IDLE_CONNS" KiB/conn "$O_GROW" "$B_GROW" lo
	cmp_end
fi
exit 0
