#!/usr/bin/python3
"""`htc pull` end to end: container-side TCP -> hoody-tunnel -> htc -> local service.

A local TCP server stands for the laptop's service; the test connects to the
daemon's PULL port like a program inside the container would. The first line
the container side sends tells the local server what to do:
  SINK\\n          read to EOF, answer "<bytes> <sha256>\\n", close
  SRC <n> <seed>\\n send n pseudo-random bytes, shut down writing, drain, close
  ECHO\\n          echo everything, shut down writing at EOF
  HALF <tag>\\n    send "hello\\n", shut down writing, record what still arrives

Cases: the session and binding lines htc prints; 100 MiB each way with a
sha256 check (20 MiB under sanitizers); half-close from either side; a local
port with nothing listening (the container connection is closed, htc resets
the stream); htc's opened/closed lines and byte counts; SIGINT/SIGTERM exit
0 and release the port; a refused bind makes htc exit 1 with the code.

Run: BUILD=build /usr/bin/python3 test/integration/test_pull.py
"""
import contextlib
import hashlib
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

BIG = scaled(100 * MiB, 20 * MiB)
half_results = {}


def local_service(c):
    cmd, rest = read_command(c)
    word = cmd.split()
    if pull_service(c, word, rest):
        return
    if word[0] == "HALF":
        c.sendall(b"hello\n")
        c.shutdown(socket.SHUT_WR)
        got = bytearray(rest)
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
        half_results[word[1]] = bytes(got)


@contextlib.contextmanager
def pull_env(local_port, *htc_args, daemon_flags=()):
    """A daemon and an `htc pull local_port --port 0`; yields (d, htc, container_port, session_id)."""
    with Daemon(*daemon_flags) as d:
        with Htc(d, "pull", f"127.0.0.1:{local_port}", "--port", "0", *htc_args) as h:
            sid = h.expect(r"^session (\S+)").group(1)
            m = h.expect(r"^container (\S+):(\d+) -> (\S+)")
            yield d, h, int(m.group(2)), sid


def closed_line(h, sid):
    m = h.expect(r"^closed stream %d \(in (\d+) B, out (\d+) B(, reset [^)]*)?\)" % sid, STEP * 2)
    assert m.group(3) is None, f"stream {sid} ended with a reset: {m.group(0)}"
    return int(m.group(1)), int(m.group(2))


def test_session_and_binding_lines():
    with TcpServer(local_service) as srv, pull_env(srv.port) as (d, h, cport, sid):
        j = d.get_json("/api/v1/tunnel/sessions")
        assert [s["sessionId"] for s in j["sessions"]] == [sid], (j, sid)
        b = d.get_json("/api/v1/tunnel/bindings")
        assert b["total"] == 1, b
        bd = b["bindings"][0]
        assert bd["port"] == cport and bd["kind"] == "tcp" and bd["mode"] == "pull", bd
        assert bd["sessionId"] == sid, bd
        assert can_connect(cport), "container port not listening"
        assert any(str(srv.port) in ln for ln in h.lines if ln.startswith("container ")), h.lines


def test_upload_big_sha256():
    with TcpServer(local_service) as srv, pull_env(srv.port) as (d, h, cport, sid):
        src = Blocks(BIG, b"up")
        s = connect_tcp(cport, timeout=60)
        try:
            t0 = time.monotonic()
            s.sendall(b"SINK\n")
            for chunk in src.chunks():
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
            reply = recv_all(s, 60)
            dt = time.monotonic() - t0
        finally:
            s.close()
        n, digest = reply.decode().split()
        assert int(n) == BIG, f"local side got {n} bytes of {BIG}"
        assert digest == src.digest(), "sha256 differs container -> local"
        log(f"container -> local {BIG // MiB} MiB in {dt:.2f}s ({BIG / MiB / dt:.0f} MiB/s)")
        m = h.expect(r"^opened stream (\d+) from (\S+)")
        stream = int(m.group(1))
        inn, out = closed_line(h, stream)
        assert {inn, out} == {BIG + 5, len(reply)}, f"htc counted in {inn} out {out}, expected " \
            f"{{{BIG + 5}, {len(reply)}}}"


