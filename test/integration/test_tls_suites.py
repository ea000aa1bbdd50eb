#!/usr/bin/python3
"""The daemon's TLS suites, versions and signature hashes, as independent
clients see them, with an RSA and with an EC certificate.

Cases:
  * openssl s_client: each accepted suite (ECDHE with AES-128-GCM,
    AES-256-GCM, ChaCha20-Poly1305) alone completes a TLS 1.2 handshake
    with that suite; each refused one this OpenSSL can offer (static RSA
    with GCM or CBC, ECDHE with CBC, AES-CCM) alone fails it, and so do
    TLS 1.0, 1.1 and 1.3 (the client at security level 0, so that it
    really offers them) and SHA-1 or SHA-224 as the only signature hashes;
  * a hand-made ClientHello per suite BearSSL defines (its header's
    BR_TLS_* list, 3DES and static ECDH included, which this OpenSSL no
    longer offers): the server answers with a ServerHello only for the
    three ECDHE+AEAD suites of its certificate type, with an alert for
    every other; offered everything in BearSSL's own order (CBC first),
    the server still picks AES-128-GCM (its order wins) on a CPU with
    AES-NI; TLS 1.0/1.1 hellos get a protocol_version alert;
  * sslscan (skipped, saying so, when it is not installed): TLSv1.2 the
    only protocol, exactly the three suites, AES-128-GCM preferred (with
    AES-NI), no renegotiation, not vulnerable to heartbleed, signature
    hashes SHA-256 and up; its summary is printed.

Run: BUILD=build /usr/bin/python3 test/integration/test_tls_suites.py
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403
from tlslib import *  # noqa: E402,F401,F403

CERTS = {"rsa": ("server.pem", "server.key"), "ec": ("server-ec.pem", "server-ec.key")}
ACCEPTED = {
    "rsa": ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"],
    "ec": ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"],
}
ACCEPTED_IDS = {"rsa": {0xC02F, 0xC030, 0xCCA8}, "ec": {0xC02B, 0xC02C, 0xCCA9}}
REFUSED = {
    "rsa": ["AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA256", "AES256-SHA256", "AES128-SHA",
            "AES256-SHA", "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES128-SHA",
            "ECDHE-RSA-AES256-SHA", "AES128-CCM", "DES-CBC3-SHA", "ECDHE-RSA-DES-CBC3-SHA"],
    "ec": ["ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA",
           "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES256-CCM8"],
}
SIG_HASH = {"rsa": "RSA", "ec": "ECDSA"}
BEARSSL_H = "/usr/include/bearssl/bearssl_ssl.h"


def aes_ni():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return " aes " in flags and " pclmulqdq " in flags
    except OSError:
        return False


# ---- openssl s_client ----------------------------------------------------------------------

def s_client(port, *args):
    """One handshake by openssl s_client (stdin closed): (ok, Protocol, Ciphersuite, output)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-CAfile", cert("ca.pem"), "-verify_return_error", "-brief", *args]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=STEP * 2)
    out = (r.stdout + r.stderr).decode(errors="replace")
    proto = re.search(r"^Protocol version: (\S+)", out, re.M)
    suite = re.search(r"^Ciphersuite: (\S+)", out, re.M)
    ok = r.returncode == 0 and "CONNECTION ESTABLISHED" in out
    return ok, proto and proto.group(1), suite and suite.group(1), out


def openssl_offers(cipher, version="-tls1_2"):
    """True when this OpenSSL can offer cipher at security level 0."""
    r = subprocess.run(["openssl", "ciphers", "-s", version, f"{cipher}:@SECLEVEL=0"], capture_output=True,
                       timeout=STEP)
    return r.returncode == 0 and cipher in r.stdout.decode().strip().split(":")


