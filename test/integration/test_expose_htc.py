#!/usr/bin/python3
"""`htc expose`, the client half of EXPOSE, against a FAKE daemon.

The daemon here is a websockets server in this process that speaks the
tunnel protocol (hoody-tunnel.v1): it answers HELLO and BIND, then opens
streams with STREAM_OPEN exactly as PROTOCOL.md section 6 says the
SDK-compatible daemon does (request body as DATA, then EOF), checks what
htc answers (STREAM_RESPONSE_HEAD, DATA, EOF or RESET) and returns WINDOW
credit as it consumes DATA, while checking that htc never sends more than
its credit. The local service is a threaded http.server (HTTP/1.1, keep
alive) or a raw socket server where bytes must be checked exactly.

Cases: GET with an empty body; Content-Length and chunked responses; POST
bodies of 1 B, 64 KiB and 5 MiB with sha256 checks both ways (also through
64 KiB windows); a chunked request body; an empty POST; duplicate
Set-Cookie kept and hop-by-hop fields dropped; HEAD, 204 and 304; the
visitor's Host kept; keep-alive reuse of one local connection; a stale
pooled connection retried on a fresh one; a response head in
pieces, a body past the first read and whole small responses on one
connection; 100 Continue passed as a
non-final head; local service down -> RESET REFUSED_STREAM "local connect
failed"; CR/LF/NUL in a header, a bad method or target -> RESET and nothing
written to the local service; a peer RESET closes the local connection; an
upgrade answered 101 then raw bytes both ways; the request log lines.

Run: BUILD=build /usr/bin/python3 test/integration/test_expose_htc.py
"""
import asyncio
import hashlib
import http.server as httpserver
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

import websockets  # noqa: E402

TOKEN = "tok-expose-htc-test"
BIND_ID = 7


def pattern(n, seed=0):
    return random.Random(n * 7919 + seed).randbytes(n)


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ---- the fake daemon ----------------------------------------------------------

class FStream:
    """The daemon's view of one stream it opened."""

    def __init__(self, sess, sid):
        self.sess = sess
        self.id = sid
        self.heads = []
        self.body = bytearray()
        self.eof = False
        self.reset = None          # (code, reason)
        self.send_credit = sess.stream_window
        self.recv = 0
        self.returned = 0
        self.changed = asyncio.Event()

    @property
    def done(self):
        return self.eof or self.reset is not None

    async def wait(self, cond, timeout=STEP, what="condition"):
        end = time.monotonic() + timeout
        while not cond():
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"stream {self.id}: no {what} within {timeout}s: heads {self.heads} "
                                     f"body {len(self.body)} B eof {self.eof} reset {self.reset}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def finish(self, timeout=STEP):
        """Wait for EOF or RESET; returns (final head or None, body, reset)."""
        await self.wait(lambda: self.done, timeout, "EOF or RESET")
        final = [h for h in self.heads if h.get("final")]
        return (final[-1] if final else None), bytes(self.body), self.reset

    async def send(self, data):
        """DATA within htc's credit (one frame per message)."""
        s = self.sess
        mv = memoryview(data)
        while mv:
            end = time.monotonic() + STEP * 2
            while self.send_credit <= 0 or s.session_credit <= 0:
                if self.reset is not None:
                    raise AssertionError(f"stream {self.id} reset while sending: {self.reset}")
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"stream {self.id}: no credit from htc within {STEP * 2}s")
                s.credit_changed.clear()
                try:
                    await asyncio.wait_for(s.credit_changed.wait(), left)
                except asyncio.TimeoutError:
                    pass
            n = min(len(mv), MAX_PAYLOAD, self.send_credit, s.session_credit)
            self.send_credit -= n
            s.session_credit -= n
            await s.send(frame(DATA, self.id, bytes(mv[:n])))
            mv = mv[n:]

    async def send_eof(self):
        await self.sess.send(frame(EOF, self.id))

    async def send_reset(self, code=CANCEL, reason="visitor left"):
        await self.sess.send(reset_frame(self.id, code, reason))

    def give(self, n):
        """Return credit for n consumed bytes (stream and session)."""
        if n <= 0:
            return
        self.returned += n
        self.sess.queue(window(self.id, n) + window(0, n))


