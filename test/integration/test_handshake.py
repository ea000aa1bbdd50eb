#!/usr/bin/python3
"""Tunnel handshake against a real hoody-tunnel (PROTOCOL.md sections 1 and 4).

Success (every HELLO_OK field, values equal to the flags), subprotocol
refusals (HTTP 400), rejections with their GOAWAY code and WS close (bad
token, bad JSON, wrong version, session cap, first frame not HELLO), the
hello timeout, the pre-auth connection cap, and that no rejected session is
ever listed in /sessions. Also: --log-format json writes JSON lines only.

Run: BUILD=build /usr/bin/python3 test/integration/test_handshake.py
"""
import asyncio
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
import htlib  # noqa: E402


def sessions_total(d):
    j = d.get_json("/api/v1/tunnel/sessions")
    assert j["total"] == len(j["sessions"]), j
    return j["total"], j


async def test_hello_ok_fields():
    with Daemon("--stream-initial-window", "256KiB", "--session-initial-window", "4MiB",
                "--max-streams-per-session", "77", "--ping-interval", "7s") as d:
        async with TunnelClient(d.port) as c:
            assert c.ws.subprotocol == V1, c.ws.subprotocol
            ok = await c.hello(d.token)
            assert isinstance(ok.get("sessionId"), str) and ok["sessionId"], ok
            assert ok.get("resumed") is False, ok
            assert ok.get("streamWindow") == 256 * KiB, ok
            assert ok.get("sessionWindow") == 4 * MiB, ok
            assert ok.get("maxStreams") == 77, ok
            assert ok.get("maxFramePayload") == 65536, ok
            assert ok.get("pingIntervalMs") == 7000, ok
            assert ok.get("connectionsGranted") == 1, ok
            assert ok.get("resumedBinds", []) == [], ok
            n, j = sessions_total(d)
            assert n == 1, j
            s = j["sessions"][0]
            assert s["sessionId"] == ok["sessionId"], (s, ok)
            assert s["maxStreams"] == 77, s
        # a second session gets another id
        async with TunnelClient(d.port) as c2:
            ok2 = await c2.hello(d.token)
            assert ok2["sessionId"] != ok["sessionId"], (ok, ok2)


async def test_hello_ok_defaults_and_v2_subprotocol():
    with Daemon() as d:
        async with TunnelClient(d.port) as c:
            ok = await c.hello(d.token)
            assert ok["streamWindow"] == 1 * MiB and ok["sessionWindow"] == 16 * MiB, ok
            assert ok["maxStreams"] == 1024 and ok["pingIntervalMs"] == 30000, ok
        c = TunnelClient(d.port, subprotocol=V2)
        await c.connect(subprotocols=["chat", V2])
        try:
            assert c.ws.subprotocol == V2, c.ws.subprotocol
            ok = await c.hello(d.token, extra={"capabilities": ["multi-ws"], "maxConnections": 1})
            assert ok["connectionsGranted"] == 1, ok
        finally:
            await c.close()


def upgrade_status(port, protocols):
    h = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    if protocols is not None:
        h["Sec-WebSocket-Protocol"] = protocols
    return http(port, "GET", "/api/v1/tunnel/connect", headers=h)


def test_subprotocol_missing_400():
    with Daemon() as d:
        st, hd, body = upgrade_status(d.port, None)
        assert st == 400, (st, body)
        assert "sec-websocket-accept" not in hd, hd


def test_subprotocol_unknown_400():
    with Daemon() as d:
        st, hd, body = upgrade_status(d.port, "hoody-tunnel.v3, chat")
        assert st == 400, (st, body)
        assert "sec-websocket-accept" not in hd, hd
        # and through a real client library
        try:
            asyncio.run(TunnelClient(d.port).connect(subprotocols=["chat"]))
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 400, e.status_code
        else:
            raise AssertionError("upgrade with an unknown subprotocol accepted")
        n, j = sessions_total(d)
        assert n == 0, j


async def expect_rejected(c, token, code, close_codes=(1002,), version=None, raw=None):
    """HELLO (or raw first message) must be answered by GOAWAY(code) and a WS close."""
    if raw is None:
        try:
            ok = await c.hello(token, version=version)
        except Rejected as r:
            rej = r
        else:
            raise AssertionError(f"HELLO accepted: {ok}")
    else:
        await c.send_now(raw)
        f = await c.recv_frame()
        g = (f.code(), f.reason()) if f is not None and f.type == GOAWAY else None
        assert f is None or f.type == GOAWAY, f"answer {f!r}"
        try:
            cc = await c.wait_closed()
        except asyncio.TimeoutError:
            cc = "still open"
        rej = Rejected(g[0] if g else None, g[1] if g else None, cc)
    assert rej.code == code, f"GOAWAY code {rej.code} (expected {code}), reason {rej.reason!r}, close {rej.close_code}"
    assert rej.close_code in close_codes, f"close code {rej.close_code} (expected {close_codes})"
    return rej


