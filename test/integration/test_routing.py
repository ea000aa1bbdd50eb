#!/usr/bin/python3
"""Host routing: visitors reach tunnel sessions by Host NAME.DOMAIN (--domain).

The tunnel sessions are htlib's TunnelClient standing in for a laptop's web
app (App: it answers every STREAM_OPEN itself and records what arrived);
the visitors are raw asyncio TCP connections to the control port (which
takes routed traffic when --domain is set) and to --vhost-listen.

Cases: named, random (px-XXXXXXXXXX) and root (@) routes with their
publicUrl; Host in upper case, with a port, with a trailing dot, and an
absolute-form target winning over Host; 404 naming an unknown host and the
routed_responses_total / unknown_host_total metrics; 400 without exactly one
Host; /healthz and /api/v1/tunnel answered by the daemon on routed hosts,
also between routed requests on one keep-alive connection; an upgrade (raw
bytes both ways) and a streamed response (each chunk arrives before the next
is sent); 1 MiB bodies both ways (sha256); a cluster of two sessions sharing
a name round-robin (an upgraded stream stays on its holder; one holder's
socket dropped: its requests go to the survivor; all parked: 503 +
Retry-After); conflicts (single/cluster/same session/takeover with
BIND_REVOKED); a random name kept across a resume (503 + Retry-After while
parked); Basic Auth; X-Forwarded-For kept and extended from a trusted proxy,
replaced otherwise; a session that came in on --vhost-listen (publicUrl names
that port); --vhost-listen without --domain refused at start-up; bad names
(INVALID_SUBDOMAIN), NO_DOMAIN, subdomain on tcp/pull (INVALID_KIND); the
admin API's subdomain / cluster / publicUrl; a port-based cluster without
--domain.

Run: BUILD=build /usr/bin/python3 test/integration/test_routing.py
"""
import asyncio
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from reslib import await_log  # noqa: E402
from exposelib import AsyncVisitor  # noqa: E402

DOMAIN = "tun.test"
T = STEP
FLAGS = ["--domain", DOMAIN, "--expose-address", "127.0.0.1", "--takeover-grace", "30s",
         "--max-sessions", "64"]
NAME_RX = re.compile(r"^px-[a-z0-9]{10}$")


# ---- the app behind a tunnel -------------------------------------------------------------

class App:
    """A tunnel session that serves HTTP itself. Paths:
      /ws (upgrade)   101, then echoes raw bytes
      /sse            chunked; sends "data: N" and waits for go.put() before the next
      /sha            reads the body, answers "<len> <sha256>"
      /big/N          N deterministic bytes (Content-Length)
      anything else   "<name> <method> <target>" with X-App: <name>
    Every STREAM_OPEN's JSON is kept in `seen`."""

    def __init__(self, d, name, via=None):
        self.d = d
        self.name = name
        self.via = via or d.port
        self.c = None
        self.seen = []
        self.binds = []
        self.go = asyncio.Queue()

    async def start(self):
        self.c = await session(self.via, self.d.token)
        self.c.on_stream = self.serve
        return self

    async def bind(self, subdomain=None, port=0, **kw):
        if subdomain is not None:
            kw["subdomain"] = subdomain
        t, j = await self.c.bind("http", "expose", port, **kw)
        if t == BIND_OK:
            self.binds.append(j["bindId"])
        return t, j

    async def bind_ok(self, subdomain=None, **kw):
        t, j = await self.bind(subdomain, **kw)
        assert t == BIND_OK, f"{self.name}: BIND {subdomain!r} {kw} refused: {j}"
        return j

    def targets(self):
        return [i["target"] for i in self.seen]

    def head(self, st, status, headers, final=True):
        self.c.send(frame(STREAM_RESPONSE_HEAD, st.id, {"status": status, "headers": headers,
                                                        "final": final}))

    async def serve(self, st):
        info = st.info
        self.seen.append(info)
        target = info["target"]
        try:
            if info["isUpgrade"]:
                self.head(st, 101, [["Upgrade", "raw"], ["Connection", "Upgrade"], ["X-App", self.name]])
                await echo_stream(st)
            elif target.startswith("/sse"):
                self.head(st, 200, [["Content-Type", "text/event-stream"], ["X-App", self.name]])
                for i in range(3):
                    self.c.send(frame(DATA, st.id, f"data: {i}\n\n".encode()))
                    await asyncio.wait_for(self.go.get(), T)
                st.write_eof()
            elif target.startswith("/sha"):
                body = await st.read_all(T)
                out = f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()
                self.head(st, 200, [["Content-Length", str(len(out))], ["X-App", self.name]])
                await st.write(out)
                st.write_eof()
            elif target.startswith("/big/"):
                data = Blocks(int(target[5:]), b"routing").block[:int(target[5:])]
                self.head(st, 200, [["Content-Length", str(len(data))], ["X-App", self.name]])
                await st.write(data, timeout=T * 2)
                st.write_eof()
            else:
                out = f"{self.name} {info['method']} {target}".encode()
                self.head(st, 200, [["Content-Length", str(len(out))], ["X-App", self.name]])
                await st.write(out)
                st.write_eof()
        except (ConnectionError, asyncio.TimeoutError):
            pass

    async def close(self):
        """Unbind first, so the session ends instead of parking."""
        if self.c is None:
            return
        try:
            if not self.c.closed.is_set():
                for b in self.binds:
                    await self.c.unbind(b)
        except (AssertionError, asyncio.TimeoutError):
            pass
        await self.c.close()

    def drop(self):
        """The socket vanishes without a close (a killed client): the session parks."""
        self.c.ws.transport.abort()