class Session:
    def __init__(self, daemon, ws):
        self.d = daemon
        self.ws = ws
        self.stream_window = daemon.hello["streamWindow"]
        self.session_window = daemon.hello["sessionWindow"]
        self.session_credit = self.session_window
        self.session_recv = 0
        self.session_returned = 0
        self.auto_credit = True
        self.streams = {}
        self.next_id = 1
        self.bound = asyncio.Event()
        self.closed = asyncio.Event()
        self.credit_changed = asyncio.Event()
        self.violations = []
        self.binds = []
        self.unbinds = 0
        self.lock = asyncio.Lock()

    async def send(self, msg):
        async with self.lock:
            await self.ws.send(msg)

    def queue(self, msg):
        asyncio.ensure_future(self.send_quiet(msg))

    async def send_quiet(self, msg):
        try:
            await self.send(msg)
        except websockets.exceptions.ConnectionClosed:
            pass

    async def run(self):
        try:
            async for msg in self.ws:
                if isinstance(msg, str):
                    self.violations.append("text message from htc")
                    continue
                if len(msg) > MAX_MESSAGE:
                    self.violations.append(f"message of {len(msg)} B from htc")
                frames = decode_frames(msg)
                if len(frames) > MAX_FRAMES:
                    self.violations.append(f"message of {len(frames)} frames from htc")
                for f in frames:
                    await self.on_frame(f)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self.credit_changed.set()
            for s in self.streams.values():
                s.changed.set()

    async def on_frame(self, f):
        t = f.type
        if t == HELLO:
            j = f.json()
            if j.get("auth", {}).get("token") != TOKEN or j.get("version") != V1:
                self.violations.append(f"bad HELLO {j}")
            await self.send(frame(HELLO_OK, 0, self.d.hello))
        elif t == BIND:
            j = f.json()
            self.binds.append(j)
            await self.send(frame(BIND_OK, 0, {"clientBindRef": j["clientBindRef"], "bindId": BIND_ID,
                                                "containerPort": j.get("containerPort") or 3000,
                                                "publicUrl": None}))
            self.bound.set()
        elif t == UNBIND:
            self.unbinds += 1
            if self.d.answer_unbind:
                await self.send(frame(UNBIND_OK, 0, f.json()))
        elif t == PING:
            await self.send(frame(PONG, 0, f.payload))
        elif t == WINDOW:
            inc = struct.unpack(">I", f.payload)[0]
            if f.stream == 0:
                self.session_credit += inc
            elif f.stream in self.streams:
                self.streams[f.stream].send_credit += inc
            self.credit_changed.set()
        elif t in (DATA, EOF, RESET, STREAM_RESPONSE_HEAD):
            self.on_stream_frame(f)

    def on_stream_frame(self, f):
        st = self.streams.get(f.stream)
        if st is None:
            self.violations.append(f"{f!r} for an unknown stream")
            return
        if st.done:
            self.violations.append(f"{f!r} after the end of stream {st.id}")
        if f.type == DATA:
            st.recv += len(f.payload)
            self.session_recv += len(f.payload)
            if st.recv - st.returned > self.stream_window:
                self.violations.append(f"stream {st.id}: {st.recv - st.returned} B outstanding > window")
            if self.session_recv - self.session_returned > self.session_window:
                self.violations.append("session window exceeded by htc")
            if not st.heads or not any(h.get("final") for h in st.heads):
                self.violations.append(f"DATA before the final head on stream {st.id}")
            st.body += f.payload
            if self.auto_credit:
                self.session_returned += len(f.payload)
                st.give(len(f.payload))
        elif f.type == EOF:
            st.eof = True
        elif f.type == RESET:
            st.reset = (f.code(), f.reason())
        else:
            st.heads.append(f.json())
        st.changed.set()

    async def open(self, method="GET", target="/", headers=None, body=None, eof=True, upgrade=False,
                   content_length=True, pieces=None, raw_json=None):
        """STREAM_OPEN (+ body DATA + EOF). body with content_length adds the header."""
        sid = self.next_id
        self.next_id += 1
        st = FStream(self, sid)
        self.streams[sid] = st
        hdrs = list(headers if headers is not None else [["Host", "visitor.example"]])
        if body is not None and content_length:
            hdrs.append(["Content-Length", str(len(body))])
        info = raw_json or json.dumps({"kind": "http", "bindId": BIND_ID, "containerPort": 3000,
                                       "method": method, "target": target, "headers": hdrs,
                                       "isUpgrade": upgrade, "httpVersion": "1.1",
                                       "peerAddr": "203.0.113.4:51234"}).encode()
        if not body and eof and pieces is None:
            await self.send(frame(STREAM_OPEN, sid, info) + frame(EOF, sid))
            return st
        await self.send(frame(STREAM_OPEN, sid, info))
        if pieces is not None:
            for p in pieces:
                await st.send(p)
        elif body:
            await st.send(body)
        if eof:
            await st.send_eof()
        return st


