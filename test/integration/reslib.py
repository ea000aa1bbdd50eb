"""reslib: helpers for the resilience tests (parking, resume, takeover, v2).

Beyond htlib (which this imports and re-exports):
  * Relay: a one-thread TCP relay in front of the daemon's control port; cut()
    resets every relayed connection (SO_LINGER 0, so both ends see an RST),
    block()/unblock() make it reset new connections at once (the network is
    "down") while its listening socket stays open;
  * Probe: a thread connecting to a port every 10 ms and counting refusals;
  * echo_once(): one request/response through a PULL port;
  * abort_client(): drop a TunnelClient's TCP connection with an RST;
  * join(): a v2 secondary socket (JOIN with a ticket);
  * tunnels()/sessions(), wait_for(), wait_log(): daemon state and log lines.

Everything is loopback only and bounded in time.
"""
import asyncio
import os
import re
import selectors
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from htlib import STEP, SANITIZER_MARKS, TunnelClient, frame, JOIN, V2  # noqa: E402

LINGER0 = struct.pack("ii", 1, 0)


def rst_close(s):
    """Close s with an RST (SO_LINGER 0)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


# ---- the relay ---------------------------------------------------------------

class _Pair:
    __slots__ = ("a", "b", "to_a", "to_b", "a_eof", "b_eof")

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.to_a = bytearray()  # bytes read from b, waiting for a
        self.to_b = bytearray()
        self.a_eof = self.b_eof = False


class Relay:
    """TCP relay 127.0.0.1:<port> -> 127.0.0.1:<target>, run by one thread.

    cut(): RST both ends of every relayed connection (returns how many).
    block(): from now on connections are accepted and RST at once; unblock()
    relays again. The listening socket is never closed until close().
    accepts: monotonic times of relayed (not blocked) connections.
    """

    HIGH = 1 << 20

    def __init__(self, target, host="127.0.0.1"):
        self.target = target
        self.host = host
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(128)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, "listen")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.pairs = set()
        self.cmds = []
        self.lock = threading.Lock()
        self.blocked = False
        self.accepts = []
        self.blocked_count = 0
        self.stopping = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    # commands run on the relay thread; the caller waits for them
    def _call(self, fn, timeout=5.0):
        done = threading.Event()
        box = {}

        def run():
            try:
                box["r"] = fn()
            finally:
                done.set()
        with self.lock:
            self.cmds.append(run)
        self.wake_w.send(b"x")
        if not done.wait(timeout):
            raise AssertionError("relay thread did not answer")
        return box.get("r")

    def cut(self):
        """RST every relayed connection; returns how many were cut."""
        def do():
            n = len(self.pairs)
            for p in list(self.pairs):
                self._drop(p, rst=True)
            return n
        return self._call(do)

    def block(self):
        self._call(lambda: setattr(self, "blocked", True))

    def unblock(self):
        """Relay again; returns the monotonic time at which it did."""
        def do():
            self.blocked = False
            return time.monotonic()
        return self._call(do)

    def count(self):
        return self._call(lambda: len(self.pairs))

    def close(self):
        def do():
            for p in list(self.pairs):
                self._drop(p, rst=True)
            self.stopping = True
        try:
            self._call(do)
        except AssertionError:
            pass
        self.t.join(3)
        for s in (self.lsock, self.wake_r, self.wake_w):
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # the loop ---------------------------------------------------------------------

    def _loop(self):
        while not self.stopping:
            for key, ev in self.sel.select(0.2):
                what = key.data
                if what == "listen":
                    self._accept()
                elif what == "wake":
                    try:
                        self.wake_r.recv(4096)
                    except OSError:
                        pass
                    with self.lock:
                        cmds, self.cmds = self.cmds, []
                    for c in cmds:
                        c()
                else:
                    pair, side = what
                    if pair in self.pairs:
                        self._io(pair, side, ev)
        try:
            self.sel.close()
        except Exception:
            pass

    def _accept(self):
        for _ in range(64):
            try:
                a, _ = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if self.blocked:
                self.blocked_count += 1
                rst_close(a)
                continue
            try:
                b = socket.create_connection((self.host, self.target), timeout=2)
            except OSError:
                rst_close(a)
                continue
            for s in (a, b):
                s.setblocking(False)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            p = _Pair(a, b)
            self.pairs.add(p)
            self.accepts.append(time.monotonic())
            self._update(p)

    def _events(self, p, side):
        ev = 0
        if side == "a":
            if not p.a_eof and len(p.to_b) < self.HIGH:
                ev |= selectors.EVENT_READ
            if p.to_a:
                ev |= selectors.EVENT_WRITE
        else:
            if not p.b_eof and len(p.to_a) < self.HIGH:
                ev |= selectors.EVENT_READ
            if p.to_b:
                ev |= selectors.EVENT_WRITE
        return ev

    def _update(self, p):
        for side, s in (("a", p.a), ("b", p.b)):
            ev = self._events(p, side)
            try:
                key = self.sel.get_key(s)
            except KeyError:
                key = None
            if ev == 0:
                if key is not None:
                    self.sel.unregister(s)
            elif key is None:
                self.sel.register(s, ev, (p, side))
            elif key.events != ev:
                self.sel.modify(s, ev, (p, side))

    def _drop(self, p, rst):
        self.pairs.discard(p)
        for s in (p.a, p.b):
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            if rst:
                rst_close(s)
            else:
                s.close()

    def _io(self, p, side, ev):
        src, dst = (p.a, p.b) if side == "a" else (p.b, p.a)
        outq = p.to_b if side == "a" else p.to_a   # what src reads goes here
        inq = p.to_a if side == "a" else p.to_b    # what src must still write
        try:
            if ev & selectors.EVENT_WRITE and inq:
                n = src.send(inq)
                del inq[:n]
                if not inq and ((side == "a" and p.b_eof) or (side == "b" and p.a_eof)):
                    src.shutdown(socket.SHUT_WR)
            if ev & selectors.EVENT_READ:
                d = src.recv(1 << 16)
                if not d:
                    if side == "a":
                        p.a_eof = True
                    else:
                        p.b_eof = True
                    if not outq:
                        dst.shutdown(socket.SHUT_WR)
                else:
                    outq += d
                    try:
                        n = dst.send(outq)
                        del outq[:n]
                    except (BlockingIOError, InterruptedError):
                        pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            # one end reset or failed: pass the reset on
            self._drop(p, rst=True)
            return
        if p.a_eof and p.b_eof and not p.to_a and not p.to_b:
            self._drop(p, rst=False)
            return
        self._update(p)


# ---- probing a port ---------------------------------------------------------

class Probe:
    """A thread connecting to host:port every `interval` seconds until stop().

    refused: connections refused (ECONNREFUSED: the listener was gone);
    ok: connects that succeeded; errors: other failures (text)."""

    def __init__(self, port, interval=0.01, host="127.0.0.1"):
        self.port, self.interval, self.host = port, interval, host
        self.ok = 0
        self.refused = 0
        self.refused_at = []
        self.errors = []
        self.flag = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.flag.is_set():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect((self.host, self.port))
                self.ok += 1
            except ConnectionRefusedError:
                self.refused += 1
                self.refused_at.append(time.monotonic())
            except OSError as e:
                self.errors.append(repr(e))
            finally:
                rst_close(s)
            self.flag.wait(self.interval)

    def stop(self):
        self.flag.set()
        self.t.join(5)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---- container side -----------------------------------------------------------

def echo_once(port, payload=None, timeout=2.0, host="127.0.0.1"):
    """One connection: send payload, read it back, close. True on a correct echo."""
    payload = payload or os.urandom(16)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.sendall(payload)
        got = bytearray()
        while len(got) < len(payload):
            d = s.recv(len(payload) - len(got))
            if not d:
                return False
            got += d
        return bytes(got) == payload
    except OSError:
        return False
    finally:
        s.close()


def wait_echo(port, timeout=STEP):
    """True once echo_once succeeds within timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if echo_once(port, timeout=1.0):
            return True
        time.sleep(0.02)
    return False


