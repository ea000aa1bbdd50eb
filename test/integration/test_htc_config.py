#!/usr/bin/python3
"""htc's config file and `htc login`, with a real daemon and local HTTP
services on loopback.

Every case runs htc with HOME in a fresh temporary directory and without
HTC_URL, HOODY_TUNNEL_TOKEN, HTC_CONFIG or XDG_CONFIG_HOME, so only the
files the case writes count.

Cases: a file with two expose tunnels (port = 0) -> `htc up` with no name
binds both (the daemon lists two bindings and each container port answers
with its own local service); `htc up web` binds only web; an unknown name
lists the file's names and exits 2; a syntax error, an unknown key and a
tunnel named twice are reported with the file and line, exit 2; a missing
file named by HTC_CONFIG is an error, a missing default file is not;
`htc login` with the token on standard input writes a 0600 file in a 0700
directory, keeps the file's tunnels, prints "saved to PATH" and never the
token, and a following `htc list` against a daemon with --admin-auth all
works without --url and --token; a file with a token readable by others
gets one warning; --url beats HTC_URL, which beats the file's url.

Run: BUILD=build /usr/bin/python3 test/integration/test_htc_config.py
"""
import http.server as httpserver
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

CLEARED = ("HTC_URL", "HOODY_TUNNEL_TOKEN", "HTC_CONFIG", "XDG_CONFIG_HOME", "HTC_SUBDOMAIN", "HTC_MODE",
           "HTC_BASIC_AUTH")


# ---- a local service that says who it is ------------------------------------------

class _Named(httpserver.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Named:
    """An HTTP service on 127.0.0.1:<port> whose every answer is its name."""

    def __init__(self, name):
        self.srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), _Named)
        self.srv.daemon_threads = True
        self.srv.name = name
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---- htc with a home of its own --------------------------------------------------

