#!/usr/bin/python3
"""TLS end to end: the daemon's control plane with --tls-cert/--tls-key, htc
over wss:// and https://, and the certificate checks a user relies on.

Cases:
  * RSA and EC certificates: `htc --url wss://... --ca-file CA pull` binds, and
    100 MiB go through the PULL stream each way with a sha256 check (20 MiB
    under sanitizers); htc --connections 2 (v2) over wss:// echoes;
  * EXPOSE over wss://: a visitor POSTs 100 MiB (20 MiB under sanitizers)
    that the local service receives and echoes, then GETs as much, on one
    keep-alive connection, sha256 checked at both ends;
  * the admin API over TLS: htc health/list/kill with https:// and wss://
    URLs, curl --cacert, Python's ssl module;
  * a plain ws:// htc (tunnel and admin) against the TLS port fails at once
    with a message that points at TLS, plain HTTP gets a clear-text 400
    saying so, and the daemon is unharmed;
  * rejections: unknown issuer, wrong host name, expired certificate, each
    exit status 1 within a few seconds with the reason on stderr, for the
    tunnel and the admin commands, and no session is created; --insecure
    connects to each of them and prints a WARNING line every time;
  * a ClientHello that stops half way is closed by --hello-timeout; 40
    HTTPS clients at once all get their answer;
  * an independent TLS server: nginx terminating TLS in front of a plain
    daemon, with PULL integrity (10 MiB each way) and admin over https
    (skipped with a printed reason when nginx cannot start);
  * an independent TLS client: Python's OpenSSL as the laptop side of a
    session over wss:// (ECDHE-ECDSA and ECDHE-RSA with AES-128-GCM, and
    AES-256-GCM), echoing a PULL stream: 16 MiB through the daemon's record
    layer each way, hashed, in records of every size;
  * start-up errors: missing certificate or key file, garbage key or
    certificate, key not matching the certificate, encrypted key, --tls-cert
    without --tls-key: non-zero exit with a message naming the file;
  * SIGHUP: the files are overwritten in place with the EC pair and the
    daemon reloads them: new handshakes present the new certificate, a new
    htc connects with the same CA, and a session opened before keeps working
    (its open stream and a new stream both echo); a reload from broken
    files keeps the previous certificate;
  * TLS input in tiny pieces: a Python TLS client sends the WebSocket
    upgrade and the HELLO one byte per send() (TCP_NODELAY) and gets 101 and
    HELLO_OK; htc runs through a relay that forwards one byte per send() in
    both directions for the TLS handshake, the upgrade, HELLO, a PULL echo
    and an admin request.

Run: BUILD=build /usr/bin/python3 test/integration/test_tls.py
     (or BUILD=build ONLY=test_tls sh test/integration/run.sh)
"""
import asyncio
import base64
import contextlib
import hashlib
import http.client as hclient
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from tlslib import *  # noqa: E402,F401,F403

BIG = scaled(100 * MiB, 20 * MiB)
NGINX_BYTES = 10 * MiB
QUICK = STEP  # "within a few seconds"


@contextlib.contextmanager
def pull_env(d, local_port, *htc_args, url=None, ca="ca.pem"):
    """An `htc pull local_port --port 0` against d; yields (htc, container_port, session_id)."""
    args = []
    if ca:
        args += ["--ca-file", cert(ca) if not os.path.isabs(ca) else ca]
    args += list(htc_args)
    with Htc(d, *args, "pull", f"127.0.0.1:{local_port}", "--port", "0", url=url) as h:
        sid = h.expect(r"^session (\S+)", STEP * 2).group(1)
        m = h.expect(r"^container (\S+):(\d+) -> (\S+)", STEP * 2)
        yield h, int(m.group(2)), sid


def sessions(d):
    return [s["sessionId"] for s in d.get_json("/api/v1/tunnel/sessions")["sessions"]]


def wait_sessions(d, want, timeout=STEP):
    end = time.monotonic() + timeout
    while True:
        got = sessions(d)
        if sorted(got) == sorted(want):
            return
        assert time.monotonic() < end, f"sessions {got}, expected {want}"
        time.sleep(0.05)


