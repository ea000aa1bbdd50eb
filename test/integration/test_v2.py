#!/usr/bin/python3
"""Multi-WebSocket sessions (hoody-tunnel.v2, PROTOCOL.md section 8).

Cases: HELLO_OK grants min(maxConnections, --max-connections-per-session)
with one join ticket per secondary index; JOIN / JOIN_OK and SHARD_MAP;
bad, reused, out-of-range and unknown-session JOINs get JOIN_ERR and a
close; 200 concurrent PULL connections spread over 4 sockets (each stream's
frames all on the socket of its STREAM_OPEN, at least 3 sockets used); one
secondary dropped mid-traffic resets only its own streams (their container
connections close, every other one completes with the right bytes);
REISSUE_JOIN_TICKETS gives a ticket for the free index and the re-join
carries new streams; a v2 session parks when its primary is cut (the
secondaries are closed), resumes with fresh tickets (old ones refused) and
spreads streams again; `htc --connections 4 pull` end to end with 50
concurrent echo connections, /sessions isV2 true and connectionsGranted 4.
Against a fake server: htc dials only granted indexes, asks for tickets
again with a backoff when JOINs are refused or the upgrade is answered
503, and keeps answering PINGs on its primary while a second socket's
upgrade hangs (it is opened inside the event loop).

Run: BUILD=build /usr/bin/python3 test/integration/test_v2.py
"""
import asyncio
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reslib import *  # noqa: E402,F401,F403


async def open_v2(d, want=4):
    """A v2 primary with one PULL binding, echoing every stream."""
    p = TunnelClient(d.port, subprotocol=V2)
    await p.connect()
    try:
        ok = await hello_v2(p, d.token, want)
    except BaseException:
        await p.close()
        raise
    p.on_stream = echo_stream
    b = await p.bind_pull()
    return p, ok, b["containerPort"]


async def join_all(d, p, tickets):
    """Join every ticket; returns {index: client}."""
    out = {}
    for tk in tickets:
        c, f = await join(d.port, p.hello_ok["sessionId"], tk["index"], tk["nonce"])
        assert f is not None and f.type == JOIN_OK, f"JOIN index {tk['index']}: {f!r}"
        assert f.json() == {"sessionId": p.hello_ok["sessionId"], "index": tk["index"]}, f.json()
        c.on_stream = echo_stream
        out[tk["index"]] = c
    return out


def shard_maps(p):
    """Every SHARD_MAP queued on p (other frames put back in order)."""
    maps, rest = [], []
    while not p.frames.empty():
        f = p.frames.get_nowait()
        if f is not None and f.type == SHARD_MAP:
            maps.append(f.json())
        else:
            rest.append(f)
    for f in rest:
        p.frames.put_nowait(f)
    return maps


async def wait_shards(p, want, timeout=STEP):
    """Wait for a SHARD_MAP equal to {"shards": want}; returns all seen."""
    seen = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        seen += shard_maps(p)
        if seen and seen[-1] == {"shards": want}:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"no SHARD_MAP {want}; seen {seen}")


async def close_all(clients):
    for c in clients:
        if c is not None:
            await c.close()


def where(clients):
    """{container-side 'ip:port' -> socket index} from the STREAM_OPENs each socket got."""
    out = {}
    for idx, c in clients.items():
        for st in c.streams.values():
            peer = st.info.get("peerAddr")
            if peer in out:
                raise AssertionError(f"peer {peer} opened on sockets {out[peer]} and {idx}")
            out[peer] = idx
    return out


