"""The devstore's mailbox: a real SMTP server (aiosmtpd) on localhost that keeps every
message it receives, shown at `/mailbox`. `make dev` and the tests point `SMTP_URL` at it.

A received message can be answered (`reply`): the devstore builds the reply a mail client
would (In-Reply-To, References, the original quoted below) and, as a mail provider's
inbound route does, posts its raw MIME to the app's inbound endpoint signed with the
inbound secret. The reply is kept in the mailbox too, as sent mail, with the app's answer.

A received message can also be bounced or marked as spam (`report`): the devstore writes
the delivery status notification a mail system would send to the envelope sender (an RFC
3464 DSN, or an RFC 5965 ARF complaint from the recipient's provider) and posts it, signed
the same way, to the app's delivery status endpoint.
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
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
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
    direction: str = "received"  # received | sent (a reply or a report from the mailbox)
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


REPORTING_MTA = "mx.devstore.local"
SAID = {
    "bounce": "could not be delivered: the recipient's server refused it",
    "delay": "is delayed: the mail system keeps trying to deliver it",
    "delivered": "was delivered",
}
REPORTS = {
    # kind: (Action, Status, Diagnostic-Code, the notification's subject)
    "bounce": (
        "failed",
        "5.1.1",
        "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
        "Undelivered Mail Returned to Sender",
    ),
    "delay": (
        "delayed",
        "4.2.2",
        "smtp; 452 4.2.2 <{rcpt}>: Mailbox full, try again later",
        "Delayed Mail (still being retried)",
    ),
    "delivered": ("delivered", "2.0.0", "smtp; 250 2.0.0 OK", "Successful Mail Delivery Report"),
}


def _original_headers_text(original: ReceivedMail) -> str:
    return "".join(f"{name}: {value}\n" for name, value in original.headers.items())


def build_report(original: ReceivedMail, kind: str, *, now: datetime | None = None) -> Message:
    """The notification a mail system sends to `original`'s envelope sender: a DSN
    (`bounce`, `delay`, `delivered`) or an ARF complaint (`complaint`), with the original's
    headers as its third part."""
    now = now or datetime.now(UTC)
    rcpt = original.recipients[0] if original.recipients else "unknown@devstore.local"
    if kind == "complaint":
        report = MIMEMultipart("report", report_type="feedback-report")
        report["From"] = f"abuse@{rcpt.rpartition('@')[2] or 'devstore.local'}"
        report["Subject"] = f"Abuse report: {original.subject}"
        report.attach(MIMEText("This is an email abuse report: the recipient marked it as spam.\n"))
        feedback = Message()
        feedback["Content-Type"] = "message/feedback-report"
        feedback.set_payload(
            "Feedback-Type: abuse\n"
            "User-Agent: devstore-feedback/1.0\n"
            "Version: 1\n"
            f"Original-Mail-From: <{original.mail_from}>\n"
            f"Original-Rcpt-To: <{rcpt}>\n"
            f"Arrival-Date: {format_datetime(original.received_at)}\n"
            f"Reported-Domain: {original.mail_from.rpartition('@')[2]}\n"
        )
        report.attach(feedback)
    else:
        action, status, diagnostic, subject = REPORTS[kind]
        report = MIMEMultipart("report", report_type="delivery-status")
        report["From"] = f"Mail Delivery System <MAILER-DAEMON@{REPORTING_MTA}>"
        report["Subject"] = subject
        report["Auto-Submitted"] = "auto-replied"
        report.attach(
            MIMEText(
                f"This is the mail system at host {REPORTING_MTA}.\n\n"
                f"Your message to <{rcpt}> {SAID[kind]}.\n"
            )
        )
        per_message = Message()
        per_message["Reporting-MTA"] = f"dns; {REPORTING_MTA}"
        per_message["Arrival-Date"] = format_datetime(original.received_at)
        per_recipient = Message()
        per_recipient["Final-Recipient"] = f"rfc822; {rcpt}"
        per_recipient["Original-Recipient"] = f"rfc822; {rcpt}"
        per_recipient["Action"] = action
        per_recipient["Status"] = status
        per_recipient["Remote-MTA"] = f"dns; {rcpt.rpartition('@')[2]}"
        per_recipient["Diagnostic-Code"] = diagnostic.format(rcpt=rcpt)
        status_part = Message()
        status_part["Content-Type"] = "message/delivery-status"
        status_part.set_payload([per_message, per_recipient])
        report.attach(status_part)
    report["To"] = original.mail_from
    report["Date"] = format_datetime(now)
    report["Message-ID"] = make_msgid(domain=REPORTING_MTA)
    report.attach(MIMEText(_original_headers_text(original), "rfc822-headers"))
    return report


def report(
    mailbox: Mailbox,
    original: ReceivedMail,
    kind: str,
    *,
    report_url: str,
    secret: str,
    timeout: float = 10,
) -> ReceivedMail:
    """Send the app a delivery status notification about `original` (kind: bounce, delay,
    delivered or complaint); keep it as sent mail with the endpoint's answer."""
    mime = build_report(original, kind)
    raw = mime.as_bytes()
    delivery = _post_signed(raw, url=report_url, secret=secret, timeout=timeout)
    sent = ReceivedMail(
        mail_from=str(mime["From"]),
        recipients=[str(mime["To"])],
        subject=str(mime["Subject"]),
        text=mime.get_payload(0).get_payload(),
        headers={k: str(v) for k, v in mime.items()},
        direction="sent",
        delivery=delivery,
    )
    mailbox.keep_sent(sent)
    return sent


def _post_signed(raw: bytes, *, url: str, secret: str, timeout: float) -> str:
    """Post raw MIME as a mail provider's inbound route does; what the app answered."""
    timestamp = str(int(time.time()))
    try:
        answer = httpx.post(
            url,
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
        return f"{answer.status_code} {outcome}" + (f": {reason}" if reason else "")
    except httpx.HTTPError as exc:
        return f"not delivered: {type(exc).__name__}"


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
    delivery = _post_signed(mime.as_bytes(), url=inbound_url, secret=secret, timeout=timeout)
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
