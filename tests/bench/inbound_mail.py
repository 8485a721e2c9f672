"""Inbound mail (issue 19, item 4): `POST /inbound/email` over real HTTP on localhost, and the
quoted-thread stripping on hostile input.

    python -m tests.bench.inbound_mail                      # SQLite + embedded Redis
    DATABASE_URL=postgresql://… REDIS_URL=… python -m tests.bench.inbound_mail
    python -m tests.bench.inbound_mail --mails 500 --library

Each accepted mail is the whole server path: the signature, the MIME parsed, the quoted
thread stripped, the conversation found by its signed reply address, the sender checked,
the message stored with its timeline event, the realtime announcement published to Redis.
`--library` also times `mail-parser-reply` alone on the hostile lines (tens of seconds):
what `inbound.mail` keeps it from seeing. Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import time
from email.message import EmailMessage as Mime

import httpx
from sqlalchemy import select

from devstore.signing import sign_inbound_mail
from shopify_app.conversations import service
from shopify_app.conversations.email_replies import reply_address
from shopify_app.db import get_session
from shopify_app.inbound.mail import _PARSER, parse_mail
from shopify_app.models import Shop

from ..helpers import id_token
from ..support import SHOP_A
from . import machine_line, percentiles, start_bench

HOSTILE = {
    '20,000 characters of "On " on one line': "On " * 6667,
    '200 lines of 66 × "On "': ("On " * 66 + "\n") * 200,
    "5,000 quoted lines": "> x\n" * 5000,
    "2,500 forwarded-header lines": "From: a\n" * 2500,
}


def mail(to: str, n: int, text: str = "Thanks, see you Friday.") -> bytes:
    mime = Mime()
    mime["From"] = "Ada <ada@example.com>"
    mime["To"] = to
    mime["Subject"] = "Re: Your conversation"
    mime["Message-ID"] = f"<bench-{n}-{time.time_ns()}@mail.example>"
    mime.set_content(f"{text}\n\nOn Fri, 4 Dec 2026, Shop <{to}> wrote:\n> Your order ships.\n")
    return mime.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--library", action="store_true")
    args = parser.parse_args()

    print(f"Machine: {machine_line()}\n")
    print(
        "| hostile text part | `parse_mail` (ms) |"
        + (" library alone (s) |" if args.library else "")
    )
    print("|---|---|" + ("---|" if args.library else ""))
    for name, text in HOSTILE.items():
        raw = mail("x@inbound.localhost", 0, text)
        start = time.perf_counter()
        parse_mail(raw)
        ours = (time.perf_counter() - start) * 1000
        row = f"| {name} | {ours:.0f} |"
        if args.library:
            start = time.perf_counter()
            _PARSER.parse_reply(text=text)
            row += f" {time.perf_counter() - start:.1f} |"
        print(row)

    stack = start_bench("bench-inbound-")
    app = stack.app
    base = stack._servers[0].url
    secret = app.config["INBOUND_EMAIL_SECRET"]
    with httpx.Client(timeout=60) as http:
        http.get(f"{base}/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"})
        with app.app_context():
            session = get_session()
            shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
            conversation = service.start_conversation(session, shop, email="ada@example.com")
            session.commit()
            to = reply_address(
                conversation.id, secret=secret, domain=app.config["INBOUND_EMAIL_DOMAIN"]
            )

        def post(raw: bytes) -> float:
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "message/rfc822",
                "X-Inbound-Timestamp": stamp,
                "X-Inbound-Signature": sign_inbound_mail(secret, stamp, raw),
            }
            start = time.perf_counter()
            answer = http.post(f"{base}/inbound/email", content=raw, headers=headers)
            elapsed = time.perf_counter() - start
            assert answer.status_code in (201, 202), answer.text
            return elapsed

        accepted = [post(mail(to, n)) for n in range(args.mails)]
        dropped = [post(mail("someone@example.com", n)) for n in range(args.mails)]
    stack.stop()
    print(f"\n{stack.backend}, {args.mails} mails each, one at a time:\n")
    print("| path | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|")
    for name, samples in (("accepted (201)", accepted), ("dropped, no thread (202)", dropped)):
        p = percentiles(samples)
        print(f"| {name} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} |")


if __name__ == "__main__":
    main()