async def test_grant_tickets_join_shard_map():
    with Daemon() as d:
        p, ok, port = await open_v2(d, 4)
        secs = {}
        try:
            assert ok["connectionsGranted"] == 4, ok
            tks = ok["joinTickets"]
            assert sorted(t["index"] for t in tks) == [1, 2, 3], tks
            now_ms = time.time() * 1000
            for t in tks:
                assert isinstance(t["nonce"], str) and len(t["nonce"]) >= 16, t
                assert now_ms < t["expiresMs"] <= now_ms + 120000, t
            assert len({t["nonce"] for t in tks}) == 3, "join nonces repeat"
            secs = await join_all(d, p, tks)
            seen = await wait_shards(p, [0, 1, 2, 3])
            log(f"SHARD_MAPs: {seen}")
            j = await asyncio.to_thread(sessions, d)
            s = j["sessions"][0]
            assert s["isV2"] is True and s["connectionsGranted"] == 4, s
            t = await asyncio.to_thread(tunnels, d)
            assert t["sessions"][0]["protocol"] == "v2", t
            assert await asyncio.to_thread(echo_once, port), "echo through the v2 session"
        finally:
            await close_all([p, *secs.values()])
    with Daemon("--max-connections-per-session", "2") as d:
        p, ok, port = await open_v2(d, 4)
        try:
            assert ok["connectionsGranted"] == 2, ok
            assert [t["index"] for t in ok["joinTickets"]] == [1], ok
        finally:
            await p.close()
    with Daemon() as d:  # v2 without the capability: one socket
        p = TunnelClient(d.port, subprotocol=V2)
        await p.connect()
        try:
            ok = await p.hello(d.token, extra={"maxConnections": 4})
            assert ok["connectionsGranted"] == 1 and ok["joinTickets"] == [], ok
        finally:
            await p.close()


async def expect_join_err(d, sid, index, nonce, what):
    c, f = await join(d.port, sid, index, nonce)
    try:
        assert f is not None and f.type == JOIN_ERR, f"{what}: expected JOIN_ERR, got {f!r}"
        j = f.json()
        assert isinstance(j.get("code"), str) and j["code"], j
        await c.wait_closed(STEP)
        return j["code"]
    finally:
        await c.close()


async def test_bad_and_reused_tickets():
    with Daemon() as d:
        p, ok, port = await open_v2(d, 4)
        sid = p.hello_ok["sessionId"]
        tks = {t["index"]: t["nonce"] for t in ok["joinTickets"]}
        secs = []
        try:
            codes = {}
            bad = "x" * len(tks[1])
            codes["bad nonce"] = await expect_join_err(d, sid, 1, bad, "bad nonce")
            codes["unknown session"] = await expect_join_err(d, "S-00000000-0000-4000-8000-000000000000", 1,
                                                             tks[1], "unknown session")
            codes["index out of range"] = await expect_join_err(d, sid, 4, tks[1], "index 4 of 4")
            codes["index 0"] = await expect_join_err(d, sid, 0, tks[1], "index 0")
            codes["other index's nonce"] = await expect_join_err(d, sid, 2, tks[1], "nonce of index 1 on 2")
            c, f = await join(d.port, sid, 1, tks[1])
            secs.append(c)
            assert f is not None and f.type == JOIN_OK, f"valid ticket after failed attempts: {f!r}"
            codes["reused"] = await expect_join_err(d, sid, 1, tks[1], "reused ticket")
            log(f"JOIN_ERR codes: {codes}")
            assert not p.closed.is_set(), "bad JOINs closed the session"
            assert not secs[0].closed.is_set(), "a reused ticket closed the socket holding the index"
            assert await asyncio.to_thread(echo_once, port)
        finally:
            await close_all([p, *secs])


async def container_conn(port, rounds, size, gap, barrier=None):
    """One container-side connection doing request/echo rounds.
    Returns (sockname, 'ok' | 'closed@i' | 'bad@i')."""
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), STEP)
    name = "%s:%d" % w.get_extra_info("sockname")[:2]
    try:
        for i in range(rounds):
            if i == 1 and barrier is not None:
                await barrier.wait()
            msg = os.urandom(size)
            try:
                w.write(msg)
                await w.drain()
                got = await asyncio.wait_for(r.readexactly(size), STEP * 2)
            except (asyncio.IncompleteReadError, ConnectionError):
                return name, f"closed@{i}"
            if got != msg:
                return name, f"bad@{i}"
            await asyncio.sleep(gap)
        w.write_eof()
        try:
            rest = await asyncio.wait_for(r.read(), STEP * 2)
        except ConnectionError:
            return name, "closed@eof"
        return name, "ok" if rest == b"" else "bad@eof"
    finally:
        w.close()


class Gate:
    """Every connection passes round 0 before the test goes on (asyncio)."""

    def __init__(self, n):
        self.n = n
        self.arrived = 0
        self.all_in = asyncio.Event()
        self.go = asyncio.Event()

    async def wait(self):
        self.arrived += 1
        if self.arrived == self.n:
            self.all_in.set()
        await self.go.wait()


