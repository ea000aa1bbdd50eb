"""htlib: shared helpers for the hoody-tunnel integration tests.

What is here:
  * paths and scale: ROOT, BUILD, DAEMON, HTC, SAN (True when BUILD names a
    sanitizer build, or HT_SLOW=1), scaled(normal, slow);
  * free_port(), wait_port_closed(), can_connect();
  * Daemon: one hoody-tunnel child (start, wait ready, SIGTERM stop with an
    exit-code check, stderr/stdout in temp files, sanitizer and secret
    checks, RSS);
  * Htc: one htc child with its stdout read line by line (expect a regex
    with a timeout), and htc_run() for the one-shot admin commands;
  * http()/ahttp()/http_json(): one request to the control plane;
  * the tunnel protocol in Python: frame constants, encode/decode, and an
    asyncio TunnelClient (over python3-websockets) that does the handshake,
    binds, accepts PULL streams and moves data with credit, or hands every
    frame to the test untouched (auto=False) so a test can misbehave;
  * TcpServer: a threaded local TCP server (echo or any handler);
  * run_tests(): run a file's cases, one line each, "N passed, N failed".

Every wait is bounded; processes are stopped by their own PID; loopback only.
"""
import asyncio
import collections
import hashlib
import http.client as _hc
import json
import os
import queue
import re
import resource
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import websockets

ROOT = os.environ.get("HT_ROOT", os.getcwd())
BUILD = os.environ.get("BUILD", "build")
DAEMON = os.path.join(ROOT, BUILD, "hoody-tunnel")
HTC = os.path.join(ROOT, BUILD, "htc")
SAN = "san" in os.path.basename(BUILD.rstrip("/")) or os.environ.get("HT_SLOW") == "1"
STEP = 10.0 if SAN else 5.0  # seconds allowed for any single network step
V1 = "hoody-tunnel.v1"
V2 = "hoody-tunnel.v2"
MiB = 1 << 20
KiB = 1 << 10

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

# htc reads ~/.config/htc/config: the tests' htc sees an empty config directory, never the user's
os.environ.pop("HTC_CONFIG", None)
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="ht-xdg-")


def scaled(normal, slow):
    """normal, or slow under a sanitizer build (or HT_SLOW=1)."""
    return slow if SAN else normal


def log(*args):
    print("   ", *args, flush=True)


# ---- ports ------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def can_connect(port, host="127.0.0.1", timeout=2.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_port_closed(port, host="127.0.0.1", timeout=STEP):
    """True when connecting to port is refused within timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not can_connect(port, host, 1.0):
            return True
        time.sleep(0.05)
    return False


def ipv6_loopback_ok():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def raise_nofile():
    """Raise this process's RLIMIT_NOFILE soft limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 65536
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- the daemon ---------------------------------------------------------------

def new_token():
    return "tok-" + secrets.token_hex(16)


def parse_duration(text):
    """Seconds of '2s', '500ms', '1m' or a bare number (seconds)."""
    m = re.fullmatch(r"([0-9.]+)(ms|s|m|h)?", text)
    if not m:
        return 10.0
    v = float(m.group(1))
    return v * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


