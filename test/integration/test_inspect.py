#!/usr/bin/python3
"""htc's request inspector: the page in a real browser (headless Chromium
over the DevTools protocol: a request through the tunnel appears in the
list within a second, the detail pane shows one of its headers, Replay
adds a replayed row; a screenshot is kept, its path printed), the API's
shapes field by field (ngrok's), replay reaching the local service with
the same method, path, headers and body, bodies over --inspect-body cut and
said so, 10,000 requests leaving htc's RSS bounded by the caps, a
cross-origin POST and a foreign Host refused, --no-inspect opening no port,
and htc going on without the inspector when 4040..4049 are all taken.

Loopback only; every process is stopped by its PID.
Run: BUILD=build /usr/bin/python3 test/integration/test_inspect.py
"""
import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from exposelib import LocalService, sha  # noqa: E402

import websockets  # noqa: E402

OUT = os.environ.get("TEST_OUT") or tempfile.mkdtemp(prefix="ht-inspect-")


@contextlib.contextmanager
def local_service():
    loc = LocalService()
    try:
        yield loc
    finally:
        loc.close()


def spawn_htc(d, args, env=None):
    """Htc(d, *args), with env (updating ours) when given."""
    if env is None:
        return Htc(d, *args)
    h = Htc.__new__(Htc)
    h.token = d.token
    h._spawn([HTC, "--url", d.url, "--token", d.token, *args], dict(os.environ, **env))
    return h


def tunnel(d, loc_port, *flags, env=None):
    """htc expose of loc_port with the inspector on a free port: (htc, container port, inspector port)."""
    cport, iport = free_port(), free_port()
    h = spawn_htc(d, ["expose", str(loc_port), "--port", str(cport), "--inspect", f"127.0.0.1:{iport}", *flags],
                  env)
    h.expect(r"^container port ")
    m = h.expect(r"^inspect: (http://\S+)$")
    assert m.group(1) == f"http://127.0.0.1:{iport}", m.group(0)
    return h, cport, iport


def api(iport, method, path, body=None, headers=None):
    hd = {"Content-Type": "application/json"} if body is not None or method in ("POST", "DELETE") else {}
    hd.update(headers or {})
    st, hs, data = http(iport, method, path, headers=hd, body=body)
    return st, hs, (json.loads(data) if data and hs.get("content-type", "").startswith("application/json")
                    else data)


def wait_requests(iport, pred, timeout=STEP):
    """The API's request list once pred(list) holds."""
    end = time.monotonic() + timeout
    while True:
        st, _, j = api(iport, "GET", "/api/requests/http")
        assert st == 200, (st, j)
        if pred(j["requests"]):
            return j["requests"]
        assert time.monotonic() < end, f"requests never matched: {j['requests'][:3]}"
        time.sleep(0.05)


def raw_body(part):
    raw = base64.b64decode(part["raw"])
    return raw.split(b"\r\n\r\n", 1)[1]


# ---- API shapes, replay --------------------------------------------------------------