def test_openssl_suites_and_versions():
    skipped = []
    for kind, (cf, kf) in CERTS.items():
        with TlsDaemon(cert_file=cf, key_file=kf) as d:
            for suite in ACCEPTED[kind]:
                ok, proto, got, out = s_client(d.port, "-tls1_2", "-cipher", suite)
                assert ok and proto == "TLSv1.2" and got == suite, (kind, suite, out[-600:])
            for suite in REFUSED[kind]:
                if not openssl_offers(suite):
                    skipped.append(suite)
                    continue
                ok, proto, got, out = s_client(d.port, "-tls1_2", "-cipher", f"{suite}:@SECLEVEL=0")
                assert not ok and "alert handshake failure" in out, (kind, suite, out[-600:])
            for version in ("-tls1", "-tls1_1"):
                ok, proto, got, out = s_client(d.port, version, "-cipher", "DEFAULT:@SECLEVEL=0")
                assert not ok, (kind, version, out[-600:])
            ok, proto, got, out = s_client(d.port, "-tls1_3")
            assert not ok, (kind, "-tls1_3", out[-600:])
            for h in ("SHA1", "SHA224"):
                ok, proto, got, out = s_client(d.port, "-tls1_2", "-sigalgs", f"{SIG_HASH[kind]}+{h}",
                                               "-cipher", "DEFAULT:@SECLEVEL=0")
                assert not ok, (kind, h, out[-600:])
            ok, proto, got, out = s_client(d.port, "-tls1_2", "-sigalgs", f"{SIG_HASH[kind]}+SHA256")
            assert ok and got == ACCEPTED[kind][0 if aes_ni() else 2], (kind, out[-600:])
            assert d.alive()
    if skipped:
        log(f"this OpenSSL cannot offer {', '.join(sorted(set(skipped)))}: the ClientHello probe covers them")


# ---- hand-made ClientHellos ------------------------------------------------------------------

SIGALGS = [0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0201, 0x0203]


