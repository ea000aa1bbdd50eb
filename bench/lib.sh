# Shared helpers of the end-to-end benchmarks (bench/pull.sh, bench/expose.sh).
#
# Sourced, not run. POSIX sh plus python3 for the few things sh does badly
# (free ports, walking /proc for a process tree, JSON). Everything runs on
# loopback; every process a script starts goes through bg_start, is recorded
# by PID and is stopped by bench_cleanup (trap on EXIT) by that PID only.
#
# What it does not do: install tools (sh third_party/deps.sh bench does),
# build the programs (make BUILD=build-bench does), or judge figures.

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")" && pwd)}
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BUILD:-build-bench}
HT_BIN=${HT_BIN:-$ROOT/$BUILD/hoody-tunnel}
HTC_BIN=${HTC_BIN:-$ROOT/$BUILD/htc}
DURATION=${DURATION:-8}
# BASE_BUILD: a build directory of an older tree (its hoody-tunnel and htc);
# when set, pull.sh and expose.sh run every hoody-tunnel case with those
# binaries too, right after (or before) the same case with ours, and end with
# a comparison within BASE_TOL percent. BASE_ROUNDS pairs per case, the order
# swapped every round. Unset: the scripts do exactly what they did before.
BASE_BUILD=${BASE_BUILD:-}
BASE_ROUNDS=${BASE_ROUNDS:-1}
BASE_TOL=${BASE_TOL:-5}
# SKIP_SSH=1 / SKIP_SOCAT=1: leave those comparison cases out (shorter runs).
SKIP_SSH=${SKIP_SSH:-}
SKIP_SOCAT=${SKIP_SOCAT:-}
HT_USE=$HT_BIN
HTC_USE=$HTC_BIN
HZ=$(getconf CLK_TCK)
BENCH_PIDS=""
TMP=""

say() { printf '%s\n' "$*" >&2; }

# bench_init NAME: temporary directory, cleanup trap, a high open-file limit.
bench_init() {
	TMP=$(mktemp -d "/tmp/bench-$1.XXXXXX")
	chmod 755 "$TMP"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	[ "$(ulimit -n)" -ge 8192 ] 2>/dev/null || say "note: ulimit -n is $(ulimit -n); 1000-connection cases may fail"
}

# bg_start NAME CMD...: start CMD in the background, stdout to $TMP/NAME.out,
# stderr to $TMP/NAME.err; sets BG_PID and records it for cleanup.
bg_start() {
	_n=$1
	shift
	"$@" >"$TMP/$_n.out" 2>"$TMP/$_n.err" </dev/null &
	BG_PID=$!
	BENCH_PIDS="$BG_PID $BENCH_PIDS"
}