def test_api_shapes_and_replay():
    with local_service() as loc, Daemon() as d:
        h, cport, iport = tunnel(d, loc.port)
        with h:
            body = b'{"event":"push","n":1}'
            st, hs, got = http(cport, "POST", "/echo?tag=hook", body=body,
                               headers={"Content-Type": "application/json", "X-Hook-Sig": "sha1=abc"})
            assert st == 200 and got == body, (st, got)
            st, _, t = api(iport, "GET", "/api/tunnels")
            assert st == 200 and t["uri"] == "/api/tunnels" and len(t["tunnels"]) == 1, t
            tun = t["tunnels"][0]
            assert tun["name"] == str(cport) and tun["proto"] in ("http", "https"), tun
            assert tun["public_url"] == "" and tun["config"]["addr"] == f"http://127.0.0.1:{loc.port}", tun
            reqs = wait_requests(iport, lambda r: len(r) == 1)
            x = reqs[0]
            for k in ("id", "uri", "tunnel_name", "remote_addr", "start", "duration", "request", "response"):
                assert k in x, (k, x)
            assert isinstance(x["id"], str) and x["uri"] == f"/api/requests/http/{x['id']}", x
            assert x["tunnel_name"] == str(cport) and x["remote_addr"].startswith("127.0.0.1:"), x
            assert x["start"].endswith("Z") and isinstance(x["duration"], int) and x["duration"] > 0, x
            q, r = x["request"], x["response"]
            assert q["method"] == "POST" and q["uri"] == "/echo?tag=hook" and q["proto"] == "HTTP/1.1", q
            assert q["headers"]["X-Hook-Sig"] == ["sha1=abc"], q["headers"]
            assert q["headers"]["Content-Type"] == ["application/json"], q["headers"]
            assert all(isinstance(v, list) for v in q["headers"].values()), q["headers"]
            assert raw_body(q) == body and q["body_size"] == len(body) and q["truncated"] is False, q
            assert base64.b64decode(q["raw"]).startswith(b"POST /echo?tag=hook HTTP/1.1\r\n"), q["raw"]
            assert r["status"] == "200 OK" and r["status_code"] == 200 and r["proto"] == "HTTP/1.1", r
            assert r["headers"]["X-Body-Sha256"] == [sha(body)], r["headers"]
            assert raw_body(r) == body and r["truncated"] is False, r
            st, _, one = api(iport, "GET", x["uri"])
            assert st == 200 and one == x, one
            assert api(iport, "GET", "/api/requests/http/999999")[0] == 404
            # replay: same method, path, headers and body at the local service
            n_seen = len(loc.seen)
            st, _, _ = api(iport, "POST", "/api/requests/http", body=json.dumps({"id": x["id"]}))
            assert st == 204, st
            reqs = wait_requests(iport, lambda rs: any(e.get("replay_of") == x["id"] for e in rs))
            rp = [e for e in reqs if e.get("replay_of") == x["id"]][0]
            assert rp["request"]["method"] == "POST" and rp["request"]["uri"] == "/echo?tag=hook", rp
            assert rp["response"]["status_code"] == 200, rp
            assert rp["response"]["headers"]["X-Body-Sha256"] == [sha(body)], rp
            assert len(loc.seen) == n_seen + 1, loc.seen
            orig, again = loc.seen[n_seen - 1], loc.seen[n_seen]
            assert again["method"] == orig["method"] == "POST" and again["path"] == orig["path"], again
            assert again["len"] == len(body), again
            hd = dict(again["headers"])
            assert hd.get("X-Hook-Sig") == "sha1=abc" and hd.get("Content-Type") == "application/json", hd
            # limit and tunnel_name
            http(cport, "GET", "/headers")
            wait_requests(iport, lambda rs: len(rs) == 3)
            assert len(api(iport, "GET", "/api/requests/http?limit=1")[2]["requests"]) == 1
            assert len(api(iport, "GET", f"/api/requests/http?tunnel_name={cport}")[2]["requests"]) == 3
            assert api(iport, "GET", "/api/requests/http?tunnel_name=nope")[2]["requests"] == []
            assert api(iport, "GET", "/api/requests/http?limit=x")[0] == 400
            # DELETE clears
            assert api(iport, "DELETE", "/api/requests/http")[0] == 204
            assert api(iport, "GET", "/api/requests/http")[2]["requests"] == []


def test_truncation():
    with local_service() as loc, Daemon() as d:
        h, cport, iport = tunnel(d, loc.port, "--inspect-body", "1KiB")
        with h:
            body = bytes(range(256)) * 20  # 5120 bytes, binary
            st, _, got = http(cport, "POST", "/echo", body=body)
            assert st == 200 and got == body
            x = wait_requests(iport, lambda r: len(r) == 1)[0]
            for part in (x["request"], x["response"]):
                assert part["body_size"] == 5120 and part["truncated"] is True, part
                assert raw_body(part) == body[:1024], len(raw_body(part))
            st, _, e = api(iport, "POST", "/api/requests/http", body=json.dumps({"id": x["id"]}))
            assert st == 422 and "cut" in e["msg"], (st, e)


# ---- safety --------------------------------------------------------------------------

