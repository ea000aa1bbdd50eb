#!/usr/bin/env python3
"""What htc shows while a tunnel runs. On a terminal (driven through tmux,
read back with capture-pane): a status block at the top (session,
online/closed, RTT, one row per binding and listener with its public URL,
totals) above a log of timestamped request lines, coloured unless NO_COLOR
is set. In a pipe: the start-up lines as they are, then log lines that
start with the local time, name the binding when several are up, and say
why a request failed (local connect refused, reset, timeout).
--log-format json: one JSON object per event."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from exposelib import LocalService, pattern  # noqa: E402

PATTERN = "https://{port}.example.test"
STAMP_RX = r"\d\d:\d\d:\d\d\.\d{3}"


def dead_port():
    """A loopback port nobody listens on."""
    return free_port()


def get(port, target, timeout=STEP):
    """One GET to 127.0.0.1:port; (status, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: t.test\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            raw += b
    finally:
        s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


class Tmux:
    """A private tmux server (its own socket) running one command in a pane."""

    def __init__(self, cmd, env, cols=110, rows=30):
        self.dir = tempfile.mkdtemp(prefix="htc-tmux-")
        self.sock = os.path.join(self.dir, "s")
        full_env = dict(os.environ)
        full_env.update(env)
        self.env = full_env
        self.tmux("new-session", "-d", "-x", str(cols), "-y", str(rows), cmd)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", *args], env=self.env,
                              capture_output=True, timeout=STEP, check=True).stdout.decode()

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def wait(self, regex, timeout=STEP):
        rx = re.compile(regex, re.M)
        end = time.monotonic() + timeout
        while True:
            s = self.screen()
            m = rx.search(s)
            if m:
                return m
            if time.monotonic() > end:
                raise AssertionError(f"no {regex!r} on the screen within {timeout}s:\n{s}")
            time.sleep(0.1)

    def close(self):
        try:
            self.tmux("kill-server")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def view(d, env, *args):
    # the pane's command: htc, then keep the pane (and its last screen) open
    cmd = " ".join([HTC, "--url", d.url, "--token", d.token, *args]) + "; echo EXIT=$?; sleep 60"
    return Tmux(cmd, dict(env, TERM="xterm-256color"))


def test_terminal_view():
    svc, dead = LocalService(), dead_port()
    try:
        with Daemon("--public-url-pattern", PATTERN, log_level="info") as d:
            t = view(d, {"NO_COLOR": ""}, "up", "--expose", f"0:{svc.port}", "--expose", f"0:{dead}",
                     "--forward", "0:127.0.0.1:9")
            try:
                t.wait(r"^Session +S-\S+$")
                t.wait(r"^Status +online$")
                good = int(t.wait(r"^http +https://(\d+)\.example\.test -> 127\.0\.0\.1:%d$" % svc.port).group(1))
                bad = int(t.wait(r"^http +https://(\d+)\.example\.test -> 127\.0\.0\.1:%d$" % dead).group(1))
                t.wait(r"^forward +127\.0\.0\.1:\d+ -> 127\.0\.0\.1:9 \(in the container\)$")
                t.wait(r"^RTT +\d+\.\d\d ms$")  # a PING went out and came back
                assert get(good, "/size/7?tag=v1") == (200, pattern(7))
                st, body = get(bad, "/x")
                assert st == 502 and b"local connect refused" in body, (st, body)
                t.wait(r"^%s \[%d\] GET /size/7\?tag=v1 200 \d+ms 7 B$" % (STAMP_RX, good))
                t.wait(r"^%s \[%d\] GET /x 502 \d+ms 0 B \(local connect refused\)$" % (STAMP_RX, bad))
                t.wait(r"^Traffic +2 requests \(1 failed\), 0 streams", timeout=STEP)
                scr = t.screen()
                lines = scr.splitlines()
                rule = next(i for i, ln in enumerate(lines) if ln.startswith("-----"))
                first_log = next(i for i, ln in enumerate(lines) if re.match(STAMP_RX, ln))
                assert rule < first_log, scr  # the block stays above the log
                colored = t.screen(escapes=True)
                assert "\x1b[32m" in colored, colored  # online and the 200 in green
                t.tmux("send-keys", "C-c")
                t.wait(r"^EXIT=0$")
                t.wait(r"^Status +closed$")
            finally:
                t.close()
    finally:
        svc.close()