async def test_spread_kill_secondary_rejoin():
    n = 200
    with Daemon() as d:
        p, ok, port = await open_v2(d, 4)
        sid = p.hello_ok["sessionId"]
        secs = {}
        try:
            secs = await join_all(d, p, ok["joinTickets"])
            await wait_shards(p, [0, 1, 2, 3])
            clients = {0: p, **secs}
            gate = Gate(n)
            tasks = [asyncio.ensure_future(container_conn(port, 30, 512, 0.03, gate)) for _ in range(n)]
            await asyncio.wait_for(gate.all_in.wait(), STEP * 3)
            placed = where(clients)
            per = {i: sum(1 for v in placed.values() if v == i) for i in clients}
            log(f"{n} streams over sockets: {per}")
            assert len(placed) == n, f"{len(placed)} STREAM_OPENs for {n} connections"
            assert sum(1 for v in per.values() if v > 0) >= 3, f"streams on fewer than 3 sockets: {per}"
            victim = max(secs, key=lambda i: per[i])
            gate.go.set()
            await asyncio.sleep(0.2)
            abort_client(secs[victim])
            results = await asyncio.wait_for(asyncio.gather(*tasks), STEP * 6)
            bad = []
            for name, res in results:
                on = placed.get(name)
                if on == victim and not res.startswith("closed"):
                    bad.append(f"{name} on the dropped socket {victim}: {res}")
                if on != victim and res != "ok":
                    bad.append(f"{name} on socket {on}: {res}")
            assert not bad, f"{len(bad)} wrong outcomes, e.g. {bad[:5]}"
            for idx, c in clients.items():
                assert not c.violations, f"socket {idx}: {c.violations[:5]}"
                if idx != victim:
                    assert not c.closed.is_set(), f"socket {idx} closed when {victim} was dropped"
            await await_log(d, rf"session {sid}: socket {victim} lost")
            await wait_shards(p, [i for i in range(4) if i != victim])
            # a ticket for the free index only, and the index joins again
            await p.send_now(frame(REISSUE, 0, b""))
            f = await p.expect(REISSUE, skip=(SHARD_MAP,))
            tks = f.json()["joinTickets"]
            assert [t["index"] for t in tks] == [victim], f"reissued tickets {tks}"
            await secs[victim].close()
            again = await join_all(d, p, tks)
            secs[victim] = again[victim]
            clients[victim] = again[victim]
            await wait_shards(p, [0, 1, 2, 3])
            t2 = [asyncio.ensure_future(container_conn(port, 3, 4096, 0.05)) for _ in range(40)]
            res2 = await asyncio.wait_for(asyncio.gather(*t2), STEP * 4)
            assert all(r == "ok" for _, r in res2), [r for r in res2 if r[1] != "ok"][:5]
            placed2 = {k: v for k, v in where(clients).items() if k in {nm for nm, _ in res2}}
            n_victim = sum(1 for v in placed2.values() if v == victim)
            log(f"after the re-join socket {victim} carried {n_victim} of 40 new streams")
            assert n_victim >= 1, "the re-joined socket carries no new stream"
            for idx, c in clients.items():
                assert not c.violations, f"socket {idx}: {c.violations[:5]}"
        finally:
            await close_all([p, *secs.values()])


async def test_v2_park_resume_rejoin():
    with Daemon("--takeover-grace", "10s") as d, Relay(d.port) as r:
        p = TunnelClient(r.port, subprotocol=V2)
        await p.connect()
        ok = await hello_v2(p, d.token, 4)
        p.on_stream = echo_stream
        port = (await p.bind_pull())["containerPort"]
        sid = ok["sessionId"]
        secs, secs2, p2 = {}, {}, None
        try:
            secs = await join_all(d, p, ok["joinTickets"])
            assert await asyncio.to_thread(echo_once, port)
            await asyncio.to_thread(r.cut)
            await await_log(d, rf"session {sid} parked")
            for idx, c in secs.items():
                await asyncio.wait_for(c.closed.wait(), STEP)
            t = await asyncio.to_thread(tunnels, d)
            assert t["orphanedSessions"] == 1, t
            p2 = TunnelClient(d.port, subprotocol=V2)
            await p2.connect()
            ok2 = await p2.hello(d.token, extra={"capabilities": ["multi-ws"], "maxConnections": 4,
                                                "resume": {"sessionId": sid}})
            p2.on_stream = echo_stream
            assert ok2["resumed"] is True and ok2["sessionId"] == sid, ok2
            assert ok2["connectionsGranted"] == 4, ok2
            assert sorted(t["index"] for t in ok2["joinTickets"]) == [1, 2, 3], ok2
            old = {t["index"]: t["nonce"] for t in ok["joinTickets"]}
            c, f = await join(d.port, sid, 1, old[1])
            try:
                assert f is not None and f.type == JOIN_ERR, f"old ticket after resume: {f!r}"
            finally:
                await c.close()
            secs2 = await join_all(d, p2, ok2["joinTickets"])
            tasks = [asyncio.ensure_future(container_conn(port, 2, 1024, 0.01)) for _ in range(20)]
            res = await asyncio.wait_for(asyncio.gather(*tasks), STEP * 3)
            assert all(x == "ok" for _, x in res), res
            used = {i for i, c in {0: p2, **secs2}.items() if c.streams}
            assert len(used) >= 3, f"after the resume streams used sockets {used}"
        finally:
            await close_all([p, p2, *secs.values(), *secs2.values()])