def big_transfers(d):
    with TcpServer(local_service) as srv, pull_env(d, srv.port) as (h, cport, sid):
        assert sessions(d) == [sid]
        up = upload(cport, BIG, timeout=120)
        down = download(cport, BIG, timeout=120)
        log(f"{BIG // MiB} MiB up in {up:.2f}s ({BIG / up / MiB:.0f} MiB/s), "
            f"down in {down:.2f}s ({BIG / down / MiB:.0f} MiB/s)")
        echo_once(cport)
        assert h.proc.poll() is None, "htc exited"
        assert not srv.errors, srv.errors


# ---- wss:// with RSA and EC certificates ------------------------------------------------------

def test_rsa_pull_big_sha256():
    with TlsDaemon() as d:
        big_transfers(d)
        assert "with TLS" in d.stderr(), "the start-up line does not say TLS"


def test_ec_pull_big_sha256():
    with TlsDaemon(cert_file="server-ec.pem", key_file="server-ec.key") as d:
        assert peer_cert_der(d.port) == pem_der(cert("server-ec.pem"))
        big_transfers(d)


def test_other_key_forms():
    """The traditional RSA key, the PKCS#8 EC key and a chain file work too."""
    for cf, kf in (("server.pem", "server-rsa.key"), ("server-ec.pem", "server-ec-p8.key"),
                   ("server-chain.pem", "server.key")):
        with TlsDaemon(cert_file=cf, key_file=kf) as d, TcpServer(local_service) as srv:
            with pull_env(d, srv.port) as (h, cport, sid):
                echo_once(cport, f"{cf} {kf}\n".encode())


def test_v2_connections_over_wss():
    with TlsDaemon() as d, TcpServer(local_service) as srv:
        with pull_env(d, srv.port, "--connections", "2") as (h, cport, sid):
            for i in range(6):
                echo_once(cport, f"v2 stream {i}\n".encode() * 100)
            upload(cport, 4 * MiB)


# ---- admin over TLS ----------------------------------------------------------------------------

def test_admin_over_https():
    with TlsDaemon() as d, TcpServer(local_service) as srv:
        with pull_env(d, srv.port) as (h, cport, sid):
            ca = cert("ca.pem")
            for url in (d.https_url, d.url, f"https://localhost:{d.port}"):
                rc, out, err, dt = run_htc(url, d.token, "health", ca=ca)
                assert rc == 0 and "ok" in out and str(d.pid) in out, (url, rc, out, err)
                assert "WARNING" not in err, err
            rc, out, err, dt = run_htc(d.https_url, d.token, "--json", "health", ca=ca)
            assert rc == 0 and json.loads(out)["pid"] == d.pid, (rc, out, err)
            rc, out, err, dt = run_htc(d.https_url, d.token, "list", ca=ca)
            assert rc == 0 and sid in out, (rc, out, err)
            rc, out, err, dt = run_htc(d.https_url, d.token, "bindings", ca=ca)
            assert rc == 0 and str(cport) in out, (rc, out, err)
            rc, out, err, dt = run_htc(d.https_url, d.token, "metrics", ca=ca)
            assert rc == 0 and "hoody_tunnel_sessions_active" in out, (rc, out[:300], err)

            # curl, an independent TLS client, with the test CA
            for host in ("127.0.0.1", "localhost"):
                r = subprocess.run(["curl", "-sS", "--max-time", str(QUICK), "--cacert", ca,
                                    f"https://{host}:{d.port}/api/v1/tunnel/health"],
                                   capture_output=True, timeout=QUICK * 2)
                assert r.returncode == 0, (host, r.returncode, r.stderr[-500:])
                assert json.loads(r.stdout)["pid"] == d.pid, r.stdout[:300]
            r = subprocess.run(["curl", "-sS", "--max-time", str(QUICK), "--cacert", ca,
                                f"https://127.0.0.1:{d.port}/api/v1/tunnel/sessions"],
                               capture_output=True, timeout=QUICK * 2)
            assert r.returncode == 0 and sid in r.stdout.decode(), (r.returncode, r.stdout[:300], r.stderr)
            # curl with no CA that knows ours refuses the certificate
            r = subprocess.run(["curl", "-sS", "--max-time", str(QUICK), "--cacert", cert("ca2.pem"),
                                f"https://127.0.0.1:{d.port}/api/v1/tunnel/health"],
                               capture_output=True, timeout=QUICK * 2)
            assert r.returncode != 0, "curl accepted the certificate with the wrong CA"

            # kill over https: the session goes away and its port closes
            rc, out, err, dt = run_htc(d.https_url, d.token, "kill", "S-no-such-session", ca=ca)
            assert rc != 0, f"kill of an unknown session exited {rc}"
            rc, out, err, dt = run_htc(d.https_url, "wrong-token-123", "kill", sid, ca=ca)
            assert rc != 0, "kill with a wrong token succeeded"
            assert sessions(d) == [sid]
            rc, out, err, dt = run_htc(d.https_url, d.token, "kill", sid, "--grace-ms", "100", ca=ca)
            assert rc == 0, (rc, out, err)
            end = time.monotonic() + STEP
            while sid in sessions(d):
                assert time.monotonic() < end, "session still listed after htc kill over https"
                time.sleep(0.05)
            assert wait_port_closed(cport), "PULL port still open after the kill"


