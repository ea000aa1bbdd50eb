#!/usr/bin/python3
"""The control plane's admin API and htc's admin commands (DESIGN.md, "Daemon surfaces").

One live session holding two PULL bindings and one open stream; then the
JSON of health, tunnels, sessions and bindings is checked key by key and
value by value, the probes, the Prometheus text (promcheck.py and values),
DELETE with no/wrong token (401), a bad grace_ms (400), an unknown id
(404), a good kill (202, GOAWAY NO_ERROR to the client, session gone),
unknown paths (404 with {"error"}), 405 with Allow, HEAD, the token
checked before the method (with the default --admin-auth remote and with all), and htc
health/list/sessions/bindings/metrics/kill with and without --json.

Prometheus: GET /metrics serves what /api/v1/tunnel/metrics does (same families, series and
labels), except on a host routed to a tunnel (--domain), where it is the tunnel's;
hoody_tunnel_build_info carries the version; promtool check metrics and promcheck.py pass.
--admin-auth all/write/none, --admin-token and --admin-token-file, and requests relayed by a proxy on
this host (X-Forwarded-For from a loopback peer) counting as remote. Requests from a real other
host are in test_admin_remote.py (a network namespace).

Run: BUILD=build /usr/bin/python3 test/integration/test_admin.py
"""
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

PROMCHECK = os.path.join(ROOT, "test", "tools", "promcheck.py")
REALM = 'Bearer realm="hoody-tunnel"'
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def keys(obj, required, where):
    assert isinstance(obj, dict), f"{where}: not an object: {obj!r}"
    missing = set(required) - set(obj)
    assert not missing, f"{where}: missing keys {sorted(missing)} in {obj}"
    extra = set(obj) - set(required)
    if extra:
        log(f"{where}: extra keys {sorted(extra)}")


def is_int(v):
    return type(v) is int


class Fixture:
    """A daemon with one session, two PULL bindings and one open stream."""

    async def __aenter__(self):
        self.stack = contextlib.ExitStack()
        self.d = self.stack.enter_context(Daemon())
        try:
            self.c = await session(self.d.port, self.d.token)
            self.b1 = await self.c.bind_pull()
            self.b2 = await self.c.bind_pull(port=free_port())
            self.sock = connect_tcp(self.b1["containerPort"])
            self.st = await self.c.accept()
            self.sid = self.c.hello_ok["sessionId"]
            self.peer = "%s:%d" % self.c.ws.local_address[:2]
        except BaseException:
            self.stack.close()
            raise
        return self

    async def __aexit__(self, *exc):
        try:
            self.sock.close()
            await self.c.close()
        finally:
            self.stack.__exit__(*exc)


async def test_health_shape():
    async with Fixture() as f:
        j = f.d.get_json("/api/v1/tunnel/health")
        keys(j, ("status", "service", "version", "started", "pid", "fds", "memory"), "health")
        assert j["status"] == "ok" and j["service"] == "hoody-tunnel", j
        assert isinstance(j["version"], str) and j["version"], j
        assert RFC3339.match(j["started"]), f"started {j['started']!r} is not RFC 3339"
        assert j["pid"] == f.d.pid, (j["pid"], f.d.pid)
        assert is_int(j["fds"]) and j["fds"] > 0, j
        assert isinstance(j["memory"], dict) and is_int(j["memory"].get("rss")) and j["memory"]["rss"] > 0, j
        nf = f.d.nfds()
        assert abs(j["fds"] - nf) <= 3, f"health fds {j['fds']}, /proc says {nf}"
        st, hd, body = f.d.get("/api/v1/tunnel/health")
        assert hd.get("content-type", "").startswith("application/json"), hd


