#!/usr/bin/python3
"""Resilience: orphan parking, resume, takeover, and htc's own reconnect
(PROTOCOL.md sections 5 and 9).

The primary WebSocket is cut with an RST by a TCP relay (reslib.Relay)
between the client and the daemon's control port, so nothing is killed.

Cases: a cut closes the active PULL connections and parks the session (PULL
connects closed at once, orphanedSessions 1); a resume serves the same ports
again with no refused connect across cut and resume (probe every 10 ms); a
client's own close frame parks as well (and ends the session when it has no
binding);
grace expiry closes the ports and ends the session; resuming an attached
session supersedes the old socket (GOAWAY NO_ERROR "superseded"); an unknown
id is rejected; admin kill and SIGTERM never park; a pong timeout parks;
takeover of an EXPOSE port from a live and from a parked session
(BIND_REVOKED, RESET BIND_TAKEOVER, ALREADY_BOUND / INVALID_KIND, the
listener never closed); htc through the relay: cut -> disconnected /
reconnecting / resumed lines, the PULL port serves again without a refused
connect; daemon restart -> htc opens a new session and binds the same port
again, or (--port 0, old port now busy) another port with "container port
changed: A -> B"; htc SIGINT leaves no session.

Run: BUILD=build /usr/bin/python3 test/integration/test_resilience.py
"""
import asyncio
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reslib import *  # noqa: E402,F401,F403

SLOW = 2.0 if SAN else 1.0


def recv_n(s, n, timeout=STEP):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            raise AssertionError(f"EOF after {len(out)} of {n} bytes")
        out += d
    return bytes(out)


def sock_echo(s, data):
    s.sendall(data)
    return recv_n(s, len(data)) == data


async def pull_client(port, token, nbinds=1, **kw):
    """A session (via port: the relay or the daemon) echoing every PULL stream,
    with nbinds PULL bindings. Returns (client, [BIND_OK json...])."""
    c = await session(port, token, **kw)
    c.on_stream = echo_stream
    binds = [await c.bind_pull() for _ in range(nbinds)]
    return c, binds


async def resume(port, token, sid, **kw):
    """A client resuming sid; returns (client, HELLO_OK json); raises Rejected."""
    c = TunnelClient(port, **kw)
    await c.connect()
    try:
        ok = await c.hello(token, extra={"resume": {"sessionId": sid}})
    except BaseException:
        await c.close()
        raise
    c.on_stream = echo_stream
    return c, ok


async def athread(fn, *a):
    return await asyncio.to_thread(fn, *a)


async def assert_resume_rejected(d, sid):
    try:
        c, ok = await resume(d.port, d.token, sid)
    except Rejected as e:
        assert e.code == PROTOCOL_ERROR, f"rejected with GOAWAY {e.code} {e.reason!r}"
        assert e.reason == "unknown or expired session", f"reason {e.reason!r}"
        return e
    await c.close()
    raise AssertionError(f"resume of {sid} accepted: {ok}")


# ---- parking and resume (Python client) -----------------------------------------

async def test_cut_closes_pull_and_parks():
    with Daemon("--takeover-grace", "10s") as d, Relay(d.port) as r:
        c, (b,) = await pull_client(r.port, d.token)
        sid, port = c.hello_ok["sessionId"], b["containerPort"]
        try:
            s = await athread(connect_tcp, port)
            assert await athread(sock_echo, s, b"before the cut"), "echo before the cut"
            assert await athread(r.cut) == 1, "relay had no connection to cut"
            assert await athread(closed_soon, s, STEP), "the active PULL connection stayed open after the cut"
            s.close()
            await await_log(d, rf"session {sid} parked")
            t = await athread(tunnels, d)
            assert t["orphanedSessions"] == 1, f"orphanedSessions {t['orphanedSessions']}: {t}"
            assert [x["sessionId"] for x in t["sessions"]] == [sid], t
            assert t["totalStreams"] == 0, f"streams left after parking: {t}"
            for i in range(5):
                got = await athread(closed_at_once, port, 2.0)
                assert got == "closed", f"PULL connect #{i} during the gap: {got} (expected closed at once)"
            m = await athread(d.metric, "hoody_tunnel_orphaned_sessions")
            assert m == 1, f"hoody_tunnel_orphaned_sessions {m}"
        finally:
            await c.close()


