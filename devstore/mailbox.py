"""The devstore's mailbox: a real SMTP server (aiosmtpd) on localhost that keeps every
message it receives, shown at `/mailbox`. `make dev` and the tests point `SMTP_URL` at it."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class ReceivedMail:
    mail_from: str
    recipients: list[str]
    subject: str
    text: str
    headers: dict[str, str]
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


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