class Home:
    """A temporary HOME; path is where htc looks for its config file there."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="htc-home-")
        self.path = os.path.join(self.dir, ".config", "htc", "config")

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items() if k not in CLEARED}
        e["HOME"] = self.dir
        e.update(extra)
        return e

    def write(self, text, mode=0o600, path=None):
        path = path or self.path
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def run(self, *args, stdin=None, env=None, timeout=STEP * 2):
        """htc to its end: (rc, stdout, stderr)."""
        r = subprocess.run([HTC, *args], input=(stdin or "").encode(), capture_output=True, timeout=timeout,
                           env=env or self.env())
        err = r.stderr.decode("utf-8", "replace")
        for mark in SANITIZER_MARKS:
            assert mark not in err, f"sanitizer report in htc {args}: {err[:3000]}"
        return r.returncode, r.stdout.decode("utf-8", "replace"), err

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HomeHtc(Htc):
    """A running htc (stdout lines read as Htc does) with argv and environment as given: no --url, no --token."""

    def __init__(self, home, daemon, *args, env=None):
        self.token = daemon.token
        self._spawn([HTC, *args], env or home.env())


def two_tunnels(d, web, api):
    return (f"# written by the test\nurl = {d.url}\ntoken = {d.token}\n\n"
            f"[tunnel web]\nexpose = {web.port}\nport = 0\n\n"
            f"[tunnel api]\nexpose = {api.port}\nport = 0\n")


def bound_ports(h, n):
    """The container ports of the next n "container port N -> 127.0.0.1:L" lines: {L: N}."""
    got = {}
    for _ in range(n):
        m = h.expect(r"^container port (\d+) -> 127\.0\.0\.1:(\d+)$")
        got[int(m.group(2))] = int(m.group(1))
    return got


def fetch(port):
    st, _, body = http(port, "GET", "/")
    return st, body.decode()


def binding_count(d):
    return d.get_json("/api/v1/tunnel/bindings")["total"]


# ---- cases -------------------------------------------------------------------------

def test_up_starts_every_tunnel():
    web, api = Named("web"), Named("api")
    try:
        with Home() as home, Daemon("--expose-address", "127.0.0.1") as d:
            home.write(two_tunnels(d, web, api))
            with HomeHtc(home, d, "up") as h:
                ports = bound_ports(h, 2)
                assert sorted(ports) == sorted([web.port, api.port]), ports
                assert binding_count(d) == 2
                assert fetch(ports[web.port]) == (200, "web")
                assert fetch(ports[api.port]) == (200, "api")
                assert "warning" not in h.stderr(), h.stderr()
    finally:
        web.close()
        api.close()


def test_up_named_tunnel_only():
    web, api = Named("web"), Named("api")
    try:
        with Home() as home, Daemon("--expose-address", "127.0.0.1") as d:
            home.write(two_tunnels(d, web, api))
            with HomeHtc(home, d, "up", "web") as h:
                ports = bound_ports(h, 1)
                assert list(ports) == [web.port], ports
                assert fetch(ports[web.port]) == (200, "web")
                bindings = d.get_json("/api/v1/tunnel/bindings")["bindings"]
                assert [b["port"] for b in bindings] == [ports[web.port]], bindings
            rc, out, err = home.run("up", "web", "nope")
            assert rc == 2 and f"no tunnel 'nope' in {home.path} (it has: web, api)" in err, (rc, out, err)
    finally:
        web.close()
        api.close()


def test_bad_file_names_file_and_line():
    with Home() as home:
        cases = (("url = ws://127.0.0.1:1\n\n[tunnel web]\nexpose = 3000\nthis is not ini\n", 5, "syntax error"),
                 ("[tunnel web]\nexpose = 3000\n\n# a comment\nexose = 3001\n", 5,
                  "unknown key 'exose' in [tunnel web]"),
                 ("[tunnel web]\nexpose = 3000\n[tunnel db]\npull = 5432\n[tunnel web]\nexpose = 1\n", 5,
                  "tunnel 'web' named twice (first on line 1)"),
                 ("[tunnel web]\nexpose = 3000\nport = eighty\n", 3, "[tunnel web]: --port: not a port: eighty"))
        for text, line, what in cases:
            home.write(text)
            for args in (("up",), ("list",)):
                rc, out, err = home.run(*args)
                want = f"htc: {home.path}:{line}: {what}"
                assert rc == 2 and err.splitlines()[0].startswith(want), (args, rc, err, want)
        named = os.path.join(home.dir, "elsewhere.ini")
        rc, out, err = home.run("list", env=home.env(HTC_CONFIG=named, HTC_URL="ws://127.0.0.1:1"))
        assert rc == 2 and named in err and "No such file" in err, (rc, err)
        os.unlink(home.path)  # no file at the default path: not an error (the connection fails instead)
        rc, out, err = home.run("list", env=home.env(HTC_URL="ws://127.0.0.1:1"))
        assert rc == 1 and "127.0.0.1:1" in err and home.path not in err, (rc, err)


def test_login_then_list():
    with Home() as home, Daemon("--admin-auth", "all") as d:
        rc, out, err = home.run("list")  # nothing saved yet: the default URL, no token
        assert rc != 0, (rc, out, err)
        rc, out, err = home.run("login", "--url", d.url, stdin=d.token + "\n")
        assert rc == 0 and out == f"saved to {home.path}\n", (rc, out, err)
        assert d.token not in out + err
        assert stat.S_IMODE(os.stat(home.path).st_mode) == 0o600, oct(os.stat(home.path).st_mode)
        assert stat.S_IMODE(os.stat(os.path.dirname(home.path)).st_mode) == 0o700
        with open(home.path) as f:
            text = f.read()
        assert f"url = {d.url}\n" in text and f"token = {d.token}\n" in text, text
        rc, out, err = home.run("list")
        assert rc == 0 and err == "" and "0 session(s)" in out, (rc, out, err)
        assert d.token not in out

        # a second login keeps the url, the tunnels and other keys; token-file gives way to the token
        home.write(f"url = {d.url}\nca-file = /nowhere.pem\ntoken-file = {home.dir}/gone\n\n"
                   "[tunnel web]\nexpose = 3000\n")
        rc, out, err = home.run("login", stdin="wrong-token\r\n")
        assert rc == 0, (rc, out, err)
        with open(home.path) as f:
            text = f.read()
        assert text == (f"url = {d.url}\nca-file = /nowhere.pem\ntoken = wrong-token\n\n"
                        "[tunnel web]\nexpose = 3000\n"), text
        rc, out, err = home.run("list")
        assert rc == 1 and "401" in err, (rc, out, err)  # the saved token is the one sent
        rc, out, err = home.run("login", "--url", d.url, stdin="")
        assert rc == 2 and "no token" in err, (rc, out, err)


def test_login_to_htc_config_and_warning():
    with Home() as home, Daemon() as d:
        named = os.path.join(home.dir, "sub", "my.ini")
        env = home.env(HTC_CONFIG=named)
        tok = os.path.join(home.dir, "tokfile")
        home.write(d.token + "\n", path=tok)
        rc, out, err = home.run("--token-file", tok, "login", "--url", d.url, env=env)
        assert rc == 0 and out == f"saved to {named}\n", (rc, out, err)
        assert stat.S_IMODE(os.stat(named).st_mode) == 0o600
        os.chmod(named, 0o644)
        rc, out, err = home.run("health", env=env)
        warnings = [x for x in err.splitlines() if "warning" in x]
        assert rc == 0 and len(warnings) == 1 and named in warnings[0] and "0644" in warnings[0], (rc, err)


def test_url_precedence():
    """--url beats HTC_URL, which beats the file's url: each dead one is named when it is the one used."""
    env_port, file_port = free_port(), free_port()
    with Home() as home, Daemon() as d:
        home.write(f"url = ws://127.0.0.1:{file_port}\ntoken = {d.token}\n")
        rc, out, err = home.run("--url", d.url, "health", env=home.env(HTC_URL=f"ws://127.0.0.1:{env_port}"))
        assert rc == 0 and "ok" in out.lower(), (rc, out, err)
        rc, out, err = home.run("health", env=home.env(HTC_URL=f"ws://127.0.0.1:{env_port}"))
        assert rc == 1 and f"127.0.0.1:{env_port}" in err, (rc, out, err)
        rc, out, err = home.run("health")
        assert rc == 1 and f"127.0.0.1:{file_port}" in err, (rc, out, err)
        home.write(f"url = {d.url}\ntoken = {d.token}\n")
        rc, out, err = home.run("health")
        assert rc == 0, (rc, out, err)


if __name__ == "__main__":
    run_tests([test_up_starts_every_tunnel, test_up_named_tunnel_only, test_bad_file_names_file_and_line,
               test_login_then_list, test_login_to_htc_config_and_warning, test_url_precedence])