class Daemon:
    """A hoody-tunnel child on 127.0.0.1:<free port>.

    Daemon(*flags, token=None, nofile=None, env=None, log_level="debug", host="127.0.0.1").
    Adds --listen (on host), --token, --log-level and --shutdown-grace 1s
    unless the flags give them. Use as a context manager: __exit__ stops it with SIGTERM,
    expects exit code 0 (expect_rc), and fails on sanitizer reports or the
    token appearing in its output.
    """

    def __init__(self, *flags, token=None, nofile=None, env=None, log_level="debug", expect_rc=0,
                 host="127.0.0.1"):
        self.host = host
        self.port = free_port(host)
        self.token = token or new_token()
        self.flags = list(flags)
        self.nofile = nofile
        self.env = env
        self.log_level = log_level
        self.expect_rc = expect_rc
        self.proc = None
        self.errf = None
        self.outf = None
        self.stopped = False

    @property
    def url(self):
        return f"ws://{self.host}:{self.port}"

    def shutdown_grace(self):
        for i, f in enumerate(self.flags):
            if f == "--shutdown-grace" and i + 1 < len(self.flags):
                return parse_duration(self.flags[i + 1])
            if f.startswith("--shutdown-grace="):
                return parse_duration(f.split("=", 1)[1])
        return 1.0

    def argv(self):
        a = [DAEMON]
        if not any(f.startswith("--listen") for f in self.flags):
            a += ["--listen", f"{self.host}:{self.port}"]
        if not any(f.startswith("--token") for f in self.flags):
            a += ["--token", self.token]
        if not any(f.startswith("--log-level") for f in self.flags):
            a += ["--log-level", self.log_level]
        if not any(f.startswith("--shutdown-grace") for f in self.flags):
            a += ["--shutdown-grace", "1s"]
        return a + self.flags

    def start(self):
        self.errf = tempfile.TemporaryFile()
        self.outf = tempfile.TemporaryFile()
        pre = None
        if self.nofile is not None:
            n = self.nofile

            def pre():
                resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.outf,
                                     stderr=self.errf, preexec_fn=pre, env=env)
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited at start with {self.proc.returncode}: "
                                     f"{self.stderr()[-2000:]}")
            if can_connect(self.port, self.host, timeout=0.5):
                return self
            time.sleep(0.05)
        raise AssertionError("daemon not listening after 10 s: " + self.stderr()[-2000:])

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.kill()
            raise

    def __exit__(self, et, ev, tb):
        try:
            self.stop()
        except AssertionError:
            if et is None:
                raise
            log("also at stop:", sys.exc_info()[1])
        return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _read(self, f):
        if f is None:
            return ""
        f.flush()
        f.seek(0)
        return f.read().decode("utf-8", "replace")

    def stderr(self):
        return self._read(self.errf)

    def stdout(self):
        return self._read(self.outf)

    def rss(self):
        """VmRSS in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def nfds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)

    def check_output(self):
        """Fail on sanitizer reports or the token in stdout/stderr."""
        err, out = self.stderr(), self.stdout()
        for mark in SANITIZER_MARKS:
            for text in (err, out):
                i = text.find(mark)
                if i >= 0:
                    raise AssertionError(f"sanitizer report in daemon output:\n{text[max(0, i - 200):i + 3000]}")
        if self.token in err or self.token in out:
            raise AssertionError("the token appears in the daemon's output")

    def stop(self, timeout=None):
        """SIGTERM, wait, check exit code and output. Idempotent."""
        if self.stopped or self.proc is None:
            return
        self.stopped = True
        if timeout is None:
            timeout = self.shutdown_grace() + (5.0 if SAN else 2.0)
        rc = None
        t0 = time.monotonic()
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            self.check_output_quiet()
            raise AssertionError(f"daemon did not exit within {timeout:.1f}s of SIGTERM; "
                                 f"stderr tail:\n{self.stderr()[-1500:]}")
        self.check_output()
        if self.expect_rc is not None and rc != self.expect_rc:
            raise AssertionError(f"daemon exit code {rc} (expected {self.expect_rc}) after "
                                 f"{time.monotonic() - t0:.1f}s; stderr tail:\n{self.stderr()[-1500:]}")
        return rc

    def check_output_quiet(self):
        try:
            self.check_output()
        except AssertionError as e:
            log(str(e)[:3000])

    # convenience
    def get(self, path, **kw):
        return http(self.port, "GET", path, host=self.host, **kw)

    def get_json(self, path, **kw):
        st, hd, body = http(self.port, "GET", path, host=self.host, **kw)
        assert st == 200, f"GET {path}: {st} {body[:300]!r}"
        return json.loads(body)

    def metrics(self):
        st, hd, body = http(self.port, "GET", "/api/v1/tunnel/metrics", host=self.host)
        assert st == 200, f"metrics: {st}"
        return body.decode()

    def metric(self, name, labels=None):
        return metric_value(self.metrics(), name, labels)

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}


def metric_value(text, name, labels=None):
    """Value of the sample name{labels} in Prometheus text, None if absent."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        if labels:
            got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            if any(got.get(k) != v for k, v in labels.items()):
                continue
        return float(m.group(3))
    return None


# ---- HTTP -----------------------------------------------------------------------

def http(port, method, path, headers=None, body=None, timeout=STEP, host="127.0.0.1"):
    """One request; returns (status, {lower-case header: value}, body bytes)."""
    c = _hc.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()




def http_json(port, method, path, headers=None, expect=200):
    st, hd, body = http(port, method, path, headers)
    assert st == expect, f"{method} {path}: status {st} (expected {expect}) {body[:300]!r}"
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError(f"{method} {path}: body is not JSON: {body[:300]!r}")


async def ahttp(port, method, path, headers=None, body=None):
    return await asyncio.to_thread(http, port, method, path, headers, body)


# ---- htc ---------------------------------------------------------------------------

STAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} ")


