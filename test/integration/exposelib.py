"""exposelib: helpers for the end-to-end EXPOSE tests (real daemon + real htc).

What is here (htlib.py has the process helpers; this file adds):
  * LocalService: the laptop-side HTTP/1.1 service htc exposes, a
    ThreadingHTTPServer in a thread with these routes (every route echoes a
    `tag` query parameter back in X-Tag and records the request in `seen`):
      /echo?resp=cl|chunked     the request body back; X-Method, X-Body-Len,
                                X-Body-Sha256 describe what arrived
      /size/N?resp=cl|chunked   N deterministic bytes (X-Body-Sha256)
      /headers                  JSON {"method", "headers": [[name, value]...]}
      /cookies                  two Set-Cookie fields
      /status/N                 a bodiless N (204, 304)
      /events                   SSE: "data: one", 1 s pause, "data: two", end
      /slow?ms=N                answers "slow" after N ms
      /stream?n=N               N bytes, chunked, counted in stream_sent[tag];
                                stream_done[tag] says how the write ended
      /closedelim/N             N bytes, no length, Connection: close
  * raw HTTP/1.1 on a socket: send_request(), Reader.response() (framing
    reported: "cl", "chunked", "close" or "none"), read_until_close();
  * WsEcho: a python3-websockets echo server (subprotocol "chat");
  * wait_line(): wait for a line anywhere in an Htc's stdout;
  * run_cases(): one line per case, "N passed, N failed", teardown always.

Everything listens on and connects to loopback only; every wait is bounded.
"""
import asyncio
import hashlib
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import MiB, STEP, log  # noqa: E402

import websockets  # noqa: E402


def sha(b):
    return hashlib.sha256(b).hexdigest()


_BLOCK = hashlib.shake_256(b"expose-e2e").digest(MiB)


def pattern(n):
    """n deterministic bytes (repeating a 1 MiB pseudo-random block, offset by n)."""
    if n == 0:
        return b""
    start = n % 65521
    reps = (start + n) // MiB + 1
    return ((_BLOCK * reps)[start:start + n])