class Apps:
    """Closes every App it made, whatever happens."""

    def __init__(self, d):
        self.d = d
        self.apps = []

    async def new(self, name, via=None):
        a = await App(self.d, name, via).start()
        self.apps.append(a)
        return a

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        for a in self.apps:
            await a.close()


# ---- visitors --------------------------------------------------------------------------------

class Visitor(AsyncVisitor):
    async def response(self, head_req=False):
        """(status, {header: value}, body)."""
        status, hd, body, _ = await super().response(head_req)
        return status, hd, body


async def fetch(port, host, target="/", method="GET", headers=(), body=None):
    """One request on a new connection: (status, headers, body)."""
    v = await Visitor(port).open()
    try:
        v.request(host, target, method, headers, body)
        return await v.response(head_req=method == "HEAD")
    finally:
        v.close()


def served_by(resp):
    status, hd, body = resp
    assert status == 200, f"status {status}: {body[:200]!r}"
    return hd.get("x-app")


def host(name):
    return DOMAIN if name == "@" else f"{name}.{DOMAIN}"


def ports(d):
    """The two listeners that take routed traffic: the control port and --vhost-listen."""
    return [d.port, d.vport]


def metric0(d, name, labels=None):
    return d.metric(name, labels) or 0


# ---- cases ----------------------------------------------------------------------------------

async def case_named_random_and_root(d):
    async with Apps(d) as apps:
        named, rnd, root = await apps.new("named"), await apps.new("random"), await apps.new("root")
        j = await named.bind_ok("Demo")
        assert j["subdomain"] == "demo" and j["containerPort"] is None, j
        assert j["publicUrl"] == f"http://demo.{DOMAIN}:{d.port}", j
        j = await rnd.bind_ok("")
        rname = j["subdomain"]
        assert NAME_RX.match(rname), f"random name {rname!r}"
        assert j["containerPort"] is None and j["publicUrl"] == f"http://{rname}.{DOMAIN}:{d.port}", j
        j = await root.bind_ok("@")
        assert j["subdomain"] == "@" and j["publicUrl"] == f"http://{DOMAIN}:{d.port}", j
        for p in ports(d):
            for name, app in (("demo", "named"), (rname, "random"), ("@", "root")):
                st, hd, body = await fetch(p, host(name), "/hello?x=1")
                assert st == 200 and hd.get("x-app") == app, (p, name, st, body)
                assert body == f"{app} GET /hello?x=1".encode(), body
        # the control plane's own host is not routed
        st, hd, body = await fetch(d.port, f"127.0.0.1:{d.port}", "/hello")
        assert st == 404 and hd.get("x-app") is None, (st, hd)
        assert all(len(a.seen) == 2 for a in (named, rnd, root)), [a.targets() for a in (named, rnd, root)]


