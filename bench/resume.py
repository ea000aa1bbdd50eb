#!/usr/bin/python3
"""How fast does `htc pull` come back after its WebSocket drops?

Setup (loopback only): hoody-tunnel, a local echo server, and htc pull
connected to the daemon through a TCP relay (test/integration/reslib.Relay).
A load thread does one request/response echo through the PULL port every
--interval-ms (a new connection each time, 16 bytes, 1 s timeout).

Each of --drops drops: the relay resets the tunnel connection (RST both ways)
and refuses new ones (accept + RST) for --down-ms, then relays again ("relay
accepts again", t_up). Measured per drop: t_up -> first successful echo
(recovery), cut -> first successful echo, and the echo attempts that failed
between the cut and that success. htc must resume the session every time.

    BUILD=build /usr/bin/python3 bench/resume.py [--drops 20] [--down-ms 200]
        [--interval-ms 5] [--grace 60s]

Prints a table, then median / p90 of the recovery and the failed attempts.
Every process started here is stopped by PID. Runtime: about 1 s per drop.
"""
import argparse
import math
import os
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("HT_ROOT", ROOT)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from reslib import Daemon, Htc, Relay, TcpServer, echo_once, wait_echo, log_lines  # noqa: E402


class Load:
    """Echo attempts every interval; records (start, end, ok)."""

    def __init__(self, port, interval):
        self.port, self.interval = port, interval
        self.rec = []
        self.lock = threading.Lock()
        self.flag = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        nxt = time.monotonic()
        while not self.flag.is_set():
            t0 = time.monotonic()
            ok = echo_once(self.port, timeout=1.0)
            with self.lock:
                self.rec.append((t0, time.monotonic(), ok))
            nxt += self.interval
            delay = nxt - time.monotonic()
            if delay > 0:
                self.flag.wait(delay)
            else:
                nxt = time.monotonic()

    def snapshot(self):
        with self.lock:
            return list(self.rec)

    def first_ok_after(self, t, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for r in self.snapshot():
                if r[2] and r[0] >= t:
                    return r
            time.sleep(0.005)
        return None

    def stop(self):
        self.flag.set()
        self.t.join(5)


def pct(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--drops", type=int, default=20)
    ap.add_argument("--down-ms", type=int, default=200)
    ap.add_argument("--interval-ms", type=float, default=5)
    ap.add_argument("--grace", default="60s")
    a = ap.parse_args()

    rows = []
    with Daemon("--takeover-grace", a.grace, log_level="info") as d, TcpServer() as srv, \
            Relay(d.port) as relay:
        h = Htc(d, "--quiet", "pull", str(srv.port), "--port", "0", url=relay.url)
        load = None
        try:
            sid = h.expect(r"session (\S+)").group(1)
            cport = int(h.expect(r"127\.0\.0\.1:(\d+) ->").group(1))
            if not wait_echo(cport):
                raise SystemExit("no echo through the PULL port")
            load = Load(cport, a.interval_ms / 1000)
            time.sleep(0.5)
            for i in range(a.drops):
                relay.block()
                relay.cut()
                t_cut = time.monotonic()  # the tunnel connection is reset by now
                time.sleep(a.down_ms / 1000)
                t_up = relay.unblock()
                r = load.first_ok_after(t_cut, 15)
                try:
                    m = h.expect(r"(resumed session|new session) (\S+)", 10)
                    how = "resumed" if m.group(1) == "resumed session" and m.group(2) == sid else "NEW"
                except AssertionError:
                    how = "?"
                time.sleep(0.5)  # steady again before the next drop
                if r is None:
                    rows.append((i + 1, None, None, None, how))
                    continue
                fails = sum(1 for s, e, ok in load.snapshot() if not ok and t_cut <= s < r[0])
                rows.append((i + 1, (r[1] - t_up) * 1000, (r[1] - t_cut) * 1000, fails, how))
            load.stop()
            total = len(load.rec)
            total_fail = sum(1 for _, _, ok in load.rec if not ok)
        finally:
            if load:
                load.stop()
            h.stop()
        parked = len(log_lines(d, r"session \S+ parked"))
        resumed = len(log_lines(d, r"session \S+ resumed"))

    print(f"resume after a drop: {a.drops} drops, relay down {a.down_ms} ms each, "
          f"echo every {a.interval_ms:g} ms (new connection each)")
    print(f"{'drop':>4}  {'up->echo ms':>11}  {'cut->echo ms':>12}  {'failed':>6}  htc")
    for n, up, cut, fails, how in rows:
        if up is None:
            print(f"{n:>4}  {'-':>11}  {'-':>12}  {'-':>6}  {how} (no echo within 15 s)")
        else:
            print(f"{n:>4}  {up:>11.1f}  {cut:>12.1f}  {fails:>6}  {how}")
    ups = [r[1] for r in rows if r[1] is not None]
    cuts = [r[2] for r in rows if r[2] is not None]
    fails = [r[3] for r in rows if r[3] is not None]
    if ups:
        print(f"relay accepts again -> first echo: median {statistics.median(ups):.1f} ms, "
              f"p90 {pct(ups, 90):.1f} ms, max {max(ups):.1f} ms")
        print(f"cut -> first echo:                 median {statistics.median(cuts):.1f} ms, "
              f"p90 {pct(cuts, 90):.1f} ms")
        print(f"failed echo attempts between cut and recovery: {sum(fails)} "
              f"(median {statistics.median(fails):g} per drop); {total_fail} of {total} attempts "
              f"failed in the whole run")
    print(f"daemon: {parked} parked, {resumed} resumed; htc: "
          f"{sum(1 for r in rows if r[4] == 'resumed')} resumed, {sum(1 for r in rows if r[4] == 'NEW')} "
          f"new sessions, {len(rows) - len(ups)} drops without recovery")


if __name__ == "__main__":
    main()
