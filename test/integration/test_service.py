#!/usr/bin/env python3
"""The daemon as a systemd service. sd_notify through a datagram socket the
test owns (a path and an abstract name): READY=1 with STATUS once listening,
STATUS following the sessions, RELOADING=1 + MONOTONIC_USEC then READY=1
around SIGHUP, STOPPING=1 on SIGTERM; the watchdog pings at half
WATCHDOG_USEC from the loop and stop while the loop is stopped (SIGSTOP);
socket activation under systemd-socket-activate, plain and TLS, with htc
connecting through the passed socket; bad LISTEN_FDS refused."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from tlslib import cert  # noqa: E402

ACTIVATE = shutil.which("systemd-socket-activate")


class Notify:
    """A datagram socket standing in for the service manager: NOTIFY_SOCKET=self.name."""

    def __init__(self, abstract=False):
        self.dir = tempfile.mkdtemp(prefix="ht-notify-")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.name = f"@ht-notify-{os.getpid()}-{time.monotonic_ns()}"
            self.s.bind("\0" + self.name[1:])
        else:
            self.name = os.path.join(self.dir, "notify")
            self.s.bind(self.name)
        self.got = []  # (monotonic time, message)

    def poll(self, timeout):
        self.s.settimeout(timeout)
        try:
            m = self.s.recv(65536).decode()
        except socket.timeout:
            return None
        self.got.append((time.monotonic(), m))
        return m

    def wait(self, regex, timeout=STEP):
        """The first message (read from now on) matching regex."""
        rx = re.compile(regex, re.S)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.poll(max(0.01, end - time.monotonic()))
            if m is not None and rx.search(m):
                return m
        raise AssertionError(f"no notification matching {regex!r} within {timeout}s; got "
                             f"{[m for _, m in self.got[-8:]]}")

    def drain(self, seconds):
        """Every message within the next seconds."""
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            m = self.poll(max(0.01, end - time.monotonic()))
            if m is not None:
                out.append((time.monotonic(), m))
        return out

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_ready_status_reload_stopping():
    n = Notify()
    try:
        d = Daemon("--tls-cert", cert("server.pem"), "--tls-key", cert("server.key"), log_level="info",
                   env={"NOTIFY_SOCKET": n.name})
        d.start()
        try:
            m = n.wait(r"^READY=1\n")
            assert "STATUS=0 sessions (0 parked), 0 bindings, 0 streams" in m, m
            with TcpServer() as local:
                p = subprocess.Popen([HTC, "--url", f"wss://127.0.0.1:{d.port}", "--insecure", "--token",
                                      d.token, "pull", str(local.port), "--port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    n.wait(r"^STATUS=1 session \(0 parked\), 1 binding, 0 streams$", STEP * 2)
                finally:
                    p.send_signal(signal.SIGTERM)
                    p.wait(STEP)
            n.wait(r"^STATUS=0 sessions", STEP * 2)
            d.signal(signal.SIGHUP)
            m = n.wait(r"^RELOADING=1\n")
            usec = int(re.search(r"MONOTONIC_USEC=(\d+)", m).group(1))
            assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 5, (usec, m)
            n.wait(r"^READY=1$")
            d.signal(signal.SIGTERM)
            n.wait(r"^STOPPING=1\n")
            assert d.wait(STEP) == 0, d.stderr()[-600:]
        finally:
            d.stop()
    finally:
        n.close()


def test_watchdog_stops_with_the_loop():
    n = Notify(abstract=True)
    try:
        with Daemon(log_level="info", env={"NOTIFY_SOCKET": n.name, "WATCHDOG_USEC": "400000"}) as d:
            n.wait(r"^READY=1")
            pings = [t for t, m in n.drain(1.2) if m == "WATCHDOG=1"]
            assert 4 <= len(pings) <= 8, f"{len(pings)} pings in 1.2 s at a 200 ms period"
            d.signal(signal.SIGSTOP)  # a stuck loop
            try:
                stopped = [m for _, m in n.drain(1.0) if m == "WATCHDOG=1"]
            finally:
                d.signal(signal.SIGCONT)
            assert len(stopped) <= 1, f"{len(stopped)} pings while the loop was stopped"
            n.wait(r"^WATCHDOG=1$", 1.0)  # and back
            assert "watchdog: pinging the service manager every 200 ms" in d.stderr(), d.stderr()[-600:]
        # a watchdog meant for another process is not ours
        with Daemon(log_level="info", env={"NOTIFY_SOCKET": n.name, "WATCHDOG_USEC": "400000",
                                           "WATCHDOG_PID": "1"}) as d:
            n.wait(r"^READY=1")
            assert not any(m == "WATCHDOG=1" for _, m in n.drain(0.6))
    finally:
        n.close()


class Activated(Daemon):
    """The daemon under systemd-socket-activate: the socket is bound by the activator."""

    def __init__(self, *flags, fdname="control", env_names=(), **kw):
        super().__init__(*flags, **kw)
        self.fdname = fdname
        self.env_names = env_names

    def argv(self):
        a = [ACTIVATE, "-l", f"127.0.0.1:{self.port}"]
        if self.fdname:
            a.append(f"--fdname={self.fdname}")
        for e in self.env_names:
            a += ["-E", e]
        # the activator prints its command line: the token goes in a file
        self.token_dir = tempfile.mkdtemp(prefix="ht-activated-")
        tf = os.path.join(self.token_dir, "token")
        with open(tf, "w") as f:
            f.write(self.token + "\n")
        # --listen names a port nobody may take: the passed socket wins
        return a + [DAEMON, "--listen", "127.0.0.1:1", "--token-file", tf, "--log-level", self.log_level,
                    "--shutdown-grace", "1s", *self.flags]

    def stop(self, timeout=None):
        try:
            return super().stop(timeout)
        finally:
            shutil.rmtree(self.token_dir, ignore_errors=True)


def pull_through(d, url, *extra):
    """htc pull through d's socket: an echo round trip over the tunnel."""
    local = TcpServer()
    p = subprocess.Popen([HTC, "--url", url, *extra, "--token", d.token, "pull", str(local.port), "--port", "0"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline().decode()
        while line and "->" not in line:
            line = p.stdout.readline().decode()
        m = re.search(r"container 127\.0\.0\.1:(\d+) ->", line)
        assert m, (line, p.stderr.read1())
        s = socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=STEP)
        s.sendall(b"through the passed socket\n")
        assert recv_all_until(s, b"\n") == b"through the passed socket\n"
        s.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(STEP)
        local.close()


def recv_all_until(s, end):
    got = b""
    while not got.endswith(end):
        b = s.recv(4096)
        if not b:
            break
        got += b
    return got


def skip(reason):
    print(f"SKIP: {reason}", flush=True)


def test_socket_activation_plain():
    if ACTIVATE is None:
        return skip("systemd-socket-activate is not installed")
    n = Notify()
    try:
        with Activated(log_level="info", env={"NOTIFY_SOCKET": n.name}, env_names=("NOTIFY_SOCKET",)) as d:
            n.wait(r"^READY=1")
            pull_through(d, d.url)
            err = d.stderr()
            assert "--listen: the service manager's socket 'control' (fd 3)" in err, err[-800:]
            assert f"listening on 127.0.0.1:{d.port}" in err, err[-800:]
    finally:
        n.close()


def test_socket_activation_tls_unnamed():
    if ACTIVATE is None:
        return skip("systemd-socket-activate is not installed")
    with Activated("--tls-cert", cert("server.pem"), "--tls-key", cert("server.key"), fdname=None,
                   log_level="info") as d:
        pull_through(d, f"wss://127.0.0.1:{d.port}", "--insecure")
        assert "the service manager's socket 'control'" in d.stderr(), d.stderr()[-800:]


def test_bad_listen_fds():
    env = dict(os.environ)
    # LISTEN_PID must be the daemon's own PID: run it through sh so $$ is known before exec
    r = subprocess.run(["sh", "-c", f'LISTEN_PID=$$ LISTEN_FDS=abc exec {DAEMON} --listen 127.0.0.1:{free_port()} '
                                    f'--token {new_token()}'], env=env, capture_output=True, timeout=STEP)
    assert r.returncode == 1 and b"LISTEN_FDS=abc" in r.stderr, r
    r = subprocess.run(["sh", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec {DAEMON} --listen 127.0.0.1:{free_port()} '
                                    f'--token {new_token()} 3</dev/null'], env=env, capture_output=True,
                       timeout=STEP)
    assert r.returncode == 1 and b"not a listening TCP socket" in r.stderr, r


class NoTokenDaemon(Daemon):
    """The daemon without --token: it finds one (credential, store) or makes one."""

    def argv(self):
        return [DAEMON, "--listen", f"127.0.0.1:{self.port}", "--log-level", self.log_level,
                "--shutdown-grace", "1s", *self.flags]


def echo_over(d, token):
    """A PULL binding with token works: the token is the daemon's."""
    local = TcpServer()
    try:
        with Htc(d, "pull", str(local.port), "--port", "0", token=token) as h:
            port = int(h.expect(r"^container 127\.0\.0\.1:(\d+) ->").group(1))
            s = socket.create_connection(("127.0.0.1", port), timeout=STEP)
            s.sendall(b"ping\n")
            assert recv_all_until(s, b"\n") == b"ping\n"
            s.close()
    finally:
        local.close()


def test_token_from_credential():
    creds = tempfile.mkdtemp(prefix="ht-creds-")
    try:
        tok = new_token()
        with open(os.path.join(creds, "token"), "w") as f:
            f.write(tok + "\n")
        with NoTokenDaemon(token=tok, log_level="info", env={"CREDENTIALS_DIRECTORY": creds}) as d:
            echo_over(d, tok)
            assert f"token: from the credential {creds}/token" in d.stderr(), d.stderr()[-600:]
            assert d.stdout() == "", d.stdout()
        # a flag or variable wins over the credential
        other = new_token()
        with Daemon(token=other, log_level="info", env={"CREDENTIALS_DIRECTORY": creds}) as d:
            echo_over(d, other)
            assert "from the credential" not in d.stderr()
    finally:
        shutil.rmtree(creds, ignore_errors=True)


def test_generated_token_kept_not_printed():
    state = tempfile.mkdtemp(prefix="ht-state-")
    path = os.path.join(state, "token")
    try:
        d = NoTokenDaemon(token="unknown-yet", log_level="info", env={"STATE_DIRECTORY": state})
        d.start()
        try:
            st = os.stat(path)
            assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
            tok = open(path).read().strip()
            d.token = tok  # check_output: the token is in no output
            assert len(tok) >= 16 and d.stdout() == "", d.stdout()
            assert f"token: generated and kept in {path} (mode 0600)" in d.stderr(), d.stderr()[-600:]
            echo_over(d, tok)
        finally:
            d.stop()
        with NoTokenDaemon(token=tok, log_level="info", env={"STATE_DIRECTORY": state}) as d:  # a restart
            assert f"token: the one kept in {path}" in d.stderr(), d.stderr()[-600:]
            echo_over(d, tok)
        with open(path, "w") as f:
            f.write("not a token at all!\n")
        r = subprocess.run([DAEMON, "--listen", f"127.0.0.1:{free_port()}", "--token-store", path],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=STEP)
        assert r.returncode == 1 and b"does not hold a generated token" in r.stderr, r
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_no_token_no_terminal_refused():
    r = subprocess.run([DAEMON, "--listen", f"127.0.0.1:{free_port()}"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=STEP, env={k: v for k, v in os.environ.items()
                                                               if k not in ("STATE_DIRECTORY", "HOODY_TUNNEL_TOKEN")})
    assert r.returncode == 1 and b"no token: give --token-file" in r.stderr and r.stdout == b"", r


def test_journal_priorities_and_json_fields():
    with tempfile.TemporaryFile() as err:
        st = os.fstat(err.fileno())
        d = Daemon("--log-format", "json", log_level="info")
        d.errf = err  # the daemon writes to the file JOURNAL_STREAM names
        d.outf = tempfile.TemporaryFile()
        d.proc = subprocess.Popen(d.argv(), stdin=subprocess.DEVNULL, stdout=d.outf, stderr=err,
                                  env=dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}",
                                           HOODY_TUNNEL_NO_SUCH_SETTING="1"))
        try:
            end = time.monotonic() + STEP
            while not can_connect(d.port, timeout=0.2):
                assert time.monotonic() < end, "the daemon did not listen"
                time.sleep(0.05)
            echo_over(d, d.token)
        finally:
            d.stop()
        lines = d.stderr().splitlines()
        assert lines and all(ln.startswith(("<3>", "<4>", "<6>", "<7>")) for ln in lines), lines[:5]
        recs = [json.loads(ln[3:]) for ln in lines]
        bound = [r for r in recs if "bound pull port" in r["msg"]]
        assert bound and bound[0]["session"].startswith("S-") and bound[0]["bind"] == 1, bound
        assert isinstance(bound[0]["port"], int) and bound[0]["port"] > 0, bound
        assert any(ln.startswith("<4>") and "HOODY_TUNNEL_NO_SUCH_SETTING" in ln for ln in lines), lines[:5]
        assert any(ln.startswith("<6>") and "listening on" in ln for ln in lines), lines[:5]


if __name__ == "__main__":
    run_tests([test_ready_status_reload_stopping, test_watchdog_stops_with_the_loop, test_socket_activation_plain,
               test_socket_activation_tls_unnamed, test_bad_listen_fds, test_token_from_credential,
               test_generated_token_kept_not_printed, test_no_token_no_terminal_refused,
               test_journal_priorities_and_json_fields])