async def test_resume_same_ports_no_refused_connect():
    with Daemon("--takeover-grace", "10s") as d, Relay(d.port) as r:
        c, binds = await pull_client(r.port, d.token, nbinds=2)
        sid = c.hello_ok["sessionId"]
        ports = [b["containerPort"] for b in binds]
        c2 = None
        probes = [Probe(p) for p in ports]
        try:
            for p in ports:
                assert await athread(echo_once, p), f"echo on {p} before the cut"
            await asyncio.sleep(0.2)
            last_id = max(c.streams)
            assert await athread(r.cut) == 1
            await await_log(d, rf"session {sid} parked")
            await asyncio.sleep(0.3)  # a gap with probes running
            c2, ok = await resume(d.port, d.token, sid)
            assert ok["resumed"] is True, ok
            assert ok["sessionId"] == sid, ok
            want = sorted((b["bindId"], "tcp", "pull", b["containerPort"]) for b in binds)
            got = sorted((x.get("bindId"), x.get("kind"), x.get("mode"), x.get("containerPort"))
                         for x in ok.get("resumedBinds", []))
            assert got == want, f"resumedBinds {ok.get('resumedBinds')} (expected {want})"
            await await_log(d, rf"session {sid} resumed")
            for p in ports:
                assert await athread(wait_echo, p), f"port {p} does not serve after the resume"
            t = await athread(tunnels, d)
            assert t["orphanedSessions"] == 0, t
            assert len(t["sessions"]) == 1, t
            await asyncio.sleep(0.2)
            assert c2.streams and min(c2.streams) > last_id, \
                f"stream ids reused across resume: before <= {last_id}, after {sorted(c2.streams)[:5]}"
            assert not c2.violations, c2.violations[:5]
        finally:
            for p in probes:
                p.stop()
            await c.close()
            if c2:
                await c2.close()
        for p, pr in zip(ports, probes):
            log(f"probe on {p}: {pr.ok} connects, {pr.refused} refused, {len(pr.errors)} other errors")
            assert pr.refused == 0, f"port {p} refused {pr.refused} connects across cut and resume"
            assert not pr.errors, pr.errors[:3]
            assert pr.ok >= 20, f"probe made only {pr.ok} connects"


async def test_client_close_frame_parks():
    """A client closing its WebSocket (close frame, no GOAWAY from us) parks too;
    with no binding left the session just ends."""
    with Daemon("--takeover-grace", "10s") as d:
        c, (b,) = await pull_client(d.port, d.token)
        sid, port = c.hello_ok["sessionId"], b["containerPort"]
        c2 = None
        try:
            await c.close()
            await await_log(d, rf"session {sid} parked")
            t = await athread(tunnels, d)
            assert t["orphanedSessions"] == 1, t
            c2, ok = await resume(d.port, d.token, sid)
            assert ok["resumed"] is True, ok
            assert await athread(wait_echo, port)
            t, j = await c2.unbind(b["bindId"])
            assert t == UNBIND_OK, j
            await c2.close()
            await await_log(d, rf"session {sid} ended")
            t = await athread(tunnels, d)
            assert t["sessions"] == [] and t["orphanedSessions"] == 0, t
        finally:
            await c.close()
            if c2:
                await c2.close()


async def test_grace_expiry_closes_port():
    with Daemon("--takeover-grace", "1s") as d, Relay(d.port) as r:
        c, (b,) = await pull_client(r.port, d.token)
        sid, port = c.hello_ok["sessionId"], b["containerPort"]
        try:
            await athread(r.cut)
            t0 = time.monotonic()
            await await_log(d, rf"session {sid} parked")
            got = await athread(closed_at_once, port, 1.0)
            assert got == "closed" or time.monotonic() - t0 > 0.9, f"port {got} right after the cut"
            assert await athread(wait_port_closed, port, "127.0.0.1", 4 * SLOW), \
                "PULL port still listening 4 s after a 1 s grace"
            dt = time.monotonic() - t0
            log(f"port closed {dt:.2f}s after the cut (grace 1 s)")
            assert dt >= 0.8, f"port closed after {dt:.2f}s, before the 1 s grace"
            await await_log(d, rf"session {sid} ended \(takeover grace over\)")
            t = await athread(tunnels, d)
            assert t["sessions"] == [] and t["orphanedSessions"] == 0, t
            assert t["totalBindings"] == 0, t
            await assert_resume_rejected(d, sid)
        finally:
            await c.close()


