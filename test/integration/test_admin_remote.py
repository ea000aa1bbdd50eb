#!/usr/bin/python3
"""The admin API seen from another host, with real addresses: a network namespace joined to this
one by a veth pair, both made here and removed at the end whatever happens.

The daemon listens on this side's address of the pair (10.231.A.B+1/30); the requests come from
inside the namespace (10.231.A.B+2), a peer that is not loopback. Under the default --admin-auth
remote: reads need the bearer token (401 with WWW-Authenticate without it, 200 with it),
/api/v1/tunnel/health and the probes do not, /metrics is a read; htc's admin commands from there work
with the token they are given and fail without it. Under --admin-auth write the same reads are open
and a DELETE still needs the token. Traffic flows only between the two ends of the pair.

Needs root (CAP_NET_ADMIN) and ip(8): otherwise prints "SKIP: <reason>" and passes.

Run: BUILD=build /usr/bin/python3 test/integration/test_admin_remote.py
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

REALM = 'Bearer realm="hoody-tunnel"'
CMD_TIMEOUT = 10

# What runs inside the namespace: each request of argv[1] (JSON [[method, url, headers], ...]) on its
# own connection; prints [[status, www-authenticate or null], ...].
CLIENT = r"""
import http.client, json, sys, urllib.parse
out = []
for method, url, headers in json.loads(sys.argv[1]):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    try:
        c.request(method, u.path, headers=headers)
        r = c.getresponse()
        body = r.read()
        err = json.loads(body).get("error") if r.status == 401 else None
        out.append([r.status, r.getheader("WWW-Authenticate"), err])
    finally:
        c.close()
print(json.dumps(out))
"""


def ip(*args, check=True):
    """Run ip(8); returns the CompletedProcess."""
    r = subprocess.run(["ip"] + list(args), capture_output=True, timeout=CMD_TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {r.stderr.decode().strip()}")
    return r


class Netns:
    """A namespace and a veth pair, this side at `host`, the namespace's side at `peer`."""

    def __init__(self):
        pid = os.getpid()
        block = pid % 16384  # one /30 of 10.231.0.0/16 per test process
        a, b = block // 64, (block % 64) * 4
        self.name = f"ht-admin-{pid}"
        self.here, self.there = f"hta{pid}h", f"hta{pid}n"
        self.host, self.peer = f"10.231.{a}.{b + 1}", f"10.231.{a}.{b + 2}"
        self.made_ns = self.made_link = False

    def create(self):
        """Make the namespace and the pair; a reason string when it cannot be done here."""
        if shutil.which("ip") is None:
            return "ip(8) not found"
        if os.geteuid() != 0:
            return "not root: network namespaces need CAP_NET_ADMIN"
        r = ip("netns", "add", self.name, check=False)
        if r.returncode != 0:
            return f"cannot create a network namespace: {r.stderr.decode().strip()}"
        self.made_ns = True
        ip("link", "add", self.here, "type", "veth", "peer", "name", self.there)
        self.made_link = True
        ip("link", "set", self.there, "netns", self.name)
        ip("addr", "add", f"{self.host}/30", "dev", self.here)
        ip("link", "set", self.here, "up")
        ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.peer}/30", "dev", self.there)
        ip("netns", "exec", self.name, "ip", "link", "set", self.there, "up")
        ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        return None

    def remove(self):
        """Remove what create() made (deleting the namespace deletes its end of the pair)."""
        if self.made_link:
            ip("link", "del", self.here, check=False)
        if self.made_ns:
            ip("netns", "del", self.name, check=False)
        leftover = ip("netns", "list", check=False).stdout.decode()
        assert self.name not in leftover.split(), f"namespace {self.name} left behind"

    def run(self, argv, timeout=STEP * 2):
        """argv inside the namespace: (rc, stdout, stderr)."""
        r = subprocess.run(["ip", "netns", "exec", self.name] + argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def requests(self, d, reqs):
        """[(method, path, headers)] to daemon d from inside: [(status, www-authenticate, error)]."""
        spec = [[m, f"http://{d.host}:{d.port}{p}", h or {}] for m, p, h in reqs]
        rc, out, err = self.run(["/usr/bin/python3", "-c", CLIENT, json.dumps(spec)])
        assert rc == 0, f"client in the namespace: rc {rc}: {err[-1500:]}"
        return [tuple(x) for x in json.loads(out)]


def htc_in(ns, d, *args, token=None):
    argv = [HTC, "--url", d.url] + (["--token", token] if token else []) + list(args)
    rc, out, err = ns.run(argv)
    assert d.token not in out + err, "the token appears in htc's output"
    return rc, out, err


def check_remote(ns):
    with Daemon(host=ns.host) as d:
        auth = {"Authorization": f"Bearer {d.token}"}
        wrong = {"Authorization": f"Bearer {d.token}x"}
        got = ns.requests(d, [
            ("GET", "/api/v1/tunnel/tunnels", None),
            ("GET", "/api/v1/tunnel/tunnels", wrong),
            ("GET", "/api/v1/tunnel/tunnels", auth),
            ("GET", "/api/v1/tunnel/health", None),
            ("GET", "/healthz/live", None),
            ("GET", "/healthz/ready", None),
            ("GET", "/metrics", None),
            ("GET", "/metrics", auth),
            ("GET", "/api/v1/tunnel/sessions", None),
            ("GET", "/api/v1/tunnel/bindings", auth),
            ("DELETE", "/api/v1/tunnel/sessions/S-x", None),
            ("DELETE", "/api/v1/tunnel/sessions/S-x", auth),
        ])
        denied = (401, REALM, "missing or wrong bearer token")
        want = [denied, denied, (200, None, None), (200, None, None), (200, None, None), (200, None, None),
                denied, (200, None, None), denied, (200, None, None), denied, (404, None, None)]
        assert got == want, f"from {ns.peer}:\n got {got}\nwant {want}"
        # from this side of the pair the peer is this host's own address, but not loopback: remote too
        assert d.get("/api/v1/tunnel/tunnels")[0] == 401
        assert d.get_json("/api/v1/tunnel/tunnels", headers=auth)["sessions"] == []
        rc, out, err = htc_in(ns, d, "list", token=d.token)
        assert rc == 0, (rc, err)
        rc, out, err = htc_in(ns, d, "metrics", token=d.token)
        assert rc == 0 and "hoody_tunnel_build_info" in out, (rc, err, out[:300])
        rc, out, err = htc_in(ns, d, "list")
        assert rc != 0 and "401" in err, (rc, out, err)
        rc, out, err = htc_in(ns, d, "health")
        assert rc == 0, (rc, err)
    with Daemon("--admin-auth", "write", host=ns.host) as d:
        auth = {"Authorization": f"Bearer {d.token}"}
        got = ns.requests(d, [
            ("GET", "/api/v1/tunnel/tunnels", None),
            ("GET", "/metrics", None),
            ("DELETE", "/api/v1/tunnel/sessions/S-x", None),
            ("DELETE", "/api/v1/tunnel/sessions/S-x", auth),
        ])
        want = [(200, None, None), (200, None, None), (401, REALM, "missing or wrong bearer token"),
                (404, None, None)]
        assert got == want, f"--admin-auth write from {ns.peer}:\n got {got}\nwant {want}"


def test_remote_peer():
    ns = Netns()
    try:
        why = ns.create()
        if why is not None:
            print(f"SKIP: {why}", flush=True)
            return
        check_remote(ns)
    finally:
        ns.remove()


if __name__ == "__main__":
    run_tests([test_remote_peer], timeout=120)
