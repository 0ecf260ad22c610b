#!/usr/bin/env python3
"""Bounded API fuzzing with schemathesis (issue 11 item 15).

Starts `yiqiao serve --demo` on a free loopback port (SQLite in a fresh data directory, or a fresh
PostgreSQL database with --postgres ADMIN_URL), signs in as three demo accounts (a patient, a doctor
and the auditor: their routes reach the handlers instead of stopping at the role check), and runs
schemathesis against /api/v1/openapi.json with the `not_a_server_error` check only: generated path
parameters, query strings and bodies (NUL bytes included) must never answer 5xx. Bounded: a fixed
number of examples per operation, a fixed seed, and a wall-clock limit per account. Exits non-zero on
any failure and prints the server log's errors.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

DEMO_PASSWORD = "Yiqiao-demo-2026"
# Published for demo staff (app::account::DEMO_TOTP_SECRET); refused outside demo mode.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
ACCOUNTS = [("patient", False), ("doctor", True), ("auditor", True)]
# Ending the session mid-run would turn the rest into 401s; sockets are not HTTP operations.
EXCLUDE = ["--exclude-path", "/api/v1/auth/logout", "--exclude-path-regex", r"/ws$"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def totp(secret, at=None):
    key = base64.b32decode(secret)
    counter = struct.pack(">Q", int((at or time.time()) // 30))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def post_json(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def wait_healthy(base, server, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit("server did not become healthy")


def psql(admin_url, sql):
    subprocess.run(["psql", "-q", admin_url, "-c", sql], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_bin = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/yiqiao-target")), "debug", "yiqiao")
    ap.add_argument("--bin", default=os.environ.get("YIQIAO_BIN", default_bin))
    ap.add_argument("--postgres", metavar="ADMIN_URL", help="run on a fresh PostgreSQL database (else SQLite)")
    ap.add_argument("--max-examples", type=int, default=10, help="examples per operation and account")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--budget-secs", type=int, default=150, help="wall-clock limit per account")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="yiqiao-fuzz-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [args.bin, "serve", "--demo", "--data-dir", data, "--listen", f"127.0.0.1:{port}"]
    db_name = None
    if args.postgres:
        # `yiqiao_t_` databases are dropped by scripts/test before each run, should this one survive.
        db_name = f"yiqiao_t_fuzz_{uuid.uuid4().hex[:12]}"
        psql(args.postgres, f'CREATE DATABASE "{db_name}"')
        cmd += ["--database", args.postgres.rsplit("/", 1)[0] + "/" + db_name]
    log_path = os.path.join(data, "server.log")
    log = open(log_path, "w")
    server = subprocess.Popen(cmd, cwd=data, stdout=log, stderr=subprocess.STDOUT)
    failed = []
    try:
        wait_healthy(base, server)
        engine = "PostgreSQL" if args.postgres else "SQLite"
        for login, staff in ACCOUNTS:
            body = {"login": login, "password": DEMO_PASSWORD}
            if staff:
                body["totp"] = totp(DEMO_TOTP_SECRET)
            token = post_json(f"{base}/api/v1/auth/login", body)["token"]
            print(f"==> schemathesis on {engine} as {login}", flush=True)
            st = [
                # The CLI through this interpreter: the `st` script may not be on PATH.
                sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/v1/openapi.json",
                "--checks", "not_a_server_error",
                "--phases", "examples,coverage,fuzzing",
                "--max-examples", str(args.max_examples),
                "--seed", str(args.seed),
                "--generation-allow-x00", "true",
                # Nothing is kept between runs (no .schemathesis/ in the work tree).
                "--generation-database", "none",
                "--request-timeout", "15",
                "--suppress-health-check", "all",
                "--workers", "2",
                "--no-color",
                "-H", f"Authorization: Bearer {token}",
                *EXCLUDE,
            ]
            try:
                rc = subprocess.run(st, timeout=args.budget_secs).returncode
            except subprocess.TimeoutExpired:
                print(f"schemathesis as {login} ran over {args.budget_secs} s", flush=True)
                rc = 1
            if rc != 0:
                failed.append(login)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if failed:
            with open(log_path, errors="replace") as f:
                errors = [line for line in f if "ERROR" in line or "panicked" in line]
            print("".join(errors[-40:]) or "(no errors in the server log)", file=sys.stderr)
        if db_name:
            psql(args.postgres, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(data, ignore_errors=True)
    if failed:
        raise SystemExit(f"API fuzzing found server errors as: {', '.join(failed)}")
    print("API fuzzing: no server errors", flush=True)


if __name__ == "__main__":
    main()
