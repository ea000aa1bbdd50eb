#!/usr/bin/python3
"""PULL at scale and under back-pressure, driven by the Python tunnel client.

  * 1,000 concurrent PULL connections on one session, each echoing a small
    message (the client side echoes; streams counted in /sessions and
    metrics while all are open, back to 0 after);
  * --max-streams-per-session 10: the 11th connection is closed at once and
    opens no stream; after one stream ends a new connection works;
  * slow consumer: 200 MiB (50 MiB under sanitizers) pushed from the client
    side while the container-side reader takes 1 MiB and sleeps; the
    daemon's VmRSS stays within start + 4 x stream window + 16 MiB, the
    daemon never sends beyond credit, and a second stream on the same
    session keeps echoing with low latency meanwhile; then everything
    arrives with the right sha256.

Run: BUILD=build /usr/bin/python3 test/integration/test_pull_scale.py
"""
import asyncio
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

NOFILE = raise_nofile()
N_CONC = 1000
SLOW_TOTAL = scaled(200 * MiB, 50 * MiB)


async def wait_active(d, n, timeout=STEP * 2):
    end = time.monotonic() + timeout
    got = None
    while time.monotonic() < end:
        j = (await asyncio.to_thread(d.get_json, "/api/v1/tunnel/sessions"))
        got = j["sessions"][0]["activeStreams"] if j["sessions"] else None
        if got == n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"activeStreams {got}, expected {n}")


async def test_thousand_concurrent_echo():
    assert NOFILE >= 2 * N_CONC + 100, f"RLIMIT_NOFILE {NOFILE} too low for {N_CONC} connections"
    with Daemon(log_level="info") as d:
        c = await session(d.port, d.token)
        try:
            c.on_stream = echo_stream
            port = (await c.bind_pull())["containerPort"]
            conns = []
            t0 = time.monotonic()
            for start in range(0, N_CONC, 100):
                batch_ = await asyncio.gather(*[
                    asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), STEP)
                    for _ in range(100)])
                conns.extend(batch_)
                end = time.monotonic() + STEP
                while len(c.streams) < len(conns) and time.monotonic() < end:
                    await asyncio.sleep(0.01)
                assert len(c.streams) == len(conns), \
                    f"{len(c.streams)} STREAM_OPEN for {len(conns)} connections"
            log(f"{N_CONC} connections open, {N_CONC} streams in {time.monotonic() - t0:.2f}s")
            await wait_active(d, N_CONC)
            assert d.metric("hoody_tunnel_streams_active") == N_CONC
            assert d.metric("hoody_tunnel_streams_opened_total", {"kind": "tcp"}) == N_CONC

            async def one(i, r, w):
                msg = b"message %d from the container side\n" % i
                w.write(msg)
                await w.drain()
                got = await asyncio.wait_for(r.readexactly(len(msg)), STEP * 2)
                assert got == msg, (i, got)
                w.write_eof()
                rest = await asyncio.wait_for(r.read(), STEP * 2)
                assert rest == b"", rest
                w.close()

            t0 = time.monotonic()
            await asyncio.gather(*[one(i, r, w) for i, (r, w) in enumerate(conns)])
            log(f"{N_CONC} echoes in {time.monotonic() - t0:.2f}s")
            await wait_active(d, 0)
            assert c.violations == [], c.violations[:5]
            ids = sorted(c.streams)
            assert ids == list(range(ids[0], ids[0] + N_CONC)) and ids[0] >= 1, "stream ids not 1..N"
        finally:
            await c.close()


async def test_stream_cap_closes_extra():
    with Daemon("--max-streams-per-session", "10") as d:
        c = await session(d.port, d.token)
        socks = []
        try:
            port = (await c.bind_pull())["containerPort"]
            streams = []
            for _ in range(10):
                socks.append(connect_tcp(port))
                streams.append(await c.accept())
            await wait_active(d, 10)
            extra = connect_tcp(port)
            try:
                t0 = time.monotonic()
                assert await asyncio.to_thread(closed_soon, extra, 2.0), \
                    "11th connection not closed while 10 streams are open"
                log(f"11th connection closed after {time.monotonic() - t0:.3f}s")
            finally:
                extra.close()
            await asyncio.sleep(0.3)
            assert c.accepts.empty(), "a STREAM_OPEN arrived for the 11th connection"
            # the ten still work
            socks[3].sendall(b"ping")
            assert await streams[3].read_exact(4) == b"ping"
            # end one stream from both sides; a new connection then gets a stream
            socks[0].close()
            assert await streams[0].wait_end() == "eof"
            streams[0].write_eof()
            await c.flush()
            await wait_active(d, 9)
            socks.append(connect_tcp(port))
            st = await c.accept()
            socks[-1].sendall(b"hi")
            assert await st.read_exact(2) == b"hi"
            assert c.violations == [], c.violations
        finally:
            for s in socks:
                s.close()
            await c.close()