async def test_tunnels_shape():
    async with Fixture() as f:
        j = f.d.get_json("/api/v1/tunnel/tunnels")
        keys(j, ("sessions", "orphanedSessions", "totalStreams", "totalBindings", "fdPermitsAvailable"), "tunnels")
        assert len(j["sessions"]) == 1, j
        s = j["sessions"][0]
        keys(s, ("sessionId", "peerAddr", "protocol", "connectionsGranted", "activeStreams",
                 "exposeBindings", "pullBindings"), "tunnels.sessions[0]")
        assert s["sessionId"] == f.sid and s["peerAddr"] == f.peer, (s, f.peer)
        assert s["protocol"] == "v1" and s["connectionsGranted"] == 1 and s["activeStreams"] == 1, s
        assert s["exposeBindings"] == [], s
        got = sorted((b["bindId"], b["containerPort"]) for b in s["pullBindings"])
        want = sorted((b["bindId"], b["containerPort"]) for b in (f.b1, f.b2))
        assert got == want, (got, want)
        for b in s["pullBindings"]:
            keys(b, ("bindId", "containerPort"), "tunnels.pullBindings[]")
        assert j["orphanedSessions"] == 0, j
        assert j["totalStreams"] == 1 and j["totalBindings"] == 2, j
        assert is_int(j["fdPermitsAvailable"]) and j["fdPermitsAvailable"] > 0, j


async def test_sessions_shape():
    async with Fixture() as f:
        j = f.d.get_json("/api/v1/tunnel/sessions")
        keys(j, ("sessions", "total"), "sessions")
        assert j["total"] == 1 and len(j["sessions"]) == 1, j
        s = j["sessions"][0]
        keys(s, ("sessionId", "peerAddr", "isV2", "connectionsGranted", "activeStreams", "maxStreams",
                 "bindings"), "sessions[0]")
        assert s["sessionId"] == f.sid and s["peerAddr"] == f.peer, s
        assert s["isV2"] is False and s["connectionsGranted"] == 1, s
        assert s["activeStreams"] == 1 and s["maxStreams"] == 1024, s
        got = sorted((b["bindId"], b["kind"], b["mode"], b["containerPort"]) for b in s["bindings"])
        want = sorted((b["bindId"], "tcp", "pull", b["containerPort"]) for b in (f.b1, f.b2))
        assert got == want, (got, want)
        for b in s["bindings"]:
            keys(b, ("bindId", "kind", "mode", "containerPort"), "sessions.bindings[]")


async def test_bindings_shape():
    async with Fixture() as f:
        j = f.d.get_json("/api/v1/tunnel/bindings")
        keys(j, ("bindings", "total"), "bindings")
        assert j["total"] == 2, j
        got = sorted((b["sessionId"], b["bindId"], b["kind"], b["mode"], b["port"]) for b in j["bindings"])
        want = sorted((f.sid, b["bindId"], "tcp", "pull", b["containerPort"]) for b in (f.b1, f.b2))
        assert got == want, (got, want)
        for b in j["bindings"]:
            keys(b, ("sessionId", "bindId", "kind", "mode", "port"), "bindings[]")


async def test_probes():
    async with Fixture() as f:
        for p in ("/healthz/live", "/healthz/ready"):
            st, hd, body = f.d.get(p)
            assert st == 200, (p, st, body)


def promcheck(text):
    r = subprocess.run(["/usr/bin/python3", PROMCHECK, "-"], input=text.encode(), capture_output=True,
                       timeout=30)
    assert r.returncode == 0, f"promcheck: {r.stdout.decode()[:2000]} {r.stderr.decode()[:500]}"


def promtool(text):
    """Prometheus' own linter (Debian's prometheus package, installed by third_party/deps.sh test)."""
    tool = shutil.which("promtool")
    assert tool, "promtool not found: sh third_party/deps.sh test installs it (Debian package prometheus)"
    r = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0 and not out.strip(), f"promtool check metrics ({r.returncode}): {out[:2000]}"