def test_htc_connections_4_pull():
    with Daemon() as d, TcpServer() as srv:
        h = Htc(d, "--connections", "4", "pull", str(srv.port), "--port", "0")
        try:
            sid = h.expect(r"^session (\S+)").group(1)
            cport = int(h.expect(r"container 127\.0\.0\.1:(\d+) ->").group(1))

            def joined():
                return len(log_lines(d, rf"session {sid}: socket [123] joined")) == 3
            assert wait_for(joined, STEP), f"htc's secondaries did not join: {log_lines(d, 'join|JOIN')}"
            j = sessions(d)
            s = j["sessions"][0]
            assert s["sessionId"] == sid and s["isV2"] is True and s["connectionsGranted"] == 4, s
            errors = []
            payloads = {}

            def one(i):
                data = os.urandom(64 * 1024) + b"%d" % i
                payloads[i] = data
                try:
                    c = connect_tcp(cport)
                    c.sendall(data)
                    c.shutdown(socket.SHUT_WR)
                    got = recv_all(c, STEP * 2)
                    c.close()
                    if got != data:
                        errors.append(f"conn {i}: {len(got)} bytes, wrong data")
                except OSError as e:
                    errors.append(f"conn {i}: {e!r}")
            threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(STEP * 4)
            if errors:
                refused = d.metric("hoody_tunnel_resets_total", {"code": "REFUSED_STREAM", "direction": "received"})
                raise AssertionError(f"{len(errors)} of 50 failed: {errors[:5]}; the daemon received "
                                     f"{refused} RESET(REFUSED_STREAM) from htc; htc opened "
                                     f"{sum(1 for l in h.lines if l.startswith('opened stream'))} streams")
            assert not any(t.is_alive() for t in threads), "echo threads stuck"
            assert not log_lines(d, rf"session {sid}: socket \d lost"), "a socket was lost"
        finally:
            h.stop()


