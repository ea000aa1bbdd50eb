#!/usr/bin/python3
"""test_tls.py's bulk cases once more with HOODY_TUNNEL_CRYPTO=bearssl: the
daemon and htc run their AES-GCM records with BearSSL's own AES-CTR and
GHASH instead of ours, so a fault in either shows up as a difference
between the two runs.

Cases: the daemon's start-up line names BearSSL's code and the variable;
the 100 MiB PULL transfers each way over wss:// with the RSA and the EC
certificate (20 MiB under sanitizers), the v2 connections, Python's
OpenSSL as the client (AES-128-GCM and AES-256-GCM, 16 MiB each way in
records of every size), and the 100 MiB EXPOSE echo (20 MiB under
sanitizers), all checked with sha256 as in test_tls.py.

Run: BUILD=build /usr/bin/python3 test/integration/test_tls_bearssl.py
"""
import os
import sys

os.environ["HOODY_TUNNEL_CRYPTO"] = "bearssl"  # the daemons and htc started below inherit it

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tls as T  # noqa: E402
from htlib import log, run_tests  # noqa: E402
from tlslib import TlsDaemon, certs  # noqa: E402


def test_startup_line_names_bearssl():
    with TlsDaemon() as d:
        T.wait_log(d, "TLS 1.2: ")
        line = [x for x in d.stderr().splitlines() if "TLS 1.2: " in x][0]
        log(line)
        assert "AES-CTR BearSSL " in line and "GHASH BearSSL " in line, line
        assert line.endswith("(HOODY_TUNNEL_CRYPTO=bearssl)"), line
        assert "unknown environment variable" not in d.stderr(), d.stderr()


if __name__ == "__main__":
    certs()
    run_tests([
        test_startup_line_names_bearssl,
        T.test_rsa_pull_big_sha256,
        T.test_ec_pull_big_sha256,
        T.test_v2_connections_over_wss,
        T.test_openssl_client_bulk,
        T.test_expose_over_wss,
    ], timeout=240)