def test_no_color():
    svc = LocalService()
    try:
        with Daemon(log_level="info") as d:
            t = view(d, {"NO_COLOR": "1"}, "expose", str(svc.port), "--port", "0")
            try:
                port = int(t.wait(r"^http +container port (\d+) -> 127\.0\.0\.1:%d$" % svc.port).group(1))
                t.wait(r"^Status +online$")
                assert get(port, "/size/3?tag=nc")[0] == 200
                t.wait(r"^%s GET /size/3\?tag=nc 200 \d+ms 3 B$" % STAMP_RX)  # one binding: no label
                t.wait(r"^no public URL: ")
                colored = t.screen(escapes=True)
                assert not re.search(r"\x1b\[3\dm", colored), colored
            finally:
                t.close()
    finally:
        svc.close()


def reset_handler(c):
    """Read the request, then reset the connection (RST, no response)."""
    c.recv(65536)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def slow_handler(c):
    c.recv(65536)
    time.sleep(3)


def test_plain_lines():
    svc, dead = LocalService(), dead_port()
    rst, slow = TcpServer(reset_handler), TcpServer(slow_handler)
    try:
        with Daemon("--response-timeout", "1s", log_level="info") as d:
            with Htc(d, "up", "--expose", f"0:{svc.port}", "--expose", f"0:{dead}", "--expose",
                     f"0:{rst.port}", "--expose", f"0:{slow.port}") as h:
                ports = {}
                for p in (svc.port, dead, rst.port, slow.port):
                    ports[p] = int(h.expect(r"^container port (\d+) -> 127\.0\.0\.1:%d$" % p).group(1))
                assert any(re.match(r"^session S-\S+$", ln) for ln in h.raw_lines), h.raw_lines
                assert get(ports[svc.port], "/size/5?tag=p1") == (200, pattern(5))
                m = h.expect(r"^\[(\d+)\] GET /size/5\?tag=p1 200 (\d+)ms 5 B$")
                assert int(m.group(1)) == ports[svc.port], m.group(0)
                assert get(ports[dead], "/d")[0] == 502
                h.expect(r"^\[%d\] GET /d 502 \d+ms 0 B \(local connect refused\)$" % ports[dead])
                assert get(ports[rst.port], "/r")[0] == 502
                h.expect(r"^\[%d\] GET /r 502 \d+ms 0 B \(reset\)$" % ports[rst.port])
                assert get(ports[slow.port], "/s")[0] == 504
                h.expect(r"^\[%d\] GET /s 504 \d+ms 0 B \(timeout\)$" % ports[slow.port])
                for ln in h.raw_lines:  # log lines carry the time, start-up lines do not
                    if " GET " in ln:
                        assert re.match(r"^%s \[" % STAMP_RX, ln), ln
                    elif ln.startswith("container port") or ln.startswith("session "):
                        assert not re.match(STAMP_RX, ln), ln
                d.stop()
                h.expect(r"^disconnected: ", STEP)
                assert any(re.match(r"^%s disconnected: " % STAMP_RX, ln) for ln in h.raw_lines), h.raw_lines
                h.expect(r"^reconnecting in \d+ ms")
                assert any(re.match(r"^%s reconnecting in " % STAMP_RX, ln) for ln in h.raw_lines)
    finally:
        for s in (svc, rst, slow):
            s.close()


def test_log_format_json():
    svc = LocalService()
    try:
        with Daemon("--public-url-pattern", PATTERN, log_level="info") as d:
            with Htc(d, "--log-format", "json", "expose", str(svc.port), "--port", "0") as h:
                def next_event(name):
                    end = time.monotonic() + STEP
                    while time.monotonic() < end:
                        for ln in list(h.lines):
                            o = json.loads(ln)  # every line is one JSON object
                            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["time"]), o
                            if o["event"] == name:
                                return o
                        time.sleep(0.05)
                    raise AssertionError(f"no {name} event: {h.lines}")

                assert next_event("session")["session"].startswith("S-")
                b = next_event("bound")
                assert b["kind"] == "http" and b["to"] == "127.0.0.1:%d" % svc.port, b
                port = int(re.match(r"https://(\d+)\.example\.test$", b["from"]).group(1))
                assert b["binding"] == str(port), b
                assert next_event("state")["state"] == "online"
                assert get(port, "/size/9?tag=j") == (200, pattern(9))
                r = next_event("request")
                assert (r["method"], r["path"], r["status"], r["bytes"]) == ("GET", "/size/9?tag=j", 200, 9), r
                assert isinstance(r["duration_ms"], int) and "binding" not in r and "error" not in r, r
    finally:
        svc.close()


def test_bad_log_format():
    with Daemon(log_level="info") as d:
        r = subprocess.run([HTC, "--url", d.url, "--token", d.token, "--log-format", "xml", "expose", "1"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=STEP)
        assert r.returncode == 2 and b"--log-format must be text or json" in r.stderr, r


if __name__ == "__main__":
    run_tests([test_terminal_view, test_no_color, test_plain_lines, test_log_format_json, test_bad_log_format])
