#!/usr/bin/python3
"""EXPOSE, daemon side: a visitor on an EXPOSE port <-> hoody-tunnel <-> a tunnel client.

The tunnel client is htlib's TunnelClient driven by hand (it answers each
STREAM_OPEN with STREAM_RESPONSE_HEAD, DATA and EOF as the case needs); the
visitor is a raw asyncio TCP connection, so every byte on the wire is checked.

Cases: STREAM_OPEN contents (headers in order, hop-by-hop removed,
X-Forwarded-* replaced, EOF right after it for a request without body);
Content-Length, chunked and close-delimited responses; HEAD/204 without body;
request bodies (Content-Length and chunked, de-framed); keep-alive and
pipelining (answers in order, the next stream opens only after the previous
answer); 400/431 for bad heads (smuggling closes); slowloris 408; idle
keep-alive close; 502 on RESET before the head (the connection goes on);
close on RESET after the head; 504 with RESET(CANCEL); RESET(CANCEL) when
the visitor leaves; 100-continue (ours after ~1 s, or the client's, never
two); upgrade to raw bytes (with bytes sent early); invalid response head
-> 502 + RESET(PROTOCOL_ERROR); session gone -> 502; stream cap -> 503;
a 4 MiB streamed response through a slow visitor; the gauges at the end.

Run: BUILD=build /usr/bin/python3 test/integration/test_expose_daemon.py
"""
import asyncio
import os
import sys
import socket
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from exposelib import AsyncVisitor as Visitor  # noqa: E402

FLAGS = ["--expose-address", "127.0.0.1", "--response-timeout", "2s", "--head-timeout", "1s",
         "--visitor-idle-timeout", "1500ms", "--max-head-size", "8KiB", "--max-sessions", "64",
         "--takeover-grace", "0"]
T = STEP


# ---- helpers -------------------------------------------------------------------------

async def tunnel(d, **kw):
    c = await session(d.port, d.token, **kw)
    t, j = await c.bind("http", "expose", 0)
    assert t == BIND_OK, f"BIND refused: {j}"
    return c, j["containerPort"], j["bindId"]


def respond(c, st, status=200, headers=None, body=b"", final=True, eof=True, cl=True):
    hdrs = list(headers or [])
    if cl and final:
        hdrs.append(["Content-Length", str(len(body))])
    c.send(frame(STREAM_RESPONSE_HEAD, st.id, {"status": status, "headers": hdrs, "final": final}))
    if body:
        c.send(frame(DATA, st.id, body))
    if eof:
        st.write_eof()


async def get(port, path="/", extra=""):
    v = await Visitor(port).open()
    v.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
    return v


# ---- cases ----------------------------------------------------------------------------

async def case_stream_open_and_simple_get(d):
    c, port, bid = await tunnel(d)
    try:
        v = await Visitor(port).open()
        v.send("GET /a/b?x=1 HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\nX-Dup: 1\r\nX-Dup: 2\r\n"
               "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: 5\r\nTE: trailers\r\n"
               "Upgrade: h2c\r\nProxy-Authorization: x\r\nX-Forwarded-For: 6.6.6.6\r\n"
               "X-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n")
        st = await c.accept()
        info = st.info
        assert info["kind"] == "http" and info["bindId"] == bid and info["containerPort"] == port, info
        assert info["method"] == "GET" and info["target"] == "/a/b?x=1", info
        assert info["isUpgrade"] is False and info["httpVersion"] == "1.1", info
        assert info["peerAddr"].startswith("127.0.0.1:"), info
        names = [h[0] for h in info["headers"]]
        assert info["headers"][:4] == [["Host", "example.test"], ["Accept", "*/*"], ["X-Dup", "1"],
                                       ["X-Dup", "2"]], info["headers"]
        for gone in ("Connection", "X-Hop", "Keep-Alive", "TE", "Upgrade", "Proxy-Authorization"):
            assert gone not in names, (gone, info["headers"])
        h = {k.lower(): v for k, v in info["headers"]}
        assert names.count("X-Forwarded-For") == 1 and h["x-forwarded-for"] == "127.0.0.1", info["headers"]
        assert h["x-forwarded-proto"] == "http" and h["x-forwarded-host"] == "example.test", info["headers"]
        assert h["x-real-ip"] == "127.0.0.1", info["headers"]
        assert await st.wait_end(T) == "eof", "no EOF after STREAM_OPEN of a GET"
        respond(c, st, 200, [["Content-Type", "text/plain"], ["Connection", "close"], ["X-Up", "1"]], b"hello")
        status, hd, body, raw = await v.response()
        assert status == 200 and body == b"hello", (status, body)
        assert hd["content-type"] == "text/plain" and hd["x-up"] == "1", hd
        assert hd["connection"] == "keep-alive", raw  # the client's Connection is not the visitor's
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw
        v.close()
    finally:
        await c.close()