class FakeDaemon:
    def __init__(self, **hello):
        self.hello = {"sessionId": "S-test", "resumed": False, "resumedBinds": [], "streamWindow": 1048576,
                      "sessionWindow": 16777216, "connectionsGranted": 1, "joinTickets": [],
                      "maxStreams": 1024, "maxFramePayload": 65536, "pingIntervalMs": 30000}
        self.hello.update(hello)
        self.token = TOKEN
        self.answer_unbind = True
        self.sessions = asyncio.Queue()
        self.server = None
        self.port = None

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    async def start(self):
        self.server = await websockets.serve(self._handler, "127.0.0.1", 0, subprotocols=[V1], max_size=None,
                                             compression=None, ping_interval=None, max_queue=None)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handler(self, ws, path=None):
        sess = Session(self, ws)
        await self.sessions.put(sess)
        await sess.run()

    async def session(self):
        try:
            sess = await asyncio.wait_for(self.sessions.get(), STEP)
            await asyncio.wait_for(sess.bound.wait(), STEP)
        except asyncio.TimeoutError:
            raise AssertionError("htc did not connect and bind within the step")
        return sess

    async def close(self):
        if self.server is not None:
            self.server.close()
            await asyncio.wait_for(self.server.wait_closed(), STEP)


# ---- local services -------------------------------------------------------------

