#!/usr/bin/env python3
"""An SMTP sink for the e-mail channel tests (crates/testkit/tests/notify_channels.rs).

    python3 tests/support/smtp_sink.py --port 2525 --out DIR

Listens on 127.0.0.1:PORT (aiosmtpd, plain SMTP, SMTPUTF8 on) and writes each accepted message
to DIR as N.eml (the bytes received) and N.json (what a mail reader would show, decoded by
Python's own e-mail parser: to, from, subject, message_id, date, content_type, charset, body,
and the envelope's mail_from and rcpt_tos). The .json appears last and whole (written to a
temporary name, then renamed), so a reader polling for it never sees half a file.

Recipients are refused on purpose to exercise the sender's error handling:
  reject@…  550 5.1.1 (permanent)
  later@…   451 4.3.0 (temporary)
Accepted messages get `250 2.0.0 Ok: queued as <QUEUE ID>`, as Postfix answers.
"""

import argparse
import email
import email.policy
import email.utils
import itertools
import json
import os
import secrets
import signal
import sys
import threading

try:
    from aiosmtpd.controller import Controller
except ImportError:
    sys.stderr.write(
        "smtp_sink.py needs aiosmtpd: python3 -m pip install aiosmtpd (scripts/test installs it)\n"
    )
    sys.exit(3)


class Sink:
    def __init__(self, out):
        self.out = out
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "reject":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local == "later":
            return "451 4.3.0 <%s>: Temporary lookup failure, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = next(self.counter)
        queue_id = secrets.token_hex(5).upper()
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body_part = msg.get_body(preferencelist=("plain",))
        date = msg["Date"]
        try:
            date_iso = email.utils.parsedate_to_datetime(str(date)).isoformat() if date else None
        except (TypeError, ValueError):
            date_iso = None
        record = {
            "queue_id": queue_id,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(msg["From"]) if msg["From"] else None,
            "to": str(msg["To"]) if msg["To"] else None,
            "subject": str(msg["Subject"]) if msg["Subject"] is not None else None,
            "message_id": str(msg["Message-ID"]) if msg["Message-ID"] else None,
            "date": str(date) if date else None,
            "date_iso": date_iso,
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "transfer_encoding": str(msg["Content-Transfer-Encoding"]) if msg["Content-Transfer-Encoding"] else None,
            "body": body_part.get_content().replace("\r\n", "\n") if body_part is not None else None,
        }
        base = os.path.join(self.out, str(n))
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
        os.replace(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Ok: queued as " + queue_id


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--out", required=True, help="directory for the received messages")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    controller = Controller(
        Sink(args.out), hostname=args.host, port=args.port, enable_SMTPUTF8=True, server_hostname="sink.test"
    )
    controller.start()
    print("smtp_sink listening on %s:%d" % (args.host, args.port), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