async def case_host_variations(d):
    async with Apps(d) as apps:
        a = await apps.new("var")
        other = await apps.new("other")
        await a.bind_ok("var")
        await other.bind_ok("other")
        for p in ports(d):
            for h in (f"VAR.{DOMAIN.upper()}", f"var.{DOMAIN}:8443", f"var.{DOMAIN}.", "Var.Tun.Test.:1"):
                assert served_by(await fetch(p, h, "/v")) == "var", (p, h)
            # absolute form: the target's authority wins over Host
            st, hd, body = await fetch(p, f"other.{DOMAIN}", f"http://var.{DOMAIN}/abs?q=1")
            assert st == 200 and hd.get("x-app") == "var", (p, st, body)
            # and the app is told that host, in origin form (RFC 9112 3.2.2)
            got = a.seen[-1]
            hosts = [v for k, v in got["headers"] if k.lower() in ("host", "x-forwarded-host")]
            assert got["target"] == "/abs?q=1" and hosts == [f"var.{DOMAIN}"] * 2, got
            st, hd, body = await fetch(p, f"var.{DOMAIN}", f"http://OTHER.{DOMAIN}:99/abs2")
            assert st == 200 and hd.get("x-app") == "other", (p, st, body)
        assert len(other.seen) == 2, other.targets()


async def case_unknown_host_404_and_metrics(d):
    async with Apps(d) as apps:
        a = await apps.new("metrics")
        await a.bind_ok("m2xx")
        unknown0 = metric0(d, "hoody_tunnel_unknown_host_total")
        c2 = metric0(d, "hoody_tunnel_routed_responses_total", {"class": "2xx"})
        c4 = metric0(d, "hoody_tunnel_routed_responses_total", {"class": "4xx"})
        for p, h in ((d.port, f"nobody.{DOMAIN}"), (d.vport, f"ghost.{DOMAIN}:8080"),
                     (d.vport, "elsewhere.example")):
            v = await Visitor(p).open()
            v.request(h, "/x")
            st, hd, body = await v.response()
            assert st == 404, (p, h, st, body)
            assert f"no tunnel is serving {h}".encode() in body, (h, body)
            assert hd["content-type"].startswith("text/plain") and len(body) < 200, (hd, body)
            # the connection goes on
            v.request(f"m2xx.{DOMAIN}", "/after")
            assert served_by(await v.response()) == "metrics"
            v.close()
        for _ in range(3):
            assert served_by(await fetch(d.vport, f"m2xx.{DOMAIN}")) == "metrics"
        # a host outside the domain on the control port is the control plane's, not a route
        st, hd, body = await fetch(d.port, "elsewhere.example", "/x")
        assert st == 404 and b"no tunnel is serving" not in body, (st, body)
        assert metric0(d, "hoody_tunnel_unknown_host_total") - unknown0 == 3
        assert metric0(d, "hoody_tunnel_routed_responses_total", {"class": "4xx"}) - c4 == 3
        assert metric0(d, "hoody_tunnel_routed_responses_total", {"class": "2xx"}) - c2 == 6


async def case_host_missing_or_twice_400(d):
    async with Apps(d) as apps:
        a = await apps.new("h400")
        await a.bind_ok("h400")
        for text in ("GET / HTTP/1.1\r\n\r\n",
                     f"GET / HTTP/1.1\r\nHost: h400.{DOMAIN}\r\nHost: h400.{DOMAIN}\r\n\r\n",
                     f"GET / HTTP/1.1\r\nHost: h400.{DOMAIN}\r\nHost: x.{DOMAIN}\r\n\r\n",
                     "GET / HTTP/1.0\r\n\r\n"):
            v = await Visitor(d.vport).open()
            v.send(text)
            st, hd, body = await v.response()
            assert st == 400, (text, st, body)
            v.close()
        assert not a.seen, a.targets()