class Htc:
    """An htc child: Htc(daemon, 'pull', '3000', ...). Lines of stdout are read
    by a thread; expect(regex) waits for the next matching one."""

    def __init__(self, daemon, *args, token=None, url=None):
        self.token = token or daemon.token
        self._spawn([HTC, "--url", url or daemon.url, "--token", self.token, *args], None)

    def _spawn(self, argv, env):
        self.argv = argv
        self.errf = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errf, env=env)
        self.lines = []  # stdout lines, the leading "HH:MM:SS.mmm " of log lines removed
        self.raw_lines = []  # the same as printed
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.raw_lines.append(line)
            line = STAMP.sub("", line)  # log lines start with the local time
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    def expect(self, regex, timeout=STEP):
        """The match of the next stdout line matching regex (earlier lines skipped)."""
        end = time.monotonic() + timeout
        rx = re.compile(regex)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.q.put(None)
                raise AssertionError(f"htc exited ({self.proc.poll()}) before a line matching "
                                     f"{regex!r}; stdout {self.lines[-10:]}; stderr {self.stderr()[-800:]}")
            m = rx.search(line)
            if m:
                return m
        raise AssertionError(f"no htc line matching {regex!r} within {timeout}s; stdout "
                             f"{self.lines[-10:]}; stderr {self.stderr()[-800:]}")

    def stderr(self):
        self.errf.flush()
        self.errf.seek(0)
        return self.errf.read().decode("utf-8", "replace")

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            if self.wait(5) is None:
                self.proc.kill()
                self.proc.wait(5)
        self.t.join(2)
        text = self.stderr()
        if self.token in text or any(self.token in ln for ln in self.lines):
            raise AssertionError("the token appears in htc's output")
        for mark in SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                raise AssertionError(f"sanitizer report in htc stderr:\n{text[max(0, i - 200):i + 3000]}")

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        try:
            self.stop()
        except AssertionError:
            if et is None:
                raise
        return False


# Where --json goes on an htc admin command line: before the subcommand.
def htc_run(daemon, *args, json_out=False, timeout=STEP * 2, token=None):
    """Run an htc admin command; returns (rc, stdout, stderr)."""
    argv = [HTC, "--url", daemon.url, "--token", token or daemon.token]
    if json_out:
        argv.append("--json")
    argv += list(args)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    err = r.stderr.decode("utf-8", "replace")
    tok = token or daemon.token
    if tok in err or tok.encode() in r.stdout:
        raise AssertionError(f"the token appears in the output of htc {args}")
    for mark in SANITIZER_MARKS:
        if mark in err:
            raise AssertionError(f"sanitizer report in htc {args}: {err[:3000]}")
    return r.returncode, r.stdout.decode("utf-8", "replace"), err


# ---- tunnel protocol -------------------------------------------------------------

HELLO, HELLO_OK, BIND, BIND_OK, BIND_ERR = 0x01, 0x02, 0x03, 0x04, 0x05
UNBIND, UNBIND_OK, UNBIND_ERR = 0x06, 0x07, 0x08
JOIN, JOIN_OK, JOIN_ERR, SHARD_MAP, REISSUE = 0x09, 0x0A, 0x0B, 0x0C, 0x0D
STREAM_OPEN, DATA, EOF, RESET, WINDOW, STREAM_RESPONSE_HEAD = 0x10, 0x12, 0x13, 0x14, 0x15, 0x16
PING, PONG, GOAWAY, BIND_REVOKED = 0x20, 0x21, 0x30, 0x40
FORWARD_OPEN, FORWARD_OK, FORWARD_ERR = 0x41, 0x42, 0x43
CLIENT_STREAM = 0x80000000

TYPE_NAMES = {v: k for k, v in dict(
    HELLO=HELLO, HELLO_OK=HELLO_OK, BIND=BIND, BIND_OK=BIND_OK, BIND_ERR=BIND_ERR, UNBIND=UNBIND,
    UNBIND_OK=UNBIND_OK, UNBIND_ERR=UNBIND_ERR, JOIN=JOIN, JOIN_OK=JOIN_OK, JOIN_ERR=JOIN_ERR,
    SHARD_MAP=SHARD_MAP, REISSUE=REISSUE, STREAM_OPEN=STREAM_OPEN, DATA=DATA, EOF=EOF, RESET=RESET,
    WINDOW=WINDOW, STREAM_RESPONSE_HEAD=STREAM_RESPONSE_HEAD, PING=PING, PONG=PONG, GOAWAY=GOAWAY,
    BIND_REVOKED=BIND_REVOKED, FORWARD_OPEN=FORWARD_OPEN, FORWARD_OK=FORWARD_OK,
    FORWARD_ERR=FORWARD_ERR).items()}

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED = 0, 1, 2, 3, 4
FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM, BIND_ERROR = 5, 6, 7, 8, 9
IDLE_TIMEOUT, AUTH_ERROR, VERSION_MISMATCH, BIND_TAKEOVER, RESOURCE_EXHAUSTED = 10, 11, 12, 13, 14

HDR = struct.Struct(">BII")
MAX_PAYLOAD = 65536
MAX_MESSAGE = 262144
MAX_FRAMES = 64