def test_plain_ws_against_tls_port():
    """A plain ws:// htc against the TLS port: a prompt failure that says TLS."""
    with TlsDaemon() as d:
        url = f"ws://127.0.0.1:{d.port}"
        for args in (("pull", "127.0.0.1:9", "--port", "0"), ("health",)):
            rc, out, err, dt = run_htc(url, d.token, *args, timeout=STEP * 3)
            assert rc != 0, f"htc {args[0]} over ws:// to a TLS port exited 0: {out!r}"
            assert dt < QUICK, f"htc {args[0]} took {dt:.1f}s to fail"
            assert err.startswith("htc:"), f"no htc message: {err!r}"
            log(f"htc {args[0]} over ws:// -> rc {rc}: {err.strip()}")
            assert "tls" in err.lower() or "wss" in err.lower() or "https" in err.lower(), \
                f"the message does not point at TLS: {err.strip()!r}"
        assert "does not speak TLS" in d.stderr(), "the daemon did not log the plain-text client"
        assert sessions(d) == []
        # a plain HTTP request gets a plain 400 that says TLS (never the API's answer),
        # and the daemon carries on
        r = subprocess.run(["curl", "-sS", "--max-time", str(QUICK), "-w", "\n%{http_code}",
                            f"http://127.0.0.1:{d.port}/api/v1/tunnel/health"],
                           capture_output=True, timeout=QUICK * 2)
        out = r.stdout.decode("utf-8", "replace")
        assert r.returncode == 0 and out.endswith("\n400") and "TLS" in out, \
            f"plain HTTP on the TLS port: curl rc {r.returncode}, {out[:200]!r} {r.stderr[:200]!r}"
        assert str(d.pid) not in out, f"the API answered in clear text: {out[:200]!r}"
        assert d.get_json("/api/v1/tunnel/health")["pid"] == d.pid


# ---- rejected certificates -----------------------------------------------------------------------

def rejected(d, ca, expect):
    """htc pull and htc health against d with ca: exit 1, quickly, with `expect` on stderr."""
    for url, args in ((d.url, ("pull", "127.0.0.1:9", "--port", "0")), (d.https_url, ("health",))):
        rc, out, err, dt = run_htc(url, d.token, *args, ca=cert(ca))
        assert rc == 1, f"htc {args[0]}: exit {rc} (expected 1); stderr {err!r}"
        assert dt < QUICK, f"htc {args[0]} took {dt:.1f}s to give up"
        assert expect in err, f"htc {args[0]}: {expect!r} not in stderr {err!r}"
        assert "WARNING" not in err, err
        log(f"{args[0]}: {err.strip()}")
    assert sessions_insecure(d) == []


def sessions_insecure(d):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = hclient.HTTPSConnection("127.0.0.1", d.port, timeout=STEP, context=ctx)
    try:
        c.request("GET", "/api/v1/tunnel/sessions")
        return [s["sessionId"] for s in json.loads(c.getresponse().read())["sessions"]]
    finally:
        c.close()


