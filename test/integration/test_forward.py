#!/usr/bin/env python3
"""The forward extension on the daemon (doc/FORWARD.md), driven by a raw
tunnel session: the capability in HELLO_OK (and not when --forward-allow
none), FORWARD_OK with the address and bytes both ways hashed with
half-close, the refusals with their codes (NOT_ALLOWED without connecting,
CONNECTION_REFUSED at once, INVALID_TARGET, NAME_NOT_FOUND from a name
server of the test's own, TIMEOUT of a silent one while other streams go
on), DISABLED for a session that did not ask, a RESET that cancels, 500
forwarded connections at once, a killed session closing its forwarded
connections, NO_PERMIT when the FD budget is out, and the metrics and
admin API, a lost tunnel socket ending its forwarded connections, PINGs
answered within 50 ms while a name server is silent, and a port range in
--forward-allow."""
import asyncio
import hashlib
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403


class Dns:
    """A UDP name server on 127.0.0.1: NAME.test -> A 127.0.0.1 (two.test: AAAA ::1 too),
    nx.test -> NXDOMAIN, slow.test -> silence."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.stop = False
        self.t.start()

    def _loop(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                q, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            off, labels = 12, []
            while off < len(q) and q[off]:
                labels.append(q[off + 1:off + 1 + q[off]].decode())
                off += 1 + q[off]
            name = ".".join(labels)
            qtype = int.from_bytes(q[off + 1:off + 3], "big")
            if name == "slow.test":
                continue
            head = bytearray(q[:off + 5])
            head[2], head[3] = 0x81, 0x80
            head[8:12] = b"\0\0\0\0"
            an = b""
            if name == "nx.test":
                head[3] = 0x83
            elif qtype == 1:
                an = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
            elif qtype == 28 and name == "two.test":  # ::1 as well: tried, refused, then 127.0.0.1
                an = b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10" + bytes(15) + b"\x01"
            head[6:8] = (1 if an else 0).to_bytes(2, "big")
            self.sock.sendto(bytes(head) + an, peer)

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


class EchoWatch:
    """An echo server that tells when each connection's peer has ended it."""

    def __init__(self):
        self.ended = threading.Event()
        self.srv = TcpServer(self._handle)
        self.port = self.srv.port

    def _handle(self, sock):
        try:
            while True:
                b = sock.recv(65536)
                if not b:
                    break
                sock.sendall(b)
        except OSError:
            pass
        self.ended.set()
        sock.close()

    def close(self):
        self.srv.close()


async def hello_forward(d, ask=True):
    c = TunnelClient(d.port)
    await c.connect()
    ok = await c.hello(d.token, extra={"capabilities": ["forward"]} if ask else None)
    return c, ok


async def case_capability_and_bytes(d):
    srv = TcpServer()
    try:
        c, ok = await hello_forward(d)
        assert ok.get("capabilities") == ["forward"], ok
        t, j, st = await c.forward_open("127.0.0.1", srv.port)
        assert t == FORWARD_OK and j["address"] == f"127.0.0.1:{srv.port}", (t, j)
        sessions = d.get_json("/api/v1/tunnel/tunnels")["sessions"]
        assert [(x["forward"], x["forwardStreams"]) for x in sessions] == [(True, 1)], sessions
        data = os.urandom(3 * 1024 * 1024 + 7)
        writer = asyncio.ensure_future(st.write(data, timeout=STEP * 4))
        back = await st.read_exact(len(data), timeout=STEP * 4)
        await writer
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
        st.write_eof()  # half-close: the echo server ends after our EOF
        assert await st.read_all() == b""
        await c.close()
        assert d.metric("hoody_tunnel_forward_opened_total") >= 1
    finally:
        srv.close()