class Frame(collections.namedtuple("Frame", "type stream payload")):
    def json(self):
        return json.loads(self.payload)

    def code(self):
        """u16 code of a RESET / GOAWAY."""
        return struct.unpack(">H", self.payload[:2])[0]

    def reason(self):
        return self.payload[2:].decode("utf-8", "replace")

    def __repr__(self):
        name = TYPE_NAMES.get(self.type, hex(self.type))
        p = self.payload if len(self.payload) <= 80 else self.payload[:80] + b"..."
        return f"<{name} s={self.stream} len={len(self.payload)} {p!r}>"


def frame(t, stream=0, payload=b""):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload).encode()
    elif isinstance(payload, str):
        payload = payload.encode()
    return HDR.pack(t, stream, len(payload)) + payload


def window(stream, inc):
    return frame(WINDOW, stream, struct.pack(">I", inc))


def reset_frame(stream, code, reason=""):
    return frame(RESET, stream, struct.pack(">H", code) + reason.encode())


def decode_frames(msg):
    """Frames of one WS message; ValueError on a truncated frame."""
    out = []
    i = 0
    while i < len(msg):
        if len(msg) - i < HDR.size:
            raise ValueError(f"truncated header at {i} of {len(msg)}")
        t, s, n = HDR.unpack_from(msg, i)
        i += HDR.size
        if n > MAX_PAYLOAD or i + n > len(msg):
            raise ValueError(f"bad frame length {n} at {i} of {len(msg)}")
        out.append(Frame(t, s, bytes(msg[i:i + n])))
        i += n
    return out


def batch(frames):
    """Pack encoded frames into messages of at most 64 frames / 262,144 bytes."""
    msgs, cur, size = [], [], 0
    for f in frames:
        if cur and (len(cur) == MAX_FRAMES or size + len(f) > MAX_MESSAGE):
            msgs.append(b"".join(cur))
            cur, size = [], 0
        cur.append(f)
        size += len(f)
    if cur:
        msgs.append(b"".join(cur))
    return msgs


class Rejected(Exception):
    """The handshake ended with a GOAWAY (code, reason) and/or a close."""

    def __init__(self, code, reason, close_code):
        super().__init__(f"rejected: GOAWAY {code} {reason!r}, close {close_code}")
        self.code, self.reason, self.close_code = code, reason, close_code


class Stream:
    """The client's end of one stream opened by the server (STREAM_OPEN)."""

    def __init__(self, client, sid, info):
        self.c = client
        self.id = sid
        self.info = info
        self.buf = bytearray()
        self.eof = False       # the server sent EOF
        self.reset = None      # RESET code received from the server
        self.sent_eof = False
        self.sent_reset = False
        self.send_credit = client.stream_window
        self.recv_total = 0
        self.returned = 0      # credit given back with WINDOW(stream)
        self.pending = 0       # consumed but not yet returned (manual mode)
        self.changed = asyncio.Event()
        self.sent_total = 0

    @property
    def done(self):
        return self.reset is not None or self.eof

    def _on_data(self, data):
        self.recv_total += len(data)
        if self.recv_total - self.returned > self.c.stream_window:
            self.c.violations.append(f"stream {self.id}: {self.recv_total - self.returned} bytes "
                                     f"outstanding > window {self.c.stream_window}")
        self.buf += data
        if self.c.auto_window:
            self._give(len(data))
        self.changed.set()

    def _give(self, n):
        if n > 0:
            self.returned += n
            frames = [window(0, n)]
            if not self.done and not self.sent_reset:
                frames.insert(0, window(self.id, n))
            else:
                # the stream is over for the server: only session credit matters
                pass
            self.c.session_returned += n
            self.c.queue_frames(frames)

    async def read(self, n=-1, timeout=STEP):
        """Up to n bytes (all buffered when n < 0); b'' at EOF; raises on RESET or timeout."""
        end = time.monotonic() + timeout
        while not self.buf:
            if self.reset is not None:
                raise ConnectionResetError(f"stream {self.id} reset with code {self.reset}")
            if self.eof or self.c.closed.is_set():
                return b""
            self.changed.clear()
            left = end - time.monotonic()
            if left <= 0:
                raise asyncio.TimeoutError(f"stream {self.id}: no data within {timeout}s")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        if n < 0 or n >= len(self.buf):
            out = bytes(self.buf)
            self.buf.clear()
        else:
            out = bytes(self.buf[:n])
            del self.buf[:n]
        if not self.c.auto_window:
            self._give(len(out))
        return out

    async def read_all(self, timeout=STEP):
        out = bytearray()
        while True:
            d = await self.read(timeout=timeout)
            if not d:
                return bytes(out)
            out += d

    async def read_exact(self, n, timeout=STEP):
        out = bytearray()
        while len(out) < n:
            d = await self.read(n - len(out), timeout=timeout)
            if not d:
                raise AssertionError(f"stream {self.id}: EOF after {len(out)} of {n} bytes")
            out += d
        return bytes(out)

    async def write(self, data, timeout=STEP):
        """Send data as DATA frames within the credit; waits for WINDOW."""
        mv = memoryview(data)
        while mv:
            end = time.monotonic() + timeout
            while self.send_credit <= 0 or self.c.session_send_credit <= 0:
                if self.reset is not None:
                    raise ConnectionResetError(f"stream {self.id} reset with code {self.reset}")
                if self.c.closed.is_set():
                    raise ConnectionError("tunnel closed")
                self.c.credit_changed.clear()
                left = end - time.monotonic()
                if left <= 0:
                    raise asyncio.TimeoutError(f"stream {self.id}: no credit within {timeout}s")
                try:
                    await asyncio.wait_for(self.c.credit_changed.wait(), left)
                except asyncio.TimeoutError:
                    pass
            n = min(len(mv), MAX_PAYLOAD, self.send_credit, self.c.session_send_credit)
            self.send_credit -= n
            self.c.session_send_credit -= n
            self.sent_total += n
            self.c.queue_frames([frame(DATA, self.id, bytes(mv[:n]))])
            mv = mv[n:]
            if self.c.send_backlog() > 4 * MiB:
                await self.c.flush()

    def write_eof(self):
        self.sent_eof = True
        self.c.queue_frames([frame(EOF, self.id)])

    def send_reset(self, code=CANCEL, reason=""):
        self.sent_reset = True
        self.c.queue_frames([reset_frame(self.id, code, reason)])

    async def wait_end(self, timeout=STEP):
        """Wait for the server's EOF or RESET; returns 'eof' or 'reset:<code>'."""
        end = time.monotonic() + timeout
        while self.reset is None and not self.eof:
            if self.c.closed.is_set():
                return "closed"
            self.changed.clear()
            left = end - time.monotonic()
            if left <= 0:
                raise asyncio.TimeoutError(f"stream {self.id} did not end within {timeout}s")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        return "eof" if self.reset is None else f"reset:{self.reset}"