async def test_metrics():
    async with Fixture() as f:
        st, hd, body = f.d.get("/api/v1/tunnel/metrics")
        assert st == 200, st
        ct = hd.get("content-type", "")
        assert ct.startswith("text/plain") and "version=0.0.4" in ct, ct
        text = body.decode()
        promcheck(text)
        promtool(text)
        want = {
            "hoody_tunnel_sessions_active": 1,
            "hoody_tunnel_bindings_active": 2,
            "hoody_tunnel_streams_active": 1,
            "hoody_tunnel_orphaned_sessions": 0,
            "hoody_tunnel_sessions_opened_total": 1,
        }
        for name, v in want.items():
            got = metric_value(text, name)
            assert got == v, f"{name} = {got}, expected {v}"
        assert metric_value(text, "hoody_tunnel_streams_opened_total", {"kind": "tcp"}) == 1
        tun = f.d.get_json("/api/v1/tunnel/tunnels")
        assert metric_value(text, "hoody_tunnel_fd_permits_available") == tun["fdPermitsAvailable"], \
            (metric_value(text, "hoody_tunnel_fd_permits_available"), tun["fdPermitsAvailable"])
        for name in ("process_resident_memory_bytes", "process_open_fds", "process_max_fds",
                     "process_start_time_seconds", "process_cpu_seconds_total"):
            v = metric_value(text, name)
            assert v is not None and v > 0, f"{name} = {v}"
        assert d_token_absent(text, f.d.token)
        # traffic shows up in the counters
        f.sock.sendall(b"x" * 1000)
        assert await f.st.read_exact(1000) == b"x" * 1000
        text2 = f.d.metrics()
        promcheck(text2)
        for name in ("hoody_tunnel_frames_sent_total", "hoody_tunnel_bytes_sent_total",
                     "hoody_tunnel_frames_received_total", "hoody_tunnel_bytes_received_total"):
            a, b = metric_value(text, name), metric_value(text2, name)
            assert a is not None and b is not None and b > a, f"{name}: {a} -> {b}"


def d_token_absent(text, token):
    assert token not in text, "token in metrics"
    return True


async def test_delete_errors():
    async with Fixture() as f:
        path = f"/api/v1/tunnel/sessions/{f.sid}"
        for hdrs in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {f.d.token}"},
                     {"Authorization": f"Bearer {f.d.token}x"}):
            st, hd, body = http(f.d.port, "DELETE", path, hdrs)
            assert st == 401, f"DELETE with {list(hdrs.values())[:1]}: {st}"
            assert "error" in json.loads(body), body
        for g in ("5001", "-1", "abc", "12x", "99999999999999999999"):
            st, hd, body = http(f.d.port, "DELETE", f"{path}?grace_ms={g}", f.d.auth())
            assert st == 400, f"grace_ms={g!r}: {st} {body[:200]!r}"
            assert "error" in json.loads(body), body
        st, hd, body = http(f.d.port, "DELETE", "/api/v1/tunnel/sessions/S-does-not-exist", f.d.auth())
        assert st == 404 and "error" in json.loads(body), (st, body)
        # nothing happened to the session
        assert f.d.get_json("/api/v1/tunnel/sessions")["total"] == 1
        assert not f.c.closed.is_set()


async def test_delete_kills_session():
    async with Fixture() as f:
        st, hd, body = await ahttp(f.d.port, "DELETE", f"/api/v1/tunnel/sessions/{f.sid}?grace_ms=0", f.d.auth())
        assert st == 202, (st, body)
        assert json.loads(body) == {"sessionId": f.sid, "status": "closing"}, body
        g = await f.c.expect(GOAWAY)
        assert g.code() == NO_ERROR, g
        await f.c.wait_closed()
        end = time.monotonic() + STEP
        while f.d.get_json("/api/v1/tunnel/sessions")["total"] != 0:
            assert time.monotonic() < end, "killed session still listed"
            await asyncio.sleep(0.05)
        assert f.d.get_json("/api/v1/tunnel/bindings")["total"] == 0
        st, _, _ = await ahttp(f.d.port, "DELETE", f"/api/v1/tunnel/sessions/{f.sid}", f.d.auth())
        assert st == 404, f"second DELETE: {st}"


