#!/bin/sh
# PULL end to end: TCP bulk throughput of iperf3 through hoody-tunnel + htc
# pull, side by side with the same iperf3 run direct, through a two-hop socat
# chain (the plain relay of our shape: container side + laptop side) and
# through ssh -R (aes128-gcm); then the memory of 1,000 idle PULL connections
# (daemon and htc), beside ssh -R holding the same.
#
#   sh bench/pull.sh                  (as root, for sshd; loopback only)
#   DURATION=8 BUILD=build-bench HT_FLAGS='--log-level warn' sh bench/pull.sh
#
# Figures are one run each; compare only the rows of one invocation (this
# machine drifts 20-35 % between runs). Every process started here is stopped
# by PID on exit. Runtime: about 2 minutes.
set -u
. "$(dirname "$0")/lib.sh"
bench_init pull

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

# ---- (b) two-hop socat chain -----------------------------------------------------------
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

# ---- (c) ssh -R, aes128-gcm -----------------------------------------------------------
SSH_OK=""
if sshd_start; then
	RPORT=$(free_port)
	if ssh_forward ssh-bulk "$RPORT" "$IPERF_PORT"; then
		SSH_OK=1
		iperf_run ssh-R "$RPORT" 1 fwd "$SSHD_PID" "$SSH_PID"
		iperf_run ssh-R "$RPORT" 4 fwd "$SSHD_PID" "$SSH_PID"
		stop_pid "$SSH_PID"
	fi
fi
[ -n "$SSH_OK" ] || echo "ssh-R 1 fwd - - - sshd/ssh did not start (see above)" >>"$ROWS"

# ---- (d) hoody-tunnel + htc pull ---------------------------------------------------------
HT_OK=""
if ht_start ht-bulk; then
	CPORT=$(free_port)
	if htc_start htc-bulk pull "$IPERF_PORT" --port "$CPORT"; then
		HT_OK=1
		iperf_run pull "$CPORT" 1 fwd "$HT_PID" "$HTC_PID"
		iperf_run pull "$CPORT" 4 fwd "$HT_PID" "$HTC_PID"
		iperf_run pull "$CPORT" 1 rev "$HT_PID" "$HTC_PID"
		kill -0 "$HT_PID" 2>/dev/null || say "ANOMALY: the daemon died: $(tail -3 "$TMP/ht-bulk.err")"
		kill -0 "$HTC_PID" 2>/dev/null || say "ANOMALY: htc died: $(tail -3 "$TMP/htc-bulk.err")"
		# iperf3's server closes its data sockets with bytes still unread at
		# the end of a test (an RST), so each data stream (1 + 4 + 1) may end
		# in a reset; more than that is an anomaly.
		n=$(grep -c 'reset' "$TMP/htc-bulk.out")
		[ "$n" -gt 6 ] && say "ANOMALY: $n streams reset (e.g. $(grep -m1 reset "$TMP/htc-bulk.out"))"
		stop_pid "$HTC_PID"
	fi
	stop_pid "$HT_PID"
fi
[ -n "$HT_OK" ] || echo "pull 1 fwd - - - hoody-tunnel/htc did not start (see above)" >>"$ROWS"
stop_pid "$IPERF_PID"

# ---- the table ----------------------------------------------------------------------------
echo
echo "TCP bulk, iperf3 -t $DURATION, loopback ($(nproc) CPUs); fwd = container-side client sends, rev = iperf3 -R"
printf '%-10s %7s %4s %9s %9s %11s %6s  %s\n' case streams dir Gbit/s x_direct CPU_s/GB cores "tunnel processes"
# figure CASE STREAMS DIR FIELD
figure() { awk -v c="$1" -v p="$2" -v d="$3" -v f="$4" '$1 == c && $2 == p && $3 == d { print $f }' "$ROWS"; }
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
	pull) who="hoody-tunnel + htc" ;;
	esac
	[ "$bps" = - ] && who="FAILED: $note"
	printf '%-10s %7s %4s %9s %9s %11s %6s  %s\n' "$c" "$p" "$d" "$gb" "$ratio" "$cpu" "$cores" "$who"
done <"$ROWS"

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
	bar "PULL/ssh -R, $p stream(s) (>=1.5)" "$ours" "$(figure ssh-R "$p" fwd 4)" 1.5
	bar "PULL/socat 2 hops, $p stream(s) (>=0.9)" "$ours" "$(figure socat2hop "$p" fwd 4)" 0.9
done

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

echo
echo "Memory with $IDLE_CONNS idle connections held through the tunnel (VmRSS)"
if ht_start ht-idle; then
	LP=$(free_port)
	idle_serve idle-local "$LP" "$TMP/idle-local.count"
	SERVE_PID=$BG_PID
	wait_listen "$LP" 5 "$SERVE_PID"
	CP=$(free_port)
	if htc_start htc-idle pull "$LP" --port "$CP"; then
		idle_case idle-ht "$CP" "$TMP/idle-local.count" "$HT_PID" "$HTC_PID"
		opened=$(grep -c '^opened stream' "$TMP/htc-idle.out")
		set -- $IDLE_BEFORE $IDLE_AFTER
		echo "  hoody-tunnel PULL: client opened $IDLE_OPENED, htc shows $opened streams opened, local service holds $IDLE_HELD"
		mem_row "hoody-tunnel daemon" "$1" "$3"
		mem_row "htc" "$2" "$4"
		mem_row "daemon + htc" "$(($1 + $2))" "$(($3 + $4))"
		[ "$IDLE_HELD" -lt "$IDLE_CONNS" ] && say "ANOMALY: only $IDLE_HELD of $IDLE_CONNS PULL connections reached the local service"
		kill -0 "$HT_PID" 2>/dev/null || say "ANOMALY: the daemon died: $(tail -3 "$TMP/ht-idle.err")"
		stop_pid "$HTC_PID"
	fi
	stop_pid "$HT_PID"
	stop_pid "$SERVE_PID"
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
exit 0
