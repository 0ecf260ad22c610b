#!/usr/bin/env python3
"""A fake SMS gateway that speaks Yiqiao's SMS gateway contract (see `SmsChannel` in
crates/app/src/notify/channels.rs), for tests and local development.

    python3 tests/support/fake_sms_gateway.py --port 8025 --token T [--receipts-to URL [--receipts-token R]]
        [--log FILE]
        [--tls-cert CERT.pem --tls-key KEY.pem]

POST <any path>   send: `Authorization: Bearer T` (else 401) and JSON
                  {"id", "to", "sender", "text"} (strings; text at most 300 characters; else 400).
                  Answers 200 {"message_id": "..."}. Idempotent by id: a repeated id is not sent
                  again and gets the same message_id. On purpose:
                    id "flaky-…"          503 the first time, accepted on a retry
                    id "busy-…"           429 (with Retry-After: 1) every time
                    id "undeliverable-…"  accepted, but its receipt says "failed"
GET /messages     the messages "sent", in order, as JSON [{id, to, sender, text, message_id,
                  attempts, receipt}], attempts counting every POST with that id.
GET /health       200 once listening.

With --receipts-to URL, after each send the gateway POSTs the delivery receipt
{"id", "message_id", "status": "delivered"|"failed", "error"?} to URL, with
`Authorization: Bearer R` when --receipts-token R is given (the server's `[sms] receipt_token`),
retrying a few times until it gets a 2xx; the outcome is kept in the message's "receipt" field. With --log FILE each sent
message is also appended to FILE as one JSON line. With --tls-cert and --tls-key it serves HTTPS.
"""

import argparse
import json
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_TEXT = 300


class State:
    def __init__(self, token, receipts_to, receipts_token, log):
        self.token = token
        self.receipts_to = receipts_to
        self.receipts_token = receipts_token
        self.log = log
        self.lock = threading.Lock()
        self.messages = []  # in send order
        self.by_id = {}  # id -> message
        self.attempts = {}  # id -> POSTs seen
        self.failed_once = set()  # flaky ids already answered 503
        self.counter = 0


def post_receipt(state, message):
    receipt = {"id": message["id"], "message_id": message["message_id"]}
    if message["id"].startswith("undeliverable-"):
        receipt.update(status="failed", error="unknown subscriber")
    else:
        receipt["status"] = "delivered"
    data = json.dumps(receipt, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if state.receipts_token:
        headers["Authorization"] = "Bearer " + state.receipts_token
    outcome = None
    for attempt in range(5):
        req = urllib.request.Request(state.receipts_to, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                outcome = resp.status
        except urllib.error.HTTPError as e:
            outcome = e.code
        except (urllib.error.URLError, OSError) as e:
            outcome = str(e)
        if isinstance(outcome, int) and 200 <= outcome < 300:
            break
        time.sleep(0.2 * (attempt + 1))
    with state.lock:
        message["receipt"] = {"sent": receipt, "answer": outcome}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeSmsGateway/1"
    state = None  # set in main

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_sms_gateway: " + (fmt % args) + "\n")

    def answer(self, status, body, headers=None):
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        st = self.state
        if self.path == "/health":
            return self.answer(200, {"ok": True})
        if self.path == "/messages":
            with st.lock:
                out = [dict(m, attempts=st.attempts.get(m["id"], 0)) for m in st.messages]
            return self.answer(200, out)
        return self.answer(404, {"error": "not found"})

    def do_POST(self):
        st = self.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Authorization") != "Bearer " + st.token:
            return self.answer(401, {"error": "bad or missing bearer token"})
        try:
            req = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.answer(400, {"error": "body is not JSON"})
        if not isinstance(req, dict):
            return self.answer(400, {"error": "body is not a JSON object"})
        for field in ("id", "to", "sender", "text"):
            if not isinstance(req.get(field), str) or not req[field]:
                return self.answer(400, {"error": "missing or empty string field %r" % field})
        if len(req["text"]) > MAX_TEXT:
            return self.answer(400, {"error": "text longer than %d characters" % MAX_TEXT})
        mid = req["id"]
        with st.lock:
            st.attempts[mid] = st.attempts.get(mid, 0) + 1
            if mid in st.by_id:  # a retry: never send twice
                return self.answer(200, {"message_id": st.by_id[mid]["message_id"], "duplicate": True})
            if mid.startswith("busy-"):
                return self.answer(429, {"error": "rate limited"}, {"Retry-After": "1"})
            if mid.startswith("flaky-") and mid not in st.failed_once:
                st.failed_once.add(mid)
                return self.answer(503, {"error": "upstream operator unavailable"})
            st.counter += 1
            message = {
                "id": mid,
                "to": req["to"],
                "sender": req["sender"],
                "text": req["text"],
                "message_id": "gw-%06d" % st.counter,
                "receipt": None,
            }
            st.messages.append(message)
            st.by_id[mid] = message
            if st.log:
                with open(st.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.answer(200, {"message_id": message["message_id"]})
        if st.receipts_to:
            threading.Thread(target=post_receipt, args=(st, message), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token", required=True)
    ap.add_argument("--receipts-to", help="URL to POST delivery receipts to")
    ap.add_argument("--receipts-token", help="bearer token to present with the receipts")
    ap.add_argument("--log", help="append each sent message to this file as a JSON line")
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (chain)")
    ap.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    Handler.state = State(args.token, args.receipts_to, args.receipts_token, args.log)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.verbose = args.verbose
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    print("fake_sms_gateway listening on %s://%s:%d" % (scheme, args.host, args.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