def test_unknown_paths_404():
    with Daemon() as d:
        for p in ("/", "/api/v1/tunnel/nope", "/api/v1/tunnel/healthz", "/healthz", "/api/v2/tunnel/health",
                  "/api/v1/tunnel/health/x", "/api/v1/tunnel/sessions/x/y", "/metrics/", "/metric",
                  "/api/v1/metrics"):
            st, hd, body = d.get(p)
            assert st == 404, (p, st)
            assert isinstance(json.loads(body).get("error"), str), (p, body)


def test_methods_and_auth_order():
    """Each route serves one method (GET also HEAD): 405 names it in Allow. The token is checked
    before the method: from this host only a DELETE of a session needs it (--admin-auth remote,
    the default), every route but health and the probes with --admin-auth all."""
    get_head = "GET, HEAD"
    with Daemon() as d:
        for m, p, want, allow in (("POST", "/healthz/live", 405, get_head),
                                  ("DELETE", "/healthz/ready", 405, get_head),
                                  ("PUT", "/api/v1/tunnel/health", 405, get_head),
                                  ("DELETE", "/api/v1/tunnel/sessions", 405, get_head),
                                  ("POST", "/api/v1/tunnel/metrics", 405, get_head),
                                  ("PUT", "/metrics", 405, get_head),
                                  ("GET", "/api/v1/tunnel/sessions/S-x", 405, "DELETE"),
                                  ("HEAD", "/api/v1/tunnel/sessions/S-x", 405, "DELETE"),
                                  ("DELETE", "/api/v1/tunnel/sessions/S-x", 401, None),
                                  ("HEAD", "/healthz/live", 200, None),
                                  ("HEAD", "/api/v1/tunnel/tunnels", 200, None),
                                  ("HEAD", "/metrics", 200, None)):
            st, hd, body = http(d.port, m, p)
            assert st == want, (m, p, st, body)
            assert hd.get("allow") == allow, (m, p, hd)
            if st == 401:
                assert hd.get("www-authenticate") == REALM, (m, p, hd)
            if m == "HEAD":
                assert body == b"", (m, p, body)
    with Daemon("--admin-auth", "all") as d:
        for m, p, want in (("GET", "/healthz/live", 200), ("POST", "/healthz/ready", 405),
                           ("GET", "/api/v1/tunnel/health", 200), ("POST", "/api/v1/tunnel/health", 405),
                           ("GET", "/api/v1/tunnel/metrics", 401), ("GET", "/metrics", 401),
                           ("POST", "/metrics", 401), ("GET", "/api/v1/tunnel/sessions/S-x", 401),
                           ("GET", "/api/v1/tunnel/nope", 404), ("GET", "/metricsx", 404)):
            st, hd, body = http(d.port, m, p)
            assert st == want, (m, p, st, body)
            if st == 401:
                assert hd.get("www-authenticate") == REALM and "error" in json.loads(body), (m, p, hd, body)
        for m, p, want in (("GET", "/api/v1/tunnel/health", 200), ("POST", "/api/v1/tunnel/health", 405),
                           ("GET", "/api/v1/tunnel/sessions/S-x", 405), ("GET", "/metrics", 200),
                           ("DELETE", "/api/v1/tunnel/sessions/S-x", 404)):
            st, hd, body = http(d.port, m, p, d.auth())
            assert st == want, (m, p, st, body)


# ---- Prometheus: /metrics and build_info --------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+\S+(\s+-?[0-9]+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def series(text):
    """The # HELP/# TYPE lines and the set of (name, labels) of a Prometheus text, values left out."""
    meta, keys = [], set()
    for line in text.splitlines():
        if line.startswith("#"):
            meta.append(line)
            continue
        if not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        keys.add((m.group(1), tuple(sorted(LABEL.findall(m.group(2) or "")))))
    return meta, keys


def daemon_version():
    r = subprocess.run([DAEMON, "--version"], capture_output=True, timeout=10)
    assert r.returncode == 0, r
    return r.stdout.decode().split()[-1]