def insecure_connects(d, ca):
    """--insecure reaches the daemon (tunnel and admin) and warns every time."""
    with TcpServer(local_service) as srv:
        with pull_env(d, srv.port, "--insecure", ca=ca) as (h, cport, sid):
            echo_once(cport)
            assert "WARNING" in h.stderr(), f"no WARNING from htc pull --insecure: {h.stderr()!r}"
    for i in range(2):
        rc, out, err, dt = run_htc(d.https_url, d.token, "health", ca=cert(ca) if ca else None,
                                   insecure=True)
        assert rc == 0 and str(d.pid) in out, (rc, out, err)
        warn = [ln for ln in err.splitlines() if "WARNING" in ln]
        assert len(warn) == 1, f"run {i}: expected one WARNING line, stderr {err!r}"


def test_reject_unknown_issuer():
    with TlsDaemon() as d:
        rejected(d, "ca2.pem", "unknown issuer")
        insecure_connects(d, "ca2.pem")


def test_reject_wrong_host_name():
    with TlsDaemon(cert_file="wrongname.pem", key_file="wrongname.key") as d:
        rejected(d, "ca.pem", "does not match the host name")
        # also by DNS name
        rc, out, err, dt = run_htc(f"https://localhost:{d.port}", d.token, "health", ca=cert("ca.pem"))
        assert rc == 1 and "does not match the host name" in err, (rc, err)
        insecure_connects(d, "ca.pem")


def test_reject_expired():
    with TlsDaemon(cert_file="expired.pem", key_file="expired.key") as d:
        rejected(d, "ca.pem", "expired")
        insecure_connects(d, "ca.pem")


def test_missing_ca_file():
    with TlsDaemon() as d:
        rc, out, err, dt = run_htc(d.url, d.token, "pull", "9", "--port", "0", ca="/nonexistent/ca.pem")
        assert rc != 0 and "/nonexistent/ca.pem" in err and dt < QUICK, (rc, err, dt)
        rc, out, err, dt = run_htc(d.https_url, d.token, "health", ca=cert("server.key"))
        assert rc != 0 and "server.key" in err, (rc, err)


def test_stalled_handshake_times_out():
    """A client that stops in the middle of its ClientHello is closed by --hello-timeout."""
    with TlsDaemon("--hello-timeout", "1s") as d:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=STEP)
        s.sendall(b"\x16\x03\x01\x02\x00\x01")  # a record header and one byte of a ClientHello
        t0 = time.monotonic()
        assert closed_soon(s, 1.0 + STEP), "the half handshake is still open"
        dt = time.monotonic() - t0
        s.close()
        assert 0.5 < dt < 1.0 + STEP / 2, f"closed after {dt:.1f}s (hello timeout 1s)"
        assert d.get_json("/api/v1/tunnel/health")["pid"] == d.pid


def test_concurrent_https_requests():
    """40 HTTPS clients at once (each its own handshake) all get their answer (with room for
    them all under --max-pre-auth-connections: over the cap the newest are closed by design)."""
    with TlsDaemon("--max-pre-auth-connections", "64", cert_file="server-ec.pem",
                   key_file="server-ec.key") as d:
        results = []

        def one(i):
            try:
                st, hd, body = https(d.port, "GET", "/api/v1/tunnel/health", timeout=STEP * 2)
                results.append(st == 200 and json.loads(body)["pid"] == d.pid)
            except Exception as e:
                results.append(repr(e))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(STEP * 4)
        assert results == [True] * 40, [r for r in results if r is not True][:5]


# ---- nginx in front ---------------------------------------------------------------------------------

def test_nginx_tls_front():
    with Daemon() as d, TcpServer(local_service) as srv:
        try:
            ng = Nginx(d.port, cert("server.pem"), cert("server.key")).start()
        except NginxUnavailable as e:
            print(f"SKIP test_nginx_tls_front: {e}", flush=True)
            return
        try:
            url = f"wss://127.0.0.1:{ng.port}"
            with pull_env(d, srv.port, url=url) as (h, cport, sid):
                assert sessions(d) == [sid]
                up = upload(cport, NGINX_BYTES)
                down = download(cport, NGINX_BYTES)
                log(f"through nginx: {NGINX_BYTES // MiB} MiB up {up:.2f}s, down {down:.2f}s")
                echo_once(cport)
                ca = cert("ca.pem")
                rc, out, err, dt = run_htc(f"https://127.0.0.1:{ng.port}", d.token, "health", ca=ca)
                assert rc == 0 and str(d.pid) in out, (rc, out, err)
                rc, out, err, dt = run_htc(f"https://127.0.0.1:{ng.port}", d.token, "list", ca=ca)
                assert rc == 0 and sid in out, (rc, out, err)
                rc, out, err, dt = run_htc(f"https://127.0.0.1:{ng.port}", d.token, "list",
                                           ca=cert("ca2.pem"))
                assert rc == 1 and "unknown issuer" in err, (rc, err)
                assert h.proc.poll() is None
        finally:
            ng.stop()


