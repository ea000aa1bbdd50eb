#!/usr/bin/env python3
"""What the daemon says, and what it says about its environment.

The request log's session lines: a client that closes its WebSocket with a
close frame (as the TypeScript SDK does; here plain python3-websockets) is
"closed by client", with the code and reason when the code is not 1000, and
still parks when it held bindings; a connection that ends without a close
frame (reset, or EOF) is "connection lost". SIGTERM says "drained: exiting"
once. A wrong or missing token is one line naming the peer and why.

The environment: an unknown HOODY_TUNNEL_* variable is warned about once,
with the name it is close to (HOODY_TUNNEL_CRYPTO, which has no flag, is
known); a bad value names the variable it came from (also in the checks
between settings and when listening fails); a token under 16 bytes is
refused, naming its source, with exit status 2. A token given with --token
(or --admin-token) is warned about once, pointing to the ways that keep it
out of /proc/PID/cmdline; one from a file or the environment is not.

Loopback only; every wait is bounded; only the processes started here are
stopped, by their PID."""
import asyncio
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

SHORT = "dev-token"  # 9 bytes
ADVICE = "use at least 16 bytes, e.g. from 'openssl rand -hex 16'"


# ---- helpers -------------------------------------------------------------------------

def wait_log(d, regex, timeout=STEP):
    """The match of regex in the daemon's stderr, waiting for it."""
    rx = re.compile(regex, re.M)
    end = time.monotonic() + timeout
    while True:
        m = rx.search(d.stderr())
        if m:
            return m
        assert time.monotonic() < end, f"no log line matching {regex!r}; stderr tail:\n{d.stderr()[-1500:]}"
        time.sleep(0.02)


async def await_log(d, regex, timeout=STEP):
    return await asyncio.to_thread(wait_log, d, regex, timeout)


def lines_with(d, text):
    return [x for x in d.stderr().splitlines() if text in x]


class SdkClient:
    """What an SDK does over plain python3-websockets: connect with the v1
    subprotocol, HELLO, perhaps BIND, then leave by closing the WebSocket."""

    def __init__(self, port):
        self.port = port
        self.ws = None
        self.session_id = None

    async def open(self, token):
        self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/api/v1/tunnel/connect",
                                           subprotocols=[V1], ping_interval=None, close_timeout=STEP,
                                           max_size=None, compression=None, open_timeout=STEP)
        await self.ws.send(frame(HELLO, 0, {"version": V1, "auth": {"kind": "bearer", "token": token}}))
        ok = await self.expect(HELLO_OK, GOAWAY)
        return ok

    async def expect(self, *types):
        """The first frame of one of types, reading messages as they come."""
        end = time.monotonic() + STEP
        while True:
            msg = await asyncio.wait_for(self.ws.recv(), max(0.01, end - time.monotonic()))
            for f in decode_frames(msg):
                if f.type in types:
                    if f.type == HELLO_OK:
                        self.session_id = f.json()["sessionId"]
                    return f

    async def bind_pull(self):
        await self.ws.send(frame(BIND, 0, {"clientBindRef": 1, "kind": "tcp", "mode": "pull", "containerPort": 0}))
        f = await self.expect(BIND_OK, BIND_ERR)
        assert f.type == BIND_OK, f

    def reset(self):
        """Drop the TCP connection with an RST, no close frame."""
        sock = self.ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.ws.transport.abort()

    def hang_up(self):
        """Close TCP (FIN) without a close frame."""
        self.ws.transport.close()