async def test_wrong_token_auth_error():
    with Daemon() as d:
        async with TunnelClient(d.port, auto=False) as c:
            rej = await expect_rejected(c, d.token + "x", AUTH_ERROR, (1002, 1008))
            assert d.token not in (rej.reason or ""), "token echoed in GOAWAY reason"
        async with TunnelClient(d.port, auto=False) as c:
            await expect_rejected(c, "", AUTH_ERROR, (1002, 1008))
        async with TunnelClient(d.port, auto=False) as c:  # auth kind other than bearer
            body = {"version": V1, "auth": {"kind": "basic", "token": d.token}, "capabilities": []}
            await expect_rejected(c, None, AUTH_ERROR, (1002, 1008), raw=frame(HELLO, 0, body))
        n, j = sessions_total(d)
        assert n == 0, j
        assert d.metric("hoody_tunnel_sessions_active") == 0


async def test_bad_json_protocol_error():
    with Daemon() as d:
        async with TunnelClient(d.port, auto=False) as c:
            await expect_rejected(c, None, PROTOCOL_ERROR, raw=frame(HELLO, 0, b'{"version":"hoody-tunnel.v1",'))
        async with TunnelClient(d.port, auto=False) as c:
            await expect_rejected(c, None, PROTOCOL_ERROR, raw=frame(HELLO, 0, b'[1,2,3]'))
        n, j = sessions_total(d)
        assert n == 0, j


async def test_wrong_version_mismatch():
    with Daemon() as d:
        async with TunnelClient(d.port, auto=False) as c:
            await expect_rejected(c, d.token, VERSION_MISMATCH, version=V2)
        async with TunnelClient(d.port, auto=False) as c:
            await expect_rejected(c, d.token, VERSION_MISMATCH, version="hoody-tunnel.v9")
        n, j = sessions_total(d)
        assert n == 0, j


async def test_session_cap_resource_exhausted():
    with Daemon("--max-sessions", "1", "--takeover-grace", "0") as d:
        async with TunnelClient(d.port) as c1:
            ok = await c1.hello(d.token)
            async with TunnelClient(d.port, auto=False) as c2:
                await expect_rejected(c2, d.token, RESOURCE_EXHAUSTED)
            n, j = sessions_total(d)
            assert n == 1 and j["sessions"][0]["sessionId"] == ok["sessionId"], j
            # the first session still works
            t, b = await c1.bind("tcp", "pull", 0)
            assert t == BIND_OK, b
        # once the first is gone, a new session is admitted
        end = time.monotonic() + STEP
        while sessions_total(d)[0] != 0 and time.monotonic() < end:
            await asyncio.sleep(0.05)
        async with TunnelClient(d.port) as c3:
            await c3.hello(d.token)


async def test_parked_ghosts_make_room():
    """An SDK-like client that binds and closes without GOAWAY, again and again: each session parks,
    and at --max-sessions (8 by default) the oldest parked one makes room for the live HELLO."""
    with Daemon() as d:
        ids = []
        for i in range(10):
            c = TunnelClient(d.port)
            await c.connect()
            ok = await c.hello(d.token)
            ids.append(ok["sessionId"])
            t, b = await c.bind("tcp", "pull", 0)
            assert t == BIND_OK, (i, b)
            await c.close()  # a WebSocket close, no GOAWAY: the session parks
            end = time.monotonic() + STEP
            while d.get_json("/api/v1/tunnel/tunnels")["orphanedSessions"] < min(i + 1, 8):
                assert time.monotonic() < end, f"session {i} did not park"
                await asyncio.sleep(0.02)
        listed = [s["sessionId"] for s in d.get_json("/api/v1/tunnel/sessions")["sessions"]]
        assert sorted(listed) == sorted(ids[2:]), (listed, ids)  # the two oldest were evicted
        assert d.metric("hoody_tunnel_sessions_evicted_total") == 2
        assert "evicted" in d.stderr()
        # all live: the limit refuses
        live = []
        try:
            with Daemon("--max-sessions", "2") as d2:
                for _ in range(2):
                    c = TunnelClient(d2.port)
                    await c.connect()
                    await c.hello(d2.token)
                    live.append(c)
                async with TunnelClient(d2.port, auto=False) as c3:
                    await expect_rejected(c3, d2.token, RESOURCE_EXHAUSTED)
        finally:
            for c in live:
                await c.close()