async def test_metrics_path_same_as_api():
    """GET /metrics is /api/v1/tunnel/metrics: the same content type, families, series and labels
    (values move between two scrapes), both clean under promtool and promcheck.py."""
    async with Fixture() as f:
        st1, hd1, b1 = f.d.get("/api/v1/tunnel/metrics")
        st2, hd2, b2 = f.d.get("/metrics")
        assert st1 == st2 == 200, (st1, st2, b2[:200])
        assert hd1.get("content-type") == hd2.get("content-type"), (hd1, hd2)
        assert "version=0.0.4" in hd2.get("content-type", ""), hd2
        m1, k1 = series(b1.decode())
        m2, k2 = series(b2.decode())
        assert m1 == m2, "HELP/TYPE lines differ between the two paths"
        assert k1 == k2, f"series only in one: {sorted(k1 ^ k2)[:10]}"
        assert len(k2) > 100, len(k2)
        for text in (b1.decode(), b2.decode()):
            promtool(text)
            promcheck(text)
        # a value that does not move between scrapes is the same on both paths
        assert metric_value(b2.decode(), "hoody_tunnel_bindings_active") == 2
        assert metric_value(b2.decode(), "hoody_tunnel_sessions_active") == 1
        assert f.d.token not in b2.decode()
        # HEAD and keep-alive: the same head, no body
        st, hd, body = http(f.d.port, "HEAD", "/metrics")
        assert st == 200 and body == b"" and hd.get("content-type") == hd2.get("content-type"), (st, hd)


def test_build_info():
    """hoody_tunnel_build_info{version, revision, tls="bearssl"} 1, once, typed gauge; htc metrics shows it."""
    ver = daemon_version()
    with Daemon() as d:
        text = d.get("/metrics")[2].decode()
        lines = [ln for ln in text.splitlines() if ln.startswith("hoody_tunnel_build_info")]
        assert len(lines) == 1, lines
        m = SAMPLE.match(lines[0])
        labels = dict(LABEL.findall(m.group(2) or ""))
        assert set(labels) == {"version", "revision", "tls"}, labels
        assert labels["version"] == ver, (labels, ver)
        assert labels["tls"] == "bearssl", labels
        assert re.fullmatch(r"[0-9a-f]{4,40}|unknown", labels["revision"]), labels
        assert metric_value(text, "hoody_tunnel_build_info") == 1
        assert "# TYPE hoody_tunnel_build_info gauge" in text.splitlines()
        assert d.get_json("/api/v1/tunnel/health")["version"] == ver
        rc, out, err = htc_run(d, "metrics")
        assert rc == 0 and lines[0] in out.splitlines(), (rc, err, out[:300])


async def test_metrics_path_on_routed_hosts():
    """With --domain, /metrics of a Host routed to tunnels is the tunnel's (404 while nobody holds the
    name, the app's answer once someone does); with any other Host it is the daemon's, and
    /api/v1/tunnel/metrics is the daemon's on every host."""
    dom = "tun.test"
    with Daemon("--domain", dom, "--takeover-grace", "0") as d:
        def get(path, host):
            return http(d.port, "GET", path, {"Host": host})

        for h in (f"127.0.0.1:{d.port}", "localhost", "other.example"):
            st, hd, body = get("/metrics", h)
            assert st == 200 and b"hoody_tunnel_build_info" in body, (h, st, body[:200])
        before = d.metric("hoody_tunnel_unknown_host_total")
        st, hd, body = get("/metrics", dom)
        assert st == 404 and b"hoody_tunnel_" not in body, (st, body[:200])
        assert d.metric("hoody_tunnel_unknown_host_total") == before + 1
        st, hd, body = get("/api/v1/tunnel/metrics", f"x.{dom}")
        assert st == 200 and b"hoody_tunnel_build_info" in body, (st, body[:200])

        c = await session(d.port, d.token)
        seen = []

        async def serve(stream):
            seen.append(stream.info["target"])
            out = b"the app's own metrics\n"
            c.send(frame(STREAM_RESPONSE_HEAD, stream.id, {"status": 200, "final": True, "headers": [
                ["Content-Type", "text/plain"], ["Content-Length", str(len(out))]]}))
            await stream.write(out)
            stream.write_eof()

        c.on_stream = serve
        try:
            t, j = await c.bind("http", "expose", 0, subdomain="@")
            assert t == BIND_OK, j
            st, hd, body = await ahttp(d.port, "GET", "/metrics", {"Host": dom})
            assert st == 200 and body == b"the app's own metrics\n", (st, body[:200])
            assert seen == ["/metrics"], seen
            st, hd, body = await ahttp(d.port, "GET", "/metrics", {"Host": "127.0.0.1"})
            assert st == 200 and b"hoody_tunnel_build_info" in body, (st, body[:200])
            assert seen == ["/metrics"], seen
        finally:
            await c.close()