async def test_resume_supersedes_attached_socket():
    with Daemon() as d:
        c1, (b,) = await pull_client(d.port, d.token)
        sid, port = c1.hello_ok["sessionId"], b["containerPort"]
        c2 = None
        try:
            s = await athread(connect_tcp, port)
            assert await athread(sock_echo, s, b"old socket")
            c2, ok = await resume(d.port, d.token, sid)
            assert ok["resumed"] is True and ok["sessionId"] == sid, ok
            assert [x["bindId"] for x in ok["resumedBinds"]] == [b["bindId"]], ok
            await asyncio.wait_for(c1.closed.wait(), STEP)
            assert (NO_ERROR, "superseded") in c1.goaways, f"old socket got GOAWAYs {c1.goaways}"
            assert await athread(closed_soon, s, STEP), "a stream of the superseded socket stayed open"
            s.close()
            assert await athread(wait_echo, port), "port does not serve through the new socket"
            t = await athread(tunnels, d)
            assert len(t["sessions"]) == 1 and t["orphanedSessions"] == 0, t
            assert not log_lines(d, rf"session {sid} parked"), "superseding parked the session"
        finally:
            await c1.close()
            if c2:
                await c2.close()


async def test_unknown_resume_rejected():
    with Daemon() as d:
        e = await assert_resume_rejected(d, "S-00000000-0000-4000-8000-000000000000")
        assert e.close_code == 1002, f"close code {e.close_code}"
        e = await assert_resume_rejected(d, "not-a-session")
        t = await athread(tunnels, d)
        assert t["sessions"] == [] and t["orphanedSessions"] == 0, t


async def test_kill_never_parks():
    with Daemon("--takeover-grace", "30s") as d:
        c, (b,) = await pull_client(d.port, d.token)
        sid, port = c.hello_ok["sessionId"], b["containerPort"]
        try:
            st, _, body = await ahttp(d.port, "DELETE", f"/api/v1/tunnel/sessions/{sid}?grace_ms=0", d.auth())
            assert st == 202, f"DELETE: {st} {body!r}"
            t0 = time.monotonic()
            assert await athread(wait_port_closed, port, "127.0.0.1", 2 * SLOW), "port open after the kill"
            log(f"port closed {time.monotonic() - t0:.3f}s after the kill")
            await asyncio.wait_for(c.closed.wait(), STEP)
            assert (NO_ERROR, "killed") in c.goaways, f"GOAWAYs {c.goaways}"
            t = await athread(tunnels, d)
            assert t["sessions"] == [] and t["orphanedSessions"] == 0, t
            await assert_resume_rejected(d, sid)
            assert not log_lines(d, rf"session {sid} parked"), "a killed session was parked"
        finally:
            await c.close()


async def test_sigterm_never_parks():
    d = Daemon("--takeover-grace", "30s")
    with d:
        c, (b,) = await pull_client(d.port, d.token)
        sid = c.hello_ok["sessionId"]
        try:
            await athread(d.stop)
            await asyncio.wait_for(c.closed.wait(), STEP)
            assert (NO_ERROR, "shutdown") in c.goaways, f"GOAWAYs {c.goaways}"
            assert not log_lines(d, rf"session {sid} parked"), "SIGTERM parked a session"
        finally:
            await c.close()