def test_download_big_sha256():
    with TcpServer(local_service) as srv, pull_env(srv.port) as (d, h, cport, sid):
        s = connect_tcp(cport, timeout=60)
        try:
            t0 = time.monotonic()
            s.sendall(b"SRC %d down\n" % BIG)
            s.settimeout(60)
            hsh = hashlib.sha256()
            n = 0
            while True:
                dd = s.recv(1 << 18)
                if not dd:
                    break
                hsh.update(dd)
                n += len(dd)
            dt = time.monotonic() - t0
        finally:
            s.close()
        assert n == BIG, f"container side got {n} bytes of {BIG}"
        assert hsh.hexdigest() == Blocks(BIG, b"down").digest(), "sha256 differs local -> container"
        log(f"local -> container {BIG // MiB} MiB in {dt:.2f}s ({BIG / MiB / dt:.0f} MiB/s)")
        stream = int(h.expect(r"^opened stream (\d+) from 127\.0\.0\.1:\d+").group(1))
        inn, out = closed_line(h, stream)
        assert {inn, out} == {BIG, len(b"SRC %d down\n" % BIG)}, (inn, out)


def test_half_close_container_first():
    with TcpServer(local_service) as srv, pull_env(srv.port) as (d, h, cport, sid):
        payload = Blocks(MiB + 12345, b"hc").chunks()
        data = b"".join(payload)
        s = connect_tcp(cport)
        try:
            s.sendall(b"ECHO\n" + data)
            s.shutdown(socket.SHUT_WR)  # no more from the container side...
            got = recv_all(s, STEP)      # ...but the reply still arrives, then EOF
        finally:
            s.close()
        assert got == data, f"echo after half-close: {len(got)} bytes of {len(data)}"


def test_half_close_local_first():
    with TcpServer(local_service) as srv, pull_env(srv.port) as (d, h, cport, sid):
        s = connect_tcp(cport)
        try:
            s.sendall(b"HALF t1\n")
            s.settimeout(STEP)
            got = bytearray()
            while True:
                dd = s.recv(4096)
                if not dd:
                    break  # the local side's EOF reached the container side
                got += dd
            assert got == b"hello\n", got
            time.sleep(0.2)
            s.sendall(b"still talking after your EOF")  # the container side can still send
            s.shutdown(socket.SHUT_WR)
            end = time.monotonic() + STEP
            while "t1" not in half_results and time.monotonic() < end:
                time.sleep(0.02)
            assert half_results.get("t1") == b"still talking after your EOF", half_results.get("t1")
            assert closed_soon(s, STEP), "container connection not closed after both EOFs"
        finally:
            s.close()


def test_local_port_closed_resets():
    dead = free_port()
    with pull_env(dead) as (d, h, cport, sid):
        for _ in range(2):
            s = connect_tcp(cport)
            try:
                t0 = time.monotonic()
                assert closed_soon(s, STEP), "container connection to a dead local port stays open"
                dt = time.monotonic() - t0
                assert dt < 3, f"closed only after {dt:.1f}s"
            finally:
                s.close()
        assert h.proc.poll() is None, "htc exited after a failed local connect"
        end = time.monotonic() + STEP
        v = 0
        while time.monotonic() < end:
            v = d.metric("hoody_tunnel_resets_total", {"code": "REFUSED_STREAM", "direction": "received"})
            if v and v >= 2:
                break
            time.sleep(0.1)
        assert v == 2, f"resets_total{{REFUSED_STREAM,received}} = {v}, expected 2"
        assert d.get_json("/api/v1/tunnel/sessions")["sessions"][0]["activeStreams"] == 0


