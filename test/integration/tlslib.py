"""tlslib: helpers for the TLS integration tests (test_tls.py), on top of htlib.

What is here:
  * certs(): the test certificates, generated once per process by
    test/tools/gen_test_certs.sh into a temporary directory (removed at exit);
    cert(name) is the path of one file there;
  * TlsDaemon: an htlib.Daemon started with --tls-cert/--tls-key, whose url is
    wss://, and whose get/get_json/metrics go over HTTPS (verified with the
    test CA);
  * https(): one HTTPS request to 127.0.0.1, verified with a CA file;
  * run_htc(): a one-shot htc command against any URL, with its exit code,
    output and run time, checked for sanitizer reports and the token;
  * local_service(): the laptop-side TCP service of the PULL tests (SINK, SRC,
    ECHO) and upload()/download()/echo_once() driving it through a PULL port;
  * ByteRelay: a TCP relay on 127.0.0.1 that forwards every byte in its own
    send() in both directions, with a small sleep between bytes;
  * Nginx: nginx as a TLS-terminating reverse proxy (a child process with
    its own prefix directory and error log), or a reason why it cannot run;
  * ws_client_frame()/read_ws_frame(): the few bits of RFC 6455 framing the
    hand-made TLS WebSocket client needs.

Every wait is bounded; every process is stopped by its own PID; loopback only.
"""
import atexit
import hashlib
import http.client as _hc
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

from htlib import (HTC, ROOT, SANITIZER_MARKS, STEP, Blocks, Daemon, echo_handler, free_port,
                   metric_value, pull_service, read_command)

GEN_CERTS = os.path.join(ROOT, "test", "tools", "gen_test_certs.sh")
_certdir = None


def certs():
    """Directory holding the generated test certificates (made on first use)."""
    global _certdir
    if _certdir is None:
        d = tempfile.mkdtemp(prefix="ht-tls-certs-")
        atexit.register(shutil.rmtree, d, True)
        r = subprocess.run(["sh", GEN_CERTS, d], capture_output=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"gen_test_certs.sh failed ({r.returncode}): "
                                 f"{r.stderr.decode(errors='replace')[-1500:]}")
        _certdir = d
    return _certdir


def cert(name):
    return os.path.join(certs(), name)


def check_text(text, what, token=None):
    """Fail on a sanitizer report (or the token) in text."""
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        if i >= 0:
            raise AssertionError(f"sanitizer report in {what}:\n{text[max(0, i - 200):i + 3000]}")
    if token and token in text:
        raise AssertionError(f"the token appears in {what}")


# ---- HTTPS ------------------------------------------------------------------------

def client_context(ca=None):
    """An ssl context verifying with ca (default: the test CA)."""
    return ssl.create_default_context(cafile=ca or cert("ca.pem"))