async def test_pong_timeout_parks():
    with Daemon("--ping-interval", "300ms", "--pong-timeout", "1s", "--takeover-grace", "10s") as d:
        c, (b,) = await pull_client(d.port, d.token, auto_pong=False)
        sid, port = c.hello_ok["sessionId"], b["containerPort"]
        c2 = None
        try:
            t0 = time.monotonic()
            await asyncio.wait_for(c.closed.wait(), 5 * SLOW)
            dt = time.monotonic() - t0
            log(f"dropped {dt:.2f}s after the last frame; GOAWAYs {c.goaways}")
            assert c.pings, "no PING before the drop"
            assert any(code == IDLE_TIMEOUT for code, _ in c.goaways), f"GOAWAYs {c.goaways}"
            assert 0.6 <= dt <= 3.5 * SLOW, f"dropped after {dt:.2f}s (pong timeout 1 s)"
            await await_log(d, rf"session {sid} parked")
            t = await athread(tunnels, d)
            assert t["orphanedSessions"] == 1, t
            assert await athread(closed_at_once, port, 2.0) == "closed"
            c2, ok = await resume(d.port, d.token, sid)
            assert ok["resumed"] is True and ok["sessionId"] == sid, ok
            assert await athread(wait_echo, port), "port does not serve after the resume"
        finally:
            await c.close()
            if c2:
                await c2.close()


# ---- takeover ----------------------------------------------------------------------

def visitor_get(port, path, timeout=3.0):
    """(status, headers, body) or ('error', repr) for one GET."""
    try:
        return http(port, "GET", path, headers={"Connection": "close"}, timeout=timeout)
    except Exception as e:
        return ("error", repr(e), b"")


async def respond(c, st, status, body):
    c.send(frame(STREAM_RESPONSE_HEAD, st.id, {
        "status": status, "headers": [["Content-Type", "text/plain"], ["Content-Length", str(len(body))]],
        "final": True}))
    await st.write(body)
    st.write_eof()
    await c.flush()


async def serve_one(c, port, path, timeout=3.0):
    """A visitor GET on port served by client c; returns (status, body) seen by the visitor."""
    task = asyncio.ensure_future(athread(visitor_get, port, path, timeout + 2))
    st = await c.accept(timeout)
    assert st.info.get("kind") == "http", st.info
    assert st.info.get("target") == path, st.info
    await respond(c, st, 200, b"served " + path.encode())
    res = await task
    return res[0], res[2]


async def test_takeover_from_live_session():
    with Daemon() as d:
        a = await session(d.port, d.token)
        b = await session(d.port, d.token)
        port = free_port()
        probe = None
        try:
            t, ja = await a.bind("http", "expose", port)
            assert t == BIND_OK, f"EXPOSE bind: {ja}"
            t, j = await b.bind("http", "expose", port)
            assert t == BIND_ERR and j["code"] == "ALREADY_BOUND", j
            t, j = await b.bind("tcp", "pull", free_port(), takeover=True)
            assert t == BIND_ERR and j["code"] == "INVALID_KIND", j
            probe = Probe(port)
            # a request in flight on a's binding
            visitor = asyncio.ensure_future(athread(visitor_get, port, "/in-flight", 4 * SLOW))
            try:
                sta = await a.accept(3 * SLOW)
            except AssertionError:
                sta = None
                log("EXPOSE stream did not open: checking BIND_REVOKED and the listener only")
            await asyncio.sleep(0.1)
            before = probe.ok
            t, jb = await b.bind("http", "expose", port, takeover=True)
            assert t == BIND_OK, f"takeover refused: {jb}"
            assert jb["containerPort"] == port and jb["bindId"] != ja["bindId"], jb
            await asyncio.sleep(0.1)
            assert before >= 3 and probe.ok > before, f"probe connects: {before} before, {probe.ok} after"
            f = await a.expect(BIND_REVOKED)
            assert f.json() == {"bindId": ja["bindId"], "containerPort": port, "reason": "BIND_TAKEOVER"}, f
            if sta is not None:
                end = await sta.wait_end(STEP)
                assert end == f"reset:{BIND_TAKEOVER}", f"a's in-flight stream ended with {end}"
            res = await visitor
            log(f"in-flight visitor got {res[0]} {res[1] if res[0] == 'error' else ''}")
            if sta is not None:
                assert res[0] in (502, 503, "error"), f"in-flight visitor got {res[:2]}"
                st, body = await serve_one(b, port, "/after")
                assert (st, body) == (200, b"served /after"), (st, body)
                assert a.accepts.empty(), "a new request went to the old owner"
            j = await athread(d.get_json, "/api/v1/tunnel/bindings")
            owners = [x["sessionId"] for x in j["bindings"] if x["port"] == port]
            assert owners == [b.hello_ok["sessionId"]], j
            assert not a.closed.is_set(), "the old owner's session was closed"
        finally:
            if probe:
                probe.stop()
            await a.close()
            await b.close()
        log(f"probe: {probe.ok} connects, {probe.refused} refused")
        assert probe.refused == 0, f"the EXPOSE port refused {probe.refused} connects during the takeover"


