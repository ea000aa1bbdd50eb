#!/usr/bin/python3
"""Session lifecycle and connection-level errors (PROTOCOL.md sections 1, 7, 9).

Admin kill with grace; SIGTERM drain; PING after silence and PONG keeping a
session alive; pong timeout and idle timeout (GOAWAY IDLE_TIMEOUT); flow
control violations (DATA beyond stream credit -> RESET FLOW_CONTROL_ERROR,
WINDOW 0 -> protocol error); message limits (64 frames ok / 65 -> 1002,
262,144 bytes ok / one more -> 1009), text message -> 1003, extension
frames skipped, mandatory-unknown type and oversized frame length -> 1002.

Run: BUILD=build /usr/bin/python3 test/integration/test_lifecycle.py
"""
import asyncio
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403


async def sessions_total(d):
    return (await asyncio.to_thread(d.get_json, "/api/v1/tunnel/sessions"))["total"]


async def test_kill_with_grace():
    with Daemon() as d:
        c = await session(d.port, d.token)
        s = None
        try:
            sid = c.hello_ok["sessionId"]
            port = (await c.bind_pull())["containerPort"]
            s = connect_tcp(port)
            st = await c.accept()
            s.sendall(b"before")
            assert await st.read_exact(6) == b"before"
            t0 = time.monotonic()
            code, _, body = await ahttp(d.port, "DELETE", f"/api/v1/tunnel/sessions/{sid}?grace_ms=1000", d.auth())
            assert code == 202, (code, body)
            g = await c.expect(GOAWAY)
            assert g.code() == NO_ERROR, f"GOAWAY {g.code()} {g.reason()!r}"
            log(f"GOAWAY {g.reason()!r} after {time.monotonic() - t0:.3f}s")
            closed = await asyncio.to_thread(closed_soon, s, 3.0)
            dt = time.monotonic() - t0
            assert closed and dt <= 2.0 + (1.0 if SAN else 0.3), \
                f"PULL connection closed={closed} after {dt:.2f}s (grace 1 s)"
            cc = await c.wait_closed(3)
            log(f"PULL connection closed after {dt:.2f}s; WS close code {cc}")
            assert await sessions_total(d) == 0, "killed session still listed"
            assert await asyncio.to_thread(wait_port_closed, port, "127.0.0.1", 2), "port open after kill"
            assert d.metric("hoody_tunnel_goaways_total", {"code": "NO_ERROR"}) == 1
        finally:
            if s:
                s.close()
            await c.close()


async def test_sigterm_drain():
    d = Daemon("--shutdown-grace", "2s")
    d.start()
    clients, socks = [], []
    try:
        for _ in range(2):
            c = await session(d.port, d.token)
            clients.append(c)
            port = (await c.bind_pull())["containerPort"]
            socks.append(connect_tcp(port))
            await c.accept()
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        for c in clients:
            g = await c.expect(GOAWAY, timeout=3)
            log(f"GOAWAY code {g.code()} {g.reason()!r} after {time.monotonic() - t0:.3f}s")
        rc = await asyncio.to_thread(d.wait, 4.0 + (3.0 if SAN else 0))
        dt = time.monotonic() - t0
        assert rc == 0, f"daemon exit {rc} ({dt:.2f}s after SIGTERM)"
        assert dt <= 4.0 + (3.0 if SAN else 0), f"daemon took {dt:.2f}s to exit (grace 2 s)"
        log(f"daemon exited 0 after {dt:.2f}s")
        for s in socks:
            assert await asyncio.to_thread(closed_soon, s, 1.0), "PULL connection open after exit"
        for c in clients:
            await c.wait_closed(2)
    finally:
        for s in socks:
            s.close()
        for c in clients:
            await c.close()
        d.stop()