async def fake_v2_server(secondary, seconds):
    """Run htc --connections 2 pull against a fake server for `seconds`.

    secondary: "refuse" answers every JOIN with JOIN_ERR and a close;
    "silent" never answers a second socket's upgrade; "503" refuses it. HELLO_OK grants 2
    sockets with tickets for index 1, 7 and 2^32+1. Returns (joins, reissue
    times, PONG delays of the PINGs sent on the primary every 0.5 s)."""
    import json
    import struct
    import websockets

    def fr(t, sid, p=b""):
        return struct.pack(">BII", t, sid, len(p)) + p

    def frames(m):
        out, i = [], 0
        while i < len(m):
            t, sid, n = struct.unpack(">BII", m[i:i + 9])
            out.append((t, sid, m[i + 9:i + 9 + n]))
            i += 9 + n
        return out

    joins, reissues, pongs, conns = [], [], [], []
    tickets = [{"index": 1, "nonce": "n1", "expiresMs": 0}, {"index": 7, "nonce": "n7", "expiresMs": 0},
               {"index": 2 ** 32 + 1, "nonce": "nx", "expiresMs": 0}]

    async def process_request(path, headers):
        conns.append(path)
        if secondary == "silent" and len(conns) > 1:
            await asyncio.sleep(seconds + 0.5)  # not answered while htc runs
        if secondary == "503" and len(conns) > 1:
            return (503, [("Content-Length", "0")], b"")
        return None

    async def handler(ws, path=None):
        first = frames(await ws.recv())[0]
        if first[0] == JOIN:
            joins.append(json.loads(first[2]))
            await ws.send(fr(JOIN_ERR, 0, json.dumps({"code": "INVALID_TICKET", "message": "no"}).encode()))
            await ws.close()
            return
        await ws.send(fr(HELLO_OK, 0, json.dumps({
            "sessionId": "S-fake", "resumed": False, "resumedBinds": [], "streamWindow": 1 << 20,
            "sessionWindow": 1 << 24, "connectionsGranted": 2, "joinTickets": tickets, "maxStreams": 1024,
            "maxFramePayload": 65536, "pingIntervalMs": 30000}).encode()))

        async def pinger():
            while True:
                await asyncio.sleep(0.5)
                await ws.send(fr(PING, 0, struct.pack(">Q", int(time.monotonic() * 1000))))
        task = asyncio.ensure_future(pinger())
        try:
            async for m in ws:
                for t, sid, p in frames(m):
                    if t == BIND:
                        ref = json.loads(p)["clientBindRef"]
                        await ws.send(fr(BIND_OK, 0, json.dumps({"clientBindRef": ref, "bindId": 1,
                                                                  "containerPort": 5555, "publicUrl": None}).encode()))
                    elif t == REISSUE:
                        reissues.append(time.monotonic())
                        await ws.send(fr(REISSUE, 0, json.dumps({"joinTickets": tickets[:1]}).encode()))
                    elif t == PONG:
                        pongs.append(time.monotonic() - struct.unpack(">Q", p)[0] / 1000)
        finally:
            task.cancel()

    port = free_port()
    async with websockets.serve(handler, "127.0.0.1", port, subprotocols=[V2], process_request=process_request):
        p = await asyncio.create_subprocess_exec(HTC, "--url", f"ws://127.0.0.1:{port}", "--token", "x",
                                                 "--connections", "2", "pull", "9",
                                                 stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.PIPE)
        try:
            await asyncio.sleep(seconds)
        finally:
            p.terminate()
            err = (await asyncio.wait_for(p.communicate(), STEP))[1].decode(errors="replace")
    # it stops cleanly, also with a socket being opened (the sanitizer build reports leaks here)
    for mark in SANITIZER_MARKS:
        assert mark not in err, err[-3000:]
    return joins, reissues, pongs, len(conns)


async def test_htc_rejoin_backs_off():
    """htc dials only the granted index (tickets for 7 or 2^32+1 are ignored) and, when every
    JOIN is refused, asks for tickets again with a growing delay, not in a tight loop."""
    joins, reissues, pongs, _ = await fake_v2_server("refuse", 4)
    assert joins, "htc never joined"
    assert all(j["index"] == 1 for j in joins), sorted({j["index"] for j in joins})
    # 100 ms, 200, 400, 800, 1600 ... with jitter: a handful in 4 s, not hundreds
    assert 2 <= len(joins) <= 10, len(joins)
    gaps = [b - a for a, b in zip(reissues, reissues[1:])]
    assert all(b >= a * 0.9 for a, b in zip(gaps[1:], gaps[2:])), gaps
    assert pongs and max(pongs) < 1.0, pongs


async def test_htc_secondary_dial_does_not_block():
    """A second socket whose upgrade is never answered does not stall the first: PINGs on the
    primary keep being answered at once while it is being opened (it used to block htc's loop
    for the 10 s handshake deadline)."""
    joins, reissues, pongs, _ = await fake_v2_server("silent", 4)
    assert len(pongs) >= 5, pongs
    assert max(pongs) < scaled(0.5, 1.5), pongs


async def test_htc_secondary_upgrade_refused():
    """A second socket's upgrade answered 503: htc tries again with the backoff, the primary
    unharmed."""
    joins, reissues, pongs, conns = await fake_v2_server("503", 4)
    assert not joins, joins
    assert 3 <= conns <= 12, conns  # the primary, then a handful of tries
    assert len(pongs) >= 5 and max(pongs) < scaled(0.5, 1.5), pongs


if __name__ == "__main__":
    run_tests([
        test_grant_tickets_join_shard_map,
        test_bad_and_reused_tickets,
        test_spread_kill_secondary_rejoin,
        test_v2_park_resume_rejoin,
        test_htc_connections_4_pull,
        test_htc_rejoin_backs_off,
        test_htc_secondary_dial_does_not_block,
        test_htc_secondary_upgrade_refused,
    ], timeout=120)