async def case_refusals(d):
    c, _ = await hello_forward(d)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    t0 = time.monotonic()
    t, j, _ = await c.forward_open("127.0.0.1", port)
    assert t == FORWARD_ERR and j["code"] == "CONNECTION_REFUSED", j
    assert time.monotonic() - t0 < 0.1, "a refused port is reported at once"
    t, j, _ = await c.forward_open("10.255.255.1", 80)
    assert t == FORWARD_ERR and j["code"] == "NOT_ALLOWED" and "10.255.255.1" in j["message"], j
    for bad in ({"host": "", "port": 1}, {"host": "x", "port": 0}, {"port": 5}):
        c.next_client_sid += 1
        await c.send_now(frame(FORWARD_OPEN, c.next_client_sid, bad))
        f = await c.expect(FORWARD_ERR)
        assert f.json()["code"] == "INVALID_TARGET", f
    t, j, _ = await c.forward_open("nx.test", 80)
    assert t == FORWARD_ERR and j["code"] == "NAME_NOT_FOUND", j
    t, j, _ = await c.forward_open("ok.test", port)  # resolves to 127.0.0.1 (allowed), refused there
    assert t == FORWARD_ERR and j["code"] == "CONNECTION_REFUSED", j
    if ipv6_loopback_ok():  # several addresses: each allowed one in turn until one connects
        srv = TcpServer()
        try:
            t, j, _ = await c.forward_open("two.test", srv.port)
            assert t == FORWARD_OK and j["address"] == f"127.0.0.1:{srv.port}", j
        finally:
            srv.close()
    await c.close()
    assert d.metric("hoody_tunnel_forward_failed_total", {"code": "NOT_ALLOWED"}) >= 1
    assert d.metric("hoody_tunnel_forward_refused_total") >= 1


async def case_slow_resolver_does_not_stall(d):
    srv = TcpServer()
    try:
        c, _ = await hello_forward(d)
        c.next_client_sid = getattr(c, "next_client_sid", CLIENT_STREAM) + 1
        slow_sid = c.next_client_sid
        c.streams[slow_sid] = Stream(c, slow_sid, {})
        t0 = time.monotonic()
        await c.send_now(frame(FORWARD_OPEN, slow_sid, {"host": "slow.test", "port": 80}))
        t, j, st = await c.forward_open("127.0.0.1", srv.port)  # answered while slow.test waits
        assert t == FORWARD_OK, j
        await c.send_now(frame(PING, 0, b"12345678"))
        f = await c.expect(FORWARD_ERR, timeout=STEP * 2, skip=(PONG,))
        assert f.stream == slow_sid and f.json()["code"] == "TIMEOUT", f
        assert 0.9 < time.monotonic() - t0 < STEP * 2
        await c.close()
    finally:
        srv.close()


async def case_disabled_unless_asked(d):
    c, ok = await hello_forward(d, ask=False)
    assert "forward" not in (ok.get("capabilities") or []), ok
    t, j, _ = await c.forward_open("127.0.0.1", 1)
    assert t == FORWARD_ERR and j["code"] == "DISABLED", j
    await c.close()


async def case_reset_cancels(d):
    c, _ = await hello_forward(d)
    c.next_client_sid = getattr(c, "next_client_sid", CLIENT_STREAM) + 1
    sid = c.next_client_sid
    await c.send_now(frame(FORWARD_OPEN, sid, {"host": "slow.test", "port": 80}),
                     reset_frame(sid, CANCEL, "never mind"))
    await asyncio.sleep(1.5)  # past the deadline: no FORWARD_ERR for a cancelled stream
    while not c.frames.empty():
        f = c.frames.get_nowait()
        assert f is None or f.type != FORWARD_ERR, f
    await c.close()


async def case_500_concurrent(d):
    srv = TcpServer()
    try:
        c, _ = await hello_forward(d)
        streams = []
        for i in range(500):
            t, j, st = await c.forward_open("127.0.0.1", srv.port)
            assert t == FORWARD_OK, (i, j)
            streams.append(st)
        for i, st in enumerate(streams):
            await st.write(b"%05d" % i * 200)
        for i, st in enumerate(streams):
            assert await st.read_exact(1000) == b"%05d" % i * 200, i
        sessions = d.get_json("/api/v1/tunnel/tunnels")["sessions"]
        assert sessions[0]["forwardStreams"] == 500, sessions
        for st in streams:
            st.write_eof()
        for st in streams:
            assert await st.read_all() == b""
        await c.close()
    finally:
        srv.close()


async def case_kill_ends_forwards(d):
    srv = EchoWatch()
    try:
        c, ok = await hello_forward(d)
        t, j, st = await c.forward_open("127.0.0.1", srv.port)
        assert t == FORWARD_OK, j
        await st.write(b"ping")
        assert await st.read_exact(4) == b"ping"
        st_code, _, body = http(d.port, "DELETE", f"/api/v1/tunnel/sessions/{ok['sessionId']}?grace_ms=0",
                                headers=d.auth())
        assert st_code == 202, (st_code, body)
        assert await asyncio.to_thread(srv.ended.wait, STEP), "the forwarded connection outlived the kill"
        await c.close()
    finally:
        srv.close()