EXPOSE_BYTES = scaled(100 * MiB, 20 * MiB)


def test_expose_over_wss():
    import exposelib as X
    svc = X.LocalService()
    try:
        with TlsDaemon(cert_file="server-ec.pem", key_file="server-ec.key") as d, \
                Htc(d, "--ca-file", cert("ca.pem"), "expose", str(svc.port), "--port", "0") as h:
            pat = r"^container port (\d+) -> 127\.0\.0\.1:%d$" % svc.port
            cport = int(h.expect(pat, STEP * 2).group(1))
            s = X.connect(cport, timeout=120)
            rd = X.Reader(s)
            try:
                body = X.pattern(EXPOSE_BYTES)
                t0 = time.monotonic()
                X.send_request(s, "POST", "/echo?tag=big", body=body)
                r = rd.response("POST")
                up = time.monotonic() - t0
                assert r.status == 200, r
                assert r.get("X-Body-Sha256") == X.sha(body), "the local service got other bytes"
                assert len(r.body) == len(body) and X.sha(r.body) == X.sha(body), "the echo differs"
                t0 = time.monotonic()
                X.send_request(s, "GET", f"/size/{EXPOSE_BYTES}?tag=down")
                r = rd.response("GET")
                down = time.monotonic() - t0
                assert r.status == 200 and X.sha(r.body) == X.sha(X.pattern(EXPOSE_BYTES)), r
                X.send_request(s, "GET", "/size/5?tag=small")
                r = rd.response("GET")
                assert r.status == 200 and r.body == X.pattern(5), r
            finally:
                rd.close()
            log(f"EXPOSE over wss: {EXPOSE_BYTES // MiB} MiB echoed in {up:.2f}s, "
                f"downloaded in {down:.2f}s")
            assert h.proc.poll() is None, "htc exited"
            assert not svc.srv.errors, svc.srv.errors
    finally:
        svc.close()


OPENSSL_BYTES = scaled(16 * MiB, 4 * MiB)


async def _openssl_client_echo(d, ciphers):
    ctx = client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ciphers)
    c = TunnelClient(d.port, ssl_context=ctx)
    await c.connect()
    try:
        await c.hello(d.token)
        cipher = c.ws.transport.get_extra_info("ssl_object").cipher()
        c.on_stream = echo_stream
        port = (await c.bind_pull())["containerPort"]
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), STEP)
        data = os.urandom(OPENSSL_BYTES)
        sent = hashlib.sha256(data).hexdigest()

        async def send():
            # every write size from 1 byte to 64 KiB, so records of all sizes go by
            off, k = 0, 1
            while off < len(data):
                n = min(k, len(data) - off)
                w.write(data[off:off + n])
                await w.drain()
                off += n
                k = k * 2 + 1 if k < 65536 else 1
            w.write_eof()

        t0 = time.monotonic()
        task = asyncio.ensure_future(send())
        got = hashlib.sha256()
        n = 0
        while True:
            b = await asyncio.wait_for(r.read(1 << 16), 60)
            if not b:
                break
            got.update(b)
            n += len(b)
        await task
        w.close()
        log(f"{cipher[0]}: {n // MiB} MiB echoed in {time.monotonic() - t0:.2f}s")
        assert n == len(data), f"{n} bytes came back of {len(data)}"
        assert got.hexdigest() == sent, "the echo differs from what was sent"
        return cipher[0]
    finally:
        await c.close()