def slow_reader(port, state):
    """Container side: 1 MiB then a 0.5 s nap until state['fast'] is set, then read to EOF.

    The receive buffer is pinned to 256 KiB so the kernel cannot soak up tens of
    MiB (tcp_rmem autotuning) and hide whether the daemon holds back credit."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * KiB)
    s.settimeout(60)
    s.connect(("127.0.0.1", port))
    state["sock"] = s
    h = hashlib.sha256()
    n = 0
    try:
        state["go"].wait(STEP)
        while not state["fast"].is_set():
            want = MiB
            while want > 0:
                d = s.recv(min(want, 65536))
                if not d:
                    break
                h.update(d)
                n += len(d)
                want -= len(d)
            state["n"] = n
            state["fast"].wait(0.5)
        while True:
            d = s.recv(1 << 18)
            if not d:
                break
            h.update(d)
            n += len(d)
            state["n"] = n
        state["digest"] = h.hexdigest()
    except Exception as e:
        state["error"] = repr(e)
    finally:
        state["total"] = n
        s.close()


def pinger(port, stop, state):
    """Second stream: 1 KiB round trips while the first one is stalled."""
    s = connect_tcp(port)
    lat = []
    try:
        msg = os.urandom(1024)
        while not stop.is_set():
            t0 = time.monotonic()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(len(msg) - len(got))
                if not d:
                    raise AssertionError("echo stream closed")
                got += d
            assert got == msg
            lat.append(time.monotonic() - t0)
            time.sleep(0.05)
    except Exception as e:
        state["ping_error"] = repr(e)
    finally:
        state["lat"] = lat
        s.close()


def wmem_max():
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * MiB


async def test_slow_consumer_bounded_memory():
    env = None
    if SAN:
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
               + ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64"}
    with Daemon(log_level="info", env=env) as d:
        c = await session(d.port, d.token)
        try:
            window_ = c.stream_window
            port = (await c.bind_pull())["containerPort"]
            state = {"go": threading.Event(), "fast": threading.Event()}
            stop = threading.Event()
            pt = None
            prod = None
            slow_secs = 4.0
            reader = threading.Thread(target=slow_reader, args=(port, state))
            reader.start()
            try:
                a = await c.accept()
                pt = threading.Thread(target=pinger, args=(port, stop, state))
                pt.start()
                b = await c.accept()
                c.tasks.add(asyncio.ensure_future(echo_stream(b)))
                await asyncio.sleep(0.5)
                base = d.rss()
                limit = base + 4 * window_ + 16 * MiB + (16 * MiB if SAN else 0)
                src = Blocks(SLOW_TOTAL, b"slow")

                async def produce():
                    for chunk in src.chunks():
                        await a.write(chunk, timeout=60)
                    a.write_eof()
                    await c.flush()

                prod = asyncio.ensure_future(produce())
                state["go"].set()
                peak = base
                t0 = time.monotonic()
                while time.monotonic() - t0 < slow_secs:
                    peak = max(peak, d.rss())
                    await asyncio.sleep(0.1)
                slow_n = state.get("n", 0)
                sent = a.sent_total
                state["fast"].set()
                stop.set()
                await asyncio.to_thread(pt.join, STEP)
                log(f"slow phase: reader took {slow_n / MiB:.1f} MiB, client sent "
                    f"{sent / MiB:.1f} MiB, rss {base / MiB:.1f} -> peak {peak / MiB:.1f} MiB "
                    f"(limit {limit / MiB:.1f})")
                assert peak <= limit, f"daemon RSS {peak / MiB:.1f} MiB > {limit / MiB:.1f} MiB " \
                    "while the consumer is slow"
                # what the client may have sent: what the reader took, the stream window,
                # and what the kernel holds (daemon's send buffer, reader's receive buffer)
                allowed = slow_n + window_ + wmem_max() + 2 * MiB
                assert sent <= allowed, f"client could send {sent / MiB:.1f} MiB while the reader " \
                    f"took {slow_n / MiB:.1f} MiB (allowed {allowed / MiB:.1f}): credit not held back"
                lat = state.get("lat", [])
                assert "ping_error" not in state, state["ping_error"]
                assert len(lat) >= 10, f"only {len(lat)} echo round trips on the second stream"
                log(f"second stream: {len(lat)} round trips, max {max(lat) * 1000:.0f} ms")
                assert max(lat) < 1.0, f"second stream stalled: max round trip {max(lat):.2f}s"
                # now the reader drains at full speed; memory stays bounded
                t1 = time.monotonic()
                while not prod.done():
                    peak = max(peak, d.rss())
                    await asyncio.sleep(0.1)
                    assert time.monotonic() - t1 < 120, "transfer did not finish"
                await prod
                await asyncio.to_thread(reader.join, 60)
                log(f"drained {SLOW_TOTAL / MiB:.0f} MiB in {time.monotonic() - t1:.2f}s, "
                    f"peak rss {peak / MiB:.1f} MiB")
                assert peak <= limit, f"daemon RSS {peak / MiB:.1f} MiB > {limit / MiB:.1f} MiB"
                assert "error" not in state, state["error"]
                assert state["total"] == SLOW_TOTAL, f"reader got {state['total']} of {SLOW_TOTAL}"
                assert state["digest"] == src.digest(), "sha256 differs"
                assert c.violations == [], c.violations[:5]
            finally:
                stop.set()
                if pt is not None:
                    pt.join(5)
                state["go"].set()
                state["fast"].set()
                if reader.is_alive():
                    s = state.get("sock")
                    if s:
                        try:
                            s.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                    reader.join(5)
        finally:
            await c.close()


if __name__ == "__main__":
    run_tests([
        test_thousand_concurrent_echo,
        test_stream_cap_closes_extra,
        test_slow_consumer_bounded_memory,
    ], timeout=150)
