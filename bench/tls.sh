#!/bin/sh
# PULL throughput over TLS: iperf3 (-P 1 and -P 4, both directions) through
# hoody-tunnel + htc pull over ws:// and over wss:// (the daemon with
# --tls-cert/--tls-key, htc with --ca-file), beside ssh -R with
# aes128-gcm@openssh.com and the same iperf3 run direct. Prints Gbit/s, the
# ratio to direct, the CPU seconds per GB moved of the tunnel processes, and
# PASS/FAIL for the bar "wss:// PULL >= 1.2 x ssh -R aes128-gcm".
#
#   sh bench/tls.sh                   (as root, for sshd; loopback only)
#   DURATION=8 BUILD=build-bench TLS_CERT=rsa HT_FLAGS='--log-level warn' sh bench/tls.sh
#
# TLS_CERT=ec (default: P-256 certificate) or rsa (RSA 2048); the bulk cipher
# is the same AES-GCM either way, the key only matters to the handshake.
# Certificates come from test/tools/gen_test_certs.sh into the temporary
# directory. Figures are one run each; compare only the rows of one
# invocation. Every process started here is stopped by PID on exit (see
# bench/lib.sh). Runtime: about 16 runs of DURATION + 1 s, under 3 minutes.
set -u
. "$(dirname "$0")/lib.sh"
bench_init tls

TLS_CERT=${TLS_CERT:-ec}
ROWS="$TMP/rows"
: >"$ROWS"
HT_FLAGS=${HT_FLAGS:---log-level warn}

for t in iperf3 python3 openssl; do
	command -v $t >/dev/null 2>&1 || { say "$t missing: sh third_party/deps.sh bench"; exit 1; }
done

CERTS="$TMP/certs"
if ! sh "$ROOT/test/tools/gen_test_certs.sh" "$CERTS" >"$TMP/certs.log" 2>&1; then
	say "gen_test_certs.sh failed: $(tail -3 "$TMP/certs.log" | tr '\n' ' ')"
	exit 1
fi
case $TLS_CERT in
ec) TLS_PAIR="--tls-cert $CERTS/server-ec.pem --tls-key $CERTS/server-ec.key" ;;
rsa) TLS_PAIR="--tls-cert $CERTS/server.pem --tls-key $CERTS/server.key" ;;
*) say "TLS_CERT must be ec or rsa"; exit 2 ;;
esac

IPERF_PORT=$(free_port)
bg_start iperf3-server iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
IPERF_PID=$BG_PID
wait_listen "$IPERF_PORT" 5 "$IPERF_PID" || { say "iperf3 -s did not start"; exit 1; }

# all_runs CASE PORT PIDS...: the four runs of one case.
all_runs() {
	_c=$1 _pt=$2
	shift 2
	for _d in fwd rev; do
		for _n in 1 4; do
			iperf_run "$_c" "$_pt" "$_n" "$_d" "$@"
		done
	done
}

# ---- direct ---------------------------------------------------------------------------
all_runs direct "$IPERF_PORT"

# ---- hoody-tunnel over ws:// and wss:// ----------------------------------------------------
# tunnel_case CASE EXTRA_DAEMON_FLAGS SCHEME EXTRA_HTC_FLAGS
tunnel_case() {
	_ok=""
	_saved=$HT_FLAGS
	HT_FLAGS="$HT_FLAGS $2"
	if ht_start "ht-$1"; then
		HT_URL="$3://127.0.0.1:$HT_PORT"
		CPORT=$(free_port)
		HTC_FLAGS=$4
		if htc_start "htc-$1" pull "$IPERF_PORT" --port "$CPORT"; then
			_ok=1
			all_runs "$1" "$CPORT" "$HT_PID" "$HTC_PID"
			kill -0 "$HT_PID" 2>/dev/null || say "ANOMALY: the daemon died: $(tail -3 "$TMP/ht-$1.err")"
			kill -0 "$HTC_PID" 2>/dev/null || say "ANOMALY: htc died: $(tail -3 "$TMP/htc-$1.err")"
			grep -q 'reconnect' "$TMP/htc-$1.out" "$TMP/htc-$1.err" &&
				say "ANOMALY: htc reconnected: $(grep -m1 reconnect "$TMP/htc-$1.out" "$TMP/htc-$1.err")"
			stop_pid "$HTC_PID"
		fi
		stop_pid "$HT_PID"
	fi
	HT_FLAGS=$_saved
	HTC_FLAGS=""
	[ -n "$_ok" ] || echo "$1 1 fwd - - - hoody-tunnel/htc did not start (see above)" >>"$ROWS"
}
tunnel_case ws "" ws ""
tunnel_case wss "$TLS_PAIR" wss "--ca-file $CERTS/ca.pem"

# ---- ssh -R, aes128-gcm ---------------------------------------------------------------------
SSH_OK=""
if sshd_start; then
	RPORT=$(free_port)
	if ssh_forward ssh-bulk "$RPORT" "$IPERF_PORT" aes128-gcm@openssh.com; then
		SSH_OK=1
		all_runs ssh-R "$RPORT" "$SSHD_PID" "$SSH_PID"
		stop_pid "$SSH_PID"
	fi
	stop_pid "$SSHD_PID"
fi
[ -n "$SSH_OK" ] || echo "ssh-R 1 fwd - - - sshd/ssh did not start (see above)" >>"$ROWS"
stop_pid "$IPERF_PID"

# ---- the table ---------------------------------------------------------------------------------
echo
echo "PULL over TLS: iperf3 -t $DURATION, loopback ($(nproc) CPUs), certificate $TLS_CERT;" \
	"fwd = container-side client sends, rev = iperf3 -R"
printf '%-7s %7s %4s %9s %9s %9s  %s\n' case streams dir Gbit/s x_direct CPU_s/GB "tunnel processes"
figure() { awk -v c="$1" -v p="$2" -v d="$3" -v f="$4" '$1 == c && $2 == p && $3 == d { print $f }' "$ROWS"; }
while read -r c p d bps bytes ticks note; do
	direct=$(figure direct "$p" "$d" 4)
	gb=$(fmt '%.2f' "$bps / 1e9")
	ratio=$(fmt '%.2f' "$bps / $direct")
	cpu=$(fmt '%.2f' "$ticks / $HZ / ($bytes / 1e9)")
	case $c in
	direct) who="" cpu=- ;;
	ws) who="hoody-tunnel + htc, ws://" ;;
	wss) who="hoody-tunnel + htc, wss://" ;;
	ssh-R) who="sshd (session processes) + ssh" ;;
	esac
	[ "$bps" = - ] && who="FAILED: $note"
	printf '%-7s %7s %4s %9s %9s %9s  %s\n' "$c" "$p" "$d" "$gb" "$ratio" "$cpu" "$who"
done <"$ROWS"

echo
echo "Bar (issue 6): wss:// PULL >= 1.2 x ssh -R aes128-gcm"
verdict=PASS
for d in fwd rev; do
	for p in 1 4; do
		ours=$(figure wss "$p" "$d" 4)
		theirs=$(figure ssh-R "$p" "$d" 4)
		v=$(fmt '%.2f' "$ours / $theirs")
		if ! isnum "$ours" "$theirs"; then
			printf '  %-30s %s\n' "P$p $d" "n/a (a case failed)"
			verdict=FAIL
		elif awk "BEGIN { exit !($ours >= 1.2 * $theirs) }"; then
			printf '  %-30s %sx  PASS\n' "P$p $d" "$v"
		else
			printf '  %-30s %sx  FAIL\n' "P$p $d" "$v"
			verdict=FAIL
		fi
	done
done
echo "  overall: $verdict"
exit 0