async def case_reserved_paths_on_routed_hosts(d):
    async with Apps(d) as apps:
        a = await apps.new("res")
        await a.bind_ok("res")
        h = f"res.{DOMAIN}"
        for p in ports(d):
            st, hd, body = await fetch(p, h, "/healthz/live")
            assert st == 200 and body == b"live\n" and "x-app" not in hd, (p, st, body)
            st, hd, body = await fetch(p, h, "/api/v1/tunnel/health", headers=d.auth().items())
            assert st == 200 and "x-app" not in hd, (p, st, body)
            assert json.loads(body).get("status") is not None, body
            st, hd, body = await fetch(p, h, "/api/v1/tunnel/bindings", headers=d.auth().items())
            assert st == 200 and json.loads(body)["total"] >= 1, (p, st, body)
        assert not a.seen, f"reserved paths reached the session: {a.targets()}"
        # one keep-alive connection: routed, daemon, routed, daemon, routed
        for p in ports(d):
            v = await Visitor(p).open()
            for i in range(2):
                v.request(h, f"/app{i}")
                assert served_by(await v.response()) == "res"
                v.request(h, "/healthz/live" if i == 0 else "/api/v1/tunnel/health", headers=d.auth().items())
                st, hd, body = await v.response()
                assert st == 200 and "x-app" not in hd, (p, i, st, body)
            v.request(h, "/app-last")
            st, hd, body = await v.response()
            assert st == 200 and body == b"res GET /app-last", (p, st, body)
            v.close()
        assert [t for t in a.targets() if not t.startswith("/app")] == [], a.targets()
        assert len(a.seen) == 6, a.targets()
        # the same, pipelined in one write
        for p in ports(d):
            v = await Visitor(p).open()
            v.send("".join(f"GET {t} HTTP/1.1\r\nHost: {h}\r\n\r\n"
                           for t in ("/p1", "/healthz/live", "/p2", "/healthz/ready", "/p3")))
            got = [await v.response() for _ in range(5)]
            want = [(200, b"res GET /p1"), (200, b"live\n"), (200, b"res GET /p2"), (200, b"ready\n"),
                    (200, b"res GET /p3")]
            assert [(s, b) for s, _, b in got] == want, (p, got)
            v.close()


async def case_upgrade_and_streaming(d):
    async with Apps(d) as apps:
        a = await apps.new("live")
        await a.bind_ok("live")
        for p in ports(d):
            v = await Visitor(p).open()
            v.send(f"GET /ws HTTP/1.1\r\nHost: live.{DOMAIN}\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n")
            st, hd, raw = await v.head()
            assert st == 101 and hd.get("x-app") == "live", raw
            for msg in (b"one", b"\x00\xffbinary", b"x" * 100000):
                v.send(msg)
                assert await asyncio.wait_for(v.r.readexactly(len(msg)), T) == msg
            v.w.write_eof()
            assert await v.closed(T)
            v.close()
            # streaming: each chunk arrives before the app sends the next
            v = await Visitor(p).open()
            v.request(f"live.{DOMAIN}", "/sse")
            st, hd, raw = await v.head()
            assert st == 200 and hd.get("content-type") == "text/event-stream", raw
            assert hd.get("transfer-encoding") == "chunked", raw
            for i in range(3):
                assert await v.chunk() == f"data: {i}\n\n".encode(), i
                a.go.put_nowait(1)
            assert await v.chunk() == b""
            v.close()


async def case_bodies_both_ways(d):
    async with Apps(d) as apps:
        a = await apps.new("bodies")
        await a.bind_ok("bodies")
        up = Blocks(MiB, b"up").block
        for p in ports(d):
            st, hd, body = await fetch(p, f"bodies.{DOMAIN}", "/sha", "POST", body=up)
            assert st == 200 and body == f"{MiB} {hashlib.sha256(up).hexdigest()}".encode(), (st, body)
            st, hd, body = await fetch(p, f"bodies.{DOMAIN}", f"/big/{MiB}")
            want = Blocks(MiB, b"routing").block
            assert st == 200 and hashlib.sha256(body).digest() == hashlib.sha256(want).digest(), \
                (st, len(body))