# ---- --admin-auth and --admin-token ----------------------------------------------------------------

def status(d, method, path, headers=None):
    st, hd, body = http(d.port, method, path, headers)
    if st == 401:
        assert hd.get("www-authenticate") == REALM, (method, path, hd)
        assert isinstance(json.loads(body).get("error"), str), body
    return st


def bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_admin_auth_all_from_loopback():
    """--admin-auth all: this host needs the token too for every read and write; health and the
    probes stay open."""
    with Daemon("--admin-auth", "all") as d:
        for p in ("/api/v1/tunnel/tunnels", "/api/v1/tunnel/sessions", "/api/v1/tunnel/bindings",
                  "/api/v1/tunnel/metrics", "/metrics"):
            assert status(d, "GET", p) == 401, p
            assert status(d, "GET", p, bearer("wrong")) == 401, p
            assert status(d, "GET", p, bearer(d.token)) == 200, p
        for p in ("/api/v1/tunnel/health", "/healthz/live", "/healthz/ready"):
            assert status(d, "GET", p) == 200, p
        assert status(d, "DELETE", "/api/v1/tunnel/sessions/S-x") == 401
        assert status(d, "DELETE", "/api/v1/tunnel/sessions/S-x", bearer(d.token)) == 404
        rc, out, err = htc_run(d, "list")
        assert rc == 0, (rc, err)
        rc, out, err = htc_run(d, "list", token="wrong-token")
        assert rc != 0 and "401" in err, (rc, err)


def test_admin_auth_write_and_none():
    """write: from this host as remote (reads open, writes need the token; the difference from remote
    shows from another host, test_admin_remote.py). none: nothing needs it, and start-up says so."""
    with Daemon("--admin-auth", "write") as d:
        assert status(d, "GET", "/api/v1/tunnel/tunnels") == 200
        assert status(d, "GET", "/metrics") == 200
        assert status(d, "DELETE", "/api/v1/tunnel/sessions/S-x") == 401
        assert status(d, "DELETE", "/api/v1/tunnel/sessions/S-x", bearer(d.token)) == 404
        assert "--admin-auth none" not in d.stderr()
    with Daemon(env={"HOODY_TUNNEL_ADMIN_AUTH": "none"}) as d:
        assert status(d, "GET", "/api/v1/tunnel/tunnels", {"X-Forwarded-For": "203.0.113.5"}) == 200
        assert status(d, "DELETE", "/api/v1/tunnel/sessions/S-x") == 404
        assert status(d, "DELETE", "/api/v1/tunnel/sessions/S-x", bearer("wrong")) == 404
        end = time.monotonic() + STEP
        while "--admin-auth none" not in d.stderr() and time.monotonic() < end:
            time.sleep(0.05)
        assert "--admin-auth none" in d.stderr(), d.stderr()[-1000:]