# stop_pid PID: TERM, up to 2 s of grace, then KILL; forgets the PID.
stop_pid() {
	[ -n "$1" ] || return 0
	if kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null
		_i=0
		while kill -0 "$1" 2>/dev/null && [ $_i -lt 20 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
	fi
	_keep=""
	for _p in $BENCH_PIDS; do
		[ "$_p" = "$1" ] || _keep="$_keep $_p"
	done
	BENCH_PIDS=$_keep
	return 0
}

bench_cleanup() {
	for _p in $BENCH_PIDS; do
		stop_pid "$_p"
	done
	[ -n "$TMP" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$TMP"
	TMP=""
}

# free_port: a TCP port nobody uses right now, below the ephemeral range (so
# that no outgoing connection of another program takes it before we bind it),
# and not handed out before by this script.
free_port() {
	python3 - "$TMP/ports" <<'EOF'
import random, socket, sys
try:
    used = set(open(sys.argv[1]).read().split())
except OSError:
    used = set()
try:
    top = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError):
    top = 32768
top = max(top, 21000)
for _ in range(1000):
    p = random.randrange(20000, top)
    if str(p) in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    with open(sys.argv[1], "a") as f:
        f.write("%d\n" % p)
    print(p)
    break
EOF
}

# listening PORT: true if some socket listens on loopback/any at PORT (from
# /proc/net/tcp*, so no probe connection disturbs the listener).
listening() {
	_hex=$(printf ':%04X' "$1")
	awk -v p="$_hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# wait_listen PORT SECONDS [PID]: wait until PORT listens; false on timeout or
# when PID died meanwhile.
wait_listen() {
	_i=0
	while [ $_i -lt $(($2 * 20)) ]; do
		listening "$1" && return 0
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

# wait_line FILE REGEX SECONDS [PID]: wait until a line of FILE matches.
wait_line() {
	_i=0
	while [ $_i -lt $(($3 * 20)) ]; do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		[ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && return 1
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

# Python over /proc: "ticks PID..." prints utime+stime (clock ticks) of each
# PID and all its descendants (plus cutime+cstime, so children that exited
# and were reaped still count); "rss PID..." prints VmRSS in KiB summed the
# same way over the trees.
_procpy='
import os, sys
def stat(p):
    try:
        with open("/proc/%s/stat" % p) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()
def tree(roots):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(d)
            if st:
                kids.setdefault(st[1], []).append(d)
    seen, todo = [], [str(r) for r in roots]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo += kids.get(p, [])
    return seen
def rss(p):
    try:
        with open("/proc/%s/status" % p) as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
    except OSError:
        pass
    return 0
mode, roots = sys.argv[1], [a for a in sys.argv[2:] if a]
total = 0
for p in tree(roots):
    if mode == "ticks":
        st = stat(p)
        if st:
            total += sum(int(st[i]) for i in (11, 12, 13, 14))
    else:
        total += rss(p)
print(total)
'
# cpu_ticks PID...: clock ticks used so far by these process trees.
cpu_ticks() { python3 -c "$_procpy" ticks "$@"; }
# rss_kib PID...: resident KiB of these process trees now.
rss_kib() { python3 -c "$_procpy" rss "$@"; }

# base_init: with BASE_BUILD set, check that it holds both programs (exit 1
# if not), make it absolute and say which binaries run against which.
base_init() {
	case $BASE_ROUNDS in '' | 0 | *[!0-9]*) say "BASE_ROUNDS must be a positive integer"; exit 1 ;; esac
	[ -n "$BASE_BUILD" ] || return 0 # rounds still repeat our own cases (expose.sh: port and routed)
	BASE_BUILD=$(cd "$BASE_BUILD" 2>/dev/null && pwd) || { say "BASE_BUILD: no such directory"; exit 1; }
	if [ ! -x "$BASE_BUILD/hoody-tunnel" ] || [ ! -x "$BASE_BUILD/htc" ]; then
		say "BASE_BUILD: $BASE_BUILD/hoody-tunnel or $BASE_BUILD/htc missing (make -C <tree> -j2)"
		exit 1
	fi
	case $BASE_ROUNDS in '' | 0 | *[!0-9]*) say "BASE_ROUNDS must be a positive integer"; exit 1 ;; esac
	say "ours: $HT_BIN, $HTC_BIN"
	say "base: $BASE_BUILD/hoody-tunnel, $BASE_BUILD/htc ($BASE_ROUNDS round(s), bound $BASE_TOL %)"
}

# bench_bins ours|base: the binaries the next ht_start/htc_start run.
bench_bins() {
	if [ "$1" = base ]; then
		HT_USE=$BASE_BUILD/hoody-tunnel HTC_USE=$BASE_BUILD/htc
	else
		HT_USE=$HT_BIN HTC_USE=$HTC_BIN
	fi
}

# base_order ROUND: "ours base" in odd rounds, "base ours" in even ones; just
# "ours" without BASE_BUILD.
base_order() {
	if [ -z "$BASE_BUILD" ]; then
		echo ours
	elif [ $(($1 % 2)) = 1 ]; then
		echo ours base
	else
		echo base ours
	fi
}

# cmp_row LABEL METRIC OURS BASE hi|lo: one comparison line, ours/base, PASS
# when ours >= (1 - BASE_TOL %) x base (hi: more is better) or ours <= (1 +
# BASE_TOL %) x base (lo: less is better); counts into CMP_PASS/CMP_N.
CMP_PASS=0
CMP_N=0
cmp_row() {
	_v=$(fmt '%.3f' "$3 / $4")
	if [ "$5" = hi ]; then
		_b=$(fmt '>=%.2f' "1 - $BASE_TOL / 100")
		_ok="$3 >= (1 - $BASE_TOL / 100) * $4"
	else
		_b=$(fmt '<=%.2f' "1 + $BASE_TOL / 100")
		_ok="$3 <= (1 + $BASE_TOL / 100) * $4"
	fi
	if ! isnum "$3" "$4"; then
		_r="n/a (a case failed)"
		_v=-
	elif awk "BEGIN { exit !($_ok) }"; then
		_r=PASS
		CMP_PASS=$((CMP_PASS + 1))
	else
		_r=FAIL
	fi
	CMP_N=$((CMP_N + 1))
	printf '  %-10s %-12s %11s %11s %9s %7s  %s\n' "$1" "$2" "$3" "$4" "$_v" "$_b" "$_r"
}
cmp_head() {
	echo
	echo "Base build vs ours, interleaved in this run ($BASE_ROUNDS round(s) per case; bound: within $BASE_TOL %)"
	echo "  base: $BASE_BUILD"
	printf '  %-10s %-12s %11s %11s %9s %7s  %s\n' case metric ours base ours/base bound verdict
}
cmp_end() {
	if [ "$CMP_PASS" = "$CMP_N" ]; then
		echo "  overall: PASS ($CMP_PASS of $CMP_N)"
	else
		echo "  overall: FAIL ($CMP_PASS of $CMP_N within $BASE_TOL %; this machine is noisy: rerun before judging)"
	fi
}

# fmt FORMAT EXPR: EXPR computed by awk and printed with FORMAT; "-" when EXPR
# does not compute (a missing figure, a division by zero).
# isnum X...: true if every X is a plain non-negative number.
isnum() {
	for _x in "$@"; do
		case $_x in '' | - | *[!0-9.e+]*) return 1 ;; esac
	done
}
fmt() { awk "BEGIN { printf \"$1\", $2 }" 2>/dev/null || printf -; }

# ---- hoody-tunnel ------------------------------------------------------------

# ht_start NAME [FLAGS...]: start the daemon on a free loopback port with a
# fresh token; sets HT_PID, HT_PORT, HT_URL, HT_TOKEN.
ht_start() {
	_name=$1
	shift
	if [ ! -x "$HT_USE" ] || [ ! -x "$HTC_USE" ]; then
		say "hoody-tunnel: $HT_USE or $HTC_USE missing (cd $ROOT && make -j2 BUILD=$BUILD)"
		return 1
	fi
	HT_PORT=$(free_port)
	HT_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
	HT_URL="ws://127.0.0.1:$HT_PORT"
	bg_start "$_name" "$HT_USE" --listen "127.0.0.1:$HT_PORT" --token "$HT_TOKEN" \
		--expose-address 127.0.0.1 ${HT_FLAGS:-}
	HT_PID=$BG_PID
	if ! wait_listen "$HT_PORT" 5 "$HT_PID"; then
		say "hoody-tunnel did not start: $(tail -3 "$TMP/$_name.err" | tr '\n' ' ')"
		stop_pid "$HT_PID"
		return 1
	fi
}

# htc_start NAME SUBCOMMAND ARGS...: start htc against the daemon and wait for
# its binding line ("... -> ..."); sets HTC_PID.
htc_start() {
	_name=$1
	shift
	bg_start "$_name" "$HTC_USE" --url "$HT_URL" --token "$HT_TOKEN" ${HTC_FLAGS:-} "$@"
	HTC_PID=$BG_PID
	if ! wait_line "$TMP/$_name.out" ' -> ' 5 "$HTC_PID"; then
		say "htc $* did not bind: $(cat "$TMP/$_name.out" "$TMP/$_name.err" | tail -3 | tr '\n' ' ')"
		stop_pid "$HTC_PID"
		return 1
	fi
}

# tunnel_start DNAME CNAME SUBCOMMAND TARGET: the daemon (logs $TMP/DNAME.*)
# and htc SUBCOMMAND TARGET --port P (logs $TMP/CNAME.*) on a free port P,
# with the binaries bench_bins picked; sets T_HT, T_HTC, T_PORT. On failure
# stops what it started and returns 1.
tunnel_start() {
	T_HT="" T_HTC="" T_PORT=""
	ht_start "$1" || return 1
	_tp=$(free_port)
	if ! htc_start "$2" "$3" "$4" --port "$_tp"; then
		stop_pid "$HT_PID"
		return 1
	fi
	T_HT=$HT_PID T_HTC=$HTC_PID T_PORT=$_tp
}

# forward_start DNAME CNAME RHOST:RPORT: a daemon that forwards to loopback
# (--forward-allow loopback, logs $TMP/DNAME.*) and htc forward
# 0:RHOST:RPORT (logs $TMP/CNAME.*), with the binaries bench_bins picked;
# waits for htc's "session" line (connections before it are refused); sets
# T_HT, T_HTC, T_PORT (the local port htc listens on). On failure stops what
# it started and returns 1.
forward_start() {
	T_HT="" T_HTC="" T_PORT=""
	_hf=${HT_FLAGS:-}
	HT_FLAGS="$_hf --forward-allow loopback"
	ht_start "$1"
	_rc=$?
	HT_FLAGS=$_hf
	[ $_rc = 0 ] || return 1
	if ! htc_start "$2" forward "0:$3"; then
		stop_pid "$HT_PID"
		return 1
	fi
	_fp=$(sed -n 's/^forward: [^ ]*:\([0-9][0-9]*\) -> .*/\1/p' "$TMP/$2.out" | head -1)
	if [ -z "$_fp" ] || ! wait_line "$TMP/$2.out" '^session ' 10 "$HTC_PID"; then
		say "htc forward did not come up: $(cat "$TMP/$2.out" "$TMP/$2.err" | tail -3 | tr '\n' ' ')"
		stop_pid "$HTC_PID"
		stop_pid "$HT_PID"
		return 1
	fi
	T_HT=$HT_PID T_HTC=$HTC_PID T_PORT=$_fp
}

# ---- a temporary sshd on loopback ---------------------------------------------

# sshd_start: generated host and client keys, a config accepting only that
# client key, sshd -D on a free loopback port; sets SSHD_PID, SSHD_PORT,
# SSH_KEY. Needs root (sshd drops privileges for the session itself).
sshd_start() {
	_d="$TMP/ssh"
	mkdir -p "$_d" && chmod 700 "$_d"
	if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1; then
		say "sshd or ssh missing (sh third_party/deps.sh bench)"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		say "sshd needs root to run as a server for root@127.0.0.1; run the script as root"
		return 1
	fi
	ssh-keygen -q -t ed25519 -N '' -f "$_d/host" >/dev/null || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$_d/client" >/dev/null || return 1
	cp "$_d/client.pub" "$_d/authorized_keys"
	SSHD_PORT=$(free_port)
	SSH_KEY="$_d/client"
	mkdir -p /run/sshd 2>/dev/null
	cat >"$_d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $_d/host
PidFile none
AuthorizedKeysFile $_d/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PrintMotd no
UseDNS no
Ciphers aes128-gcm@openssh.com,chacha20-poly1305@openssh.com
MaxStartups 100
LogLevel ERROR
EOF
	bg_start sshd /usr/sbin/sshd -D -e -f "$_d/sshd_config"
	SSHD_PID=$BG_PID
	if ! wait_listen "$SSHD_PORT" 5 "$SSHD_PID"; then
		say "sshd did not start: $(tail -3 "$TMP/sshd.err" | tr '\n' ' ')"
		stop_pid "$SSHD_PID"
		SSHD_PID=""
		return 1
	fi
}

# ssh_tunnel NAME -R|-L SPEC WAITPORT [CIPHER]: ssh -N with one forwarding to
# the temporary sshd; waits until WAITPORT listens; sets SSH_PID.
ssh_tunnel() {
	bg_start "$1" ssh -N -T -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o BatchMode=yes -o ExitOnForwardFailure=yes -o LogLevel=ERROR -o Compression=no \
		-i "$SSH_KEY" -c "${5:-aes128-gcm@openssh.com}" "$2" "$3" \
		-p "$SSHD_PORT" root@127.0.0.1
	SSH_PID=$BG_PID
	if ! wait_listen "$4" 10 "$SSH_PID"; then
		say "ssh $2 did not forward: $(tail -3 "$TMP/$1.err" | tr '\n' ' ')"
		stop_pid "$SSH_PID"
		return 1
	fi
}

# ssh_forward NAME RPORT LPORT [CIPHER]: ssh -R RPORT:127.0.0.1:LPORT (sshd listens on RPORT).
ssh_forward() {
	ssh_tunnel "$1" -R "$2:127.0.0.1:$3" "$2" "${4:-}"
}

# ssh_local NAME LPORT RPORT [CIPHER]: ssh -L LPORT:127.0.0.1:RPORT (ssh listens on LPORT,
# sshd opens the connections to RPORT).
ssh_local() {
	ssh_tunnel "$1" -L "127.0.0.1:$2:127.0.0.1:$3" "$2" "${4:-}"
}

# ---- idle connections -------------------------------------------------------------

# A tiny Python tool: "serve PORT COUNTFILE" accepts and holds connections,
# writing how many it holds to COUNTFILE; "hold PORT N" opens N connections to
# PORT, prints "opened K failed F" and holds them until killed.
_idlepy='
import os, selectors, signal, socket, sys, time
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
if sys.argv[1] == "serve":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(sys.argv[2])))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    held = {}
    last = -1
    while True:
        for key, _ in sel.select(0.2):
            if key.fileobj is ls:
                while True:
                    try:
                        c, _ = ls.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    held[c.fileno()] = c
                    sel.register(c, selectors.EVENT_READ)
            else:
                c = key.fileobj
                try:
                    d = c.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    sel.unregister(c)
                    held.pop(c.fileno(), None)
                    c.close()
        if len(held) != last:
            last = len(held)
            with open(sys.argv[3] + ".tmp", "w") as f:
                f.write("%d\n" % last)
            os.rename(sys.argv[3] + ".tmp", sys.argv[3])