async def case_cluster_round_robin_and_park(d):
    async with Apps(d) as apps:
        a, b = await apps.new("A"), await apps.new("B")
        ja = await a.bind_ok("pool", cluster=True)
        jb = await b.bind_ok("pool", cluster=True)
        assert ja["subdomain"] == jb["subdomain"] == "pool" and ja["bindId"] != jb["bindId"], (ja, jb)
        h = f"pool.{DOMAIN}"
        # a long-lived upgraded stream opened now stays where it landed
        ws = await Visitor(d.vport).open()
        ws.send(f"GET /ws HTTP/1.1\r\nHost: {h}\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n")
        st, hd, raw = await ws.head()
        assert st == 101, raw
        holder = hd["x-app"]
        count = {"A": 0, "B": 0}
        kept = await Visitor(d.port).open()
        for i in range(200):
            if i % 2:
                kept.request(h, f"/k{i}")
                who = served_by(await kept.response())
            else:
                who = served_by(await fetch(d.vport if i % 4 else d.port, h, f"/n{i}"))
            count[who] += 1
            if i % 50 == 0:
                msg = f"ws-{i}".encode()
                ws.send(msg)
                assert await asyncio.wait_for(ws.r.readexactly(len(msg)), T) == msg
        assert 80 <= count["A"] <= 120 and count["A"] + count["B"] == 200, count
        # one keep-alive connection alone also rotates
        seq = []
        for i in range(6):
            kept.request(h, f"/seq{i}")
            seq.append(served_by(await kept.response()))
        assert sorted(seq) == ["A"] * 3 + ["B"] * 3, seq
        ws_app = a if holder == "A" else b
        assert [i["target"] for i in ws_app.seen].count("/ws") == 1
        assert sum(1 for x in (a, b) for i in x.seen if i["target"] == "/ws") == 1
        # the holder of the upgraded stream is killed; the other serves everything
        dead, alive = ws_app, (b if ws_app is a else a)
        sid = dead.c.hello_ok["sessionId"]
        dead.drop()
        assert await ws.closed(T), "the upgraded stream outlived its holder"
        ws.close()
        await await_log(d, rf"session {sid} parked")
        n0 = len(alive.seen)
        for i in range(20):
            if i % 2:
                kept.request(h, f"/after{i}")
                who = served_by(await kept.response())
            else:
                who = served_by(await fetch(d.vport, h, f"/after{i}"))
            assert who == alive.name, (i, who)
        assert len(alive.seen) - n0 == 20
        kept.close()
        # the survivor parks too: nobody left to serve
        sid2 = alive.c.hello_ok["sessionId"]
        alive.drop()
        await await_log(d, rf"session {sid2} parked")
        for p in ports(d):
            st, hd, body = await fetch(p, h, "/none")
            assert st == 503 and hd.get("retry-after") == "5", (p, st, hd, body)
        # one comes back (resume): it holds the name again and serves alone
        c2 = TunnelClient(d.port)
        await c2.connect()
        alive.c, c2.on_stream = c2, alive.serve
        ok = await c2.hello(d.token, extra={"resume": {"sessionId": sid2}})
        assert ok["resumed"] is True and [x.get("subdomain") for x in ok["resumedBinds"]] == ["pool"], ok
        for i in range(4):
            assert served_by(await fetch(d.vport, h, f"/back{i}")) == alive.name


