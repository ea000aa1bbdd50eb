#!/usr/bin/env python3
"""htc and its environment: each unknown HTC_* variable is warned about once
on stderr, with the name it is close to; of HOODY_TUNNEL_* htc reads only
the token and HOODY_TUNNEL_CRYPTO, so only a misspelling of these is warned
about and the daemon's variables are left alone; a bad value names the
variable it came from; htc raises its open-file limit. Loopback only, bounded waits, only processes started
here."""
import os
import subprocess
import tempfile
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from htlib import *  # noqa: E402,F401,F403


def run_htc(args, env, timeout=STEP * 2):
    """(exit status, stdout, stderr) of htc args with env on top of a clean environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HOODY_TUNNEL_", "HTC_"))}
    base.update(env)
    r = subprocess.run([HTC] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=base)
    err = r.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return r.returncode, r.stdout.decode("utf-8", "replace"), err


def test_unknown_htc_variables_warned_once():
    with Daemon() as d, tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        env = {"HTC_URLL": "ws://127.0.0.1:1", "HTC_VERBOSE": "1", "HTC_CONFIG": conf.name,  # known: no warning
               "HOODY_TUNNEL_TOKN": "x" * 20, "HOODY_TUNNEL_MAX_SESSIONS": "3",
               "HOODY_TUNNEL_TOKEN_FILE": "/nonexistent/t", "HOODY_TUNNEL_CRYPTO": "bearssl"}
        rc, out, err = run_htc(["--url", d.url, "--token", d.token, "health"], env)
        assert rc == 0 and "ok" in out, (rc, out, err)
        warnings = sorted(x for x in err.splitlines() if x.startswith("htc: warning:"))
        assert warnings == sorted([
            "htc: warning: unknown environment variable HTC_URLL (did you mean HTC_URL?)",
            "htc: warning: unknown environment variable HTC_VERBOSE",
            "htc: warning: unknown environment variable HOODY_TUNNEL_TOKN (did you mean HOODY_TUNNEL_TOKEN?)",
        ]), err
        assert "x" * 20 not in err


def test_open_file_limit_raised():
    """htc raises its soft RLIMIT_NOFILE to the hard limit (one descriptor per
    visitor's local connection): started with a soft limit of 64 under a
    higher hard one, its running process shows soft == hard."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 64:
        log(f"SKIP: hard RLIMIT_NOFILE {hard} leaves nothing to raise")
        return

    def low():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    with Daemon() as d:
        p = subprocess.Popen([HTC, "--url", d.url, "--token", d.token, "--quiet", "--no-inspect",
                              "expose", "9", "--port", "0"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=low)
        try:
            want = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
            deadline = time.monotonic() + STEP
            line = ""
            while time.monotonic() < deadline:
                with open(f"/proc/{p.pid}/limits") as f:
                    line = next(x for x in f if x.startswith("Max open files"))
                if line.split()[3] == want:
                    break
                time.sleep(0.05)
            assert line.split()[3:5] == [want, want], line
        finally:
            p.terminate()
            p.communicate(timeout=STEP)


def test_bad_values_name_the_variable():
    rc, out, err = run_htc(["health"], {"HTC_URL": "ftp://127.0.0.1:1"})
    assert rc == 2 and err.startswith("htc: HTC_URL: "), (rc, err)
    rc, out, err = run_htc(["--url", "ws://127.0.0.1:1", "http", "3000"], {"HTC_MODE": "bogus"})
    assert rc != 0 and "htc: HTC_MODE: expected single or cluster, not 'bogus'" in err, (rc, err)
    rc, out, err = run_htc(["--url", "ws://127.0.0.1:1", "pull", "5432"], {"HOODY_TUNNEL_TOKEN": "has space"})
    assert rc == 2 and err.startswith("htc: HOODY_TUNNEL_TOKEN: "), (rc, err)
    rc, out, err = run_htc(["--url", "ws://127.0.0.1:1", "health"], {"HOODY_TUNNEL_CRYPTO": "fast"})
    assert rc == 2 and "htc: HOODY_TUNNEL_CRYPTO: invalid value 'fast' (expected auto or bearssl)" in err, (rc, err)


if __name__ == "__main__":
    run_tests([test_unknown_htc_variables_warned_once, test_bad_values_name_the_variable,
               test_open_file_limit_raised])