async def case_framings(d):
    c, port, _ = await tunnel(d)
    try:
        # HTTP/1.1 without length: chunked, one chunk per DATA
        v = await get(port)
        st = await c.accept()
        respond(c, st, 200, [["X-A", "b"]], cl=False, eof=False)
        for part in (b"one ", b"two ", b"three"):
            c.send(frame(DATA, st.id, part))
        st.write_eof()
        status, hd, body, raw = await v.response()
        assert hd.get("transfer-encoding") == "chunked" and body == b"one two three", (raw, body)
        # HEAD: Content-Length kept, no body; then 204 on the same connection
        v.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
        st = await c.accept()
        respond(c, st, 200, [["Content-Length", "1234"]], cl=False, eof=False)
        c.send(frame(DATA, st.id, b"ignored"))
        st.write_eof()
        status, hd, body, raw = await v.response(head_req=True)
        assert status == 200 and hd["content-length"] == "1234", raw
        v.send("GET /nc HTTP/1.1\r\nHost: x\r\n\r\n")
        st = await c.accept()
        respond(c, st, 204, [], cl=False)
        status, hd, body, raw = await v.response()
        assert status == 204 and "content-length" not in hd and "transfer-encoding" not in hd, raw
        # and the connection is still in step
        v.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        st = await c.accept()
        respond(c, st, 200, [], b"ok")
        assert (await v.response())[2] == b"ok"
        v.close()
        # HTTP/1.0 without length: close-delimited
        v = await Visitor(port).open()
        v.send("GET /old HTTP/1.0\r\n\r\n")
        st = await c.accept()
        assert st.info["httpVersion"] == "1.0"
        respond(c, st, 200, [], cl=False, eof=False)
        c.send(frame(DATA, st.id, b"to the end"))
        st.write_eof()
        status, hd, body, raw = await v.response()
        assert hd["connection"] == "close" and body == b"to the end", (raw, body)
        v.close()
    finally:
        await c.close()


async def case_request_bodies(d):
    c, port, _ = await tunnel(d)
    try:
        big = bytes(range(256)) * 800  # 204,800 bytes
        v = await Visitor(port).open()
        v.send(f"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {len(big)}\r\n\r\n".encode() + big)
        st = await c.accept()
        got = await st.read_all(T)
        assert got == big, (len(got), len(big))
        respond(c, st, 201, [], b"stored")
        status, hd, body, raw = await v.response()
        assert status == 201 and body == b"stored"
        # chunked request body is de-framed, trailers dropped
        v.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        st = await c.accept()
        names = [h[0].lower() for h in st.info["headers"]]
        assert "transfer-encoding" not in names, st.info["headers"]
        assert await st.read_all(T) == b"hello world"
        respond(c, st, 200, [], b"ok")
        assert (await v.response())[2] == b"ok"
        v.close()
    finally:
        await c.close()


async def case_pipelining_in_order(d):
    c, port, _ = await tunnel(d)
    try:
        v = await Visitor(port).open()
        v.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
               "POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        s1 = await c.accept()
        assert s1.info["target"] == "/1"
        try:
            await c.accept(timeout=0.5)
            raise AssertionError("second request opened before the first answer")
        except AssertionError as e:
            if "STREAM_OPEN" not in str(e):
                raise
        respond(c, s1, 200, [], b"first")
        s2 = await c.accept()
        assert s2.info["target"] == "/2"
        respond(c, s2, 200, [], b"second")
        s3 = await c.accept()
        assert s3.info["target"] == "/3" and await s3.read_all(T) == b"abc"
        respond(c, s3, 200, [], b"third")
        bodies = [(await v.response())[2] for _ in range(3)]
        assert bodies == [b"first", b"second", b"third"], bodies
        assert s2.id > s1.id and s3.id > s2.id
        v.close()
    finally:
        await c.close()


