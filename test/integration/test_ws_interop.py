#!/usr/bin/python3
"""WebSocket interop: our codec (build/tools/ws_peer) against python3-websockets.

Run: BUILD=build /usr/bin/python3 test/integration/test_ws_interop.py

Our server with their client: text, binary, 1 MiB, fragmented, ping, close
1000 echoed; subprotocol choice and refusal; message size limit (1009);
protocol errors sent on a raw socket (1002, 1007).
Their server with our client: ws_peer client runs its whole script and
closes with 1000; a server with a wrong Sec-WebSocket-Accept and one that
selects no subprotocol are refused.

Loopback only; every step has a timeout; only our own children are killed.
Prints "N passed, N failed" and exits 0 when nothing failed.
"""
import asyncio
import base64
import logging
import os
import struct
import sys
import traceback

import websockets

ROOT = os.environ.get("HT_ROOT", os.getcwd())
BUILD = os.environ.get("BUILD", "build")
PEER = os.path.join(ROOT, BUILD, "tools", "ws_peer")
STEP = 10  # seconds for any single network step
PROTO = "hoody-tunnel.v1"


class Peer:
    """A ws_peer child process; stopped (by its own PID) on exit."""

    def __init__(self, *args):
        self.args = [PEER, *args]
        self.proc = None

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return self

    async def port(self):
        line = await asyncio.wait_for(self.proc.stdout.readline(), STEP)
        word, port = line.decode().split()
        assert word == "PORT", line
        return int(port)

    async def wait(self):
        out, err = await asyncio.wait_for(self.proc.communicate(), 60)
        return self.proc.returncode, out.decode(), err.decode()

    async def __aexit__(self, *exc):
        # A --once peer ends by itself; killing one that is just exiting
        # races with asyncio's child watcher, so give it a moment first.
        try:
            await asyncio.wait_for(self.proc.wait(), 3)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def connect(port, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    return await websockets.connect(f"ws://127.0.0.1:{port}/api/v1/tunnel/connect",
                                    open_timeout=STEP, close_timeout=STEP, **kw)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), STEP)


# ---- our server, their client -------------------------------------------

async def test_server_echo():
    async with Peer("server", "--protocol", PROTO, "--protocol", "hoody-tunnel.v2",
                    "--require-protocol", "--once") as peer:
        ws = await connect(await peer.port(), subprotocols=["chat", PROTO, "hoody-tunnel.v2"])
        assert ws.subprotocol == PROTO, ws.subprotocol  # first of the client's list we support
        await ws.send("héllo ✓")
        assert await recv(ws) == "héllo ✓"
        await ws.send(bytes(range(256)))
        assert await recv(ws) == bytes(range(256))
        big = os.urandom(1 << 20)
        await ws.send(big)
        got = await recv(ws)
        assert isinstance(got, bytes) and got == big, len(got)
        await ws.send(["frag-", "ment-", "ed €"])
        assert await recv(ws) == "frag-ment-ed €"
        await ws.send([b"\x00\x01", b"", b"\x02"])
        assert await recv(ws) == b"\x00\x01\x02"
        await ws.send("")
        assert await recv(ws) == ""
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, STEP)
        await asyncio.wait_for(ws.close(1000, "bye"), STEP)
        assert ws.close_code == 1000, ws.close_code
        assert ws.close_reason == "bye", ws.close_reason
        rc, _, err = await peer.wait()
        assert rc == 0, err


async def test_server_refuses_missing_protocol():
    async with Peer("server", "--protocol", PROTO, "--require-protocol", "--once") as peer:
        port = await peer.port()
        try:
            await connect(port, subprotocols=["chat"])
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 400, e.status_code
        else:
            raise AssertionError("upgrade without a supported subprotocol was accepted")


async def test_server_optional_protocol():
    async with Peer("server", "--protocol", PROTO, "--once") as peer:
        ws = await connect(await peer.port())
        assert ws.subprotocol is None
        await ws.send("x")
        assert await recv(ws) == "x"
        await asyncio.wait_for(ws.close(), STEP)
        assert ws.close_code == 1000


async def test_server_message_limit():
    async with Peer("server", "--max-message", "1000", "--once") as peer:
        ws = await connect(await peer.port())
        await ws.send(b"a" * 1000)
        assert await recv(ws) == b"a" * 1000
        await ws.send(b"b" * 1001)
        try:
            await recv(ws)
        except websockets.exceptions.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e
        else:
            raise AssertionError("oversized message echoed")


async def raw_upgrade(port):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), STEP)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return reader, writer