def test_opened_closed_lines():
    with TcpServer(local_service) as srv, pull_env(srv.port) as (d, h, cport, sid):
        ids = []
        for i in range(3):
            s = connect_tcp(cport)
            try:
                msg = b"ECHO\n" + b"x" * (100 * (i + 1))
                s.sendall(msg)
                s.shutdown(socket.SHUT_WR)
                assert recv_all(s) == msg[5:]
                peer = "127.0.0.1:%d" % s.getsockname()[1]
            finally:
                s.close()
            m = h.expect(r"^opened stream (\d+) from (\S+)")
            assert m.group(2) == peer, (m.group(0), peer)
            sid_ = int(m.group(1))
            ids.append(sid_)
            inn, out = closed_line(h, sid_)
            assert {inn, out} == {len(msg), len(msg) - 5}, (inn, out, len(msg))
        assert ids == sorted(ids) and len(set(ids)) == 3, ids


def sig_exit(sig):
    with TcpServer(local_service) as srv, pull_env(srv.port) as (d, h, cport, sid):
        s = connect_tcp(cport)
        try:
            s.sendall(b"ECHO\nabc")
            s.settimeout(STEP)
            assert s.recv(10) == b"abc"
            h.expect(r"^opened stream")
            t0 = time.monotonic()
            h.signal(sig)
            rc = h.wait(STEP)
            assert rc == 0, f"htc exit code {rc} after signal {sig} (stderr {h.stderr()[-500:]!r})"
            log(f"htc exited {time.monotonic() - t0:.2f}s after signal {sig}")
            assert closed_soon(s, STEP), "open PULL connection survived htc's exit"
        finally:
            s.close()
        assert wait_port_closed(cport, timeout=STEP), "PULL port still open after htc exit"
        end = time.monotonic() + STEP
        while time.monotonic() < end:
            b = d.get_json("/api/v1/tunnel/bindings")
            if b["total"] == 0:
                break
            time.sleep(0.05)
        assert b["total"] == 0 and b["bindings"] == [], b


def test_sigint_exit_0_port_released():
    sig_exit(signal.SIGINT)


def test_sigterm_exit_0_port_released():
    sig_exit(signal.SIGTERM)


def test_bind_refused_exit_1():
    with Daemon() as d:
        h = Htc(d, "pull", "3000", "--port", "443")
        try:
            rc = h.wait(STEP)
            assert rc == 1, f"htc exit code {rc} for a refused bind"
            err = h.stderr()
            assert "htc: bind port 443 refused: PRIVILEGED_PORT: " in err, err
        finally:
            h.stop()
        with socket.socket() as outsider:
            outsider.bind(("127.0.0.1", 0))
            outsider.listen(1)
            taken = outsider.getsockname()[1]
            h = Htc(d, "pull", "3000", "--port", str(taken))
            try:
                assert h.wait(STEP) == 1
                assert f"htc: bind port {taken} refused: PORT_IN_USE: " in h.stderr(), h.stderr()
            finally:
                h.stop()
        b = d.get_json("/api/v1/tunnel/bindings")
        assert b["total"] == 0, b


def test_pull_bind_host_v6():
    if not ipv6_loopback_ok():
        print("    (skipped: no ::1)")
        return
    with TcpServer(local_service) as srv, pull_env(srv.port, "--bind-host", "::1") as (d, h, cport, sid):
        s = connect_tcp(cport, "::1")
        try:
            s.sendall(b"ECHO\nv6!")
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b"v6!"
        finally:
            s.close()


if __name__ == "__main__":
    run_tests([
        test_session_and_binding_lines,
        test_upload_big_sha256,
        test_download_big_sha256,
        test_half_close_container_first,
        test_half_close_local_first,
        test_local_port_closed_resets,
        test_opened_closed_lines,
        test_sigint_exit_0_port_released,
        test_sigterm_exit_0_port_released,
        test_bind_refused_exit_1,
        test_pull_bind_host_v6,
    ], timeout=120)