async def test_admin_token():
    """--admin-token: the admin API takes it (and no longer the tunnel token), a wrong one is 401 with
    WWW-Authenticate; it opens no tunnel. --admin-token-file reads it from a file."""
    adm = "adm-" + new_token()
    with Daemon("--admin-token", adm) as d:
        path = "/api/v1/tunnel/sessions/S-x"
        assert status(d, "DELETE", path) == 401
        assert status(d, "DELETE", path, bearer(d.token)) == 401
        assert status(d, "DELETE", path, bearer(adm + "x")) == 401
        assert status(d, "DELETE", path, bearer(adm)) == 404
        assert status(d, "GET", "/api/v1/tunnel/tunnels") == 200  # a read from this host
        with contextlib.suppress(Rejected):
            c = await session(d.port, adm)
            await c.close()
            raise AssertionError("the admin token opened a tunnel")
        c = await session(d.port, d.token)  # the tunnel token still does
        await c.close()
        assert adm not in d.stderr() + d.stdout()
    with tempfile.NamedTemporaryFile("w", prefix="ht-admin-token.") as tf:
        tf.write(adm + "\n")
        tf.flush()
        with Daemon("--admin-token-file", tf.name, "--admin-auth", "all") as d:
            for tok, want in ((None, 401), (d.token, 401), ("wrong", 401), (adm, 200)):
                assert status(d, "GET", "/metrics", bearer(tok) if tok else None) == want, (tok == adm, want)
            assert status(d, "GET", "/api/v1/tunnel/health") == 200
            rc, out, err = await asyncio.to_thread(htc_run, d, "list", token=adm)
            assert rc == 0, (rc, err)
            rc, out, err = await asyncio.to_thread(htc_run, d, "list")
            assert rc != 0 and "401" in err, (rc, err)
            assert adm not in d.stderr() + d.stdout()


def test_proxy_on_this_host_counts_as_remote():
    """A proxy on this host relays clients from anywhere: under the default --admin-auth remote, a
    request from a loopback --trusted-proxy carrying X-Forwarded-For: 203.0.113.5 needs the token
    for reads, as does anything that trusted proxy sends; so does a request relayed by a loopback peer
    that is not declared a proxy. (The daemon sees a proxy's connection as exactly this: a loopback
    peer and its headers.) Health and the probes stay open."""
    xff = {"X-Forwarded-For": "203.0.113.5"}
    with Daemon("--trusted-proxy", "loopback") as d:
        for p in ("/api/v1/tunnel/tunnels", "/metrics", "/api/v1/tunnel/metrics"):
            assert status(d, "GET", p, xff) == 401, p
            assert status(d, "GET", p, dict(xff, **bearer(d.token))) == 200, p
            assert status(d, "GET", p) == 401, p  # the trusted proxy names no client: still relayed
        for p in ("/api/v1/tunnel/health", "/healthz/ready"):
            assert status(d, "GET", p, xff) == 200, p
        assert status(d, "DELETE", "/api/v1/tunnel/sessions/S-x", xff) == 401
    with Daemon() as d:
        assert status(d, "GET", "/api/v1/tunnel/tunnels") == 200
        for h in (xff, {"X-Real-IP": "203.0.113.5"}, {"Forwarded": "for=203.0.113.5"}):
            assert status(d, "GET", "/api/v1/tunnel/tunnels", h) == 401, h
            assert status(d, "GET", "/api/v1/tunnel/tunnels", dict(h, **bearer(d.token))) == 200, h


def test_pipelined_requests_all_answered():
    """40 requests in one write (more than the 16 answered per event) all get their answer at once."""
    with Daemon() as d:
        s = connect_tcp(d.port)
        s.sendall(b"GET /healthz/live HTTP/1.1\r\nHost: x\r\n\r\n" * 40)
        got, end = b"", time.monotonic() + 2
        s.settimeout(0.2)
        while got.count(b"HTTP/1.1 200 ") < 40 and time.monotonic() < end:
            try:
                got += s.recv(65536)
            except socket.timeout:
                pass
        assert got.count(b"HTTP/1.1 200 ") == 40, got.count(b"HTTP/1.1 200 ")
        s.close()