async def case_no_permit():
    srv = TcpServer()
    try:
        with Daemon("--fd-reserve", "32", nofile=128, log_level="info") as d2:
            c, _ = await hello_forward(d2)
            codes = []
            for _ in range(120):
                t, j, st = await c.forward_open("127.0.0.1", srv.port)
                codes.append(j["code"] if t == FORWARD_ERR else "OK")
                if t == FORWARD_ERR:
                    break
            assert codes[-1] == "NO_PERMIT" and codes.count("OK") > 10, codes
            await c.close()
    finally:
        srv.close()


async def case_connection_loss_ends_forwards(d):
    """Like any stream, a forwarded connection ends with the tunnel socket it was on (the container
    side sees the end at once); the client's next session forwards again."""
    srv = EchoWatch()
    try:
        c, ok = await hello_forward(d)
        t, j, st = await c.forward_open("127.0.0.1", srv.port)
        assert t == FORWARD_OK, j
        await st.write(b"before")
        assert await st.read_exact(6) == b"before"
        tr = c.ws.transport
        tr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tr.abort()
        assert await asyncio.to_thread(srv.ended.wait, STEP), "the container side outlived the tunnel socket"
        srv.ended.clear()
        c2, _ = await hello_forward(d)
        t, j, st2 = await c2.forward_open("127.0.0.1", srv.port)
        assert t == FORWARD_OK, j
        await st2.write(b"after")
        assert await st2.read_exact(5) == b"after"
        await c2.close()
    finally:
        srv.close()


async def case_ping_while_resolving(d):
    """A silent name server never holds up the loop: PINGs are answered within 50 ms meanwhile."""
    c, _ = await hello_forward(d)
    c.next_client_sid = getattr(c, "next_client_sid", CLIENT_STREAM) + 1
    c.streams[c.next_client_sid] = Stream(c, c.next_client_sid, {})
    await c.send_now(frame(FORWARD_OPEN, c.next_client_sid, {"host": "slow.test", "port": 80}))
    worst = 0.0
    for i in range(10):
        t0 = time.monotonic()
        await c.send_now(frame(PING, 0, b"%08d" % i))
        f = await c.expect(PONG)
        worst = max(worst, time.monotonic() - t0)
        await asyncio.sleep(0.05)
    assert worst < 0.05, f"a PONG took {worst * 1000:.1f} ms"
    await c.close()


async def case_policy_ports():
    srv, other = TcpServer(), TcpServer()
    try:
        with Daemon("--forward-allow", f"127.0.0.0/8:{srv.port}-{srv.port}") as d2:
            c, _ = await hello_forward(d2)
            t, j, _ = await c.forward_open("127.0.0.1", srv.port)
            assert t == FORWARD_OK, j
            t, j, _ = await c.forward_open("127.0.0.1", other.port)
            assert t == FORWARD_ERR and j["code"] == "NOT_ALLOWED", j
            assert other.accepted == 0, "a refused target was connected to"
            await c.close()
    finally:
        srv.close()
        other.close()


async def case_none_turns_it_off():
    with Daemon("--forward-allow", "none") as d2:
        c, ok = await hello_forward(d2)
        assert ok.get("capabilities") == [], ok
        t, j, _ = await c.forward_open("127.0.0.1", 1)
        assert t == FORWARD_ERR and j["code"] == "DISABLED", j
        await c.close()


def main():
    dns = Dns()
    passed = failed = 0
    try:
        with Daemon("--dns-servers", f"127.0.0.1:{dns.port}", "--forward-connect-timeout", "1s") as d:
            for case in (case_capability_and_bytes, case_refusals, case_slow_resolver_does_not_stall,
                         case_disabled_unless_asked, case_reset_cancels, case_500_concurrent,
                         case_kill_ends_forwards, case_connection_loss_ends_forwards,
                         case_ping_while_resolving):
                t0 = time.monotonic()
                try:
                    asyncio.run(asyncio.wait_for(case(d), 60))
                    passed += 1
                    print(f"PASS {case.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
                except BaseException as e:  # noqa: B902
                    failed += 1
                    print(f"FAIL {case.__name__}: {e!r}", flush=True)
            d.stop()
            d.check_output_quiet()
        for case in (case_none_turns_it_off, case_no_permit, case_policy_ports):
            try:
                asyncio.run(asyncio.wait_for(case(), 60))
                passed += 1
                print(f"PASS {case.__name__}", flush=True)
            except BaseException as e:  # noqa: B902
                failed += 1
                print(f"FAIL {case.__name__}: {e!r}", flush=True)
    finally:
        dns.close()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