async def test_takeover_from_parked_session():
    with Daemon("--takeover-grace", "10s") as d, Relay(d.port) as r:
        a = await session(r.port, d.token)
        b = None
        port = free_port()
        probe = None
        try:
            sid_a = a.hello_ok["sessionId"]
            t, ja = await a.bind("http", "expose", port)
            assert t == BIND_OK, ja
            t, jp = await a.bind("tcp", "pull", 0)
            assert t == BIND_OK, jp
            await athread(r.cut)
            await await_log(d, rf"session {sid_a} parked")
            st, hd, body = await athread(visitor_get, port, "/parked", 3 * SLOW)
            assert st == 503, f"parked EXPOSE port answered {st} {hd}"
            assert hd.get("retry-after") == "5", f"Retry-After {hd.get('retry-after')!r}"
            probe = Probe(port)
            b = await session(d.port, d.token)
            t, jb = await b.bind("http", "expose", port, takeover=True)
            assert t == BIND_OK, f"takeover from a parked session refused: {jb}"
            await await_log(d, rf"took port {port} over from session {sid_a}")
            st, body = await serve_one(b, port, "/new-owner", 3 * SLOW)
            assert (st, body) == (200, b"served /new-owner"), (st, body)
            # a resumes: the taken binding is not carried over, the PULL one is
            try:
                a2, ok = await resume(d.port, d.token, sid_a)
            except Rejected as e:
                raise AssertionError(f"parked session lost its resume after a takeover: {e}")
            try:
                kept = sorted(x["bindId"] for x in ok["resumedBinds"])
                assert kept == [jp["bindId"]], f"resumedBinds {ok['resumedBinds']} (taken: {ja['bindId']})"
            finally:
                await a2.close()
        finally:
            if probe:
                probe.stop()
            await a.close()
            if b:
                await b.close()
        assert probe.refused == 0, f"the EXPOSE port refused {probe.refused} connects during the takeover"


# ---- htc ---------------------------------------------------------------------------

def test_htc_reconnect_resumes_through_relay():
    with Daemon("--takeover-grace", "30s") as d, TcpServer() as srv, Relay(d.port) as r:
        h = Htc(d, "pull", str(srv.port), "--port", "0", url=r.url)
        probe = None
        try:
            sid = h.expect(r"^session (\S+)").group(1)
            cport = int(h.expect(r"container 127\.0\.0\.1:(\d+) ->").group(1))
            assert wait_echo(cport), "no echo through the PULL port"
            probe = Probe(cport)
            for i in range(3):
                s = connect_tcp(cport)
                assert sock_echo(s, b"long-lived %d" % i)
                t0 = time.monotonic()
                assert r.cut() == 1, "relay had no connection"
                h.expect(r"^disconnected: ")
                ms = int(h.expect(r"^reconnecting in (\d+) ms").group(1))
                assert 0 <= ms <= 200, f"first retry after {ms} ms"
                h.expect(rf"^resumed session {sid} with 1 binding\b", STEP * 2)
                assert closed_soon(s, STEP), "the PULL connection of the lost socket stayed open"
                s.close()
                assert wait_echo(cport), f"PULL port does not serve after resume #{i + 1}"
                log(f"cut #{i + 1}: served again {time.monotonic() - t0:.3f}s after the cut")
            probe.stop()
            assert len(log_lines(d, rf"session {sid} parked")) == 3, log_lines(d, "parked|resumed")
            assert len(log_lines(d, rf"session {sid} resumed")) == 3, log_lines(d, "parked|resumed")
            j = sessions(d)
            assert [x["sessionId"] for x in j["sessions"]] == [sid], j
            assert not any("new session" in l for l in h.lines), h.lines[-10:]
        finally:
            if probe:
                probe.stop()
            h.stop()
        log(f"probe: {probe.ok} connects, {probe.refused} refused, errors {probe.errors[:2]}")
        assert probe.refused == 0, f"PULL port refused {probe.refused} connects across 3 cuts"