def test_cross_origin_and_foreign_host_refused():
    with local_service() as loc, Daemon() as d:
        h, cport, iport = tunnel(d, loc.port)
        with h:
            http(cport, "GET", "/headers")
            x = wait_requests(iport, lambda r: len(r) == 1)[0]
            n = len(loc.seen)
            replay = json.dumps({"id": x["id"]})
            st, hs, _ = api(iport, "POST", "/api/requests/http", body=replay,
                            headers={"Origin": "http://evil.example"})
            assert st == 403 and "access-control-allow-origin" not in hs, (st, hs)
            st, _, _ = api(iport, "POST", "/api/requests/http", body=replay,
                           headers={"Content-Type": "text/plain"})  # a form or simple request
            assert st == 403, st
            st, _, _ = api(iport, "DELETE", "/api/requests/http", headers={"Content-Type": "text/plain"})
            assert st == 403, st
            for host in ("evil.example:%d" % iport, "evil.example", f"127.0.0.1:{iport + 1}"):
                st, _, _ = api(iport, "GET", "/api/requests/http", headers={"Host": host})
                assert st == 403, (host, st)
                st, _, _ = api(iport, "GET", "/", headers={"Host": host})
                assert st == 403, (host, st)
            st, _, _ = api(iport, "GET", "/api/tunnels", headers={"Host": f"localhost:{iport}"})
            assert st == 200
            st, hs, _ = api(iport, "OPTIONS", "/api/requests/http", headers={"Origin": "http://evil.example"})
            assert st == 405 and "access-control-allow-origin" not in hs, (st, hs)
            time.sleep(0.3)
            assert len(loc.seen) == n, "a refused replay reached the local service"
            # the same origin is fine
            st, _, _ = api(iport, "POST", "/api/requests/http", body=replay,
                           headers={"Origin": f"http://127.0.0.1:{iport}"})
            assert st == 204, st
            # pipelined requests are answered in order
            s = socket.create_connection(("127.0.0.1", iport), timeout=STEP)
            one = f"GET /api/tunnels HTTP/1.1\r\nHost: 127.0.0.1:{iport}\r\n\r\n".encode()
            s.sendall(one * 3)
            got = b""
            while got.count(b'"uri":"/api/tunnels"}') < 3:
                chunk = s.recv(65536)
                assert chunk, got
                got += chunk
            s.close()
            assert got.count(b"HTTP/1.1 200 OK\r\n") == 3, got
            st, hs, page = http(iport, "GET", "/")
            assert st == 200 and b"<title>htc inspect</title>" in page, page[:200]
            assert "script-src 'self'" in hs["content-security-policy"] and hs["x-frame-options"] == "DENY", hs


# ---- ports ---------------------------------------------------------------------------