def test_openssl_client_bulk():
    cases = [("server-ec.pem", "server-ec.key", "ECDHE-ECDSA-AES128-GCM-SHA256"),
             ("server.pem", "server.key", "ECDHE-RSA-AES128-GCM-SHA256"),
             ("server-ec.pem", "server-ec.key", "ECDHE-ECDSA-AES256-GCM-SHA384")]
    for certf, keyf, suite in cases:
        with TlsDaemon(cert_file=certf, key_file=keyf) as d:
            got = asyncio.run(_openssl_client_echo(d, suite))
            assert got == suite, f"negotiated {got}, asked for {suite}"
            assert d.alive()


# ---- start-up errors -------------------------------------------------------------------------------

def test_startup_errors():
    tmp = tempfile.mkdtemp(prefix="ht-tls-bad-")
    try:
        garbage_key = os.path.join(tmp, "garbage.key")
        with open(garbage_key, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n")
        garbage_cert = os.path.join(tmp, "garbage.pem")
        with open(garbage_cert, "w") as f:
            f.write("this is not a certificate\n")
        junk_key = os.path.join(tmp, "junk.key")
        with open(junk_key, "wb") as f:
            f.write(os.urandom(300))
        missing = os.path.join(tmp, "missing.pem")
        cases = [
            ("missing certificate", ["--tls-cert", missing, "--tls-key", cert("server.key")], [missing]),
            ("missing key", ["--tls-cert", cert("server.pem"), "--tls-key", missing], [missing]),
            ("garbage key", ["--tls-cert", cert("server.pem"), "--tls-key", garbage_key], [garbage_key]),
            ("binary junk key", ["--tls-cert", cert("server.pem"), "--tls-key", junk_key], [junk_key]),
            ("garbage certificate", ["--tls-cert", garbage_cert, "--tls-key", cert("server.key")],
             [garbage_cert]),
            ("key of another certificate", ["--tls-cert", cert("server.pem"), "--tls-key",
                                            cert("wrongname.key")], [cert("wrongname.key"), "match"]),
            ("EC key for an RSA certificate", ["--tls-cert", cert("server.pem"), "--tls-key",
                                               cert("server-ec.key")], [cert("server-ec.key")]),
            ("encrypted key", ["--tls-cert", cert("server.pem"), "--tls-key", cert("encrypted.key")],
             [cert("encrypted.key"), "encrypted"]),
            ("certificate without key", ["--tls-cert", cert("server.pem")], ["--tls-key"]),
        ]
        for what, flags, needles in cases:
            port = free_port()
            argv = [DAEMON, "--listen", f"127.0.0.1:{port}", "--token", new_token()] + flags
            t0 = time.monotonic()
            try:
                r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=STEP * 2)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{what}: the daemon is still running after {STEP * 2}s")
            err = r.stderr.decode("utf-8", "replace") + r.stdout.decode("utf-8", "replace")
            check_text(err, f"daemon ({what})")
            assert r.returncode != 0, f"{what}: the daemon exited 0"
            for n in needles:
                assert n in err, f"{what}: {n!r} not in the message {err.strip()!r}"
            assert not can_connect(port, timeout=0.5), f"{what}: something listens on {port}"
            log(f"{what}: exit {r.returncode} ({time.monotonic() - t0:.2f}s): "
                f"{err.strip().splitlines()[0][:160]}")
    finally:
        shutil.rmtree(tmp, True)


# ---- SIGHUP reload ----------------------------------------------------------------------------------

def overwrite(dst, src):
    """Replace dst's content in place (same inode), like an editor or a renewal tool would."""
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "r+b") as f:
        f.truncate(0)
        f.write(data)


def wait_log(d, text, timeout=STEP):
    end = time.monotonic() + timeout
    while text not in d.stderr():
        assert time.monotonic() < end, f"{text!r} not logged; stderr tail {d.stderr()[-800:]}"
        time.sleep(0.05)


