#!/usr/bin/env python3
"""First contact. htc leaving on purpose ends its session (GOAWAY) instead of leaving it
parked: a failed `up` (one port taken) frees the ports it had bound at
once, so the retry binds them again and no visitor meets a ghost; SIGTERM
the same. A lost connection still parks (test_resilience.py), and a port
held by a parked session is refused with ALREADY_BOUND saying so and that
a takeover moves it. Also: a missing public URL is explained once, a wrong
token is one line on stderr, and `make run` prints htc lines that work
when pasted."""
import asyncio
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403


def tunnels(d):
    return d.get_json("/api/v1/tunnel/tunnels")


def wait_no_session(d):
    end = time.monotonic() + STEP
    while True:
        t = tunnels(d)
        if not t["sessions"] and t["orphanedSessions"] == 0:
            return
        assert time.monotonic() < end, f"a session is left: {t}"
        time.sleep(0.02)


def htc_once(d, *args, timeout=STEP * 2):
    import subprocess
    r = subprocess.run([HTC, "--url", d.url, "--token", d.token, *args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_failed_up_leaves_no_ghost():
    local = TcpServer()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    busy, free = taken.getsockname()[1], free_port()
    try:
        with Daemon("--expose-address", "127.0.0.1") as d:
            rc, out, err = htc_once(d, "up", "--expose", f"{free}:{local.port}", "--expose",
                                    f"{busy}:{local.port}")
            assert rc == 1 and "PORT_IN_USE" in err and "--port 0" in err, (rc, out, err)
            wait_no_session(d)  # ended, not parked: the daemon says so
            assert "closed by client" in d.stderr(), d.stderr()[-800:]
            assert not can_connect(free), "the port of a failed up is still open"
            with Htc(d, "up", "--expose", f"{free}:{local.port}") as h:  # the retry gets the port
                h.expect(r"-> 127\.0\.0\.1:%d" % local.port)
    finally:
        taken.close()
        local.close()


def test_sigterm_ends_session():
    local = TcpServer()
    try:
        with Daemon("--expose-address", "127.0.0.1") as d:
            with Htc(d, "pull", str(local.port), "--port", "0") as h:
                h.expect(r"-> ")
                assert len(tunnels(d)["sessions"]) == 1
                h.signal(signal.SIGTERM)
                assert h.wait(STEP) == 0
            wait_no_session(d)
    finally:
        local.close()


async def _park_holder(d, port):
    """A raw session binds port and drops its socket with an RST: it parks, holding the port."""
    import struct as st
    c = TunnelClient(d.port)
    await c.connect()
    await c.hello(d.token)
    t, j = await c.bind("http", "expose", port)
    assert t == BIND_OK, j
    tr = c.ws.transport
    tr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, st.pack("ii", 1, 0))
    tr.abort()
    end = time.monotonic() + STEP
    while tunnels(d)["orphanedSessions"] < 1:
        assert time.monotonic() < end, "the session did not park"
        await asyncio.sleep(0.02)


def test_already_bound_by_parked_says_so():
    local = TcpServer()
    port = free_port()
    try:
        with Daemon("--expose-address", "127.0.0.1") as d:
            asyncio.run(_park_holder(d, port))
            rc, out, err = htc_once(d, "expose", str(local.port), "--port", str(port))
            assert rc == 1, (rc, out, err)
            line = [x for x in err.splitlines() if "ALREADY_BOUND" in x]
            assert len(line) == 1 and "parked" in line[0] and "takeover moves it now" in line[0], err
            with Htc(d, "expose", str(local.port), "--port", str(port), "--takeover") as h:
                h.expect(r"-> 127\.0\.0\.1:%d" % local.port)
    finally:
        local.close()


def test_public_url_or_how_to_get_one():
    local = TcpServer()
    try:
        with Daemon("--expose-address", "127.0.0.1") as d, Htc(d, "expose", str(local.port), "--port", "0") as h:
            h.expect(r"^container port \d+ -> 127\.0\.0\.1:%d$" % local.port)
            h.expect(r"^no public URL: the daemon prints one when started with --public-url-pattern ")
        with Daemon("--expose-address", "127.0.0.1", "--public-url-pattern", "https://{port}.tun.test") as d, \
                Htc(d, "expose", str(local.port), "--port", "0") as h:
            h.expect(r"^public: https://\d+\.tun\.test -> 127\.0\.0\.1:%d$" % local.port)
            assert not any(x.startswith("no public URL") for x in h.lines), h.lines
    finally:
        local.close()


def test_wrong_token_one_line():
    import subprocess
    with Daemon() as d:
        r = subprocess.run([HTC, "--url", d.url, "--token", "not-the-token-at-all", "pull", "5432"],
                           capture_output=True, timeout=STEP * 2, stdin=subprocess.DEVNULL)
        err = r.stderr.decode().strip().splitlines()
        assert r.returncode == 1 and err == ["htc: server closing the session: AUTH_ERROR: authentication failed"], (
            r.returncode, err)


def test_make_run_prints_a_working_line():
    """`make run` (dist/dev-run.sh): 127.0.0.1, a token, and htc lines that work when pasted."""
    import subprocess
    port = free_port()
    env = dict(os.environ, HOODY_TUNNEL_LISTEN=f"127.0.0.1:{port}")
    env.pop("HOODY_TUNNEL_TOKEN", None)
    p = subprocess.Popen(["sh", os.path.join(ROOT, "dist", "dev-run.sh"), os.path.join(ROOT, BUILD, "hoody-tunnel"),
                          HTC], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    try:
        lines = [p.stdout.readline().decode().strip() for _ in range(3)]
        assert lines[0] == f"hoody-tunnel on 127.0.0.1:{port}; from another terminal:", lines
        argv = lines[2].split()
        assert argv[0] == HTC and argv[-2:] == ["pull", "5432"] and "0.0.0.0" not in lines[2], lines
        end = time.monotonic() + STEP
        while not can_connect(port):
            assert time.monotonic() < end, "the daemon did not listen"
            time.sleep(0.05)
        local = TcpServer()
        h = subprocess.Popen(argv[:-1] + [str(local.port), "--port", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:  # the pasted line, with this test's local port: the token and URL are right
            seen = [h.stdout.readline().decode() for _ in range(2)]
            assert any(" -> 127.0.0.1:%d" % local.port in x for x in seen), (seen, h.stderr.read1())
        finally:
            h.send_signal(signal.SIGTERM)
            h.wait(STEP)
            local.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(STEP)


if __name__ == "__main__":
    run_tests([test_failed_up_leaves_no_ghost, test_sigterm_ends_session, test_already_bound_by_parked_says_so,
               test_public_url_or_how_to_get_one, test_wrong_token_one_line, test_make_run_prints_a_working_line])