def listening_sockets(pid):
    """How many of pid's sockets are TCP listeners."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            t = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    n = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(f) as fh:
            for line in fh.readlines()[1:]:
                p = line.split()
                if p[3] == "0A" and p[9] in inodes:
                    n += 1
    return n


def test_no_inspect_opens_no_port():
    with local_service() as loc, Daemon() as d:
        with Htc(d, "--no-inspect", "expose", str(loc.port), "--port", str(free_port())) as h:
            h.expect(r"^container port ")
            time.sleep(0.2)
            assert not any(ln.startswith("inspect:") for ln in h.lines), h.lines
            assert listening_sockets(h.proc.pid) == 0, "htc --no-inspect listens"
        with spawn_htc(d, ["expose", str(loc.port), "--port", str(free_port())], {"HTC_INSPECT": "off"}) as h:
            h.expect(r"^container port ")
            time.sleep(0.2)
            assert listening_sockets(h.proc.pid) == 0, "htc with HTC_INSPECT=off listens"


def test_default_ports_taken_tunnel_goes_on():
    held = []
    try:
        for port in range(4040, 4050):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
                s.listen(1)
                held.append(s)
            except OSError:
                s.close()  # someone else has it: taken all the same
        with local_service() as loc, Daemon() as d:
            cport = free_port()
            with Htc(d, "expose", str(loc.port), "--port", str(cport)) as h:
                h.expect(r"^container port ")
                st, _, _ = http(cport, "GET", "/headers")
                assert st == 200
                assert "going on without the inspector" in h.stderr(), h.stderr()
                assert listening_sockets(h.proc.pid) == 0
    finally:
        for s in held:
            s.close()
    # and with one of them free, it is used
    with local_service() as loc, Daemon() as d:
        with Htc(d, "expose", str(loc.port), "--port", str(free_port())) as h:
            m = h.expect(r"^inspect: http://127\.0\.0\.1:(\d+)$|going on without")
            if m.group(1):  # other tests may hold all ten meanwhile
                assert 4040 <= int(m.group(1)) <= 4049, m.group(0)


# ---- memory --------------------------------------------------------------------------

class FastLocal(socketserver.ThreadingTCPServer):
    """A keep-alive HTTP/1.1 service that reads a Content-Length body and answers 8 KiB."""
    daemon_threads = True
    allow_reuse_address = True

    class H(socketserver.BaseRequestHandler):
        RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 8192\r\nContent-Type: text/plain\r\n\r\n" + b"r" * 8192

        def handle(self):
            f = self.request.makefile("rb")
            while True:
                line = f.readline()
                if not line:
                    return
                n = 0
                while True:
                    h = f.readline()
                    if h in (b"\r\n", b""):
                        break
                    if h.lower().startswith(b"content-length:"):
                        n = int(h.split(b":")[1])
                f.read(n)
                self.request.sendall(self.RESP)

    def __init__(self):
        super().__init__(("127.0.0.1", 0), self.H)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()


def hammer(port, n, body):
    """n keep-alive POSTs on one connection; every answer read whole."""
    s = socket.create_connection(("127.0.0.1", port), timeout=STEP)
    req = (b"POST /m HTTP/1.1\r\nHost: t\r\nX-Token: secret\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    f = s.makefile("rb")
    try:
        for _ in range(n):
            s.sendall(req)
            line = f.readline()
            assert line.startswith(b"HTTP/1.1 200"), line
            cl = 0
            while True:
                h = f.readline()
                if h == b"\r\n":
                    break
                if h.lower().startswith(b"content-length:"):
                    cl = int(h.split(b":")[1])
            f.read(cl)
    finally:
        f.close()
        s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_rss_bounded_over_10000_requests():
    loc = FastLocal()
    env = None
    if SAN:  # ASan's quarantine would hold every freed byte: keep it small
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
               + ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64"}
    try:
        with Daemon(log_level="warn") as d:
            h, cport, iport = tunnel(d, loc.port, "--inspect-requests", "50", "--inspect-body", "4KiB", env=env)
            with h:
                body = b"b" * 16384
                threads = 4
                hammer(cport, 500, body)  # the ring full, the pools warm
                before = rss_kib(h.proc.pid)
                total = 10000
                ts = [threading.Thread(target=hammer, args=(cport, total // threads, body)) for _ in range(threads)]
                t0 = time.monotonic()
                for t in ts:
                    t.start()
                for t in ts:
                    t.join(scaled(60, 180))
                took = time.monotonic() - t0
                after = rss_kib(h.proc.pid)
                reqs = api(iport, "GET", "/api/requests/http")[2]["requests"]
                assert len(reqs) == 50 and int(reqs[0]["id"]) >= 10500, (len(reqs), reqs[0]["id"])
                assert reqs[0]["request"]["body_size"] == 16384 and reqs[0]["request"]["truncated"], reqs[0]
                # the ring holds 50 x (2 x 4 KiB + heads); the rest is reused
                log(f"{total} requests in {took:.1f}s; htc RSS {before} KiB -> {after} KiB")
                assert after - before < scaled(4096, 12288), f"htc RSS grew by {after - before} KiB over {total} requests"
    finally:
        loc.shutdown()
        loc.server_close()


# ---- the page in a browser -------------------------------------------------------------

class Chromium:
    """Headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        assert exe, "chromium missing: sh third_party/deps.sh test"
        self.profile = tempfile.mkdtemp(prefix="ht-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "--window-size=1300,760",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        end = time.monotonic() + scaled(15, 30)
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            assert time.monotonic() < end and self.proc.poll() is None, "chromium did not start"
            time.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=STEP))
        self.ws_url = [t for t in targets if t["type"] == "page"][0]["webSocketDebuggerUrl"]
        self.n = 0

    async def open(self):
        self.ws = await websockets.connect(self.ws_url, max_size=None)

    async def call(self, method, **params):
        self.n += 1
        i = self.n
        await self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            r = json.loads(await asyncio.wait_for(self.ws.recv(), STEP))
            if r.get("id") == i:
                assert "error" not in r, r
                return r["result"]

    async def js(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    async def until(self, expr, timeout):
        end = time.monotonic() + timeout
        while True:
            v = await self.js(expr)
            if v:
                return v
            if time.monotonic() > end:
                raise AssertionError(f"not true within {timeout}s: {expr}")
            await asyncio.sleep(0.03)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)  # its own session: only what it started
                self.proc.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)