def test_sighup_reload():
    tmp = tempfile.mkdtemp(prefix="ht-tls-live-")
    live_cert, live_key = os.path.join(tmp, "live.pem"), os.path.join(tmp, "live.key")
    shutil.copy(cert("server.pem"), live_cert)
    shutil.copy(cert("server.key"), live_key)
    try:
        with TlsDaemon(cert_file=live_cert, key_file=live_key) as d, TcpServer(local_service) as srv:
            assert peer_cert_der(d.port) == pem_der(cert("server.pem"))
            with pull_env(d, srv.port) as (ha, cport_a, sid_a):
                old = echo_open(cport_a)
                echo_check(old, b"before the reload\n")
                overwrite(live_cert, cert("server-ec.pem"))
                overwrite(live_key, cert("server-ec.key"))
                d.signal(signal.SIGHUP)
                wait_log(d, "TLS certificate reloaded")
                assert peer_cert_der(d.port) == pem_der(cert("server-ec.pem")), \
                    "new handshakes do not present the reloaded certificate"
                with pull_env(d, srv.port) as (hb, cport_b, sid_b):
                    echo_once(cport_b, b"new session after the reload\n")
                    # the session opened before: its open stream and a new stream
                    echo_check(old, b"after the reload, same stream\n")
                    echo_once(cport_a, b"after the reload, new stream on the old session\n")
                    upload(cport_a, 2 * MiB)
                    wait_sessions(d, [sid_a, sid_b])
                    assert ha.proc.poll() is None and not any("reconnect" in ln for ln in ha.lines), \
                        f"the old session reconnected: {ha.lines[-5:]}"
                old.close()
    finally:
        shutil.rmtree(tmp, True)


def test_sighup_bad_files_keep_previous():
    tmp = tempfile.mkdtemp(prefix="ht-tls-live-")
    live_cert, live_key = os.path.join(tmp, "live.pem"), os.path.join(tmp, "live.key")
    shutil.copy(cert("server-ec.pem"), live_cert)
    shutil.copy(cert("server-ec.key"), live_key)
    try:
        with TlsDaemon(cert_file=live_cert, key_file=live_key) as d, TcpServer(local_service) as srv:
            with pull_env(d, srv.port) as (h, cport, sid):
                n = 0
                # a key that does not match, then a truncated certificate
                for c_src, k_src in (("server.pem", "server-ec.key"), (None, "server-ec.key")):
                    if c_src:
                        overwrite(live_cert, cert(c_src))
                    else:
                        with open(live_cert, "w") as f:
                            f.write("-----BEGIN CERTIFICATE-----\nMIIB\n")
                    overwrite(live_key, cert(k_src))
                    d.signal(signal.SIGHUP)
                    n += 1
                    end = time.monotonic() + STEP
                    while d.stderr().count("keeping the previous TLS certificate") < n:
                        assert time.monotonic() < end, f"no 'keeping the previous' log: {d.stderr()[-800:]}"
                        time.sleep(0.05)
                    assert d.alive()
                    assert peer_cert_der(d.port) == pem_der(cert("server-ec.pem"))
                    echo_once(cport)
                    rc, out, err, dt = run_htc(d.https_url, d.token, "health", ca=cert("ca.pem"))
                    assert rc == 0, (rc, err)
                # and a good pair again
                overwrite(live_cert, cert("server.pem"))
                overwrite(live_key, cert("server.key"))
                d.signal(signal.SIGHUP)
                wait_log(d, "TLS certificate reloaded")
                assert peer_cert_der(d.port) == pem_der(cert("server.pem"))
                echo_once(cport)
    finally:
        shutil.rmtree(tmp, True)


# ---- TLS input in tiny pieces -------------------------------------------------------------------------

def upgrade_request(port, key):
    return (f"GET /api/v1/tunnel/connect HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {V1}\r\n\r\n").encode()


def send_bytewise(s, data):
    for i in range(len(data)):
        assert s.send(data[i:i + 1]) == 1


def test_one_byte_sends_upgrade_and_hello():
    with TlsDaemon() as d:
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=STEP * 2)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with client_context().wrap_socket(raw, server_hostname="127.0.0.1") as s:
            key = base64.b64encode(os.urandom(16)).decode()
            send_bytewise(s, upgrade_request(d.port, key))
            head = bytearray()
            while b"\r\n\r\n" not in head:
                got = s.recv(4096)
                assert got, f"EOF before the upgrade answer: {bytes(head)!r}"
                head += got
            i = head.index(b"\r\n\r\n") + 4
            text, rest = bytes(head[:i]).decode("latin-1"), bytearray(head[i:])
            assert text.startswith("HTTP/1.1 101"), text
            want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                                 .encode()).digest()).decode()
            assert want in text, f"bad Sec-WebSocket-Accept: {text!r}"
            hello = frame(HELLO, 0, {"version": V1, "auth": {"kind": "bearer", "token": d.token},
                                     "capabilities": []})
            send_bytewise(s, ws_client_frame(hello))
            while True:
                op, payload = read_ws_frame(s, rest)
                if op == 0x2:
                    break
                assert op in (0x9, 0xA), f"unexpected opcode {op}: {payload[:80]!r}"
            f = decode_frames(payload)[0]
            assert f.type == HELLO_OK, f
            sid = f.json()["sessionId"]
            assert sessions(d) == [sid]
        wait_sessions(d, [])