class Handler(httpserver.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return bytes(out), "chunked"
                out += self.rfile.read(size)
                assert self.rfile.read(2) == b"\r\n"
        if "Content-Length" in self.headers:
            return self.rfile.read(int(self.headers["Content-Length"])), "length"
        return b"", "none"

    def reply(self, status, body=b"", headers=(), length=True):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def route(self):
        body, framing = self.read_body()
        srv = self.server
        srv.log.append({"method": self.command, "path": self.path, "port": self.client_address[1],
                        "headers": list(self.headers.items()), "framing": framing, "body": body})
        p = self.path
        if p.startswith("/size/"):
            self.reply(200, pattern(int(p[6:])), [("Content-Type", "application/octet-stream")])
        elif p.startswith("/chunked/"):
            data = pattern(int(p[9:]), 1)
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            i, sizes = 0, [1, 7, 1000, 65536, 3, 200000]
            k = 0
            while i < len(data):
                n = sizes[k % len(sizes)]
                k += 1
                part = data[i:i + n]
                i += n
                self.wfile.write(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
        elif p == "/echo":
            self.reply(200, body, [("X-Sha256", sha(body)), ("X-Framing", framing)])
        elif p == "/cookies":
            self.reply(200, b"ok", [("Set-Cookie", "a=1; Path=/"), ("X-Mid", "m"), ("Set-Cookie", "b=2"),
                                    ("Connection", "keep-alive, X-Private"), ("Keep-Alive", "timeout=5"),
                                    ("X-Private", "secret")])
        elif p == "/204":
            self.reply(204, length=False)
        elif p == "/304":
            self.reply(304, length=False, headers=[("ETag", '"x"')])
        elif p == "/conn":
            self.reply(200, str(self.client_address[1]).encode())
        elif p == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            try:
                for _ in range(20000):
                    self.wfile.write(b"x" * 65536)
                    time.sleep(0.002)
            except OSError:
                srv.slow_broken.set()
                self.close_connection = True
        else:
            self.reply(404, b"nope")

    do_GET = do_POST = do_PUT = do_HEAD = do_PATCH = do_DELETE = route


class Server(httpserver.ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops SYNs when many requests arrive at once


class HttpServer:
    def __init__(self):
        self.srv = Server(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.srv.log = []
        self.srv.slow_broken = threading.Event()
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.t.start()

    @property
    def log(self):
        return self.srv.log

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def read_head(c):
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None, bytes(buf)
        buf += d
    i = buf.index(b"\r\n\r\n") + 4
    return bytes(buf[:i]).decode("latin-1"), bytes(buf[i:])


def header(head, name):
    for line in head.split("\r\n")[1:]:
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


# ---- harness -------------------------------------------------------------------------

async def env(target, case, **hello):
    """A fake daemon and `htc expose target`; runs case(sess, htc)."""
    d = await FakeDaemon(**hello).start()
    h = Htc(d, "expose", target, "--port", "3000")
    try:
        sess = await d.session()
        await case(sess, h)
        assert not sess.violations, f"protocol violations: {sess.violations}"
    finally:
        await asyncio.to_thread(h.stop)
        await d.close()
    rc = h.proc.returncode
    assert rc == 0, f"htc exit code {rc}; stderr {h.stderr()[-800:]}"


async def expect_line(h, regex):
    return await asyncio.to_thread(h.expect, regex)


def final_headers(head):
    return [tuple(x) for x in head["headers"]]


def hget(head, name):
    for k, v in head["headers"]:
        if k.lower() == name.lower():
            return v
    return None


# ---- cases -------------------------------------------------------------------------

async def test_get_empty_and_log_line():
    srv = HttpServer()

    async def case(sess, h):
        st = await sess.open("GET", "/size/0")
        head, body, reset = await st.finish()
        assert reset is None, reset
        assert head["status"] == 200 and head["final"] is True, head
        assert hget(head, "Content-Length") == "0", head
        assert body == b""
        req = srv.log[-1]
        names = [k.lower() for k, _ in req["headers"]]
        assert "content-length" not in names and "transfer-encoding" not in names, req["headers"]
        assert dict(req["headers"]).get("Host") == "visitor.example", req["headers"]
        await expect_line(h, r"^GET /size/0 200 \d+ms 0 B$")
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_response_content_length_and_chunked():
    srv = HttpServer()

    async def case(sess, h):
        st = await sess.open("GET", "/size/300000")
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200, (head, reset)
        assert hget(head, "Content-Length") == "300000"
        assert sha(body) == sha(pattern(300000)), f"body of {len(body)} B differs"
        st = await sess.open("GET", "/chunked/400000")
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200, (head, reset)
        assert hget(head, "Transfer-Encoding") is None, head
        assert hget(head, "Content-Length") is None, head
        assert sha(body) == sha(pattern(400000, 1)), f"de-chunked body of {len(body)} B differs"
        await expect_line(h, r"^GET /chunked/400000 200 \d+ms 400000 B$")
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def post_sizes(window_kw):
    srv = HttpServer()

    async def case(sess, h):
        for n in (1, 64 * KiB, 5 * MiB):
            data = pattern(n, 2)
            st = await sess.open("POST", "/echo", body=data)
            head, body, reset = await st.finish(timeout=STEP * 4)
            assert reset is None, reset
            assert head["status"] == 200, head
            assert hget(head, "X-Sha256") == sha(data), f"local service got a different {n} B body"
            assert hget(head, "X-Framing") == "length", head
            assert sha(body) == sha(data), f"echo of {n} B came back as {len(body)} B, different"
            await expect_line(h, rf"^POST /echo 200 \d+ms {n} B$")
    try:
        await env(f"127.0.0.1:{srv.port}", case, **window_kw)
    finally:
        srv.close()


async def test_post_bodies_1b_64k_5m():
    await post_sizes({})


async def test_post_bodies_small_windows():
    """Same through 64 KiB stream windows and a 256 KiB session window."""
    await post_sizes({"streamWindow": 65536, "sessionWindow": 262144})


async def test_chunked_request_body_and_empty_post():
    srv = HttpServer()

    async def case(sess, h):
        pieces = [pattern(10, 3), pattern(70000, 4), pattern(1, 5)]
        whole = b"".join(pieces)
        st = await sess.open("POST", "/echo", pieces=pieces)
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200, (head, reset)
        assert hget(head, "X-Framing") == "chunked", head
        assert hget(head, "X-Sha256") == sha(whole)
        assert body == whole
        st = await sess.open("POST", "/echo")
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200, (head, reset)
        req = srv.log[-1]
        assert dict(req["headers"]).get("Content-Length") == "0", req["headers"]
        assert req["framing"] == "length" and body == b""
        st = await sess.open("PUT", "/echo", body=b"", content_length=True)
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200, (head, reset)
        assert dict(srv.log[-1]["headers"]).get("Content-Length") == "0"
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_set_cookie_duplicates_and_hop_by_hop():
    srv = HttpServer()

    async def case(sess, h):
        st = await sess.open("GET", "/cookies")
        head, body, reset = await st.finish()
        assert reset is None and body == b"ok", (head, reset, body)
        hs = final_headers(head)
        cookies = [v for k, v in hs if k.lower() == "set-cookie"]
        assert cookies == ["a=1; Path=/", "b=2"], hs
        names = [k.lower() for k, _ in hs]
        assert names.index("set-cookie") < names.index("x-mid") < len(names) - 1 - names[::-1].index("set-cookie")
        for gone in ("connection", "keep-alive", "x-private", "transfer-encoding"):
            assert gone not in names, f"{gone} passed on: {hs}"
        assert hget(head, "Content-Length") == "2"
        # the local server sends head and body in two writes without TCP_NODELAY: htc must ACK
        # at once, or each response stalls ~40 ms on Nagle + delayed ACK
        t0 = time.monotonic()
        for _ in range(5):
            head, body, reset = await (await sess.open("GET", "/cookies")).finish()
            assert body == b"ok"
        took = time.monotonic() - t0
        log(f"5 sequential small responses in {took * 1000:.0f} ms")
        assert SAN or took < 0.15, f"5 small responses took {took * 1000:.0f} ms"
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_head_204_304():
    srv = HttpServer()

    async def case(sess, h):
        st = await sess.open("HEAD", "/size/5000")
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200, (head, reset)
        assert hget(head, "Content-Length") == "5000" and body == b"", (head, len(body))
        for path, code in (("/204", 204), ("/304", 304)):
            st = await sess.open("GET", path)
            head, body, reset = await st.finish()
            assert reset is None and head["status"] == code and body == b"", (head, reset, body)
        # the connection is still good after the body-less answers
        st = await sess.open("GET", "/size/10")
        head, body, reset = await st.finish()
        assert head["status"] == 200 and body == pattern(10)
        ports = {r["port"] for r in srv.log}
        assert len(ports) == 1, f"body-less answers broke keep-alive: ports {ports}"
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_keep_alive_reuse():
    srv = HttpServer()

    async def case(sess, h):
        ports = []
        for _ in range(3):
            st = await sess.open("GET", "/conn")
            head, body, reset = await st.finish()
            assert reset is None and head["status"] == 200, (head, reset)
            ports.append(int(body))
        assert len(set(ports)) == 1, f"sequential requests used connections {ports}"
        # two at once need two connections; afterwards both are pooled
        a = await sess.open("GET", "/size/1000")
        b = await sess.open("GET", "/size/2000")
        (ha, ba, _), (hb, bb, _) = await a.finish(), await b.finish()
        assert ba == pattern(1000) and bb == pattern(2000)
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_stale_pooled_connection_retried():
    """The pooled connection dies when the second request arrives: htc retries once on a new one."""
    seen = []

    def handler(c):
        n = len(seen)
        seen.append(n)
        head, _ = read_head(c)
        assert head is not None
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst" if n == 0 else
                  b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
        head, _ = read_head(c)
        # the next request on this connection: drop it unanswered
        c.close()

    srv = TcpServer(handler)

    async def case(sess, h):
        st = await sess.open("GET", "/one")
        head, body, reset = await st.finish()
        assert body == b"first", (head, body, reset)
        st = await sess.open("GET", "/two")
        head, body, reset = await st.finish()
        assert reset is None and body == b"second", (head, body, reset)
        assert srv.accepted == 2, f"{srv.accepted} local connections"
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_response_in_pieces_and_past_first_read():
    """A head dribbled over many reads, a body past htc's first read, and a
    whole small response in one write, on one kept-alive connection."""
    big = pattern(100000, 3)

    def handler(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # 1: the head in single bytes and small pieces, then the body in two
        read_head(c)
        msg = b"HTTP/1.1 200 OK\r\nX-Piece: yes\r\nContent-Length: 11\r\n\r\n"
        for i in range(0, len(msg), 7):
            c.sendall(msg[i:i + 7])
            time.sleep(0.01)
        c.sendall(b"hello")
        time.sleep(0.02)
        c.sendall(b" world")
        # 2: head and 100,000 body bytes in one write (more than one read)
        read_head(c)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        # 3: a whole small response in one write, a chunked one after it
        read_head(c)
        c.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc")
        read_head(c)
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n")
        read_head(c)

    srv = TcpServer(handler)

    async def case(sess, h):
        st = await sess.open("GET", "/a")
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200 and body == b"hello world", (head, body, reset)
        assert ["x-piece", "yes"] in [[k.lower(), v] for k, v in head["headers"]], head
        st = await sess.open("GET", "/b")
        head, body, reset = await st.finish()
        assert reset is None and sha(body) == sha(big), (len(body), reset)
        st = await sess.open("GET", "/c")
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 201 and body == b"abc", (head, body, reset)
        st = await sess.open("GET", "/d")
        head, body, reset = await st.finish()
        assert reset is None and body == b"wikipedia", (head, body, reset)
        assert srv.accepted == 1, f"{srv.accepted} local connections"
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_100_continue_is_not_final():
    def handler(c):
        head, rest = read_head(c)
        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        want = int(header(head, "Content-Length"))
        while len(rest) < want:
            rest += c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nyes")
        c.recv(10)

    srv = TcpServer(handler)

    async def case(sess, h):
        st = await sess.open("POST", "/up", body=b"abcdef",
                             headers=[["Host", "v"], ["Expect", "100-continue"]])
        head, body, reset = await st.finish()
        assert reset is None and body == b"yes", (st.heads, body, reset)
        assert st.heads[0]["status"] == 100 and st.heads[0]["final"] is False, st.heads
        assert head["status"] == 200 and len(st.heads) == 2, st.heads
        assert hget(head, "Connection") is None
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_informational_flood_reset():
    """A local service sending 1xx heads without end: 8 go out, then the stream is reset."""
    def handler(c):
        read_head(c)
        try:
            for _ in range(100):
                c.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")
            c.recv(10)
        except OSError:
            pass

    srv = TcpServer(handler)

    async def case(sess, h):
        st = await sess.open("GET", "/hints", headers=[["Host", "v"]])
        head, body, reset = await st.finish()
        assert head is None and reset == (INTERNAL_ERROR, "too many informational responses from the local service"), reset
        assert [x["status"] for x in st.heads] == [103] * 8, st.heads
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_short_body_half_closes():
    """EOF short of the Content-Length: the local service sees the end instead of waiting."""
    seen = []

    def handler(c):
        head, rest = read_head(c)
        body = bytearray(rest)
        while True:
            d = c.recv(65536)
            if not d:
                break
            body += d
        seen.append(bytes(body))
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nshort")
        c.shutdown(socket.SHUT_WR)

    srv = TcpServer(handler)

    async def case(sess, h):
        st = await sess.open("POST", "/p", headers=[["Host", "v"], ["Content-Length", "100"]], eof=False)
        await st.send(b"0123456789")
        await st.send_eof()
        head, body, reset = await st.finish()
        assert seen == [b"0123456789"], seen
        assert reset is None and head["status"] == 400 and body == b"short", (head, body, reset)
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_local_service_down():
    port = free_port()

    async def case(sess, h):
        st = await sess.open("GET", "/x")
        head, body, reset = await st.finish()
        assert head is None and reset == (REFUSED_STREAM, "local connect refused"), (st.heads, reset)
        await expect_line(h, r"^GET /x 502 \d+ms 0 B \(local connect refused\)$")
        st = await sess.open("POST", "/y", body=pattern(100000))
        head, body, reset = await st.finish()
        assert reset is not None and reset[0] == REFUSED_STREAM, (st.heads, reset)
    await env(f"127.0.0.1:{port}", case)


async def test_invalid_requests_refused_unwritten():
    got = bytearray()

    def handler(c):
        head, _ = read_head(c)
        if head is None:
            return
        got.extend(head.encode("latin-1"))
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        while c.recv(65536):
            pass

    srv = TcpServer(handler)
    bad = [
        dict(headers=[["Host", "v"], ["X-A", "a\r\nX-Evil: 1"]]),
        dict(headers=[["Host", "v"], ["X-A", "a\nb"]]),
        dict(headers=[["Host", "v"], ["X-A", "a\rb"]]),
        dict(headers=[["Host", "v"], ["X-A", "a\u0000b"]]),
        dict(headers=[["Host", "v"], ["X-A", "a\u0001b"]]),
        dict(headers=[["Host", "v"], ["X A", "b"]]),
        dict(headers=[["Host", "v"], ["X-A:", "b"]]),
        dict(headers=[["Host\r\nX-Evil", "b"]]),
        dict(method="GE T"),
        dict(method="GET\r\n"),
        dict(target="/a b"),
        dict(target="/a\r\nX-Evil: 1"),
        dict(target=""),
        dict(headers=[["Host", "v"], ["Content-Length", "12x"]]),
        dict(headers=[["Host", "v"], ["Content-Length", "1"], ["Content-Length", "2"]]),
    ]

    async def case(sess, h):
        for kw in bad:
            st = await sess.open(kw.get("method", "GET"), kw.get("target", "/t"), headers=kw.get("headers"))
            head, body, reset = await st.finish()
            assert head is None and reset == (PROTOCOL_ERROR, "invalid request"), (kw, st.heads, reset)
        st = await sess.open(raw_json=b'{"kind":"http","bindId":7,"method":"GET"}')
        head, body, reset = await st.finish()
        assert reset is not None and reset[0] == PROTOCOL_ERROR, reset
        assert srv.accepted == 0 and not got, f"the local service saw {srv.accepted} connections: {bytes(got)!r}"
        st = await sess.open("GET", "/good", headers=[["Host", "v"], ["X-Tab", "a\tb"], ["X-Utf8", "caf\u00e9"]])
        head, body, reset = await st.finish()
        assert reset is None and body == b"ok", (head, reset)
        text = bytes(got)
        assert text.startswith(b"GET /good HTTP/1.1\r\n"), text
        assert b"X-Tab: a\tb\r\n" in text and "X-Utf8: café\r\n".encode() in text, text
        assert b"Evil" not in text
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_peer_reset_closes_local_connection():
    srv = HttpServer()

    async def case(sess, h):
        st = await sess.open("GET", "/slow")
        await st.wait(lambda: len(st.body) >= 256 * KiB, STEP, "body bytes")
        await st.send_reset()
        ok = await asyncio.to_thread(srv.srv.slow_broken.wait, STEP)
        assert ok, "the local connection was not closed after the peer's RESET"
        await expect_line(h, r"^GET /slow 200 \d+ms \d+ B \(visitor left\)$")
        st = await sess.open("GET", "/size/10")
        head, body, reset = await st.finish()
        assert reset is None and body == pattern(10)
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_upgrade_101_then_raw_bytes():
    heads = []

    def handler(c):
        head, rest = read_head(c)
        heads.append(head)
        if header(head, "Upgrade") != "echo":
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: abc\r\n\r\nHELLO")
        if rest:
            c.sendall(rest)
        echo_handler(c)

    srv = TcpServer(handler)

    async def case(sess, h):
        st = await sess.open("GET", "/ws", upgrade=True, eof=False,
                             headers=[["Host", "v"], ["Connection", "Upgrade"], ["Upgrade", "echo"],
                                      ["Sec-WebSocket-Key", "k"]])
        await st.wait(lambda: st.heads and len(st.body) >= 5, STEP, "101 and the bytes after it")
        head = st.heads[0]
        assert head["status"] == 101 and head["final"] is True, st.heads
        assert hget(head, "Upgrade") == "echo" and hget(head, "Connection") == "Upgrade", head
        assert hget(head, "Sec-WebSocket-Accept") == "abc"
        assert bytes(st.body) == b"HELLO", bytes(st.body)
        big = pattern(300000, 9)
        await st.send(b"ping-1")
        await st.send(big)
        await st.wait(lambda: len(st.body) >= 5 + 6 + len(big), STEP, "echo")
        assert bytes(st.body) == b"HELLO" + b"ping-1" + big
        await st.send_eof()
        await st.wait(lambda: st.done, STEP, "EOF after the local close")
        assert st.eof and st.reset is None, st.reset
        assert "Upgrade: echo" in heads[0] and "Connection: Upgrade" in heads[0], heads[0]
        assert "Sec-WebSocket-Key: k" in heads[0]
        await expect_line(h, r"^GET /ws 101 \d+ms \d+ B$")
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_upgrade_refused_is_ordinary_response():
    srv = HttpServer()

    async def case(sess, h):
        st = await sess.open("GET", "/size/7", upgrade=True,
                             headers=[["Host", "v"], ["Connection", "Upgrade"], ["Upgrade", "echo"]])
        head, body, reset = await st.finish()
        assert reset is None and head["status"] == 200 and body == pattern(7), (head, reset, body)
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_many_concurrent_requests():
    srv = HttpServer()

    async def case(sess, h):
        sts = [await sess.open("GET", f"/size/{1000 + i * 997}") for i in range(40)]
        for i, st in enumerate(sts):
            head, body, reset = await st.finish(timeout=STEP * 2)
            assert reset is None and body == pattern(1000 + i * 997), (i, head, reset)
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_small_bodies_in_turn_and_at_once():
    """Small responses one after another, then many at once, in sizes that
    take freed response buffers again (smaller, equal, larger, around 4 KiB):
    every body arrives whole and unmixed."""
    srv = HttpServer()
    sizes = [100, 100, 50, 300, 256, 257, 255, 1, 0, 4096, 4097, 4095, 3000, 100, 2, 513, 4096, 99]

    async def case(sess, h):
        for n in sizes:
            st = await sess.open("GET", f"/size/{n}")
            head, body, reset = await st.finish(timeout=STEP * 2)
            assert reset is None and body == pattern(n), (n, len(body), head, reset)
        sts = [(n, await sess.open("GET", f"/size/{n}")) for n in sizes * 2]
        for n, st in sts:
            head, body, reset = await st.finish(timeout=STEP * 2)
            assert reset is None and body == pattern(n), (n, len(body), head, reset)
    try:
        await env(f"127.0.0.1:{srv.port}", case)
    finally:
        srv.close()


async def test_stop_with_requests_in_flight():
    """A second SIGTERM stops htc at once: pooled, streaming and upgraded connections are all released."""
    srv = HttpServer()
    echo = TcpServer(lambda c: (read_head(c), c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                                                        b"Upgrade: echo\r\nConnection: Upgrade\r\n\r\n"),
                                echo_handler(c)))

    async def case(sess, h):
        st = await sess.open("GET", "/size/10")
        await st.finish()
        slow = await sess.open("GET", "/slow")
        sess.d.answer_unbind = False
        await slow.wait(lambda: len(slow.body) > 0, STEP, "body bytes")
        h.signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        h.signal(signal.SIGTERM)
        rc = await asyncio.to_thread(h.wait, STEP)
        assert rc == 0, f"htc exit code {rc} after two SIGTERMs: {h.stderr()[-800:]}"
        ok = await asyncio.to_thread(srv.srv.slow_broken.wait, STEP)
        assert ok, "the streaming local connection outlived htc"

    async def case_upgrade(sess, h):
        up = await sess.open("GET", "/ws", upgrade=True, eof=False,
                             headers=[["Host", "v"], ["Connection", "Upgrade"], ["Upgrade", "echo"]])
        await up.wait(lambda: up.heads, STEP, "101")
        await up.send(b"abc")
        await up.wait(lambda: len(up.body) >= 3, STEP, "echo")
        sess.d.answer_unbind = False
        h.signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        h.signal(signal.SIGTERM)
        rc = await asyncio.to_thread(h.wait, STEP)
        assert rc == 0, f"htc exit code {rc} after two SIGTERMs: {h.stderr()[-800:]}"
    try:
        await env(f"127.0.0.1:{srv.port}", case)
        await env(f"127.0.0.1:{echo.port}", case_upgrade)
    finally:
        srv.close()
        echo.close()


if __name__ == "__main__":
    if not os.path.exists(HTC):
        print(f"no htc at {HTC}")
        print("0 passed, 1 failed")
        sys.exit(1)
    run_tests([
        test_get_empty_and_log_line,
        test_response_content_length_and_chunked,
        test_post_bodies_1b_64k_5m,
        test_post_bodies_small_windows,
        test_chunked_request_body_and_empty_post,
        test_set_cookie_duplicates_and_hop_by_hop,
        test_head_204_304,
        test_keep_alive_reuse,
        test_stale_pooled_connection_retried,
        test_response_in_pieces_and_past_first_read,
        test_100_continue_is_not_final,
        test_informational_flood_reset,
        test_short_body_half_closes,
        test_local_service_down,
        test_invalid_requests_refused_unwritten,
        test_peer_reset_closes_local_connection,
        test_upgrade_101_then_raw_bytes,
        test_upgrade_refused_is_ordinary_response,
        test_many_concurrent_requests,
        test_small_bodies_in_turn_and_at_once,
        test_stop_with_requests_in_flight,
    ], timeout=120)
