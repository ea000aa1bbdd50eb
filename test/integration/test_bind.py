#!/usr/bin/python3
"""BIND / UNBIND against a real hoody-tunnel (PROTOCOL.md section 5).

Every BIND_ERR code the daemon can be made to return from outside
(INVALID_KIND, RESERVED_PORT, PRIVILEGED_PORT, INVALID_HOST, ALREADY_BOUND,
PORT_IN_USE, BIND_CAP_EXCEEDED), clientBindRef echoed exactly, BIND_OK for
port 0 naming a real listening port, publicUrl null for PULL, bindId unique
and increasing, UNBIND_OK / UNBIND_ERR, the port closed after UNBIND, PULL
on ::1, and the bind_errors_total metric.

Run: BUILD=build /usr/bin/python3 test/integration/test_bind.py
"""
import asyncio
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403

CODES = ("INVALID_KIND", "RESERVED_PORT", "PRIVILEGED_PORT", "INVALID_HOST", "ALREADY_BOUND",
         "PORT_IN_USE", "BIND_CAP_EXCEEDED", "INTERNAL")


async def bind_err(c, code, ref=None, **kw):
    kw.setdefault("kind", "tcp")
    kw.setdefault("mode", "pull")
    kw.setdefault("port", 0)
    t, j = await c.bind(ref=ref, **kw)
    assert t == BIND_ERR, f"BIND {kw} accepted: {j} (expected {code})"
    assert j.get("code") == code, f"BIND {kw}: code {j.get('code')} (expected {code}): {j}"
    assert isinstance(j.get("message"), str), j
    if ref is not None:
        assert j.get("clientBindRef") == ref and type(j.get("clientBindRef")) is int, \
            f"clientBindRef {j.get('clientBindRef')!r} (sent {ref})"
    return j


async def test_invalid_kind():
    with Daemon() as d:
        async with await session(d.port, d.token) as c:
            await bind_err(c, "INVALID_KIND", ref=11, kind="http", mode="pull")
            await bind_err(c, "INVALID_KIND", ref=12, kind="tcp", mode="expose")
            await bind_err(c, "INVALID_KIND", ref=13, kind="udp", mode="pull")
            await bind_err(c, "INVALID_KIND", ref=14, kind="tcp", mode="pull", takeover=True)
            # the session is fine after refusals
            ok = await c.bind_pull(ref=15)
            assert ok["clientBindRef"] == 15, ok


async def test_reserved_and_privileged_ports():
    with Daemon() as d:
        async with await session(d.port, d.token) as c:
            for p in (1, 22, 50, 79):
                await bind_err(c, "RESERVED_PORT", port=p)
            await bind_err(c, "RESERVED_PORT", port=d.port)  # the control plane's own port
            for p in (80, 443, 1023):
                await bind_err(c, "PRIVILEGED_PORT", port=p)
            assert d.metric("hoody_tunnel_bind_errors_total", {"code": "RESERVED_PORT"}) == 5
            assert d.metric("hoody_tunnel_bind_errors_total", {"code": "PRIVILEGED_PORT"}) == 3


async def test_invalid_host():
    with Daemon() as d:
        async with await session(d.port, d.token) as c:
            wrong = []
            for h in ("0.0.0.0", "10.1.2.3", "::", "example.com", "127.0.0.2", "localhost"):
                t, j = await c.bind(host=h)
                if t != BIND_ERR or j.get("code") != "INVALID_HOST":
                    wrong.append((h, j))
            assert not wrong, f"PULL hosts not refused with INVALID_HOST: {wrong}"
            ok = await c.bind_pull(host="127.0.0.1")
            assert can_connect(ok["containerPort"]), ok


async def test_already_bound():
    with Daemon() as d:
        async with await session(d.port, d.token) as c1, await session(d.port, d.token) as c2:
            ok = await c1.bind_pull()
            p = ok["containerPort"]
            await bind_err(c1, "ALREADY_BOUND", port=p)  # same session
            await bind_err(c2, "ALREADY_BOUND", port=p)  # another session
            assert can_connect(p), "first binding's port lost after the refused binds"


async def test_port_in_use():
    with Daemon() as d:
        outsider = socket.socket()
        outsider.bind(("127.0.0.1", 0))
        outsider.listen(4)
        try:
            p = outsider.getsockname()[1]
            async with await session(d.port, d.token) as c:
                await bind_err(c, "PORT_IN_USE", ref=3, port=p)
        finally:
            outsider.close()


async def test_bind_cap_exceeded():
    with Daemon("--max-bindings-per-session", "2") as d:
        async with await session(d.port, d.token) as c:
            a = await c.bind_pull()
            b = await c.bind_pull()
            await bind_err(c, "BIND_CAP_EXCEEDED", ref=77)
            # freeing one makes room again
            t, j = await c.unbind(a["bindId"])
            assert t == UNBIND_OK, j
            await c.bind_pull()
            await bind_err(c, "BIND_CAP_EXCEEDED")
            assert can_connect(b["containerPort"])
        # the cap is per session
        async with await session(d.port, d.token) as c2:
            await c2.bind_pull()
            await c2.bind_pull()