def test_htc_daemon_restart_new_session_same_port():
    tok = new_token()
    d1 = Daemon(token=tok)
    d2 = None
    with d1, TcpServer() as srv:
        h = Htc(d1, "pull", str(srv.port), "--port", "0")
        try:
            sid1 = h.expect(r"^session (\S+)").group(1)
            cport = int(h.expect(r"container 127\.0\.0\.1:(\d+) ->").group(1))
            assert wait_echo(cport)
            d1.stop()
            h.expect(r"^disconnected: ")
            d2 = Daemon(token=tok)
            d2.port = d1.port
            d2.start()
            sid2 = h.expect(r"^new session (\S+): binding again", STEP * 3).group(1)
            assert sid2 != sid1
            h.expect(rf"container 127\.0\.0\.1:{cport} ->")
            assert not any("container port changed" in l for l in h.lines), h.lines[-10:]
            assert wait_echo(cport), "PULL port does not serve on the new daemon"
            j = sessions(d2)
            assert [x["sessionId"] for x in j["sessions"]] == [sid2], j
            assert [x["containerPort"] for x in j["sessions"][0]["bindings"]] == [cport], j
        finally:
            h.stop()
            if d2:
                d2.stop()


def test_htc_daemon_restart_port_taken_changes_port():
    """--port 0 and the old port busy after a restart: htc takes another port
    and says so ("container port changed: A -> B") instead of giving up."""
    tok = new_token()
    d1 = Daemon(token=tok)
    d2 = None
    blocker = None
    with d1, TcpServer() as srv:
        h = Htc(d1, "pull", str(srv.port), "--port", "0")
        try:
            h.expect(r"^session (\S+)")
            cport = int(h.expect(r"container 127\.0\.0\.1:(\d+) ->").group(1))
            d1.stop()
            h.expect(r"^disconnected: ")
            blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            blocker.bind(("127.0.0.1", cport))
            blocker.listen(1)
            d2 = Daemon(token=tok)
            d2.port = d1.port
            d2.start()
            h.expect(r"^new session (\S+): binding again", STEP * 3)
            m = h.expect(rf"container port changed: {cport} -> (\d+)", STEP)
            nport = int(m.group(1))
            assert nport != cport
            assert wait_echo(nport), "the new PULL port does not serve"
            assert h.proc.poll() is None, "htc exited"
        finally:
            h.stop()
            if blocker:
                blocker.close()
            if d2:
                d2.stop()


def test_htc_sigint_leaves_no_session():
    with Daemon("--takeover-grace", "30s") as d, TcpServer() as srv:
        h = Htc(d, "pull", str(srv.port), "--port", "0")
        try:
            sid = h.expect(r"^session (\S+)").group(1)
            cport = int(h.expect(r"container 127\.0\.0\.1:(\d+) ->").group(1))
            assert wait_echo(cport)
            s = connect_tcp(cport)
            assert sock_echo(s, b"open during SIGINT")
            h.signal(signal.SIGINT)
            rc = h.wait(STEP)
            assert rc == 0, f"htc exit code {rc} after SIGINT; stderr {h.stderr()[-500:]}"
            s.close()

            def gone():
                t = tunnels(d)
                return t if t["sessions"] == [] and t["orphanedSessions"] == 0 else None
            t = wait_for(gone, STEP)
            assert t, f"session left after SIGINT: {tunnels(d)}"
            assert wait_port_closed(cport, timeout=2), "PULL port open after SIGINT"
            assert not log_lines(d, rf"session {sid} parked"), log_lines(d, sid)
        finally:
            h.stop()


if __name__ == "__main__":
    run_tests([
        test_cut_closes_pull_and_parks,
        test_resume_same_ports_no_refused_connect,
        test_client_close_frame_parks,
        test_grace_expiry_closes_port,
        test_resume_supersedes_attached_socket,
        test_unknown_resume_rejected,
        test_kill_never_parks,
        test_sigterm_never_parks,
        test_pong_timeout_parks,
        test_takeover_from_live_session,
        test_takeover_from_parked_session,
        test_htc_reconnect_resumes_through_relay,
        test_htc_daemon_restart_new_session_same_port,
        test_htc_daemon_restart_port_taken_changes_port,
        test_htc_sigint_leaves_no_session,
    ], timeout=90)
