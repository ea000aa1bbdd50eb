#!/usr/bin/env python3
"""htc forward and htc socks against the real daemon: the first lines on
stdout; curl through `forward`, and through `socks` with --socks5,
--socks5-hostname (the name resolved in the container) and --socks4a; 100
MiB both ways hashed through `forward`, with half-close; a SOCKS client of
the test's own for an IPv6 target and for each reply code the daemon's
refusals map to (not allowed, refused, unknown name, unsupported command);
a refused forward closes the local connection and the session stays up."""
import hashlib
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from test_forward import Dns  # noqa: E402

BIG = 100 * 1024 * 1024


class Web:
    """A small HTTP server on 127.0.0.1 (a service inside the container)."""

    def __init__(self):
        import http.server as hs

        class H(hs.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                body = f"container says hi {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.srv = hs.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", str(STEP), *args], capture_output=True, timeout=STEP * 2)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def first_port(h, regex):
    m = re.search(regex, h.expect(regex).group(0))
    return int(m.group(1))


def test_forward_curl_and_lines():
    web = Web()
    try:
        with Daemon() as d, Htc(d, "forward", f"0:127.0.0.1:{web.port}") as h:
            m = h.expect(r"^forward: 127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:%d \(in the container\)$" % web.port)
            assert h.lines[0] == m.group(0), h.lines
            # at once, maybe before the session is up: the connection waits for it
            rc, out, err = curl(f"http://127.0.0.1:{m.group(1)}/x")
            assert rc == 0 and out == "container says hi /x", (rc, out, err)
    finally:
        web.close()


def test_socks_curl():
    web = Web()
    try:
        with Daemon() as d, Htc(d, "socks", "0") as h:
            m = h.expect(r"^socks: 127\.0\.0\.1:(\d+) ")
            sp = m.group(1)
            h.expect(r"^session ")
            for flag, host in (("--socks5", "127.0.0.1"), ("--socks5-hostname", "localhost"),
                               ("--socks4a", "localhost")):
                rc, out, err = curl(flag, f"127.0.0.1:{sp}", f"http://{host}:{web.port}/s")
                assert rc == 0 and out == "container says hi /s", (flag, rc, out, err)
    finally:
        web.close()


def _echo_big(srv_sock):
    """Echo everything; close after the peer's EOF (half-close both ways)."""
    c, _ = srv_sock.accept()
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        c.sendall(b)
    c.shutdown(socket.SHUT_WR)
    c.close()


def test_forward_100mib_half_close():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    t = threading.Thread(target=_echo_big, args=(ls,), daemon=True)
    t.start()
    with Daemon() as d, Htc(d, "forward", f"0:127.0.0.1:{ls.getsockname()[1]}") as h:
        lport = int(h.expect(r"^forward: 127\.0\.0\.1:(\d+) ").group(1))
        h.expect(r"^session ")
        s = socket.create_connection(("127.0.0.1", lport), timeout=STEP * 6)
        data = os.urandom(1 << 20) * (BIG >> 20)
        got = hashlib.sha256()
        n = 0

        def reader():
            nonlocal n
            while True:
                b = s.recv(1 << 20)
                if not b:
                    return
                got.update(b)
                n += len(b)

        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)  # half-close: the echo side reads EOF, then ends its side
        rt.join(STEP * 12)
        assert not rt.is_alive(), f"{n} of {BIG} bytes back"
        assert n == BIG and got.digest() == hashlib.sha256(data).digest(), n
        s.close()
    ls.close()


def socks5(port, atyp, addr, dport, cmd=1):
    """A SOCKS5 CONNECT of the test's own: the reply code and the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=STEP)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(bytes([5, cmd, 0, atyp]) + addr + struct.pack(">H", dport))
    rep = b""
    while len(rep) < 4:
        b = s.recv(4 - len(rep))
        assert b, rep
        rep += b
    return rep[1], s


def test_socks_codes():
    dns = Dns()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    cport = closed.getsockname()[1]
    closed.close()
    try:
        with Daemon("--dns-servers", f"127.0.0.1:{dns.port}", "--forward-connect-timeout", "2s") as d, \
                Htc(d, "socks", "0") as h:
            sp = int(h.expect(r"^socks: 127\.0\.0\.1:(\d+) ").group(1))
            h.expect(r"^session ")
            cases = (
                ("not allowed", 1, socket.inet_aton("10.255.255.1"), 80, 1, 0x02),
                ("refused", 1, socket.inet_aton("127.0.0.1"), cport, 1, 0x05),
                ("unknown name", 3, bytes([7]) + b"nx.test", 80, 1, 0x04),
                ("BIND command", 1, socket.inet_aton("127.0.0.1"), 80, 2, 0x07),
                ("address type 9", 9, b"", 80, 1, 0x08),
            )
            for what, atyp, addr, port, cmd, want in cases:
                t0 = time.monotonic()
                code, s = socks5(sp, atyp, addr, port, cmd)
                s.close()
                assert code == want, (what, hex(code))
                assert time.monotonic() - t0 < 1.0, (what, time.monotonic() - t0)
            t0 = time.monotonic()  # a silent name server: TTL expired once --forward-connect-timeout is over
            code, s = socks5(sp, 3, bytes([9]) + b"slow.test", 80)
            s.close()
            assert code == 0x06 and 1.8 < time.monotonic() - t0 < STEP, (hex(code), time.monotonic() - t0)
            if ipv6_loopback_ok():
                ls = socket.socket(socket.AF_INET6)
                ls.bind(("::1", 0))
                ls.listen(1)
                code, s = socks5(sp, 4, socket.inet_pton(socket.AF_INET6, "::1"), ls.getsockname()[1])
                assert code == 0x00, hex(code)
                c, _ = ls.accept()
                rest = s.recv(64)  # the rest of the reply: bound address and port
                assert len(rest) >= 6, rest
                s.sendall(b"over v6")
                assert c.recv(64) == b"over v6"
                for x in (s, c, ls):
                    x.close()
            # the session is still up: a good target after all those refusals
            web = Web()
            try:
                rc, out, err = curl("--socks5-hostname", f"127.0.0.1:{sp}", f"http://localhost:{web.port}/ok")
                assert rc == 0 and out.endswith("/ok"), (rc, out, err)
            finally:
                web.close()
    finally:
        dns.close()


def test_forward_refused_closes_local():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    cport = closed.getsockname()[1]
    closed.close()
    with Daemon() as d, Htc(d, "forward", f"0:127.0.0.1:{cport}") as h:
        lport = int(h.expect(r"^forward: 127\.0\.0\.1:(\d+) ").group(1))
        h.expect(r"^session ")
        s = socket.create_connection(("127.0.0.1", lport), timeout=STEP)
        assert s.recv(16) == b"", "a refused target closes the local connection"
        s.close()
        h.expect(r"CONNECTION_REFUSED")


if __name__ == "__main__":
    run_tests([
        test_forward_curl_and_lines,
        test_socks_curl,
        test_forward_100mib_half_close,
        test_socks_codes,
        test_forward_refused_closes_local,
    ])