async def test_first_frame_not_hello():
    with Daemon() as d:
        async with TunnelClient(d.port, auto=False) as c:
            body = {"clientBindRef": 1, "kind": "tcp", "mode": "pull", "containerPort": 0}
            await expect_rejected(c, None, PROTOCOL_ERROR, raw=frame(BIND, 0, body))
        async with TunnelClient(d.port, auto=False) as c:
            await expect_rejected(c, None, PROTOCOL_ERROR, raw=frame(PING, 0, b"12345678"))
        assert sessions_total(d)[0] == 0


async def test_hello_timeout_closes_tcp():
    with Daemon("--hello-timeout", "1s") as d:
        t0 = time.monotonic()
        async with TunnelClient(d.port, auto=False) as c:
            try:
                await c.wait_closed(5)
            except asyncio.TimeoutError:
                raise AssertionError("connection without HELLO still open after 5 s")
            dt = time.monotonic() - t0
            assert 0.7 <= dt <= 3.0, f"closed after {dt:.2f}s (hello timeout 1 s)"
        # a raw TCP connection that never sends anything is closed too
        s = connect_tcp(d.port)
        try:
            t0 = time.monotonic()
            assert closed_soon(s, 5), "silent TCP connection not closed"
            dt = time.monotonic() - t0
            assert dt <= 3.0, f"silent TCP closed after {dt:.2f}s"
        finally:
            s.close()
        assert sessions_total(d)[0] == 0


async def test_pre_auth_cap_closes_newest():
    with Daemon("--max-pre-auth-connections", "2", "--hello-timeout", "8s") as d:
        a = TunnelClient(d.port)
        b = TunnelClient(d.port)
        await a.connect()
        await b.connect()
        try:
            await asyncio.sleep(0.2)
            t0 = time.monotonic()
            c = TunnelClient(d.port, auto=False)
            refused = False
            try:
                await c.connect()
            except (websockets.exceptions.InvalidHandshake, OSError, asyncio.TimeoutError,
                    websockets.exceptions.ConnectionClosed):
                refused = True
            if not refused:
                try:
                    await c.wait_closed(2)
                except asyncio.TimeoutError:
                    raise AssertionError("third pre-auth connection still open after 2 s")
                await c.close()
            dt = time.monotonic() - t0
            assert dt < 2.0, f"newest pre-auth connection closed only after {dt:.2f}s"
            # the older two are still alive and may finish their handshake
            assert not a.closed.is_set() and not b.closed.is_set(), "an older connection was closed"
            await a.hello(d.token)
            await b.hello(d.token)
            assert sessions_total(d)[0] == 2
        finally:
            await a.close()
            await b.close()


async def test_rejected_sessions_never_listed():
    with Daemon("--max-sessions", "2") as d:
        async with TunnelClient(d.port) as good:
            ok = await good.hello(d.token)
            for tok, ver in ((d.token + "!", None), (d.token, V2)):
                async with TunnelClient(d.port, auto=False) as c:
                    try:
                        await c.hello(tok, version=ver)
                    except Rejected:
                        pass
                    else:
                        raise AssertionError("bad HELLO accepted")
            ids = [s["sessionId"] for s in d.get_json("/api/v1/tunnel/sessions")["sessions"]]
            assert ids == [ok["sessionId"]], ids
            tun = d.get_json("/api/v1/tunnel/tunnels")
            assert [s["sessionId"] for s in tun["sessions"]] == [ok["sessionId"]], tun
            assert d.metric("hoody_tunnel_sessions_active") == 1


async def test_json_log_format():
    with Daemon("--log-format", "json") as d:
        async with TunnelClient(d.port) as c:
            await c.hello(d.token)
        async with TunnelClient(d.port, auto=False) as c:
            try:
                await c.hello("nope")
            except Rejected:
                pass
        d.stop()
        lines = [ln for ln in d.stderr().splitlines() if ln.strip()]
        assert lines, "no log lines at all"
        for ln in lines:
            try:
                obj = json.loads(ln)
            except ValueError:
                raise AssertionError(f"non-JSON log line: {ln[:200]!r}")
            assert isinstance(obj, dict), ln


if __name__ == "__main__":
    run_tests([
        test_hello_ok_fields,
        test_hello_ok_defaults_and_v2_subprotocol,
        test_subprotocol_missing_400,
        test_subprotocol_unknown_400,
        test_wrong_token_auth_error,
        test_bad_json_protocol_error,
        test_wrong_version_mismatch,
        test_session_cap_resource_exhausted,
        test_parked_ghosts_make_room,
        test_first_frame_not_hello,
        test_hello_timeout_closes_tcp,
        test_pre_auth_cap_closes_newest,
        test_rejected_sessions_never_listed,
        test_json_log_format,
    ])