async def case_conflicts_and_takeover(d):
    async with Apps(d) as apps:
        a, b = await apps.new("one"), await apps.new("two")
        await a.bind_ok("single")
        await b.bind_ok("multi", cluster=True)
        for app, name, cl, mode in ((b, "single", False, None), (b, "single", True, "single"),
                                    (a, "multi", False, "cluster")):
            t, j = await app.bind(name, cluster=cl)
            assert t == BIND_ERR and j["code"] == "ALREADY_BOUND", (name, cl, j)
            if mode is not None:
                assert f"{mode} mode" in j["message"], j
        # the same session, the same name, twice (single and cluster)
        for app, name, cl in ((a, "single", False), (b, "multi", True)):
            t, j = await app.bind(name, cluster=cl)
            assert t == BIND_ERR and j["code"] == "ALREADY_BOUND", (name, j)
        # takeover of a single name; not of a cluster name
        t, j = await b.bind("multi", takeover=True)
        assert t == BIND_ERR and j["code"] == "ALREADY_BOUND", j
        assert served_by(await fetch(d.vport, f"single.{DOMAIN}")) == "one"
        v = await Visitor(d.vport).open()
        v.request(f"single.{DOMAIN}", "/sse")  # in flight during the takeover
        st, hd, raw = await v.head()
        assert hd.get("x-app") == "one", raw
        c = await apps.new("three")
        j = await c.bind_ok("single", takeover=True)
        assert j["subdomain"] == "single" and j["containerPort"] is None, j
        f = await a.c.expect(BIND_REVOKED, T)
        rv = f.json()
        assert rv.get("subdomain") == "single" and rv.get("containerPort", 0) is None, rv
        assert rv.get("bindId") == a.binds[0], rv
        assert await v.closed(T), "the old holder's in-flight request outlived the takeover"
        v.close()
        for p in ports(d):
            assert served_by(await fetch(p, f"single.{DOMAIN}")) == "three"
        a.binds.clear()


async def case_random_name_kept_across_resume(d):
    async with Apps(d) as apps:
        a = await apps.new("rnd")
        j = await a.bind_ok("")
        name = j["subdomain"]
        assert NAME_RX.match(name), name
        assert served_by(await fetch(d.vport, host(name))) == "rnd"
        sid = a.c.hello_ok["sessionId"]
        a.drop()
        await await_log(d, rf"session {sid} parked")
        for p in ports(d):
            st, hd, body = await fetch(p, host(name), "/parked")
            assert st == 503 and hd.get("retry-after") == "5", (st, hd, body)
        # nobody else may take the name meanwhile
        other = await apps.new("other")
        t, jj = await other.bind(name)
        assert t == BIND_ERR and jj["code"] == "ALREADY_BOUND", jj
        c2 = TunnelClient(d.port)
        await c2.connect()
        a.c = c2
        c2.on_stream = a.serve
        ok = await c2.hello(d.token, extra={"resume": {"sessionId": sid}})
        assert ok["resumed"] is True, ok
        rb = ok.get("resumedBinds", [])
        assert [x.get("subdomain") for x in rb] == [name] and rb[0]["containerPort"] is None, rb
        for p in ports(d):
            assert served_by(await fetch(p, host(name), "/back")) == "rnd"
        assert "/parked" not in a.targets()


async def case_basic_auth_and_forwarded(d):
    async with Apps(d) as apps:
        a = await apps.new("auth")
        await a.bind_ok("auth", basicAuth={"username": "u", "password": "s3cret"})
        await a.bind_ok("open")
        good = "Basic " + base64.b64encode(b"u:s3cret").decode()
        bad = "Basic " + base64.b64encode(b"u:wrong").decode()
        for p in ports(d):
            for hdrs in ((), (("Authorization", bad),)):
                st, hd, body = await fetch(p, f"auth.{DOMAIN}", "/private", headers=hdrs)
                assert st == 401 and hd.get("www-authenticate", "").startswith("Basic "), (st, hd)
            st, hd, body = await fetch(p, f"auth.{DOMAIN}", "/private", headers=(("Authorization", good),))
            assert st == 200 and body == b"auth GET /private", (st, body)
        assert a.targets() == ["/private"] * 2, a.targets()
        # not a trusted proxy: X-Forwarded-For is replaced
        a.seen.clear()
        await fetch(d.vport, f"open.{DOMAIN}", "/f", headers=(("X-Forwarded-For", "6.6.6.6"),))
        h = {k.lower(): v for k, v in a.seen[0]["headers"]}
        assert h["x-forwarded-for"] == "127.0.0.1" and h["x-forwarded-host"] == f"open.{DOMAIN}", h