def closed_at_once(port, timeout=1.0):
    """Connect to port: 'closed' when the server closes it (EOF/RST) within
    timeout, 'refused' on ECONNREFUSED, 'open' when it stays open."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        s.close()
        return "refused"
    try:
        d = s.recv(1)
        return "closed" if not d else "open"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except socket.timeout:
        return "open"
    finally:
        s.close()


# ---- clients --------------------------------------------------------------------

def abort_client(c):
    """Drop a TunnelClient's TCP connection at once with an RST."""
    tr = c.ws.transport
    sock = tr.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        except OSError:
            pass
    tr.abort()


async def join(port, session_id, index, nonce, auto=True, timeout=STEP):
    """A v2 secondary socket: connect, JOIN; returns (client, frame) where
    frame is JOIN_OK or JOIN_ERR (None if the socket closed first)."""
    c = TunnelClient(port, subprotocol=V2, auto=auto)
    await c.connect()
    await c.send_now(frame(JOIN, 0, {"sessionId": session_id, "index": index, "nonce": nonce}))
    f = await c.recv_frame(timeout)
    return c, f


async def hello_v2(c, token, max_connections=4):
    return await c.hello(token, extra={"capabilities": ["multi-ws"], "maxConnections": max_connections})


# ---- daemon state -----------------------------------------------------------------

def tunnels(d):
    return d.get_json("/api/v1/tunnel/tunnels")


def sessions(d):
    return d.get_json("/api/v1/tunnel/sessions")


def wait_for(pred, timeout=STEP, interval=0.02):
    """The first truthy pred() within timeout, else the last value."""
    end = time.monotonic() + timeout
    v = pred()
    while not v and time.monotonic() < end:
        time.sleep(interval)
        v = pred()
    return v


async def await_for(pred, timeout=STEP, interval=0.02):
    """wait_for for async code (pred runs in a thread)."""
    return await asyncio.to_thread(wait_for, pred, timeout, interval)


def wait_log(d, regex, timeout=STEP):
    """The match of regex in the daemon's stderr within timeout."""
    rx = re.compile(regex)
    end = time.monotonic() + timeout
    while True:
        m = rx.search(d.stderr())
        if m or time.monotonic() >= end:
            if not m:
                raise AssertionError(f"no daemon log line matching {regex!r} within {timeout}s; "
                                     f"tail:\n{d.stderr()[-1500:]}")
            return m
        time.sleep(0.05)


async def await_log(d, regex, timeout=STEP):
    return await asyncio.to_thread(wait_log, d, regex, timeout)


def log_lines(d, regex):
    rx = re.compile(regex)
    return [l for l in d.stderr().splitlines() if rx.search(l)]


def check_htc_output(h):
    """Fail on sanitizer reports in an htc's stderr."""
    text = h.stderr()
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        if i >= 0:
            raise AssertionError(f"sanitizer report in htc stderr:\n{text[max(0, i - 200):i + 3000]}")