async def test_client_bind_ref_echoed():
    with Daemon() as d:
        async with await session(d.port, d.token) as c:
            for ref in (1, 42, 4294967297, 9007199254740991, 0):
                t, j = await c.bind(ref=ref)
                assert t == BIND_OK, j
                assert j["clientBindRef"] == ref and type(j["clientBindRef"]) is int, \
                    f"BIND_OK clientBindRef {j['clientBindRef']!r}, sent {ref}"
                t, j2 = await c.unbind(j["bindId"])
                assert t == UNBIND_OK, j2
            for ref in (1, 42, 9007199254740991):
                await bind_err(c, "PRIVILEGED_PORT", ref=ref, port=443)


async def test_bind_ok_port_zero_real_listener():
    with Daemon() as d:
        async with await session(d.port, d.token) as c:
            t, j = await c.bind(ref=5)
            assert t == BIND_OK, j
            assert set(j) >= {"clientBindRef", "bindId", "containerPort", "publicUrl"}, j
            assert j["publicUrl"] is None, j
            p = j["containerPort"]
            assert isinstance(p, int) and 1024 <= p <= 65535, j
            s = connect_tcp(p)
            try:
                st = await c.accept()
                assert st.info.get("kind") == "tcp", st.info
                assert st.info.get("bindId") == j["bindId"], st.info
                assert st.info.get("containerPort") == p, st.info
                assert st.info.get("peerAddr") == "127.0.0.1:%d" % s.getsockname()[1], st.info
            finally:
                s.close()
            # explicit port
            want = free_port()
            t, j2 = await c.bind(port=want)
            assert t == BIND_OK and j2["containerPort"] == want and j2["publicUrl"] is None, j2
            assert can_connect(want)


async def test_bind_ids_unique_increasing():
    with Daemon("--public-url-pattern", "https://p{port}.example.test") as d:
        ids = []
        async with await session(d.port, d.token) as c1:
            for _ in range(3):
                j = await c1.bind_pull()
                assert j["publicUrl"] is None, f"publicUrl for PULL: {j}"
                ids.append(j["bindId"])
            t, u = await c1.unbind(ids[1])
            assert t == UNBIND_OK
        async with await session(d.port, d.token) as c2:
            for _ in range(3):
                ids.append((await c2.bind_pull())["bindId"])
        assert all(isinstance(i, int) for i in ids), ids
        assert ids == sorted(ids) and len(set(ids)) == len(ids), f"bindIds {ids}"


async def test_unbind_ok_err_and_port_closed():
    with Daemon() as d:
        async with await session(d.port, d.token) as c:
            j = await c.bind_pull()
            p, bid = j["containerPort"], j["bindId"]
            assert can_connect(p)
            await asyncio.sleep(0.1)
            t, u = await c.unbind(bid)
            assert t == UNBIND_OK and u == {"bindId": bid}, (t, u)
            assert await asyncio.to_thread(wait_port_closed, p, "127.0.0.1", 3), "port open after UNBIND"
            b = d.get_json("/api/v1/tunnel/bindings")
            assert b["total"] == 0 and b["bindings"] == [], b
            # unbinding again, or an id that never existed
            for bad in (bid, 999999):
                t, u = await c.unbind(bad)
                assert t == UNBIND_ERR, (t, u)
                assert u.get("bindId") == bad and isinstance(u.get("code"), str) and \
                    isinstance(u.get("message"), str), u
            # the port can be bound again
            j2 = await c.bind_pull(port=p)
            assert j2["containerPort"] == p and j2["bindId"] != bid, j2


async def test_unbind_foreign_binding_refused():
    with Daemon() as d:
        async with await session(d.port, d.token) as c1, await session(d.port, d.token) as c2:
            j = await c1.bind_pull()
            t, u = await c2.unbind(j["bindId"])
            assert t == UNBIND_ERR, f"a session unbound another session's binding: {u}"
            assert can_connect(j["containerPort"])


async def test_pull_on_ipv6_loopback():
    if not ipv6_loopback_ok():
        print("    (skipped: no ::1)")
        return
    with Daemon() as d:
        async with await session(d.port, d.token) as c:
            j = await c.bind_pull(host="::1")
            p = j["containerPort"]
            s = connect_tcp(p, "::1")
            try:
                st = await c.accept()
                assert st.info.get("containerPort") == p, st.info
            finally:
                s.close()
            q = free_port()
            while q == p:  # free on 127.0.0.1, but the daemon holds it on ::1
                q = free_port()
            ok = await c.bind_pull(port=q, host="127.0.0.1")
            assert ok["containerPort"] > 0


if __name__ == "__main__":
    run_tests([
        test_invalid_kind,
        test_reserved_and_privileged_ports,
        test_invalid_host,
        test_already_bound,
        test_port_in_use,
        test_bind_cap_exceeded,
        test_client_bind_ref_echoed,
        test_bind_ok_port_zero_real_listener,
        test_bind_ids_unique_increasing,
        test_unbind_ok_err_and_port_closed,
        test_unbind_foreign_binding_refused,
        test_pull_on_ipv6_loopback,
    ])