def clean_env(extra=None):
    """This process's environment without HOODY_TUNNEL_* and HTC_*, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOODY_TUNNEL_", "HTC_"))}
    env.update(extra or {})
    return env


def run_daemon(args, env=None, timeout=STEP):
    """Start the daemon expecting it to stop by itself: (exit status, stdout, stderr).
    One that keeps running is killed (by its PID) and fails the test."""
    p = subprocess.Popen([DAEMON] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env(env))
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=STEP)
        raise AssertionError(f"the daemon kept running with {args} {env}: {err.decode()[-800:]}")
    err = err.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return p.returncode, out.decode("utf-8", "replace"), err


def listen_args():
    return ["--listen", f"127.0.0.1:{free_port()}"]


# ---- the session lines -------------------------------------------------------------------

async def test_close_frame_is_closed_by_client():
    with Daemon(log_level="info") as d:
        c = SdkClient(d.port)
        await c.open(d.token)
        await c.ws.close()  # 1000
        await await_log(d, rf"session {c.session_id} ended \(closed by client\)$")

        c = SdkClient(d.port)
        await c.open(d.token)
        await c.ws.close(4000, "laptop asleep")
        await await_log(d, rf"session {c.session_id} ended \(closed by client \(4000 laptop asleep\)\)$")

        # With a binding it parks, as a lost connection does; only the words differ.
        c = SdkClient(d.port)
        await c.open(d.token)
        await c.bind_pull()
        await c.ws.close(1001)
        await await_log(d, rf"session {c.session_id} parked for 60000 ms \(1 binding kept\): "
                           r"closed by client \(1001 going away\)$")
        assert d.get_json("/api/v1/tunnel/tunnels")["orphanedSessions"] == 1
        assert not lines_with(d, "connection lost"), d.stderr()


async def test_no_close_frame_is_connection_lost():
    with Daemon(log_level="info") as d:
        c = SdkClient(d.port)
        await c.open(d.token)
        c.reset()
        await await_log(d, rf"session {c.session_id} ended \(connection lost\)$")

        c = SdkClient(d.port)
        await c.open(d.token)
        await c.bind_pull()
        c.hang_up()
        await await_log(d, rf"session {c.session_id} parked for 60000 ms \(1 binding kept\): connection lost$")
        assert not lines_with(d, "closed by client"), d.stderr()


async def test_sigterm_drained_once():
    with Daemon(log_level="info") as d:
        live = SdkClient(d.port)
        await live.open(d.token)  # a session that answers the daemon's close
        parked = SdkClient(d.port)
        await parked.open(d.token)
        await parked.bind_pull()
        parked.reset()
        await await_log(d, rf"session {parked.session_id} parked")
        d.signal(signal.SIGTERM)
        rc = await asyncio.to_thread(d.wait, STEP * 2)
        assert rc == 0, (rc, d.stderr()[-1500:])
        drained = lines_with(d, "drained: exiting")
        assert len(drained) == 1, d.stderr()
        assert d.stderr().rstrip().splitlines()[-1].endswith(" stopped"), d.stderr()


async def test_wrong_token_one_line():
    with Daemon() as d:  # debug level: every line there is
        for token, why in (("wrong-token-" + "ab" * 10, "wrong token"), (None, "no bearer token")):
            ws = await websockets.connect(f"ws://127.0.0.1:{d.port}/api/v1/tunnel/connect", subprotocols=[V1],
                                          ping_interval=None, close_timeout=STEP, open_timeout=STEP)
            peer = "127.0.0.1:%d" % ws.transport.get_extra_info("sockname")[1]
            auth = {"kind": "bearer", "token": token} if token else {"kind": "none"}
            await ws.send(frame(HELLO, 0, {"version": V1, "auth": auth}))
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), STEP)
            except websockets.exceptions.ConnectionClosed:
                pass
            assert ws.close_code == 1008, ws.close_code
            await ahttp(d.port, "GET", "/healthz/live")  # the daemon has turned its loop since
            await asyncio.sleep(0.1)
            lines = lines_with(d, peer)
            assert len(lines) == 1, lines
            assert lines[0].endswith(f"tunnel socket from {peer} rejected: authentication failed ({why})"), lines
            if token:
                assert token not in d.stderr()


# ---- the environment -----------------------------------------------------------------------

def test_unknown_env_warned_once():
    env = {"HOODY_TUNNEL_MAX_SESION": "3", "HOODY_TUNNEL_FOO": "1", "HOODY_TUNNEL_TOKN": "x"}
    with Daemon(log_level="info", env=env) as d:
        wait_log(d, r"listening on")
        err = d.stderr()
        want = ["unknown environment variable HOODY_TUNNEL_MAX_SESION (did you mean HOODY_TUNNEL_MAX_SESSIONS?)",
                "unknown environment variable HOODY_TUNNEL_FOO",
                "unknown environment variable HOODY_TUNNEL_TOKN (did you mean HOODY_TUNNEL_TOKEN?)"]
        for w in want:
            got = [x for x in err.splitlines() if x.endswith(" " + w)]
            assert len(got) == 1 and " warn " in got[0], (w, err)
    # With a configuration error they come first, on stderr, before the error a typo may explain.
    rc, out, err = run_daemon(listen_args(), {"HOODY_TUNNEL_TLS_CRT": "/nonexistent/c.pem",
                                              "HOODY_TUNNEL_TLS_KEY": "/etc/hostname"})
    lines = err.splitlines()
    assert rc == 2 and lines[0] == ("hoody-tunnel: warning: unknown environment variable HOODY_TUNNEL_TLS_CRT "
                                    "(did you mean HOODY_TUNNEL_TLS_CERT?)"), (rc, err)
    assert lines[1].startswith("hoody-tunnel: HOODY_TUNNEL_TLS_KEY needs --tls-cert"), err


def test_env_errors_name_the_variable():
    tok = ["--token", new_token()]
    rc, out, err = run_daemon(listen_args() + tok, {"HOODY_TUNNEL_MAX_SESSIONS": "abc"})
    assert rc == 2 and err.startswith("hoody-tunnel: HOODY_TUNNEL_MAX_SESSIONS: invalid value 'abc'"), (rc, err)
    assert "--max-sessions" not in err, err
    rc, out, err = run_daemon(listen_args() + tok + ["--max-sessions", "abc"])
    assert rc == 2 and err.startswith("hoody-tunnel: --max-sessions: invalid value 'abc'"), (rc, err)
    rc, out, err = run_daemon(listen_args(), {"HOODY_TUNNEL_TOKEN_FILE": "/nonexistent/token"})
    assert rc == 2 and err.startswith("hoody-tunnel: HOODY_TUNNEL_TOKEN_FILE: cannot read '/nonexistent/token'"), err
    rc, out, err = run_daemon(listen_args() + tok, {"HOODY_TUNNEL_STREAM_INITIAL_WINDOW": "32MiB"})
    assert rc == 2 and err.startswith("hoody-tunnel: HOODY_TUNNEL_STREAM_INITIAL_WINDOW (33554432 bytes) must "
                                      "not exceed --session-initial-window"), err
    # Also when the value is fine but using it fails: the port is taken.
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        addr = "127.0.0.1:%d" % taken.getsockname()[1]
        rc, out, err = run_daemon(tok, {"HOODY_TUNNEL_LISTEN": addr})
        assert rc == 1 and f"HOODY_TUNNEL_LISTEN: cannot listen on {addr}" in err, (rc, err)
        assert "--listen" not in err, err
    finally:
        taken.close()


def test_short_token_refused():
    rc, out, err = run_daemon(listen_args() + ["--token", SHORT])
    assert rc == 2 and err.splitlines()[0] == f"hoody-tunnel: --token: too short (9 bytes); {ADVICE}", (rc, err)
    assert SHORT not in out + err
    rc, out, err = run_daemon(listen_args(), {"HOODY_TUNNEL_TOKEN": SHORT})
    assert rc == 2 and err.splitlines()[0] == f"hoody-tunnel: HOODY_TUNNEL_TOKEN: too short (9 bytes); {ADVICE}", err
    with tempfile.NamedTemporaryFile("w", suffix=".token") as f:
        f.write(SHORT + "\n")
        f.flush()
        rc, out, err = run_daemon(listen_args() + ["--token-file", f.name])
        assert rc == 2 and err.splitlines()[0] == (f"hoody-tunnel: --token-file '{f.name}': too short (9 bytes); "
                                                   f"{ADVICE}"), err
        rc, out, err = run_daemon(listen_args(), {"HOODY_TUNNEL_TOKEN_FILE": f.name})
        assert rc == 2 and err.startswith(f"hoody-tunnel: HOODY_TUNNEL_TOKEN_FILE '{f.name}': too short"), err
        assert SHORT not in out + err
    with Daemon(token="0123456789abcdef") as d:  # 16 bytes are enough
        assert d.get_json("/api/v1/tunnel/health")["status"] == "ok"


def test_token_on_command_line_warned():
    def token_warnings(d):
        return [x for x in d.stderr().splitlines() if "on the command line is visible" in x]

    admin = new_token()
    with Daemon("--admin-token", admin, log_level="info") as d:  # the fixture passes --token too
        wait_log(d, r"listening on")
        got = token_warnings(d)
        assert len(got) == 2, d.stderr()
        assert " warn " in got[0] and "--token on the command line" in got[0], got
        for way in ("--token-file", "HOODY_TUNNEL_TOKEN", "LoadCredential=token"):
            assert way in got[0], got
        assert "--admin-token on the command line" in got[1] and "--admin-token-file" in got[1], got
        assert d.token not in d.stderr() and admin not in d.stderr()
    with tempfile.NamedTemporaryFile("w", suffix=".token") as f:
        f.write(new_token() + "\n")
        f.flush()
        with Daemon("--token-file", f.name, log_level="info") as d:
            wait_log(d, r"listening on")
            assert token_warnings(d) == [], d.stderr()
    tok = new_token()
    with tempfile.TemporaryDirectory() as store:  # --token-store keeps the fixture's --token away
        with Daemon("--token-store", os.path.join(store, "t"), token=tok, env={"HOODY_TUNNEL_TOKEN": tok},
                    log_level="info") as d:
            wait_log(d, r"listening on")
            assert token_warnings(d) == [], d.stderr()
            assert d.get_json("/api/v1/tunnel/health")["status"] == "ok"


def test_crypto_variable():
    with Daemon(log_level="info", env={"HOODY_TUNNEL_CRYPTO": "bearssl"}) as d:
        wait_log(d, r"listening on")
        assert "HOODY_TUNNEL_CRYPTO" not in d.stderr(), d.stderr()  # known, and no TLS line without TLS
    rc, out, err = run_daemon(listen_args() + ["--token", new_token()], {"HOODY_TUNNEL_CRYPTO": "fast"})
    assert rc == 2 and err.startswith("hoody-tunnel: HOODY_TUNNEL_CRYPTO: invalid value 'fast' "
                                      "(expected auto or bearssl)"), (rc, err)


if __name__ == "__main__":
    run_tests([test_close_frame_is_closed_by_client, test_no_close_frame_is_connection_lost,
               test_sigterm_drained_once, test_wrong_token_one_line, test_unknown_env_warned_once,
               test_env_errors_name_the_variable, test_short_token_refused, test_token_on_command_line_warned,
               test_crypto_variable])