async def case_trusted_proxy_and_public_url_pattern():
    env = {"HOODY_TUNNEL_DOMAIN": DOMAIN}
    with Daemon("--trusted-proxy", "loopback", "--public-url-pattern", "https://{subdomain}.tun.test:{port}/",
                "--takeover-grace", "0", env=env) as d:
        async with Apps(d) as apps:
            a = await apps.new("tp")
            j = await a.bind_ok("tp")
            assert j["publicUrl"] == f"https://tp.tun.test:{d.port}/", j
            j = await a.bind_ok("@")
            assert j["publicUrl"] == f"https://tun.test:{d.port}/", j
            await fetch(d.port, f"tp.{DOMAIN}", "/f", headers=(("X-Forwarded-For", "6.6.6.6"),
                                                              ("X-Forwarded-Proto", "https")))
            names = [k.lower() for k, _ in a.seen[0]["headers"]]
            h = {k.lower(): v for k, v in a.seen[0]["headers"]}
            assert names.count("x-forwarded-for") == 1, a.seen[0]["headers"]
            assert h["x-forwarded-for"] == "6.6.6.6, 127.0.0.1", h
            assert h["x-forwarded-proto"] == "https", h


async def case_session_via_vhost_listen(d):
    """A tunnel that comes in on --vhost-listen: its publicUrl names that port, and it serves."""
    async with Apps(d) as apps:
        a = await apps.new("viav", via=d.vport)
        j = await a.bind_ok("viav")
        assert j["publicUrl"] == f"http://viav.{DOMAIN}:{d.vport}", j
        for p in ports(d):
            assert served_by(await fetch(p, f"viav.{DOMAIN}")) == "viav"


def case_vhost_listen_alone_refused():
    argv = [DAEMON, "--listen", f"127.0.0.1:{free_port()}", "--token", new_token(),
            "--vhost-listen", f"127.0.0.1:{free_port()}"]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=T * 2)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, (r.returncode, err)
    assert "--vhost-listen" in err and "--domain" in err, err
    for mark in SANITIZER_MARKS:
        assert mark not in err, err


async def case_bad_names(d):
    async with Apps(d) as apps:
        a = await apps.new("names")
        for name in ("Bad_Name", "-x", "x-", "a" * 64, "a.b", "a b", "é", "@x", 7, ["x"], True):
            t, j = await a.bind(name)
            assert t == BIND_ERR and j.get("code") == "INVALID_SUBDOMAIN", (name, j)
        j = await a.bind_ok("a" * 63)
        assert j["subdomain"] == "a" * 63
        for kw in ({"subdomain": "x", "port": free_port()}, {"subdomain": "y", "port": 0},
                   {"subdomain": "z", "port": None}):
            port = kw.pop("port")
            t, j = await a.c.bind("http", "expose", port, **kw)
            if port:
                assert t == BIND_ERR and j["code"] == "INVALID_KIND", (port, j)
            else:
                assert t == BIND_OK and j["subdomain"] == kw["subdomain"], (port, j)
                a.binds.append(j["bindId"])
        for kw in ({"subdomain": "pullname"}, {"cluster": True}):
            t, j = await a.c.bind("tcp", "pull", 0, **kw)
            assert t == BIND_ERR and j["code"] == "INVALID_KIND", (kw, j)
        assert metric0(d, "hoody_tunnel_bind_errors_total", {"code": "INVALID_SUBDOMAIN"}) >= 11