def test_send_timeout_closes_client_not_reading():
    """An admin client that pipelines metrics requests and reads nothing is closed after
    --send-timeout; its connection no longer holds a permit."""
    with Daemon("--send-timeout", "1s") as d:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", d.port))
        req = (f"GET /api/v1/tunnel/metrics HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {d.token}\r\n\r\n").encode()
        s.setblocking(False)
        for _ in range(2000):
            try:
                s.send(req)
            except BlockingIOError:
                break
        s.settimeout(STEP)
        assert s.recv(1, socket.MSG_PEEK) == b"H", "no answer"  # accepted and answered; nothing read
        fds = d.nfds()
        time.sleep(2.5)  # reads nothing
        assert closed_soon(s, 5), "still open after --send-timeout"
        end = time.monotonic() + STEP
        while d.nfds() >= fds and time.monotonic() < end:
            time.sleep(0.02)
        # its fd is gone (the daemon's own readiness probe may have closed meanwhile too)
        assert d.nfds() <= fds - 1, (d.nfds(), fds)
        s.close()


async def test_htc_admin_commands():
    async with Fixture() as f:
        ports = [str(f.b1["containerPort"]), str(f.b2["containerPort"])]
        rc, out, err = await asyncio.to_thread(htc_run, f.d, "health")
        assert rc == 0, (rc, err)
        assert "ok" in out and str(f.d.pid) in out, out
        rc, out, err = await asyncio.to_thread(htc_run, f.d, "health", json_out=True)
        assert rc == 0 and json.loads(out)["pid"] == f.d.pid, (rc, out, err)
        for cmd in ("list", "sessions"):
            rc, out, err = await asyncio.to_thread(htc_run, f.d, cmd)
            assert rc == 0, (cmd, rc, err)
            assert f.sid in out, (cmd, out)
        rc, out, err = await asyncio.to_thread(htc_run, f.d, "bindings")
        assert rc == 0 and all(p in out for p in ports), (out, err)
        rc, out, err = await asyncio.to_thread(htc_run, f.d, "metrics")
        assert rc == 0 and "hoody_tunnel_sessions_active" in out, (out[:500], err)
        for cmd, path in (("list", "tunnels"), ("sessions", "sessions"), ("bindings", "bindings")):
            rc, out, err = await asyncio.to_thread(htc_run, f.d, cmd, json_out=True)
            assert rc == 0, (cmd, err)
            j = json.loads(out)
            direct = f.d.get_json(f"/api/v1/tunnel/{path}")
            assert set(j) == set(direct), (cmd, j, direct)
            if path == "bindings":
                assert j == direct, (j, direct)
        rc, out, err = await asyncio.to_thread(htc_run, f.d, "kill", "S-no-such-session")
        assert rc != 0, f"htc kill of an unknown session exited {rc}"
        rc, out, err = await asyncio.to_thread(htc_run, f.d, "kill", f.sid, token="wrong-token")
        assert rc != 0, "htc kill with a wrong token succeeded"
        assert f.d.get_json("/api/v1/tunnel/sessions")["total"] == 1
        rc, out, err = await asyncio.to_thread(htc_run, f.d, "kill", f.sid, "--grace-ms", "100")
        assert rc == 0, (rc, out, err)
        g = await f.c.expect(GOAWAY)
        assert g.code() == NO_ERROR, g
        await f.c.wait_closed()
        end = time.monotonic() + STEP
        while f.d.get_json("/api/v1/tunnel/sessions")["total"] != 0:
            assert time.monotonic() < end, "session still listed after htc kill"
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(wait_port_closed, int(ports[0])), "port open after htc kill"
        assert f.d.token not in out + err


if __name__ == "__main__":
    run_tests([
        test_health_shape,
        test_tunnels_shape,
        test_sessions_shape,
        test_bindings_shape,
        test_probes,
        test_metrics,
        test_delete_errors,
        test_delete_kills_session,
        test_unknown_paths_404,
        test_methods_and_auth_order,
        test_metrics_path_same_as_api,
        test_build_info,
        test_metrics_path_on_routed_hosts,
        test_admin_auth_all_from_loopback,
        test_admin_auth_write_and_none,
        test_admin_token,
        test_proxy_on_this_host_counts_as_remote,
        test_pipelined_requests_all_answered,
        test_send_timeout_closes_client_not_reading,
        test_htc_admin_commands,
    ])