def masked(first, payload, key=b"\x11\x22\x33\x44"):
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([first, 0x80 | len(payload)]) + key + body


async def expect_close(frame, code):
    async with Peer("server", "--once") as peer:
        reader, writer = await raw_upgrade(await peer.port())
        writer.write(frame)
        hdr = await asyncio.wait_for(reader.readexactly(2), STEP)
        assert hdr[0] == 0x88 and not hdr[1] & 0x80, hdr  # unmasked CLOSE from a server
        payload = await asyncio.wait_for(reader.readexactly(hdr[1]), STEP)
        got = struct.unpack("!H", payload[:2])[0]
        assert got == code, (got, payload)
        assert await asyncio.wait_for(reader.read(), STEP) == b""  # then the server closes
        writer.close()


async def test_server_rsv_bits():
    await expect_close(masked(0xC1, b"x"), 1002)


async def test_server_unmasked_frame():
    await expect_close(b"\x81\x01x", 1002)


async def test_server_bad_utf8():
    await expect_close(masked(0x81, b"ok\xed\xa0\x80"), 1007)


async def test_server_bad_close_code():
    await expect_close(masked(0x88, b"\x03\xed"), 1002)  # 1005 may not be sent


# ---- their server, our client -------------------------------------------

async def test_client_script():
    seen = {}

    async def echo(ws, path=None):
        seen["protocol"] = ws.subprotocol
        async for msg in ws:
            await ws.send(msg)
        seen["close"] = ws.close_code

    async with websockets.serve(echo, "127.0.0.1", 0, subprotocols=[PROTO],
                                max_size=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with Peer("client", "--port", str(port), "--path", "/api/v1/tunnel/connect",
                        "--protocol", "hoody-tunnel.v2", "--protocol", PROTO,
                        "--require-protocol") as peer:
            rc, out, err = await peer.wait()
            assert rc == 0, err
            assert out.split() == ["PROTOCOL", PROTO], out
            for step in ("text echo", "1 MiB echo", "pong between fragments", "fragmented echo",
                         "pong", "close 1000"):
                assert f"ok: {step}" in err, (step, err)
        for _ in range(50):
            if "close" in seen:
                break
            await asyncio.sleep(0.1)
        assert seen.get("protocol") == PROTO, seen
        assert seen.get("close") == 1000, seen


async def fake_server(answer):
    """A raw server that answers the upgrade with answer(key)."""
    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
               if l.lower().startswith(b"sec-websocket-key:")][0]
        writer.write(answer(key))
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def client_refuses(answer, args, words):
    server = await fake_server(answer)
    try:
        port = server.sockets[0].getsockname()[1]
        async with Peer("client", "--port", str(port), *args) as peer:
            rc, _, err = await peer.wait()
            assert rc != 0, "client accepted a bad handshake"
            assert words in err, err
    finally:
        server.close()


async def test_client_bad_accept():
    def answer(key):
        return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + base64.b64encode(b"x" * 20) + b"\r\n\r\n")
    await client_refuses(answer, [], "Sec-WebSocket-Accept does not match")


async def test_client_requires_protocol():
    async def echo(ws, path=None):
        async for msg in ws:
            await ws.send(msg)

    # our client drops the connection after the 101: the server logs that loudly
    log = logging.getLogger("websockets.server")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        async with websockets.serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
            port = server.sockets[0].getsockname()[1]
            async with Peer("client", "--port", str(port), "--protocol", PROTO,
                            "--require-protocol") as peer:
                rc, _, err = await peer.wait()
                assert rc != 0 and "no subprotocol" in err, err
    finally:
        log.setLevel(level)


async def test_client_refused_status():
    def answer(key):
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    await client_refuses(answer, [], "status is not 101")


TESTS = [
    test_server_echo,
    test_server_refuses_missing_protocol,
    test_server_optional_protocol,
    test_server_message_limit,
    test_server_rsv_bits,
    test_server_unmasked_frame,
    test_server_bad_utf8,
    test_server_bad_close_code,
    test_client_script,
    test_client_bad_accept,
    test_client_requires_protocol,
    test_client_refused_status,
]


async def main():
    passed = failed = 0
    for t in TESTS:
        try:
            await asyncio.wait_for(t(), 60)
            passed += 1
            print(f"  ok      {t.__name__}")
        except Exception:
            failed += 1
            print(f"  FAIL    {t.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return failed == 0


if __name__ == "__main__":
    if not os.access(PEER, os.X_OK):
        print(f"missing {PEER} (build it first)")
        print("0 passed, 1 failed")
        sys.exit(1)
    sys.exit(0 if asyncio.run(main()) else 1)