async def test_ping_after_silence_pong_keeps_session():
    with Daemon("--ping-interval", "1s", "--pong-timeout", "3s") as d:
        c = await session(d.port, d.token)  # answers PING with PONG
        try:
            t0 = time.monotonic()
            end = t0 + 4
            while not c.pings and time.monotonic() < end:
                await asyncio.sleep(0.02)
            assert c.pings, "no PING within 4 s of silence (ping interval 1 s)"
            dt = c.pings[0][0] - t0
            assert 0.7 <= dt <= 2.5, f"first PING after {dt:.2f}s"
            assert len(c.pings[0][1]) == 8, f"PING payload {c.pings[0][1]!r}"
            await asyncio.sleep(5)
            assert not c.closed.is_set(), f"session dropped although PONGs were sent ({c.goaways})"
            assert len(c.pings) >= 3, f"{len(c.pings)} PINGs in 6 s"
            nonces = {p for _, p in c.pings}
            assert len(nonces) == len(c.pings), "PING nonces repeat"
            assert await sessions_total(d) == 1
            await c.bind_pull()
            # our own PING is answered with PONG carrying the same bytes
            await c.send_now(frame(PING, 0, b"\x01\x02\x03\x04\x05\x06\x07\x08"))
            f = await c.expect(PONG)
            assert f.payload == b"\x01\x02\x03\x04\x05\x06\x07\x08", f
        finally:
            await c.close()


async def test_pong_timeout_goaway():
    with Daemon("--ping-interval", "1s", "--pong-timeout", "2s") as d:
        c = await session(d.port, d.token, auto_pong=False)
        try:
            t0 = time.monotonic()
            g = await c.expect(GOAWAY, timeout=6)
            dt = time.monotonic() - t0
            assert g.code() == IDLE_TIMEOUT, f"GOAWAY code {g.code()} {g.reason()!r}"
            assert c.pings, "GOAWAY without a PING first"
            assert 1.5 <= dt <= 4.0, f"GOAWAY after {dt:.2f}s (pong timeout 2 s)"
            await c.wait_closed(3)
            log(f"pong timeout: GOAWAY after {dt:.2f}s, close code {c.close_code}")
        finally:
            await c.close()


async def test_idle_timeout_goaway():
    with Daemon("--idle-timeout", "2s") as d:
        idle = await session(d.port, d.token)
        busy = await session(d.port, d.token)
        try:
            await busy.bind_pull()
            t0 = time.monotonic()
            g = await idle.expect(GOAWAY, timeout=6)
            dt = time.monotonic() - t0
            assert g.code() == IDLE_TIMEOUT, f"GOAWAY code {g.code()} {g.reason()!r}"
            assert 1.5 <= dt <= 4.0, f"GOAWAY after {dt:.2f}s (idle timeout 2 s)"
            await idle.wait_closed(3)
            await asyncio.sleep(max(0, 3.0 - (time.monotonic() - t0)))
            assert not busy.closed.is_set(), f"session with a binding was closed: {busy.goaways}"
            j = await asyncio.to_thread(d.get_json, "/api/v1/tunnel/sessions")
            assert [s["sessionId"] for s in j["sessions"]] == [busy.hello_ok["sessionId"]], j
        finally:
            await idle.close()
            await busy.close()


async def test_data_beyond_stream_credit():
    with Daemon("--stream-initial-window", "4KiB") as d:
        c = await session(d.port, d.token)
        socks = []
        try:
            assert c.stream_window == 4096, c.hello_ok
            port = (await c.bind_pull())["containerPort"]
            socks.append(connect_tcp(port))
            st = await c.accept()
            c.queue_frames([frame(DATA, st.id, b"z" * 8192)])  # twice the credit
            end = time.monotonic() + STEP
            while st.reset is None and time.monotonic() < end and not c.closed.is_set():
                await asyncio.sleep(0.02)
            assert st.reset == FLOW_CONTROL_ERROR, f"stream reset code {st.reset}, goaways {c.goaways}"
            assert await asyncio.to_thread(closed_soon, socks[0], 3.0), "container connection survives RESET"
            assert not c.closed.is_set(), "whole session closed for a stream credit violation"
            assert d.metric("hoody_tunnel_resets_total",
                            {"code": "FLOW_CONTROL_ERROR", "direction": "sent"}) == 1
            # within credit is fine on a new stream
            socks.append(connect_tcp(port))
            st2 = await c.accept()
            await st2.write(b"y" * 4096)
            await st2.write(b"w" * 10000)  # waits for WINDOW as the daemon writes
            socks[1].settimeout(STEP)
            got = b""
            while len(got) < 14096:
                chunk = await asyncio.to_thread(socks[1].recv, 65536)
                assert chunk, "EOF"
                got += chunk
            assert got == b"y" * 4096 + b"w" * 10000
            assert st2.reset is None
        finally:
            for s in socks:
                s.close()
            await c.close()