async def case_bad_heads(d):
    c, port, _ = await tunnel(d)
    try:
        cases = [
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),  # no Host
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 9000 + "\r\n\r\n", 431),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ]
        for text, want in cases:
            v = await Visitor(port).open()
            v.send(text)
            status, hd, body, raw = await v.response()
            assert status == want, (text[:60], status, raw)
            assert int(hd["content-length"]) == len(body) and body, (raw, body)
            assert hd["connection"] == "close", raw
            assert await v.closed(T), f"connection kept after {want}"
            v.close()
        try:
            st = await c.accept(timeout=0.3)
            raise AssertionError(f"a bad head was forwarded: {st.info}")
        except AssertionError as e:
            if "STREAM_OPEN" not in str(e):
                raise
    finally:
        await c.close()


async def case_slowloris_408(d):
    c, port, _ = await tunnel(d)
    try:
        v = await Visitor(port).open()
        t0 = time.monotonic()
        v.send("GET / HTTP/1.1\r\n")

        async def trickle():
            for ch in "Host: x\r\nX-Slow: " + "a" * 100:
                await asyncio.sleep(0.05)
                v.send(ch)
                await v.w.drain()

        task = asyncio.ensure_future(trickle())
        try:
            status, hd, body, raw = await v.response()
        finally:
            task.cancel()
        took = time.monotonic() - t0
        assert status == 408, raw
        assert took < 1.9, f"408 after {took:.2f}s: the head timer was extended"
        assert await v.closed(T)
        v.close()
    finally:
        await c.close()


async def case_idle_keepalive_close(d):
    c, port, _ = await tunnel(d)
    try:
        v = await get(port)
        st = await c.accept()
        respond(c, st, 200, [], b"x")
        await v.response()
        t0 = time.monotonic()
        assert await v.closed(T), "idle keep-alive connection not closed"
        took = time.monotonic() - t0
        assert 1.0 < took < 3.5, f"idle close after {took:.2f}s"
        v.close()
    finally:
        await c.close()


async def case_reset_before_head_502(d):
    c, port, _ = await tunnel(d)
    try:
        v = await get(port)
        st = await c.accept()
        st.send_reset(REFUSED_STREAM, "local connect failed")
        status, hd, body, raw = await v.response()
        assert status == 502 and b"local connect failed" in body, (raw, body)
        assert hd["connection"] == "keep-alive", raw
        v.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        st = await c.accept()
        respond(c, st, 200, [], b"fine")
        assert (await v.response())[2] == b"fine"
        v.close()
    finally:
        await c.close()


async def case_reset_after_head_closes(d):
    c, port, _ = await tunnel(d)
    try:
        v = await get(port)
        st = await c.accept()
        respond(c, st, 200, [], cl=False, eof=False)
        c.send(frame(DATA, st.id, b"partial"))
        status, hd, raw = await v.head()
        assert status == 200
        st.send_reset(INTERNAL_ERROR, "upstream died")
        assert await v.closed(T), "visitor not closed after RESET mid-response"
        v.close()
    finally:
        await c.close()


async def case_response_timeout_504(d):
    c, port, _ = await tunnel(d)
    try:
        v = await get(port)
        st = await c.accept()
        t0 = time.monotonic()
        status, hd, body, raw = await v.response()
        assert status == 504 and body, raw
        assert 1.5 < time.monotonic() - t0 < 4.5
        # the request's EOF came long ago; the RESET races the 504 on another socket
        end = time.monotonic() + T
        while st.reset is None and time.monotonic() < end:
            await asyncio.sleep(0.02)
        assert st.reset == CANCEL, f"no RESET(CANCEL) after the 504 (got {st.reset})"
        v.close()
    finally:
        await c.close()


async def case_visitor_leaves_cancel(d):
    c, port, _ = await tunnel(d)
    try:
        v = await get(port)
        st = await c.accept()
        await st.wait_end(T)  # the request's EOF
        v.close()
        end = time.monotonic() + T
        while st.reset is None and time.monotonic() < end:
            await asyncio.sleep(0.02)
        assert st.reset == CANCEL, f"expected RESET(CANCEL) after the visitor left, got {st.reset}"
    finally:
        await c.close()