async def case_admin_api(d):
    async with Apps(d) as apps:
        a, b = await apps.new("adm1"), await apps.new("adm2")
        ja = await a.bind_ok("admin", cluster=True)
        await b.bind_ok("admin", cluster=True)
        jp = await a.bind_ok(None)
        bl = d.get_json("/api/v1/tunnel/bindings", headers=d.auth())["bindings"]
        mine = {x["bindId"]: x for x in bl}
        x = mine[ja["bindId"]]
        assert x["subdomain"] == "admin" and x["cluster"] is True and x["port"] is None, x
        assert x["publicUrl"] == f"http://admin.{DOMAIN}:{d.port}", x
        assert x["sessionId"] == a.c.hello_ok["sessionId"], x
        y = mine[jp["bindId"]]
        assert y["subdomain"] is None and y["cluster"] is False and y["port"] == jp["containerPort"], y
        assert sum(1 for v in bl if v["subdomain"] == "admin") == 2, bl
        ss = d.get_json("/api/v1/tunnel/sessions", headers=d.auth())["sessions"]
        s = [s for s in ss if s["sessionId"] == a.c.hello_ok["sessionId"]][0]
        names = sorted((bb["subdomain"] or "", bb["containerPort"] or 0) for bb in s["bindings"])
        assert names == sorted([("admin", 0), ("", jp["containerPort"])]), s
        tt = d.get_json("/api/v1/tunnel/tunnels", headers=d.auth())["sessions"]
        t = [t for t in tt if t["sessionId"] == a.c.hello_ok["sessionId"]][0]
        assert {e["subdomain"] for e in t["exposeBindings"]} == {"admin", None}, t


async def case_no_domain_and_port_cluster():
    with Daemon("--expose-address", "127.0.0.1", "--takeover-grace", "0") as d:
        async with Apps(d) as apps:
            a, b = await apps.new("PA"), await apps.new("PB")
            for kw in ({"subdomain": "x"}, {"subdomain": ""}, {"subdomain": "@"}):
                t, j = await a.c.bind("http", "expose", 0, **kw)
                assert t == BIND_ERR and j["code"] == "NO_DOMAIN", (kw, j)
            port = free_port()
            ja = await a.bind_ok(None, port=port, cluster=True)
            jb = await b.bind_ok(None, port=port, cluster=True)
            assert ja["containerPort"] == jb["containerPort"] == port, (ja, jb)
            assert ja.get("subdomain") is None, ja
            t, j = await (await apps.new("PC")).bind(None, port=port)
            assert t == BIND_ERR and j["code"] == "ALREADY_BOUND" and "cluster mode" in j["message"], j
            seq = []
            v = await Visitor(port).open()
            for i in range(10):
                v.request("anything", f"/p{i}")
                seq.append(served_by(await v.response()))
                seq.append(served_by(await fetch(port, f"any{i}.example", f"/q{i}")))
            v.close()
            assert seq.count("PA") == seq.count("PB") == 10, seq
            assert all(seq[i] != seq[i + 1] for i in range(len(seq) - 1)), f"not round-robin: {seq}"
            # Host routing is off: a Host under no domain is just a header on a port
            st, hd, body = await fetch(d.port, "demo.tun.test", "/x")
            assert st == 404 and b"no tunnel is serving" not in body, (st, body)
            bl = d.get_json("/api/v1/tunnel/bindings")["bindings"]
            assert [x["cluster"] for x in bl if x["port"] == port] == [True, True], bl


# ---- runner ----------------------------------------------------------------------------------

def main():
    vport = free_port()
    shared = Daemon(*FLAGS, "--vhost-listen", f"127.0.0.1:{vport}")
    shared.vport = vport
    shared.start()
    cases = [case_named_random_and_root, case_host_variations, case_unknown_host_404_and_metrics,
             case_host_missing_or_twice_400, case_reserved_paths_on_routed_hosts,
             case_upgrade_and_streaming, case_bodies_both_ways, case_cluster_round_robin_and_park,
             case_conflicts_and_takeover, case_random_name_kept_across_resume,
             case_basic_auth_and_forwarded, case_session_via_vhost_listen, case_bad_names,
             case_admin_api]

    def bind(fn):
        async def run():
            await fn(shared)
        run.__name__ = fn.__name__
        return run

    def daemon_exit_clean():
        shared.stop()

    tests = [bind(f) for f in cases] + [case_trusted_proxy_and_public_url_pattern,
                                        case_no_domain_and_port_cluster, case_vhost_listen_alone_refused,
                                        daemon_exit_clean]
    try:
        run_tests(tests, timeout=60)
    finally:
        shared.kill()


if __name__ == "__main__":
    main()