async def expect_close(c, codes, what):
    try:
        cc = await c.wait_closed(STEP)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: connection still open")
    assert cc in codes, f"{what}: close code {cc}, expected {codes} (goaways {c.goaways})"
    return cc


async def ping_roundtrip(c, nonce):
    await c.send_now(frame(PING, 0, nonce))
    f = await c.expect(PONG)
    assert f.payload == nonce, f


async def test_window_zero_protocol_error():
    with Daemon() as d:
        c = await session(d.port, d.token)
        try:
            await c.send_now(window(0, 0))
            await expect_close(c, (1002,), "WINDOW(0, 0)")
            if c.goaways:
                assert c.goaways[0][0] == PROTOCOL_ERROR, c.goaways
        finally:
            await c.close()


async def test_window_overflow_flow_control_error():
    with Daemon() as d:
        c = await session(d.port, d.token)
        try:
            # 16 MiB session credit + 2^31-1 goes past 2^31-1
            await c.send_now(window(0, 0x7FFFFFFF))
            await expect_close(c, (1002,), "session credit above 2^31-1")
            assert c.goaways and c.goaways[0][0] == FLOW_CONTROL_ERROR, c.goaways
        finally:
            await c.close()


async def test_frame_count_limit():
    with Daemon() as d:
        c = await session(d.port, d.token)
        try:
            c.queue_message(b"".join(frame(0x7E, 0, b"ext") for _ in range(64)))
            await ping_roundtrip(c, b"64frames")  # 64 frames and extension types are fine
            c.queue_message(b"".join(frame(0x7E, 0) for _ in range(65)))
            await expect_close(c, (1002,), "65 frames in one message")
        finally:
            await c.close()


async def test_text_message_1003():
    with Daemon() as d:
        c = await session(d.port, d.token)
        try:
            c.queue_message("hello as text")
            await expect_close(c, (1003,), "text message")
        finally:
            await c.close()


async def test_message_size_limit():
    with Daemon() as d:
        c = await session(d.port, d.token)
        try:
            exact = b"".join([frame(0x7E, 0, b"a" * 65536)] * 3) + frame(0x7E, 0, b"b" * 65500)
            assert len(exact) == 262144
            c.queue_message(exact)
            await ping_roundtrip(c, b"exactmax")
            c.queue_message(exact + frame(0x7E, 0))  # 262,153 bytes
            await expect_close(c, (1009,), "message over 262,144 bytes")
        finally:
            await c.close()


async def test_bad_frames_1002():
    with Daemon() as d:
        cases = [
            ("mandatory-unknown type 0x80", frame(0x80, 0, b"")),
            ("unknown type 0x3F", frame(0x3F, 0, b"")),
            ("length over 65,536", struct.pack(">BII", 0x7E, 0, 65537) + b"q" * 65537),
            ("truncated frame", struct.pack(">BII", 0x7E, 0, 100) + b"short"),
            ("truncated header", b"\x41\x00\x00"),
        ]
        for what, msg in cases:
            c = await session(d.port, d.token)
            try:
                c.queue_message(msg)
                await expect_close(c, (1002,), what)
            finally:
                await c.close()


if __name__ == "__main__":
    run_tests([
        test_kill_with_grace,
        test_sigterm_drain,
        test_ping_after_silence_pong_keeps_session,
        test_pong_timeout_goaway,
        test_idle_timeout_goaway,
        test_data_beyond_stream_credit,
        test_window_zero_protocol_error,
        test_window_overflow_flow_control_error,
        test_frame_count_limit,
        test_text_message_1003,
        test_message_size_limit,
        test_bad_frames_1002,
    ])