class TunnelClient:
    """A tunnel client over python3-websockets.

    auto=True: PING is answered with PONG, STREAM_OPEN makes a Stream (see
    accept()), DATA/EOF/RESET/WINDOW go to their stream; other frames are
    queued for expect(). auto_window=True returns credit as soon as DATA
    arrives, else when the test reads it. auto=False: every frame is queued
    untouched and nothing is answered.
    """

    def __init__(self, port, subprotocol=V1, auto=True, auto_window=True, auto_pong=True,
                 host="127.0.0.1", ssl_context=None):
        self.port = port
        self.host = host
        self.ssl_context = ssl_context  # an ssl.SSLContext: wss:// (Python's OpenSSL)
        self.subprotocol = subprotocol
        self.auto = auto
        self.auto_window = auto_window
        self.auto_pong = auto_pong
        self.ws = None
        self.frames = asyncio.Queue()
        self.accepts = asyncio.Queue()
        self.streams = {}
        self.out = collections.deque()
        self.out_bytes = 0
        self.out_event = asyncio.Event()
        self.closed = asyncio.Event()
        self.credit_changed = asyncio.Event()
        self.violations = []
        self.pings = []
        self.goaways = []
        self.text_messages = 0
        self.reader_error = None
        self.hello_ok = None
        self.stream_window = 1 << 20
        self.session_window = 16 << 20
        self.session_send_credit = self.session_window
        self.session_recv = 0
        self.session_returned = 0
        self.next_ref = 1
        self.on_stream = None  # optional coroutine function(stream), run as a task per stream
        self.tasks = set()
        self._reader = None
        self._writer = None

    # connection -------------------------------------------------------------------

    async def connect(self, subprotocols=None, timeout=STEP):
        if subprotocols is None:
            subprotocols = [self.subprotocol] if self.subprotocol else None
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "wss" if self.ssl_context is not None else "ws"
        extra = {"ssl": self.ssl_context} if self.ssl_context is not None else {}
        self.ws = await websockets.connect(
            f"{scheme}://{host}:{self.port}/api/v1/tunnel/connect", subprotocols=subprotocols,
            max_size=None, compression=None, ping_interval=None, open_timeout=timeout,
            close_timeout=2, max_queue=None, **extra)
        self._reader = asyncio.ensure_future(self._read_loop())
        self._writer = asyncio.ensure_future(self._write_loop())
        return self

    async def __aenter__(self):
        if self.ws is None:
            await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self):
        for t in list(self.tasks):
            t.cancel()
        if self._writer:
            self._writer.cancel()
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                pass
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except BaseException:
                pass

    @property
    def close_code(self):
        return self.ws.close_code if self.ws else None

    async def wait_closed(self, timeout=STEP):
        """The WS close code once the connection is closed (1006: no close frame)."""
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.ws.close_code

    async def _read_loop(self):
        try:
            async for msg in self.ws:
                if isinstance(msg, str):
                    self.text_messages += 1
                    continue
                for f in decode_frames(msg):
                    self._on_frame(f)
        except websockets.exceptions.ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a decode error is a daemon bug
            self.reader_error = e
            self.violations.append(f"reader: {e!r}")
        finally:
            self.closed.set()
            self.credit_changed.set()
            for s in self.streams.values():
                s.changed.set()
            self.frames.put_nowait(None)

    def _on_frame(self, f):
        if f.type == GOAWAY:
            self.goaways.append((f.code(), f.reason()))
        if not self.auto:
            self.frames.put_nowait(f)
            return
        t = f.type
        if t == PING:
            self.pings.append((time.monotonic(), f.payload))
            if self.auto_pong:
                self.queue_frames([frame(PONG, 0, f.payload)])
            return
        if t == STREAM_OPEN:
            st = Stream(self, f.stream, f.json())
            if f.stream in self.streams:
                self.violations.append(f"stream id {f.stream} reused")
            if self.streams and f.stream <= max(self.streams):
                self.violations.append(f"stream id {f.stream} not increasing")
            self.streams[f.stream] = st
            if self.on_stream is not None:
                task = asyncio.ensure_future(self.on_stream(st))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            else:
                self.accepts.put_nowait(st)
            return
        if t in (DATA, EOF, RESET) or (t == WINDOW and f.stream != 0):
            st = self.streams.get(f.stream)
            if t == DATA:
                self.session_recv += len(f.payload)
                if self.session_recv - self.session_returned > self.session_window:
                    self.violations.append("session credit exceeded by the server")
            if st is None:
                if t == DATA and f.payload:
                    self.queue_frames([window(0, len(f.payload))])
                    self.session_returned += len(f.payload)
                self.violations.append(f"{f!r} for unknown stream")
                return
            if t == DATA:
                if st.eof or st.reset is not None:
                    self.violations.append(f"DATA after end on stream {st.id}")
                st._on_data(f.payload)
            elif t == EOF:
                st.eof = True
                st.changed.set()
            elif t == RESET:
                st.reset = f.code()
                st.changed.set()
                self.credit_changed.set()
            else:
                st.send_credit += struct.unpack(">I", f.payload)[0]
                self.credit_changed.set()
            return
        if t == WINDOW:
            self.session_send_credit += struct.unpack(">I", f.payload)[0]
            self.credit_changed.set()
            return
        self.frames.put_nowait(f)

    # sending ---------------------------------------------------------------------------

    def queue_frames(self, frames):
        """Queue encoded frames; the writer batches them into messages."""
        for f in frames:
            self.out.append(f)
            self.out_bytes += len(f)
        self.out_event.set()

    def queue_message(self, msg):
        """Queue one whole WS message as given (bytes or str), unbatched."""
        self.out.append(("msg", msg))
        self.out_event.set()

    def send_backlog(self):
        return self.out_bytes

    async def flush(self, timeout=STEP * 3):
        fut = asyncio.get_running_loop().create_future()
        self.out.append(("flush", fut))
        self.out_event.set()
        await asyncio.wait_for(fut, timeout)

    async def _write_loop(self):
        while True:
            await self.out_event.wait()
            self.out_event.clear()
            while self.out:
                item = self.out.popleft()
                if isinstance(item, tuple):
                    kind, val = item
                    if kind == "flush":
                        if not val.done():
                            val.set_result(None)
                        continue
                    try:
                        await self.ws.send(val)
                    except websockets.exceptions.ConnectionClosed:
                        pass
                    continue
                cur, size = [item], len(item)
                self.out_bytes -= len(item)
                while self.out and not isinstance(self.out[0], tuple) and len(cur) < MAX_FRAMES \
                        and size + len(self.out[0]) <= MAX_MESSAGE:
                    f = self.out.popleft()
                    self.out_bytes -= len(f)
                    cur.append(f)
                    size += len(f)
                try:
                    await self.ws.send(b"".join(cur))
                except websockets.exceptions.ConnectionClosed:
                    self.out.clear()
                    self.out_bytes = 0

    def send(self, *frames):
        """Queue encoded frames (batched with whatever else is queued)."""
        self.queue_frames(frames)

    async def send_now(self, *frames):
        self.queue_frames(frames)
        await self.flush()

    # receiving ---------------------------------------------------------------------------

    async def recv_frame(self, timeout=STEP):
        """Next queued frame; None once the connection is closed."""
        f = await asyncio.wait_for(self.frames.get(), timeout)
        if f is None:
            self.frames.put_nowait(None)
        return f

    async def expect(self, t, timeout=STEP, skip=()):
        """Next queued frame, which must be of type t (types in skip are dropped)."""
        while True:
            try:
                f = await self.recv_frame(timeout)
            except asyncio.TimeoutError:
                raise AssertionError(f"no {TYPE_NAMES.get(t, t)} within {timeout}s")
            if f is None:
                raise AssertionError(f"connection closed (code {self.close_code}) while waiting "
                                     f"for {TYPE_NAMES.get(t, t)}; goaways {self.goaways}")
            if f.type in skip:
                continue
            assert f.type == t, f"expected {TYPE_NAMES.get(t, t)}, got {f!r}"
            return f

    async def accept(self, timeout=STEP):
        """The next stream opened by the server."""
        try:
            return await asyncio.wait_for(self.accepts.get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no STREAM_OPEN within {timeout}s")

    # handshake and bindings ----------------------------------------------------------------

    async def hello(self, token, version=None, extra=None, timeout=STEP):
        """Send HELLO; return HELLO_OK's JSON or raise Rejected."""
        body = {"version": version or self.subprotocol, "auth": {"kind": "bearer", "token": token},
                "capabilities": []}
        if extra:
            body.update(extra)
        await self.send_now(frame(HELLO, 0, body))
        f = await self.recv_frame(timeout)
        if f is not None and f.type == HELLO_OK:
            ok = f.json()
            self.hello_ok = ok
            if isinstance(ok.get("streamWindow"), (int, float)):
                self.stream_window = int(ok["streamWindow"])
            if isinstance(ok.get("sessionWindow"), (int, float)):
                self.session_window = int(ok["sessionWindow"])
            self.session_send_credit = self.session_window
            return ok
        code = reason = None
        if f is not None and f.type == GOAWAY:
            code, reason = f.code(), f.reason()
        elif f is not None:
            raise AssertionError(f"unexpected answer to HELLO: {f!r}")
        try:
            cc = await self.wait_closed(timeout)
        except asyncio.TimeoutError:
            cc = "still open"
        raise Rejected(code, reason, cc)

    async def bind(self, kind="tcp", mode="pull", port=0, ref=None, timeout=STEP, **extra):
        """Send BIND; return (frame type, JSON) of BIND_OK / BIND_ERR."""
        if ref is None:
            ref = self.next_ref
            self.next_ref += 1
        body = {"clientBindRef": ref, "kind": kind, "mode": mode, "containerPort": port}
        body.update(extra)
        await self.send_now(frame(BIND, 0, body))
        while True:
            f = await self.recv_frame(timeout)
            if f is None:
                raise AssertionError(f"closed (code {self.close_code}) while waiting for the "
                                     f"answer to BIND; goaways {self.goaways}")
            if f.type in (BIND_OK, BIND_ERR):
                return f.type, f.json()
            raise AssertionError(f"unexpected answer to BIND: {f!r}")

    async def forward_open(self, host, port, timeout=STEP, sid=None):
        """FORWARD_OPEN on a new client stream; (FORWARD_OK|FORWARD_ERR, JSON, Stream)."""
        if sid is None:
            self.next_client_sid = getattr(self, "next_client_sid", CLIENT_STREAM) + 1
            sid = self.next_client_sid
        st = Stream(self, sid, {"host": host, "port": port})
        self.streams[sid] = st
        await self.send_now(frame(FORWARD_OPEN, sid, {"host": host, "port": port}))
        while True:
            f = await self.recv_frame(timeout)
            if f is None:
                raise AssertionError(f"closed (code {self.close_code}) while waiting for the "
                                     f"answer to FORWARD_OPEN; goaways {self.goaways}")
            if f.type in (FORWARD_OK, FORWARD_ERR) and f.stream == sid:
                if f.type == FORWARD_ERR:
                    del self.streams[sid]
                return f.type, f.json(), st
            raise AssertionError(f"unexpected answer to FORWARD_OPEN: {f!r}")

    async def bind_pull(self, port=0, **kw):
        """BIND a PULL port and require BIND_OK; returns its JSON."""
        t, j = await self.bind("tcp", "pull", port, **kw)
        assert t == BIND_OK, f"BIND pull {port} refused: {j}"
        return j

    async def unbind(self, bind_id, timeout=STEP):
        await self.send_now(frame(UNBIND, 0, {"bindId": bind_id}))
        f = await self.recv_frame(timeout)
        assert f is not None, f"closed while waiting for UNBIND answer ({self.close_code})"
        assert f.type in (UNBIND_OK, UNBIND_ERR), f"unexpected answer to UNBIND: {f!r}"
        return f.type, f.json()


async def session(port, token, **kw):
    """A connected TunnelClient after a successful HELLO."""
    c = TunnelClient(port, **kw)
    await c.connect()
    try:
        await c.hello(token)
    except BaseException:
        await c.close()
        raise
    return c


async def echo_stream(st):
    """Echo handler for TunnelClient.on_stream: echo DATA back, EOF after EOF."""
    try:
        while True:
            d = await st.read(timeout=120)
            if not d:
                break
            await st.write(d, timeout=60)
        if st.reset is None and not st.sent_eof:
            st.write_eof()
    except (ConnectionError, asyncio.TimeoutError):
        pass


# ---- container-side sockets (blocking, for threads) ------------------------------------

def connect_tcp(port, host="127.0.0.1", timeout=STEP):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def recv_all(s, timeout=STEP):
    """Everything until EOF (bounded by timeout per recv)."""
    s.settimeout(timeout)
    out = bytearray()
    while True:
        d = s.recv(1 << 16)
        if not d:
            return bytes(out)
        out += d


def closed_soon(s, timeout=2.0):
    """True when the peer closes s (EOF or RST) within timeout, discarding data."""
    s.settimeout(timeout)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            d = s.recv(65536)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


# ---- local TCP servers ----------------------------------------------------------------

class TcpServer:
    """A threaded TCP server on host:0; handler(sock) runs in a thread per connection."""

    def __init__(self, handler=None, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.handler = handler or echo_handler
        self.stop_flag = False
        self.conns = []
        self.errors = []
        self.accepted = 0
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop_flag:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.conns.append(c)
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            c.settimeout(60)
            self.handler(c)
        except Exception as e:
            self.errors.append(repr(e))
        finally:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop_flag = True
        self.t.join(2)
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def echo_handler(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)


class Blocks:
    """A deterministic pseudo-random byte source of `total` bytes in 1 MiB blocks."""

    def __init__(self, total, seed=b"ht"):
        self.total = total
        self.seed = seed
        self.block = hashlib.shake_256(seed).digest(MiB)

    def chunks(self):
        """1 MiB chunks, each made unique by its 8-byte index prefix."""
        left = self.total
        i = 0
        while left > 0:
            n = min(left, MiB)
            yield (struct.pack(">Q", i) + self.block[8:])[:n]
            left -= n
            i += 1

    def digest(self):
        h = hashlib.sha256()
        for c in self.chunks():
            h.update(c)
        return h.hexdigest()


# ---- runner ----------------------------------------------------------------------------

def run_tests(tests, timeout=60):
    """Run each case (plain or async function) once; print one line each; exit."""
    passed = failed = 0
    only = os.environ.get("CASE")
    for fn in tests:
        name = fn.__name__
        if only and only not in name:
            continue
        t0 = time.monotonic()
        try:
            if asyncio.iscoroutinefunction(fn):
                asyncio.run(asyncio.wait_for(fn(), timeout))
            else:
                fn()
            passed += 1
            print(f"PASS {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            tb = traceback.format_exc().rstrip().splitlines()
            print(f"FAIL {name} ({time.monotonic() - t0:.1f}s): {type(e).__name__}: {e}", flush=True)
            for line in tb[-12:]:
                print("      " + line, flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def read_command(c):
    """Read one command line from socket c: (the line, bytes that followed)."""
    buf = bytearray()
    while b"\n" not in buf:
        d = c.recv(4096)
        if not d:
            raise EOFError(f"EOF before the command line: {bytes(buf)!r}")
        buf += d
    i = buf.index(b"\n")
    return bytes(buf[:i]).decode(), bytes(buf[i + 1:])


def pull_service(c, word, rest):
    """The laptop-side TCP service of the PULL tests, for the command
    already read (word: its fields, rest: bytes after it). Returns False
    for a command it does not know:
    SINK            read to EOF, answer "<bytes> <sha256>\\n", close;
    SRC <n> <seed>  send n Blocks bytes, shut down writing, drain, close;
    ECHO            echo everything, shut down writing at EOF."""
    if word[0] == "SINK":
        hs = hashlib.sha256(rest)
        n = len(rest)
        while True:
            d = c.recv(1 << 18)
            if not d:
                break
            hs.update(d)
            n += len(d)
        c.sendall(f"{n} {hs.hexdigest()}\n".encode())
    elif word[0] == "SRC":
        for chunk in Blocks(int(word[1]), word[2].encode()).chunks():
            c.sendall(chunk)
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
    elif word[0] == "ECHO":
        if rest:
            c.sendall(rest)
        echo_handler(c)
    else:
        return False
    return True
