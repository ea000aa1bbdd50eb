#!/usr/bin/python3
"""Peers that send and never read what they are answered (a real hoody-tunnel).

A client that floods WebSocket PINGs or tunnel PINGs, before or after
HELLO, while reading nothing, makes the daemon queue PONGs it cannot write.
Those replies are bounded: past 1 MiB of them the daemon cuts the
connection (WebSocket close 1008, logged as "peer does not read its
replies"), its memory stays flat, and it goes on serving everyone else.

Run: BUILD=build /usr/bin/python3 test/integration/test_flood.py
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
import htlib  # noqa: E402

FLOOD_SECONDS = 20      # give up (fail) after this long without being cut off
RSS_GROWTH_MAX = 48 << 20


def ws_frame(opcode, payload):
    """One masked client frame."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        h = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        h = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack(">H", n)
    else:
        h = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack(">Q", n)
    k4 = (key * (n // 4 + 1))[:n]
    masked = bytes(a ^ b for a, b in zip(payload, k4))
    return h + key + masked


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        assert d, "closed"
        out += d
    return out


def recv_frame(s):
    """The first tunnel frame of the next binary message."""
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    return decode_frames(recv_exact(s, n))[0]


def open_ws(d, hello, sub=V1, first=None):
    """A raw WebSocket to the daemon that reads as little as the kernel allows.

    hello: send HELLO and return HELLO_OK's JSON too; first: another first frame (JOIN)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(STEP)
    s.connect(("127.0.0.1", d.port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    s.sendall((f"GET /api/v1/tunnel/connect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {sub}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d_ = s.recv(1)
        assert d_, f"closed during the upgrade: {head!r}"
        head += d_
    assert head.startswith(b"HTTP/1.1 101"), head
    ok = None
    if hello:
        body = {"version": sub, "auth": {"kind": "bearer", "token": d.token}, "capabilities": []}
        if sub == V2:
            body.update(capabilities=["multi-ws"], maxConnections=2)
        s.sendall(ws_frame(2, frame(HELLO, 0, body)))
        f = recv_frame(s)
        assert f.type == HELLO_OK, f
        ok = f.json()
    if first is not None:
        s.sendall(ws_frame(2, first))
        f = recv_frame(s)
        assert f.type == JOIN_OK, f
    return (s, ok) if hello else s


def flood(d, s, burst):
    """Send burst after burst without reading; bytes sent before the daemon cut us off."""
    sent = 0
    end = time.monotonic() + FLOOD_SECONDS
    s.settimeout(STEP)
    try:
        while time.monotonic() < end:
            s.sendall(burst)
            sent += len(burst)
    except (ConnectionResetError, BrokenPipeError):
        return sent
    except socket.timeout:
        raise AssertionError(f"the daemon stopped reading after {sent} bytes instead of cutting off")
    raise AssertionError(f"still connected after {FLOOD_SECONDS} s and {sent} bytes never read")


def check_cut(d, s, sent, rss0):
    s.close()
    growth = d.rss() - rss0
    log(f"cut off after {sent / 1e6:.1f} MB sent; daemon RSS +{growth / 1e6:.1f} MB")
    assert growth < RSS_GROWTH_MAX, f"daemon RSS grew by {growth} bytes"
    assert d.alive()
    end = time.monotonic() + STEP
    while "peer does not read its replies" not in d.stderr():
        assert time.monotonic() < end, d.stderr()[-2000:]
        time.sleep(0.05)
    # everyone else is still served
    assert d.get_json("/api/v1/tunnel/health")["status"] == "ok"
    s2, _ = open_ws(d, hello=True)
    s2.close()


def ws_ping_burst():
    return ws_frame(9, b"p" * 125) * 512


def tunnel_ping_burst():
    msg = b"".join(frame(PING, 0, struct.pack(">Q", i)) for i in range(64))
    return ws_frame(2, msg) * 64


def run_case(hello, burst):
    with Daemon(log_level="info") as d:
        rss0 = d.rss()
        s = open_ws(d, hello)
        if hello:
            s = s[0]
        sent = flood(d, s, burst)
        check_cut(d, s, sent, rss0)


def test_session_frames_on_second_socket():
    """v2: BINDs sent on a joined socket are answered on the primary, which is never read."""
    with Daemon("--max-connections-per-session", "2", log_level="info") as d:
        rss0 = d.rss()
        p, ok = open_ws(d, True, sub=V2)
        tk = ok["joinTickets"][0]
        join = frame(JOIN, 0, {"sessionId": ok["sessionId"], "index": tk["index"], "nonce": tk["nonce"]})
        s2 = open_ws(d, False, sub=V2, first=join)
        bind = frame(BIND, 0, {"clientBindRef": "r" * 60000, "kind": "nope", "mode": "expose"})
        sent = flood(d, s2, ws_frame(2, bind * 4))
        check_cut(d, s2, sent, rss0)
        p.close()


def test_ws_ping_flood_after_hello():
    run_case(True, ws_ping_burst())


def test_tunnel_ping_flood_after_hello():
    run_case(True, tunnel_ping_burst())


def test_ws_ping_flood_before_hello():
    run_case(False, ws_ping_burst())


def visitor(port, head):
    """A visitor that sends a request head; returns its socket."""
    v = socket.create_connection(("127.0.0.1", port), timeout=STEP)
    v.sendall(head)
    return v


def test_visitor_churn_to_stalled_client():
    """Visitors that come and go while the client reads nothing: 503 once 4 MiB wait, memory flat."""
    with Daemon("--expose-address", "127.0.0.1", log_level="info") as d:
        c, _ = open_ws(d, True)
        c.sendall(ws_frame(2, frame(BIND, 0, {"clientBindRef": 1, "kind": "http", "mode": "expose",
                                              "containerPort": 0})))
        f = recv_frame(c)
        assert f.type == BIND_OK, f
        port = f.json()["containerPort"]
        rss0 = d.rss()
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 60000 + b"\r\n\r\n"
        answer, n, end = b"", 0, time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < end:
            v = visitor(port, head)
            n += 1
            v.settimeout(0.05)
            try:
                answer = v.recv(4096)
            except socket.timeout:
                answer = b""
            v.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            v.close()  # the stream is reset: its frames wait for the client too
            if answer:
                break
        growth = d.rss() - rss0
        log(f"{n} visitors until the first answer; daemon RSS +{growth / 1e6:.1f} MB")
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b"the tunnel client is not reading" in answer, answer
        assert n > 40, n  # 4 MiB of 60 KB heads went out first
        assert growth < RSS_GROWTH_MAX, growth
        # the client reads again: new visitors get streams again
        c.settimeout(0.5)
        try:
            while c.recv(1 << 20):
                pass
        except socket.timeout:
            pass
        v = visitor(port, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        seen = b""
        deadline = time.monotonic() + STEP
        while b"/after" not in seen and time.monotonic() < deadline:
            try:
                seen = seen[-64:] + c.recv(1 << 20)
            except socket.timeout:
                pass
        assert b"/after" in seen, "no STREAM_OPEN after the client read again"
        v.close()
        c.close()


if __name__ == "__main__":
    run_tests([
        test_ws_ping_flood_after_hello,
        test_tunnel_ping_flood_after_hello,
        test_ws_ping_flood_before_hello,
        test_session_frames_on_second_socket,
        test_visitor_churn_to_stalled_client,
    ])