async def test_page_in_browser():
    with local_service() as loc, Daemon() as d:
        h, cport, iport = tunnel(d, loc.port)
        with h:
            http(cport, "GET", "/headers?tag=before")
            b = Chromium()
            try:
                await b.open()
                await b.call("Page.enable")
                await b.call("Page.navigate", url=f"http://127.0.0.1:{iport}/")
                await b.until("document.getElementById('live') && document.getElementById('live').textContent"
                              " === 'live' && document.querySelectorAll('#rows tr').length === 1", STEP)
                # a request through the tunnel appears in the rendered list within a second
                t0 = time.monotonic()
                await asyncio.to_thread(http, cport, "POST", "/echo?tag=browser",
                                        body=b'{"hello":"browser","n":[1,2,3]}',
                                        headers={"Content-Type": "application/json", "X-Inspect-Me": "hello-browser"})
                await b.until("[...document.querySelectorAll('#rows tr td.path')]"
                              ".some(td => td.textContent === '/echo?tag=browser')", scaled(1.0, 3.0))
                seen_after = time.monotonic() - t0
                log(f"the request was in the page's list {seen_after * 1000:.0f} ms after it was sent")
                # the detail pane shows one of its headers, the JSON body pretty-printed
                await b.js("document.querySelector('#rows tr').click()")
                await b.until("document.getElementById('d-req-headers').innerText.includes('hello-browser')", STEP)
                text = await b.js("document.getElementById('detail').innerText")
                assert "X-Inspect-Me" in text and "POST /echo?tag=browser" in text, text[:500]
                assert '"hello": "browser"' in text, text[:800]
                # the filter
                await b.js("(f => { f.value = 'browser'; f.dispatchEvent(new Event('input')); })"
                           "(document.getElementById('filter'))")
                vis = await b.js("[...document.querySelectorAll('#rows tr')].filter(r => !r.hidden).length")
                assert vis == 1, vis
                await b.js("(f => { f.value = ''; f.dispatchEvent(new Event('input')); })"
                           "(document.getElementById('filter'))")
                shot = await b.call("Page.captureScreenshot", format="png")
                path = os.path.join(OUT, "inspect-page.png")
                with open(path, "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
                log(f"screenshot: {path}")
                # Replay: a new row marked as a replay, selected once complete
                n = len(loc.seen)
                await b.js("document.getElementById('replay').click()")
                await b.until("document.querySelectorAll('#rows tr.replay').length === 1", STEP)
                await b.until("document.getElementById('d-meta').textContent.includes('replay of')", STEP)
                assert len(loc.seen) == n + 1 and loc.seen[-1]["path"] == "/echo?tag=browser", loc.seen[-1:]
                await b.ws.close()
            finally:
                b.stop()


if __name__ == "__main__":
    log(f"output: {OUT}")
    run_tests([
        test_api_shapes_and_replay,
        test_truncation,
        test_cross_origin_and_foreign_host_refused,
        test_no_inspect_opens_no_port,
        test_default_ports_taken_tunnel_goes_on,
        test_rss_bounded_over_10000_requests,
        test_page_in_browser,
    ], timeout=scaled(60, 180))
