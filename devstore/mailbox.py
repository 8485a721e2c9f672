"""The devstore's mailbox: a real SMTP server (aiosmtpd) on localhost that keeps every
message it receives, shown at `/mailbox`. `make dev` and the tests point `SMTP_URL` at it.

A received message can be answered (`reply`): the devstore builds the reply a mail client
would (In-Reply-To, References, the original quoted below) and, as a mail provider's
inbound route does, posts its raw MIME to the app's inbound endpoint signed with the
inbound secret. The reply is kept in the mailbox too, as sent mail, with the app's answer.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

import httpx
from aiosmtpd.controller import Controller

from .signing import sign_inbound_mail


@dataclass
class ReceivedMail:
    mail_from: str
    recipients: list[str]
    subject: str
    text: str
    headers: dict[str, str]
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    direction: str = "received"  # received | sent (a reply from the mailbox)
    delivery: str = ""  # a sent reply: what the app's inbound endpoint answered


class Mailbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[ReceivedMail] = []
        self.refuse_next = 0  # fault: the next N messages are refused with 451
        self.on_change: Callable[[], None] | None = None  # a persistent devstore saves
        # fault: these recipients are refused, as a relay refuses an unknown user (550, the
        # address quoted in the reply)
        self.refuse_recipients: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.lock:
            refused = address.lower() in self.refuse_recipients
        if refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        with self.lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "451 4.3.0 mailbox temporarily unavailable"
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            recipients=list(envelope.rcpt_tos),
            subject=str(parsed.get("Subject", "")),
            text=body.get_content() if body is not None else "",
            headers={k: str(v) for k, v in parsed.items()},
        )
        with self.lock:
            self.messages.append(mail)
        if self.on_change is not None:
            self.on_change()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [
                m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)
            ]

    def get(self, mail_id: str) -> ReceivedMail | None:
        with self.lock:
            return next((m for m in self.messages if m.id == mail_id), None)

    def keep_sent(self, mail: ReceivedMail) -> None:
        with self.lock:
            self.messages.append(mail)
        if self.on_change is not None:
            self.on_change()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refuse_next = 0
            self.refuse_recipients.clear()


def start_smtp(mailbox: Mailbox, host: str = "127.0.0.1", port: int = 0) -> Controller:
    """Serve `mailbox` over SMTP; port 0 picks a free one (`controller.port` after start)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    controller = Controller(mailbox, hostname=host, port=port or _free_port(host))
    controller.start()
    return controller


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def build_reply(original: ReceivedMail, text: str, *, now: datetime | None = None) -> EmailMessage:
    """The reply a mail client writes to `original`: to its Reply-To (else From), from the
    address it was sent to, threaded, with the original quoted below."""
    now = now or datetime.now(UTC)
    headers = {k.lower(): v for k, v in original.headers.items()}
    to = headers.get("reply-to") or headers.get("from") or original.mail_from
    sender = original.recipients[0] if original.recipients else "shopper@example.com"
    original_id = headers.get("message-id", "").strip()
    references = " ".join(x for x in (headers.get("references", ""), original_id) if x).strip()
    subject = (
        original.subject
        if original.subject.lower().startswith("re:")
        else f"Re: {original.subject}"
    )
    author = parseaddr(headers.get("from", ""))
    quoted = "\n".join(f"> {line}" if line else ">" for line in original.text.splitlines())
    when = format_datetime(original.received_at)
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = to
    mime["Subject"] = subject
    mime["Date"] = format_datetime(now)
    mime["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "devstore.local")
    if original_id:
        mime["In-Reply-To"] = original_id
    if references:
        mime["References"] = references
    mime.set_content(f"{text.rstrip()}\n\nOn {when}, {formataddr(author) or to} wrote:\n{quoted}\n")
    return mime


def reply(
    mailbox: Mailbox,
    original: ReceivedMail,
    text: str,
    *,
    inbound_url: str,
    secret: str,
    timeout: float = 10,
) -> ReceivedMail:
    """Send a reply to `original` through the app's inbound endpoint; keep it as sent mail
    with the endpoint's answer."""
    mime = build_reply(original, text)
    raw = mime.as_bytes()
    timestamp = str(int(time.time()))
    try:
        answer = httpx.post(
            inbound_url,
            content=raw,
            headers={
                "Content-Type": "message/rfc822",
                "X-Inbound-Timestamp": timestamp,
                "X-Inbound-Signature": sign_inbound_mail(secret, timestamp, raw),
            },
            timeout=timeout,
        )
        try:
            data = answer.json()
        except ValueError:
            data = {}
        outcome = data.get("status") or data.get("error") or answer.reason_phrase
        reason = data.get("reason")
        delivery = f"{answer.status_code} {outcome}" + (f": {reason}" if reason else "")
    except httpx.HTTPError as exc:
        delivery = f"not delivered: {type(exc).__name__}"
    sent = ReceivedMail(
        mail_from=str(mime["From"]),
        recipients=[str(mime["To"])],
        subject=str(mime["Subject"]),
        text=mime.get_content(),
        headers={k: str(v) for k, v in mime.items()},
        direction="sent",
        delivery=delivery,
    )
    mailbox.keep_sent(sent)
    return sent