def client_hello(suites, version=0x0303):
    """A ClientHello record offering suites (in order) at version, SNI localhost."""
    name = b"localhost"
    ext = b""
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    ext += struct.pack("!HH", 0, len(sni)) + sni
    groups = struct.pack("!HHHH", 6, 0x001D, 0x0017, 0x0018)  # x25519, secp256r1, secp384r1
    ext += struct.pack("!HH", 10, len(groups)) + groups
    ext += struct.pack("!HHBB", 11, 2, 1, 0)  # ec_point_formats: uncompressed
    sa = b"".join(struct.pack("!H", x) for x in SIGALGS)
    sa = struct.pack("!H", len(sa)) + sa
    ext += struct.pack("!HH", 13, len(sa)) + sa
    ext += struct.pack("!HHB", 0xFF01, 1, 0)  # renegotiation_info, empty
    cs = b"".join(struct.pack("!H", s) for s in suites)
    body = (struct.pack("!H", version) + os.urandom(32) + b"\x00" + struct.pack("!H", len(cs)) + cs +
            b"\x01\x00" + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def read_exact(s, n):
    data = b""
    while len(data) < n:
        b = s.recv(n - len(data))
        if not b:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += b
    return data


def probe(port, suites, version=0x0303):
    """('hello', suite) for a ServerHello, ('alert', description) for an alert."""
    with socket.create_connection(("127.0.0.1", port), timeout=STEP) as s:
        s.sendall(client_hello(suites, version))
        typ, _, length = struct.unpack("!BHH", read_exact(s, 5))
        body = read_exact(s, length)
    if typ == 0x15:
        return "alert", body[1]
    assert typ == 0x16 and body[0] == 0x02, f"neither ServerHello nor alert: {typ:#x} {body[:8].hex()}"
    sid_len = body[4 + 2 + 32]
    at = 4 + 2 + 32 + 1 + sid_len
    return "hello", struct.unpack("!H", body[at:at + 2])[0]


def bearssl_suites():
    """Every BR_TLS_* suite BearSSL's header defines, in its order, but the two pseudo-suites."""
    with open(BEARSSL_H) as f:
        found = re.findall(r"#define\s+BR_(TLS_\w+)\s+0x([0-9A-Fa-f]{4})\b", f.read())
    return [(n, int(v, 16)) for n, v in found if n not in ("TLS_NULL_WITH_NULL_NULL", "TLS_FALLBACK_SCSV")]


def test_client_hello_per_suite():
    suites = bearssl_suites()
    assert len(suites) > 40, f"{len(suites)} suites in {BEARSSL_H}"
    for kind, (cf, kf) in CERTS.items():
        with TlsDaemon(cert_file=cf, key_file=kf) as d:
            accepted = set()
            for name, sid in suites:
                what, v = probe(d.port, [sid])
                if what == "hello":
                    assert v == sid, (kind, name, hex(v))
                    accepted.add(sid)
                else:
                    assert v == 40, (kind, name, f"alert {v}")  # handshake_failure
            assert accepted == ACCEPTED_IDS[kind], (kind, sorted(hex(x) for x in accepted))
            # everything in BearSSL's order (ChaCha20 first, CBC and static RSA further on): ours wins
            what, v = probe(d.port, [sid for _, sid in reversed(suites)])
            assert what == "hello", (kind, what, v)
            first = {"rsa": 0xC02F, "ec": 0xC02B} if aes_ni() else {"rsa": 0xCCA8, "ec": 0xCCA9}
            assert v == first[kind], (kind, hex(v))
            for version in (0x0300, 0x0301, 0x0302):
                assert probe(d.port, [sid for _, sid in suites], version) == ("alert", 70), (kind, version)
            log(f"{kind}: {len(suites)} suites probed, accepted {sorted(hex(x) for x in accepted)}")
            assert d.alive()


# ---- sslscan -------------------------------------------------------------------------------------

def test_sslscan():
    if shutil.which("sslscan") is None:
        log("SKIPPED: sslscan is not installed (sh third_party/deps.sh test installs it)")
        return
    for kind, (cf, kf) in CERTS.items():
        with TlsDaemon(cert_file=cf, key_file=kf) as d:
            r = subprocess.run(["sslscan", "--no-colour", "--timeout=1", "--show-sigs", f"127.0.0.1:{d.port}"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
            out = r.stdout.decode(errors="replace")
            assert r.returncode == 0, out + r.stderr.decode(errors="replace")
            protos = dict(re.findall(r"^(SSLv[23]|TLSv1\.[0-3])\s+(enabled|disabled)", out, re.M))
            assert protos == {"SSLv2": "disabled", "SSLv3": "disabled", "TLSv1.0": "disabled",
                              "TLSv1.1": "disabled", "TLSv1.2": "enabled", "TLSv1.3": "disabled"}, out
            ciphers = re.findall(r"^(Preferred|Accepted)\s+(TLSv\S+)\s+(\d+) bits\s+(\S+)", out, re.M)
            assert sorted(c[3] for c in ciphers) == sorted(ACCEPTED[kind]), out
            assert all(c[1] == "TLSv1.2" for c in ciphers), out
            preferred = [c[3] for c in ciphers if c[0] == "Preferred"]
            assert preferred == [ACCEPTED[kind][0 if aes_ni() else 2]], out
            assert "Session renegotiation not supported" in out, out
            assert "not vulnerable to heartbleed" in out, out
            sigs = re.findall(r"^TLSv1\.2\s+(\w+)$", out.split("Server Signature Algorithm(s):")[1], re.M)
            assert sigs and all(re.search(r"sha(256|384|512)", s) for s in sigs), sigs
            log(f"sslscan, {kind} certificate: protocols {[p for p, e in protos.items() if e == 'enabled']}; "
                f"ciphers {[' '.join(c) for c in ciphers]}; signatures {sigs}")


if __name__ == "__main__":
    certs()
    run_tests([
        test_openssl_suites_and_versions,
        test_client_hello_per_suite,
        test_sslscan,
    ], timeout=240)