# ---- the local service -----------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-local"

    def log_message(self, *a):
        pass

    # body --------------------------------------------------------------------------------
    def _read_body(self):
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower() != "chunked":
                raise ValueError(f"local service: unexpected Transfer-Encoding {te!r}")
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out), "chunked"
                out += self.rfile.read(n)
                self.rfile.readline(16)
        cl = self.headers.get("Content-Length")
        if cl is not None:
            return self.rfile.read(int(cl)), "cl"
        return b"", "none"

    def _send(self, status, body=b"", headers=(), resp="cl", head_only=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if self.tag is not None:
            self.send_header("X-Tag", self.tag)
        if status in (204, 304):
            self.end_headers()
            return
        if resp == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if head_only:
                return
            mv = memoryview(body)
            for i in range(0, len(body), 65536):
                part = mv[i:i + 65536]
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

    # dispatch ----------------------------------------------------------------------------
    def _any(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        self.tag = q.get("tag")
        body, framing = self._read_body()
        srv = self.server
        srv.seen.append({"method": self.command, "path": self.path, "tag": self.tag,
                         "headers": list(self.headers.items()), "framing": framing, "len": len(body)})
        head_only = self.command == "HEAD"
        resp = q.get("resp", "cl")
        p = u.path
        if p == "/echo":
            self._send(200, body, [("X-Method", self.command), ("X-Body-Len", str(len(body))),
                                   ("X-Body-Sha256", sha(body)), ("X-Req-Framing", framing)],
                       resp, head_only)
        elif p.startswith("/size/"):
            data = pattern(int(p[6:]))
            self._send(200, data, [("X-Body-Sha256", sha(data))], resp, head_only)
        elif p == "/headers":
            data = json.dumps({"method": self.command, "headers": list(self.headers.items())}).encode()
            self._send(200, data, [("Content-Type", "application/json")], resp, head_only)
        elif p == "/cookies":
            self._send(200, b"cookies", [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; HttpOnly")],
                       resp, head_only)
        elif p.startswith("/status/"):
            self._send(int(p[8:]), b"", [("ETag", '"e2e"')])
        elif p == "/events":
            self._events()
        elif p == "/slow":
            time.sleep(int(q.get("ms", "500")) / 1000.0)
            self._send(200, b"slow", [], resp, head_only)
        elif p.startswith("/closedelim/"):
            self._close_delimited(int(p[12:]))
        elif p == "/stream":
            self._stream(int(q.get("n", "0")))
        else:
            self._send(404, b"not found\n")

    def _events(self):
        ev = self.server.sse_second.setdefault(self.tag, threading.Event())
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        one = b"data: one\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(one), one))
        self.wfile.flush()
        time.sleep(1.0)
        ev.set()
        two = b"data: two\n\n"
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(two), two))

    def _stream(self, n):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        if self.tag is not None:
            self.send_header("X-Tag", self.tag)
        self.end_headers()
        self.wfile.flush()
        left = n
        chunk = _BLOCK[:65536]
        try:
            while left > 0:
                k = min(left, len(chunk))
                self.wfile.write(b"%x\r\n" % k + chunk[:k] + b"\r\n")
                left -= k
                self.server.stream_sent[self.tag] = n - left
            self.wfile.write(b"0\r\n\r\n")
            self.server.stream_done[self.tag] = "complete"
        except OSError as ex:
            self.server.stream_done[self.tag] = repr(ex)
            self.close_connection = True

    def _close_delimited(self, n):
        self.send_response(200)
        self.send_header("Connection", "close")
        if self.tag is not None:
            self.send_header("X-Tag", self.tag)
        self.end_headers()
        self.wfile.write(pattern(n))
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _any


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 2048

    def handle_error(self, request, client_address):
        # a visitor that left makes the service's write fail: recorded, not printed
        self.errors.append(repr(sys.exc_info()[1]))


class LocalService:
    """The local HTTP service on 127.0.0.1:<port>, served by a thread."""

    def __init__(self):
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.seen = []
        self.srv.errors = []
        self.srv.sse_second = {}
        self.srv.stream_sent = {}
        self.srv.stream_done = {}  # tag -> "complete" or the error that ended the write
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.t.start()

    @property
    def seen(self):
        return self.srv.seen

    @property
    def stream_sent(self):
        return self.srv.stream_sent

    @property
    def stream_done(self):
        return self.srv.stream_done

    def sse_event(self, tag):
        return self.srv.sse_second.setdefault(tag, threading.Event())

    def seen_tag(self, tag):
        return [r for r in self.srv.seen if r["tag"] == tag]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---- raw HTTP/1.1 ----------------------------------------------------------------------

def connect(port, timeout=STEP, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def build_request(method, target, headers=(), body=None, chunked=False, host="e2e.test"):
    """Bytes of one request. body None: no framing header; chunked: 64 KiB chunks."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body is not None and chunked:
        lines.append("Transfer-Encoding: chunked")
    elif body is not None:
        lines.append(f"Content-Length: {len(body)}")
    out = bytearray(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if body is not None and chunked:
        mv = memoryview(body)
        for i in range(0, len(body), 65536):
            part = mv[i:i + 65536]
            out += b"%x\r\n" % len(part) + part + b"\r\n"
        out += b"0\r\n\r\n"
    elif body is not None:
        out += body
    return bytes(out)


def send_request(sock, *a, **kw):
    sock.sendall(build_request(*a, **kw))


class Response:
    def __init__(self, status, reason, headers, body, framing, raw_head):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body
        self.framing, self.raw_head = framing, raw_head

    def get(self, name):
        v = self.get_all(name)
        return v[0] if v else None

    def get_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"<{self.status} {self.framing} {len(self.body)} B head={self.raw_head[:400]!r}>"


class Reader:
    """Reads responses from a socket in order (pipelining-safe)."""

    def __init__(self, sock):
        self.sock = sock
        self.f = sock.makefile("rb")

    def _line(self):
        line = self.f.readline(65537)
        if not line:
            raise EOFError("connection closed")
        return line

    def head(self):
        """(status, reason, headers, raw) of the next head; 1xx heads are returned too."""
        raw = self._line()
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ?([^\r\n]*)\r\n", raw)
        if not m:
            raise AssertionError(f"bad status line {raw!r}")
        headers = []
        while True:
            line = self._line()
            raw += line
            if line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k, v.strip()))
        return int(m.group(1)), m.group(2).decode("latin-1"), headers, raw

    def response(self, method="GET"):
        """The next final response; its body read according to its framing."""
        while True:
            status, reason, headers, raw = self.head()
            if status >= 200 or status == 101:
                break
        r = Response(status, reason, headers, b"", "none", raw)
        te = r.get("Transfer-Encoding")
        cl = r.get("Content-Length")
        if method == "HEAD" or status in (204, 304) or status < 200:
            return r
        if te is not None:
            assert te.lower() == "chunked", f"response Transfer-Encoding {te!r}"
            body = bytearray()
            while True:
                n = int(self._line().split(b";")[0].strip(), 16)
                if n == 0:
                    while self._line() not in (b"\r\n", b"\n"):
                        pass
                    break
                body += self._exact(n)
                assert self._exact(2) == b"\r\n", "chunk not followed by CRLF"
            r.body, r.framing = bytes(body), "chunked"
        elif cl is not None:
            r.body, r.framing = self._exact(int(cl)), "cl"
        else:
            r.body, r.framing = self.f.read(), "close"
        return r

    def _exact(self, n):
        d = self.f.read(n)
        if len(d) != n:
            raise EOFError(f"body cut at {len(d)} of {n} B")
        return d

    def closed(self, timeout=2.0):
        """True when the peer closes within timeout (no further bytes)."""
        self.sock.settimeout(timeout)
        try:
            d = self.f.read(1)
            return d == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.f.close()
        finally:
            self.sock.close()


def read_until_close(sock, timeout=STEP):
    """All bytes until EOF or RST (bounded); (bytes, closed?)."""
    sock.settimeout(timeout)
    out = bytearray()
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return bytes(out), True
            out += d
    except (ConnectionResetError, BrokenPipeError):
        return bytes(out), True
    except socket.timeout:
        return bytes(out), False


def parse_status(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


def head_fields(raw):
    text = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return [(k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in text.split("\r\n")[1:])]


# ---- an asyncio visitor -------------------------------------------------------------------

class AsyncVisitor:
    """A visitor's connection in asyncio: raw requests out, responses parsed back."""

    def __init__(self, port):
        self.port = port
        self.r = self.w = None

    async def open(self, rcvbuf=None):
        if rcvbuf:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
            self.r, self.w = await asyncio.open_connection(sock=sock)
        else:
            self.r, self.w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), STEP)
        return self

    def send(self, data):
        self.w.write(data if isinstance(data, bytes) else data.encode("latin-1"))

    def request(self, host, target="/", method="GET", headers=(), body=None):
        """One request; host None sends no Host field."""
        lines = [f"{method} {target} HTTP/1.1"]
        if host is not None:
            lines.append(f"Host: {host}")
        lines += [f"{k}: {v}" for k, v in headers]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    async def head(self):
        """(status, {lower-case name: value (the last of duplicates)}, raw head)."""
        raw = await asyncio.wait_for(self.r.readuntil(b"\r\n\r\n"), STEP)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hdrs = []
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                hdrs.append((k.strip().lower(), v.strip()))
        return status, dict(hdrs), raw

    async def chunk(self):
        """One chunk of a chunked body (b"" for the last)."""
        n = int((await asyncio.wait_for(self.r.readuntil(b"\r\n"), STEP)).split(b";")[0], 16)
        data = await asyncio.wait_for(self.r.readexactly(n), STEP) if n else b""
        assert await asyncio.wait_for(self.r.readexactly(2), STEP) == b"\r\n"
        return data

    async def response(self, head_req=False):
        """(status, {header: value}, body, raw head); skips nothing (1xx are returned too)."""
        status, hd, raw = await self.head()
        if status < 200 or head_req or status in (204, 304):
            return status, hd, b"", raw
        if "content-length" in hd:
            body = await asyncio.wait_for(self.r.readexactly(int(hd["content-length"])), STEP)
        elif hd.get("transfer-encoding") == "chunked":
            body = bytearray()
            while True:
                c = await self.chunk()
                if not c:
                    break
                body += c
            body = bytes(body)
        else:
            body = await asyncio.wait_for(self.r.read(), STEP)
        return status, hd, body, raw

    async def closed(self, timeout=STEP):
        """True when the daemon closes (EOF or reset) within timeout; data is discarded."""
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                d = await asyncio.wait_for(self.r.read(65536), max(0.01, end - time.monotonic()))
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except asyncio.TimeoutError:
            return False
        return False

    def close(self):
        if self.w:
            self.w.close()