async def case_expect_continue(d):
    c, port, _ = await tunnel(d)
    try:
        # nobody answers 100: the daemon sends its own after ~1 s, once
        v = await Visitor(port).open()
        v.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        st = await c.accept()
        t0 = time.monotonic()
        status, hd, raw = await v.head()
        assert status == 100 and 0.7 < time.monotonic() - t0 < 2.0, (status, time.monotonic() - t0)
        v.send("body")
        assert await st.read_all(T) == b"body"
        c.send(frame(STREAM_RESPONSE_HEAD, st.id, {"status": 100, "headers": [], "final": False}))
        respond(c, st, 200, [], b"done")
        status, hd, body, raw = await v.response()
        assert status == 200 and body == b"done", ("a second 100 was sent", raw)
        # the client's own 100 is forwarded at once
        v.send("POST /e2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        st = await c.accept()
        c.send(frame(STREAM_RESPONSE_HEAD, st.id, {"status": 100, "headers": [], "final": False}))
        t0 = time.monotonic()
        status, hd, raw = await v.head()
        assert status == 100 and time.monotonic() - t0 < 0.7, raw
        v.send("ok")
        assert await st.read_all(T) == b"ok"
        respond(c, st, 200, [], b"y")
        status, hd, body, raw = await v.response()
        assert status == 200 and body == b"y", raw
        v.close()
    finally:
        await c.close()


async def case_upgrade_raw(d):
    c, port, _ = await tunnel(d)
    try:
        v = await Visitor(port).open()
        v.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nEARLY")
        st = await c.accept()
        assert st.info["isUpgrade"] is True, st.info
        names = [h[0].lower() for h in st.info["headers"]]
        for n in ("connection", "upgrade", "sec-websocket-key", "sec-websocket-version"):
            assert n in names, (n, st.info["headers"])
        await asyncio.sleep(0.2)
        assert not st.eof and not st.buf, "data or EOF before the 101"
        c.send(frame(STREAM_RESPONSE_HEAD, st.id, {"status": 101, "headers": [
            ["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Sec-WebSocket-Accept", "abc"]],
            "final": True}))
        status, hd, raw = await v.head()
        assert status == 101 and hd["upgrade"] == "websocket" and hd["sec-websocket-accept"] == "abc", raw
        assert hd["connection"].lower() == "upgrade", raw
        assert await st.read_exact(5, T) == b"EARLY"
        v.send(b"\x00\x01raw up")
        assert await st.read_exact(8, T) == b"\x00\x01raw up"
        await st.write(b"raw down \xff")
        assert await asyncio.wait_for(v.r.readexactly(10), T) == b"raw down \xff"
        st.write_eof()
        v.w.write_eof()
        assert await st.wait_end(T) == "eof"
        assert await v.closed(T)
        v.close()
        # a non-101 answer to an upgrade is an ordinary response
        v = await Visitor(port).open()
        v.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        st = await c.accept()
        respond(c, st, 426, [], b"no")
        assert await st.wait_end(T) == "eof"
        status, hd, body, raw = await v.response()
        assert status == 426 and body == b"no", raw
        v.close()
    finally:
        await c.close()


async def case_invalid_head_502(d):
    c, port, _ = await tunnel(d)
    try:
        for bad in ({"status": 200, "headers": [["X-A", "b\r\nInjected: 1"]], "final": True},
                    {"status": 200, "headers": [["Bad Name", "v"]], "final": True},
                    {"status": 99, "headers": [], "final": True},
                    {"status": 200, "headers": [], "final": False},
                    {"status": 101, "headers": [], "final": True}):
            v = await get(port)
            st = await c.accept()
            c.send(frame(STREAM_RESPONSE_HEAD, st.id, bad))
            status, hd, body, raw = await v.response()
            assert status == 502 and b"Injected" not in raw, (bad, raw)
            end = time.monotonic() + T
            while st.reset is None and time.monotonic() < end:
                await asyncio.sleep(0.02)
            assert st.reset == PROTOCOL_ERROR, (bad, st.reset)
            v.close()
    finally:
        await c.close()


async def case_informational_flood_502(d):
    """A client sending 1xx heads without end: the visitor gets 502 after the 8th, memory stays flat."""
    c, port, _ = await tunnel(d)
    try:
        rss0 = d.rss()
        v = await get(port)
        st = await c.accept()
        link = ["Link", "</s.css>; rel=preload; " + "x" * 60000]
        for _ in range(200):
            if st.reset is not None:
                break
            c.send(frame(STREAM_RESPONSE_HEAD, st.id, {"status": 103, "headers": [link], "final": False}))
            await asyncio.sleep(0)
        end = time.monotonic() + T
        while st.reset is None and time.monotonic() < end:
            await asyncio.sleep(0.02)
        assert st.reset == PROTOCOL_ERROR, st.reset
        heads = []
        while True:
            status, hd, raw = await v.head()
            heads.append(status)
            if status >= 200:
                break
        assert heads == [103] * 8 + [502], heads
        assert d.rss() - rss0 < (16 << 20), d.rss() - rss0
        v.close()
    finally:
        await c.close()


async def case_session_gone_502(d):
    c, port, _ = await tunnel(d)
    v = await get(port)
    await c.accept()
    await c.close()
    try:
        status, hd, body, raw = await v.response()
        assert status in (502, 503), raw
    finally:
        v.close()


async def case_stream_cap_503():
    with Daemon(*FLAGS, "--max-streams-per-session", "1") as d:
        c, port, _ = await tunnel(d)
        try:
            v1 = await get(port)
            st = await c.accept()
            v2 = await get(port)
            status, hd, body, raw = await v2.response()
            assert status == 503 and hd.get("retry-after") == "5" and body, raw
            assert hd["connection"] == "keep-alive"
            respond(c, st, 200, [], b"1")
            assert (await v1.response())[2] == b"1"
            v2.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            st = await c.accept()
            respond(c, st, 200, [], b"2")
            assert (await v2.response())[2] == b"2"
            v1.close()
            v2.close()
        finally:
            await c.close()


async def case_send_timeout():
    """--send-timeout: a visitor that takes no byte of its answer for that long is closed (the
    stream reset CANCEL); one that reads slowly, a little every second, is not."""
    with Daemon(*FLAGS, "--send-timeout", "2s") as d:
        c, port, _ = await tunnel(d)
        try:
            data = Blocks(MiB).block * 16
            loop = asyncio.get_running_loop()
            slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            slow.setblocking(False)
            await loop.sock_connect(slow, ("127.0.0.1", port))
            await loop.sock_sendall(slow, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            st_slow = await c.accept()
            stalled = await Visitor(port).open(rcvbuf=65536)
            stalled.send("GET /stalled HTTP/1.1\r\nHost: x\r\n\r\n")
            st_stalled = await c.accept()
            writers = []
            for st in (st_slow, st_stalled):
                respond(c, st, 200, [["Content-Length", str(len(data))]], cl=False, eof=False)
                writers.append(asyncio.ensure_future(st.write(data, timeout=60)))
            t0 = time.monotonic()
            got = 0
            while st_stalled.reset is None and time.monotonic() - t0 < 8:
                got += len(await asyncio.wait_for(loop.sock_recv(slow, 16384), T))  # a little, 5 times a second
                await asyncio.sleep(0.2)
            elapsed = time.monotonic() - t0
            assert st_stalled.reset == CANCEL, st_stalled.reset
            assert 1.5 < elapsed < 6, elapsed
            assert st_slow.reset is None and got > 0, (st_slow.reset, got)
            assert "took no byte of its answer" in d.stderr(), d.stderr()[-1500:]
            assert await stalled.closed(T), "the stalled visitor was not closed"
            for w in writers:
                w.cancel()
            await asyncio.gather(*writers, return_exceptions=True)
            slow.close()
            stalled.close()
        finally:
            await c.close()


async def case_long_response_after_head():
    """--response-timeout bounds the wait for the head only: a body that keeps
    coming for longer (the visitor reading it at once) is not cut, and the
    next request on the connection is served."""
    with Daemon(*FLAGS, "--response-timeout", "1s") as d:
        c, port, _ = await tunnel(d)
        try:
            v = await get(port, "/long")
            st = await c.accept()
            respond(c, st, 200, [], cl=False, eof=False)
            status, hd, _ = await v.head()
            assert status == 200 and hd.get("transfer-encoding") == "chunked", (status, hd)
            t0 = time.monotonic()
            for i in range(8):  # 2.4 s of body, past the 1 s response timeout
                await st.write(b"piece%d;" % i)
                assert await v.chunk() == b"piece%d;" % i
                await asyncio.sleep(0.3)
            st.write_eof()
            assert await v.chunk() == b""
            assert time.monotonic() - t0 > 2 and st.reset is None, st.reset
            v.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            st = await c.accept()
            respond(c, st, 200, [], b"next")
            status, hd, body, _ = await v.response()
            assert status == 200 and body == b"next", (status, body)
            v.close()
        finally:
            await c.close()


async def case_big_response_slow_visitor(d):
    c, port, _ = await tunnel(d)
    try:
        data = Blocks(MiB).block * 16
        v = await Visitor(port).open(rcvbuf=65536)
        v.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        st = await c.accept()
        respond(c, st, 200, [], cl=False, eof=False)
        writer = asyncio.ensure_future(st.write(data, timeout=30))
        status, hd, raw = await v.head()
        assert hd.get("transfer-encoding") == "chunked"
        await asyncio.sleep(1.0)  # the visitor reads nothing: the client must run out of credit
        assert not writer.done(), "16 MiB went through although the visitor read nothing"
        # kernel buffers (a few MiB on loopback) + the stream window: not the whole body
        assert st.sent_total <= 10 * MiB, st.sent_total
        body = bytearray()
        while len(body) < len(data):
            line = await asyncio.wait_for(v.r.readuntil(b"\r\n"), T)
            n = int(line.strip(), 16)
            body += await asyncio.wait_for(v.r.readexactly(n), T)
            await asyncio.wait_for(v.r.readexactly(2), T)
        await asyncio.wait_for(writer, T)
        st.write_eof()
        assert await asyncio.wait_for(v.r.readexactly(5), T) == b"0\r\n\r\n"
        assert bytes(body) == data
        assert not c.violations, c.violations
        v.close()
    finally:
        await c.close()


async def case_parked_503_then_shutdown_with_visitors():
    """A parked session answers 503 + Retry-After; SIGTERM with idle, waiting and upgraded
    visitors still open exits 0 with no sanitizer report (leaks included)."""
    flags = [f for f in FLAGS if f not in ("--takeover-grace", "0")] + ["--takeover-grace", "30s"]
    with Daemon(*flags) as d:
        c, port, _ = await tunnel(d)
        c.ws.transport.abort()  # vanish without a close: the session parks
        await c.close()
        v = await get(port)
        status, hd, body, raw = await v.response()
        assert status == 503 and hd.get("retry-after") == "5", raw
        v.close()
        c2, port2, _ = await tunnel(d)
        idle = await Visitor(port2).open()
        partial = await Visitor(port2).open()
        partial.send("GET / HTTP/1.1\r\nHo")
        waiting = await get(port2)
        await c2.accept()
        up = await Visitor(port2).open()
        up.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        st = await c2.accept()
        c2.send(frame(STREAM_RESPONSE_HEAD, st.id, {"status": 101, "headers": [["Upgrade", "websocket"]]}))
        assert (await up.head())[0] == 101
        await st.write(b"ping")
        assert await asyncio.wait_for(up.r.readexactly(4), T) == b"ping"
        await asyncio.to_thread(d.stop)
        for vv in (idle, partial, waiting, up):
            vv.close()
        await c2.close()


def check_gauges(d):
    end = time.monotonic() + T
    while time.monotonic() < end:
        m = d.metrics()
        if metric_value(m, "hoody_tunnel_requests_in_flight") == 0:
            break
        time.sleep(0.1)
    m = d.metrics()
    assert metric_value(m, "hoody_tunnel_requests_in_flight") == 0, "requests still in flight"
    assert (metric_value(m, "hoody_tunnel_visitor_responses_total", {"class": "2xx"}) or 0) > 5
    assert (metric_value(m, "hoody_tunnel_visitor_responses_total", {"class": "5xx"}) or 0) > 3
    assert (metric_value(m, "hoody_tunnel_streams_opened_total", {"kind": "http"}) or 0) > 10
    assert (metric_value(m, "hoody_tunnel_expose_ttfb_seconds_count") or 0) > 5


# ---- runner ----------------------------------------------------------------------------

def main():
    shared = Daemon(*FLAGS)
    shared.start()
    cases = [case_stream_open_and_simple_get, case_framings, case_request_bodies, case_pipelining_in_order,
             case_bad_heads, case_slowloris_408, case_idle_keepalive_close, case_reset_before_head_502,
             case_reset_after_head_closes, case_response_timeout_504, case_visitor_leaves_cancel,
             case_expect_continue, case_upgrade_raw, case_invalid_head_502, case_informational_flood_502,
             case_session_gone_502,
             case_big_response_slow_visitor]

    def bind(fn):
        async def run():
            await fn(shared)
        run.__name__ = fn.__name__
        return run

    def gauges():
        check_gauges(shared)

    def daemon_exit_clean():
        shared.stop()

    tests = [bind(f) for f in cases] + [case_stream_cap_503, case_send_timeout, case_long_response_after_head,
                                        case_parked_503_then_shutdown_with_visitors, gauges,
                                        daemon_exit_clean]
    try:
        run_tests(tests, timeout=60)
    finally:
        shared.kill()


if __name__ == "__main__":
    main()