def https(port, method, path, headers=None, body=None, timeout=STEP, host="127.0.0.1", ca=None):
    """One HTTPS request; returns (status, {lower-case header: value}, body bytes)."""
    c = _hc.HTTPSConnection(host, port, timeout=timeout, context=client_context(ca))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def peer_cert_der(port, host="127.0.0.1", ca=None, timeout=STEP):
    """DER of the certificate the TLS server on port presents (verified)."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with client_context(ca).wrap_socket(raw, server_hostname=host) as s:
            return s.getpeercert(binary_form=True)


def pem_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


# ---- the daemon with TLS ---------------------------------------------------------------

class TlsDaemon(Daemon):
    """Daemon(--tls-cert cert --tls-key key, *flags); url is wss://, HTTP helpers use HTTPS.

    cert_path/key_path are file names in certs() or absolute paths."""

    def __init__(self, *flags, cert_file="server.pem", key_file="server.key", **kw):
        self.cert_path = cert_file if os.path.isabs(cert_file) else cert(cert_file)
        self.key_path = key_file if os.path.isabs(key_file) else cert(key_file)
        super().__init__("--tls-cert", self.cert_path, "--tls-key", self.key_path, *flags, **kw)

    @property
    def url(self):
        return f"wss://127.0.0.1:{self.port}"

    @property
    def https_url(self):
        return f"https://127.0.0.1:{self.port}"

    def get(self, path, **kw):
        return https(self.port, "GET", path, **kw)

    def get_json(self, path, **kw):
        st, hd, body = https(self.port, "GET", path, **kw)
        assert st == 200, f"GET {path}: {st} {body[:300]!r}"
        return json.loads(body)

    def metrics(self):
        st, hd, body = https(self.port, "GET", "/api/v1/tunnel/metrics")
        assert st == 200, f"metrics: {st}"
        return body.decode()

    def metric(self, name, labels=None):
        return metric_value(self.metrics(), name, labels)


# ---- htc ---------------------------------------------------------------------------------

def run_htc(url, token, *args, ca=None, insecure=False, timeout=STEP * 3):
    """htc --url url --token token [--ca-file ca] [--insecure] args...

    Returns (rc, stdout, stderr, seconds). A run longer than timeout fails."""
    argv = [HTC, "--url", url, "--token", token]
    if ca:
        argv += ["--ca-file", ca]
    if insecure:
        argv.append("--insecure")
    argv += list(args)
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"htc {' '.join(args)} against {url} still running after {timeout}s")
    dt = time.monotonic() - t0
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    check_text(err + out, f"htc {' '.join(args)}", token)
    return r.returncode, out, err, dt


# ---- the laptop-side service and the container side of PULL ------------------------------

def local_service(c):
    """The laptop-side service of the PULL tests (htlib.pull_service)."""
    cmd, rest = read_command(c)
    pull_service(c, cmd.split(), rest)


def _connect(port, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def upload(port, n, seed=b"up", timeout=60):
    """Send n bytes into the PULL port (container -> laptop); check the service's sha256.
    Returns seconds taken."""
    src = Blocks(n, seed)
    t0 = time.monotonic()
    with _connect(port, timeout) as s:
        s.sendall(b"SINK\n")
        for chunk in src.chunks():
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        reply = bytearray()
        while not reply.endswith(b"\n"):
            d = s.recv(4096)
            if not d:
                break
            reply += d
    dt = time.monotonic() - t0
    want = f"{n} {src.digest()}".encode()
    assert bytes(reply).strip() == want, f"upload of {n} bytes: service saw {bytes(reply)[:100]!r}, " \
                                         f"expected {want[:40]!r}..."
    return dt


def download(port, n, seed=b"down", timeout=60):
    """Have the service send n bytes out through the PULL port; check sha256. Returns seconds."""
    src = Blocks(n, seed)
    t0 = time.monotonic()
    h = hashlib.sha256()
    got = 0
    with _connect(port, timeout) as s:
        s.sendall(f"SRC {n} {seed.decode()}\n".encode())
        while True:
            d = s.recv(1 << 18)
            if not d:
                break
            h.update(d)
            got += len(d)
    dt = time.monotonic() - t0
    assert got == n, f"download: {got} bytes of {n}"
    assert h.hexdigest() == src.digest(), "download: sha256 differs"
    return dt


def echo_open(port, timeout=STEP):
    """A connection to the PULL port that the service echoes."""
    s = _connect(port, timeout)
    s.sendall(b"ECHO\n")
    return s


def echo_check(s, payload, timeout=STEP):
    """Send payload on an echo connection and expect it back."""
    s.settimeout(timeout)
    s.sendall(payload)
    got = bytearray()
    while len(got) < len(payload):
        d = s.recv(65536)
        if not d:
            raise AssertionError(f"echo: EOF after {len(got)} of {len(payload)} bytes")
        got += d
    assert bytes(got) == payload, f"echo: got {bytes(got[:60])!r}, sent {payload[:60]!r}"


def echo_once(port, payload=b"ping through the tunnel\n", timeout=STEP):
    with echo_open(port, timeout) as s:
        echo_check(s, payload, timeout)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(timeout)
        rest = s.recv(100)
        assert rest == b"", f"echo: unexpected bytes after the echo: {rest!r}"


# ---- a one-byte-at-a-time relay ------------------------------------------------------------

class ByteRelay:
    """Listens on 127.0.0.1:<port>; each accepted connection is relayed to
    127.0.0.1:target, every byte in its own send() (TCP_NODELAY on both
    legs), sleeping `delay` seconds between bytes, in both directions.
    Counts the bytes relayed each way (up = client -> target)."""

    def __init__(self, target, delay=0.0005):
        self.target = target
        self.delay = delay
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.settimeout(0.1)
        self.port = self.ls.getsockname()[1]
        self.up = 0
        self.down = 0
        self.conns = 0
        self.errors = []
        self.socks = []
        self.stop_flag = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop_flag:
            try:
                c, _ = self.ls.accept()
            except (socket.timeout, OSError):
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=STEP)
            except OSError as e:
                self.errors.append(f"connect to {self.target}: {e}")
                c.close()
                continue
            self.conns += 1
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
                self.socks.append(s)
            threading.Thread(target=self._pipe, args=(c, u, "up"), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, "down"), daemon=True).start()

    def _pipe(self, a, b, way):
        try:
            while not self.stop_flag:
                d = a.recv(65536)
                if not d:
                    b.shutdown(socket.SHUT_WR)
                    return
                for i in range(len(d)):
                    b.sendall(d[i:i + 1])
                    if way == "up":
                        self.up += 1
                    else:
                        self.down += 1
                    if self.delay:
                        time.sleep(self.delay)
        except OSError:
            pass

    def close(self):
        self.stop_flag = True
        self.t.join(2)
        self.ls.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---- nginx as a TLS-terminating reverse proxy ----------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

NGINX_CONF = """\
worker_processes 1;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            proxy_buffering off;
        }}
    }}
}}
"""


class NginxUnavailable(Exception):
    """nginx is missing or did not start; the text says why."""


class Nginx:
    """nginx -p DIR -c DIR/nginx.conf -g 'daemon off; pid DIR/nginx.pid;' as a child,
    listening with TLS on 127.0.0.1:<free port> and proxying to upstream."""

    def __init__(self, upstream, cert_file, key_file):
        self.upstream = upstream
        self.cert_file = cert_file
        self.key_file = key_file
        self.port = free_port()
        self.dir = None
        self.proc = None

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def start(self):
        if NGINX is None:
            raise NginxUnavailable("nginx is not installed (sh third_party/deps.sh bench)")
        self.dir = tempfile.mkdtemp(prefix="ht-nginx-")
        os.chmod(self.dir, 0o755)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port, cert=self.cert_file,
                                      key=self.key_file, upstream=self.upstream))
        self.errf = open(os.path.join(self.dir, "stderr.log"), "w+b")
        argv = [NGINX, "-p", self.dir + "/", "-c", conf, "-e", os.path.join(self.dir, "error.log"),
                "-g", f"daemon off; pid {self.dir}/nginx.pid;"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.errf.seek(0)
                why = self.errf.read().decode(errors="replace") + self.error_log()
                raise NginxUnavailable(f"nginx exited with {self.proc.returncode}: {why.strip()[-600:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NginxUnavailable("nginx not listening after 10 s")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM to the master: fast shutdown, workers included
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.dir:
            try:
                self.errf.close()
            except Exception:
                pass
            shutil.rmtree(self.dir, True)
            self.dir = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False


# ---- bits of RFC 6455 for a hand-made client ------------------------------------------------

def ws_client_frame(payload, opcode=0x2):
    """One final, masked client frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def _recv_exact(s, n, buf):
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise AssertionError(f"EOF while reading a WebSocket frame ({len(buf)} of {n} bytes)")
        buf += d


def read_ws_frame(s, buf):
    """(opcode, payload) of the next unmasked server frame; buf holds bytes read ahead."""
    _recv_exact(s, 2, buf)
    op, ln = buf[0] & 0x0F, buf[1] & 0x7F
    assert not buf[1] & 0x80, "the server masked its frame"
    hl = 2
    if ln == 126:
        _recv_exact(s, 4, buf)
        ln, hl = struct.unpack(">H", bytes(buf[2:4]))[0], 4
    elif ln == 127:
        _recv_exact(s, 10, buf)
        ln, hl = struct.unpack(">Q", bytes(buf[2:10]))[0], 10
    _recv_exact(s, hl + ln, buf)
    payload = bytes(buf[hl:hl + ln])
    del buf[:hl + ln]
    return op, payload