# ---- a WebSocket echo service ---------------------------------------------------------------

class WsEcho:
    """python3-websockets echo server on 127.0.0.1 (async context manager)."""

    def __init__(self, max_size=4 * MiB):
        self.max_size = max_size
        self.server = None
        self.port = None
        self.handshakes = []

    async def _handler(self, ws, path=None):
        self.handshakes.append({"path": path if path is not None else getattr(ws, "path", None),
                                "subprotocol": ws.subprotocol,
                                "headers": list(ws.request_headers.raw_items())})
        try:
            async for msg in ws:
                await ws.send(msg)
        except websockets.exceptions.ConnectionClosed:
            pass

    async def __aenter__(self):
        self.server = await websockets.serve(self._handler, "127.0.0.1", 0, subprotocols=["chat"],
                                             max_size=self.max_size)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await asyncio.wait_for(self.server.wait_closed(), STEP)
        return False


# ---- htc output ------------------------------------------------------------------------------

def wait_line(h, regex, timeout=STEP):
    """The first line of h's stdout so far (or within timeout) matching regex."""
    rx = re.compile(regex)
    end = time.monotonic() + timeout
    while True:
        for line in list(h.lines):
            m = rx.search(line)
            if m:
                return m
        if time.monotonic() > end:
            raise AssertionError(f"no htc line matching {regex!r} within {timeout}s; last lines "
                                 f"{h.lines[-8:]}; stderr {h.stderr()[-600:]}")
        time.sleep(0.05)


# ---- runner ------------------------------------------------------------------------------------

def run_cases(cases, teardown=None, timeout=120):
    """Run each case (plain or async) once, one line each; then teardown (always);
    print "N passed, N failed" and exit with 1 when any failed. CASE=substring
    selects cases."""
    passed = failed = 0
    only = os.environ.get("CASE")

    def one(fn, name):
        nonlocal passed, failed
        t0 = time.monotonic()
        try:
            if asyncio.iscoroutinefunction(fn):
                asyncio.run(asyncio.wait_for(fn(), timeout))
            else:
                fn()
            passed += 1
            print(f"PASS {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - t0:.1f}s): {type(e).__name__}: {str(e)[:3000]}",
                  flush=True)
            for line in traceback.format_exc().rstrip().splitlines()[-10:]:
                print("      " + line, flush=True)

    for fn in cases:
        if only and only not in fn.__name__:
            continue
        one(fn, fn.__name__)
    if teardown is not None:
        one(teardown, teardown.__name__)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


__all__ = ["sha", "pattern", "LocalService", "connect", "build_request", "send_request", "Response",
           "Reader", "read_until_close", "parse_status", "head_fields", "WsEcho", "wait_line",
           "run_cases", "log"]