else:
    port, n = int(sys.argv[2]), int(sys.argv[3])
    socks, failed = [], 0
    for i in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            failed += 1
    print("opened %d failed %d" % (len(socks), failed), flush=True)
    while True:
        time.sleep(60)
'
idle_serve() { bg_start "$1" python3 -c "$_idlepy" serve "$2" "$3"; }
idle_hold() { bg_start "$1" python3 -c "$_idlepy" hold "$2" "$3"; }

# ---- iperf3 runs -------------------------------------------------------------

# iperf_json FILE: "BPS BYTES" from an iperf3 -J report (used by iperf_run), or "ERR reason".
iperf_json() {
	python3 - "$1" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception as e:
    print("ERR no JSON report (%s)" % e.__class__.__name__)
    sys.exit()
if j.get("error"):
    print("ERR " + j["error"].replace("\n", " "))
    sys.exit()
s = j["end"]["sum_received"]
print("%.0f %d" % (s["bits_per_second"], s["bytes"]))
EOF
}

# iperf_run CASE PORT STREAMS DIR PIDS...: one iperf3 run to PORT (DIR "fwd":
# container-side client sends to the laptop-side server; "rev": iperf3 -R),
# CPU ticks of the PIDS' trees before/after; appends
# "CASE STREAMS DIR BPS BYTES TICKS" (or dashes and the error) to $ROWS,
# using $TMP and $DURATION. pull.sh and tls.sh share it.
iperf_run() {
	_case=$1 _port=$2 _p=$3 _dir=$4
	shift 4
	_rev=""
	[ "$_dir" = rev ] && _rev="-R"
	_t0=0
	[ $# -gt 0 ] && _t0=$(cpu_ticks "$@")
	for _try in 1 2; do
		timeout $((DURATION + 30)) iperf3 -c 127.0.0.1 -p "$_port" -t "$DURATION" -P "$_p" $_rev -J \
			>"$TMP/iperf.json" 2>"$TMP/iperf.err"
		_res=$(iperf_json "$TMP/iperf.json")
		case "$_res" in
		*busy*) sleep 1 ;;
		*) break ;;
		esac
	done
	_t1=0
	[ $# -gt 0 ] && _t1=$(cpu_ticks "$@")
	case "$_res" in
	ERR*)
		say "$_case P$_p $_dir: iperf3 failed: ${_res#ERR }"
		echo "$_case $_p $_dir - - - ${_res#ERR }" | tr -s ' ' | cut -c1-200 >>"$ROWS"
		;;
	*)
		set -- $_res
		_cpu=-
		[ "$_t1" -gt 0 ] && _cpu=$((_t1 - _t0))
		echo "$_case $_p $_dir $1 $2 $_cpu" >>"$ROWS"
		say "$_case P$_p $_dir: $(fmt '%.2f' "$1 / 1e9") Gbit/s"
		;;
	esac
	sleep 0.5
}

# nginx_100b PORT: nginx (one worker) on 127.0.0.1:PORT answering every
# request with 100 bytes, for as many connections as the open-file limit
# allows; sets NGX_PID. callgrind.sh and profile.sh share it.
nginx_100b() {
	cat >"$TMP/nginx-100b.conf" <<NG
daemon off; worker_processes 1; pid $TMP/nginx-100b.pid; error_log $TMP/nginx-100b.err;
worker_rlimit_nofile $(ulimit -n);
events { worker_connections $(($(ulimit -n) - 64)); }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:$1;
  location / { return 200 "$(head -c 100 /dev/zero | tr '\0' x)"; } } }
NG
	bg_start nginx-100b /usr/sbin/nginx -c "$TMP/nginx-100b.conf" -e "$TMP/nginx-100b.err"
	NGX_PID=$BG_PID
}
