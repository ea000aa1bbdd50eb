#!/usr/bin/python3
"""FD-permit budget (DESIGN.md "FD-permit budget").

The daemon runs under RLIMIT_NOFILE 128 with --fd-reserve 32. One session
holds a PULL binding whose streams the Python client echoes. Connections are
opened until the daemon refuses: the extra PULL connections are closed at
once (not left hanging in the backlog), no STREAM_OPEN is sent for them,
health answers 200 while /healthz/ready says not ready, the permits metric
reads 0, and a new tunnel WebSocket is refused rather than hanging. After the
connections close, permits return to their start value, ready is 200 again
and new connections are echoed.

Run: BUILD=build /usr/bin/python3 test/integration/test_fdbudget.py
"""
import asyncio
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

NOFILE = 128
RESERVE = 32


def permits(d):
    """The permits gauge, or None when the metrics request is refused."""
    st, hd, body = http(d.port, "GET", "/api/v1/tunnel/metrics")
    if st != 200:
        return None
    return metric_value(body.decode(), "hoody_tunnel_fd_permits_available")


def peer_closed(s):
    """True when s has EOF or an error pending (without consuming data)."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


async def stream_or_close(c, s, before, timeout=2.0):
    """'stream' when a STREAM_OPEN arrived, 'closed' when the daemon closed s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if len(c.streams) > before:
            return "stream"
        if peer_closed(s):
            return "closed"
        await asyncio.sleep(0.003)
    return "hanging"


async def test_fd_budget_exhaustion_and_recovery():
    with Daemon("--fd-reserve", str(RESERVE), nofile=NOFILE, log_level="info") as d:
        c = await session(d.port, d.token)
        c.on_stream = echo_stream
        held = []
        try:
            port = (await c.bind_pull())["containerPort"]
            start = await asyncio.to_thread(permits, d)
            log(f"permits at start: {start} (RLIMIT_NOFILE {NOFILE}, reserve {RESERVE})")
            assert start is not None and 0 < start <= NOFILE - RESERVE, start
            tun = await asyncio.to_thread(d.get_json, "/api/v1/tunnel/tunnels")
            assert tun["fdPermitsAvailable"] == start, tun

            # fill the budget: every accepted connection opens a stream and holds a permit
            refused = 0
            t0 = time.monotonic()
            for i in range(int(start) + 20):
                s = connect_tcp(port)
                held.append(s)
                state = await stream_or_close(c, s, len(c.streams))
                if state == "closed":
                    refused += 1
                    if refused >= 5:
                        break
                assert state != "hanging", f"connection {i} neither got a stream nor was closed"
            opened = len(c.streams)
            log(f"{opened} streams opened, {refused} refused in {time.monotonic() - t0:.1f}s")
            assert refused >= 5, f"no refusal after {opened} connections"
            # the metrics request that read `start` held a permit itself (an accepted
            # control-plane connection costs one), hence start + 1
            assert opened <= start + 1, f"{opened} streams > {start} permits"
            assert opened >= start - 2, f"only {opened} streams opened with {start} permits"
            # the refused ones are closed quickly, not after a timeout
            s = connect_tcp(port)
            held.append(s)
            t1 = time.monotonic()
            assert await asyncio.to_thread(closed_soon, s, 2.0), "extra connection hangs"
            assert time.monotonic() - t1 < 1.0, f"extra connection closed after {time.monotonic() - t1:.2f}s"
            await asyncio.sleep(0.2)
            assert len(c.streams) == opened, "a STREAM_OPEN arrived for a refused connection"

            # the daemon stays responsive and reports the exhaustion (collected, so the
            # recovery below is still checked when one of these is wrong)
            problems = []
            st, hd, body = await ahttp(d.port, "GET", "/api/v1/tunnel/health")
            if st != 200:
                problems.append(f"GET /api/v1/tunnel/health answered {st} {body[:80]!r} while exhausted")
            st, hd, body = await ahttp(d.port, "GET", "/healthz/ready")
            if st != 503:
                problems.append(f"/healthz/ready answered {st} {body[:80]!r} while exhausted")
            st, hd, body = await ahttp(d.port, "GET", "/healthz/live")
            if st != 200:
                problems.append(f"/healthz/live answered {st} while exhausted")
            st, hd, body = await ahttp(d.port, "GET", "/api/v1/tunnel/metrics")
            if st != 200:
                problems.append(f"metrics answered {st} while exhausted")
            else:
                v = metric_value(body.decode(), "hoody_tunnel_fd_permits_available")
                if v != 0:
                    problems.append(f"hoody_tunnel_fd_permits_available {v} while exhausted")
                v = metric_value(body.decode(), "hoody_tunnel_fd_refusals_total")
                if not v or v < refused:
                    problems.append(f"hoody_tunnel_fd_refusals_total {v} < {refused} refusals")
            # a new tunnel WebSocket is refused (503) or closed, never hangs
            t2 = time.monotonic()
            try:
                c2 = TunnelClient(d.port)
                await c2.connect(timeout=3)
                try:
                    await c2.hello(d.token, timeout=3)
                    raise AssertionError("new session accepted with no FD permit left")
                except Rejected:
                    pass
                finally:
                    await c2.close()
            except websockets.exceptions.InvalidStatusCode as e:
                assert e.status_code == 503, e.status_code
            except (OSError, websockets.exceptions.InvalidHandshake, asyncio.TimeoutError) as e:
                assert not isinstance(e, asyncio.TimeoutError), "WebSocket upgrade hangs when exhausted"
            assert time.monotonic() - t2 < 3.5
            # the live streams still work
            s0 = held[0]
            s0.sendall(b"still here")
            s0.settimeout(STEP)
            assert await asyncio.to_thread(s0.recv, 100) == b"still here"

            # release everything; permits come back
            for s in held:
                s.close()
            held.clear()
            end = time.monotonic() + STEP
            p = None
            while time.monotonic() < end:
                p = await asyncio.to_thread(permits, d)
                if p == start:
                    break
                await asyncio.sleep(0.1)
            assert p == start, f"permits {p} after closing everything, started at {start}"
            st, hd, body = await ahttp(d.port, "GET", "/healthz/ready")
            assert st == 200, f"/healthz/ready {st} after recovery"
            for i in range(3):
                s = connect_tcp(port)
                held.append(s)
                s.sendall(b"again %d" % i)
                s.settimeout(STEP)
                assert await asyncio.to_thread(s.recv, 100) == b"again %d" % i
            async with TunnelClient(d.port) as c3:
                await c3.hello(d.token)
            assert c.violations == [], c.violations[:5]
            assert not problems, "; ".join(problems)
        finally:
            for s in held:
                s.close()
            await c.close()


if __name__ == "__main__":
    run_tests([test_fd_budget_exhaustion_and_recovery], timeout=120)