def test_frame_flood_leaves_loop_free():
    """A client keeping its TLS socket full of credit-free frames (empty PONGs) gets
    no more of the loop than its share: health probes keep being answered at once."""
    with TlsDaemon() as d:
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=STEP * 2)
        s = client_context().wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(upgrade_request(d.port, base64.b64encode(os.urandom(16)).decode()))
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        s.sendall(ws_client_frame(frame(HELLO, 0, {"version": V1, "auth": {"kind": "bearer", "token": d.token},
                                                    "capabilities": []})))
        burst = ws_client_frame(frame(PONG, 0, b"") * 64) * 2000
        stop = time.monotonic() + scaled(6, 12)
        errors = []

        def flood():
            try:
                while time.monotonic() < stop:
                    s.sendall(burst)
            except OSError as e:
                errors.append(e)

        th = threading.Thread(target=flood)
        th.start()
        try:
            time.sleep(1)
            worst = 0.0
            for _ in range(5):
                t0 = time.monotonic()
                st, hd, body = https(d.port, "GET", "/healthz/live", timeout=STEP)
                assert st == 200, (st, body)
                worst = max(worst, time.monotonic() - t0)
            log(f"slowest health probe during the flood: {worst * 1000:.0f} ms")
            assert worst < scaled(1.0, 3.0), worst
        finally:
            th.join()
        assert not errors, errors  # it was served, not cut off: PONGs need no answer
        s.close()


def test_one_byte_relay_htc():
    # --hello-timeout (accept to HELLO, 5 s by default) made roomy: the relay takes ~2 s
    with TlsDaemon("--hello-timeout", "30s") as d, TcpServer(local_service) as srv, \
            ByteRelay(d.port, delay=0.0005) as relay:
        url = f"wss://127.0.0.1:{relay.port}"
        t0 = time.monotonic()
        with pull_env(d, srv.port, url=url) as (h, cport, sid):
            log(f"handshake + HELLO + BIND through the relay in {time.monotonic() - t0:.1f}s "
                f"({relay.up} bytes up, {relay.down} down)")
            echo_once(cport, b"one byte at a time\n", timeout=STEP * 4)
            up0, down0 = relay.up, relay.down
            echo_once(cport, os.urandom(3000), timeout=STEP * 6)
            assert relay.up > up0 + 3000 and relay.down > down0 + 3000, (relay.up, relay.down)
            assert sessions(d) == [sid]
            assert relay.conns == 1, f"{relay.conns} connections through the relay (reconnects?)"
            rc, out, err, dt = run_htc(f"https://127.0.0.1:{relay.port}", d.token, "health",
                                       ca=cert("ca.pem"), timeout=STEP * 6)
            assert rc == 0 and str(d.pid) in out, (rc, out, err)
        assert not relay.errors, relay.errors


if __name__ == "__main__":
    certs()
    run_tests([
        test_rsa_pull_big_sha256,
        test_ec_pull_big_sha256,
        test_other_key_forms,
        test_v2_connections_over_wss,
        test_admin_over_https,
        test_plain_ws_against_tls_port,
        test_reject_unknown_issuer,
        test_reject_wrong_host_name,
        test_reject_expired,
        test_missing_ca_file,
        test_stalled_handshake_times_out,
        test_concurrent_https_requests,
        test_nginx_tls_front,
        test_openssl_client_bulk,
        test_expose_over_wss,
        test_startup_errors,
        test_sighup_reload,
        test_sighup_bad_files_keep_previous,
        test_one_byte_sends_upgrade_and_hello,
        test_frame_flood_leaves_loop_free,
        test_one_byte_relay_htc,
    ], timeout=240)
