"""A delivery status notification read from raw MIME: an RFC 3464 DSN
(`multipart/report; report-type=delivery-status`) or an RFC 5965 ARF complaint
(`multipart/report; report-type=feedback-report`).

What is read: the Message-ID of the email it reports on (the third part: the original
message or its headers; else `Original-Message-ID`), the recipient (`Final-Recipient` /
`Original-Recipient`, or the complaint's `Original-Rcpt-To`), the `Action` and `Status`
(RFC 3463 enhanced code) and the `Diagnostic-Code`, put in words for staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import Message

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
MAX_DIAGNOSTIC = 500

# RFC 3463 subjects and details, in the words staff read.
_STATUS_WORDS = {
    "1.1": "the address does not exist",
    "1.2": "the recipient's domain does not exist or takes no mail",
    "1.3": "the address is not valid",
    "1.6": "the recipient has moved and left no forwarding address",
    "2.1": "the mailbox is disabled",
    "2.2": "the mailbox is full",
    "2.3": "the email is larger than the mailbox takes",
    "3.4": "the email is larger than the mail system takes",
    "4.1": "the recipient's mail server did not answer",
    "4.4": "no route to the recipient's mail server",
    "4.7": "delivery took too long and was given up",
    "7.1": "the recipient's mail server refused it by its policy",
    "7.26": "the recipient's mail server refused it: the sender's domain failed authentication",
}
_CLASS_WORDS = {
    "1": "a problem with the address",
    "2": "a problem with the mailbox",
    "3": "a problem with the recipient's mail system",
    "4": "a network or routing problem",
    "5": "a mail protocol problem",
    "6": "a problem with the email's content",
    "7": "the recipient's mail server refused it by its policy",
}


@dataclass(frozen=True)
class DeliveryReport:
    # delivered | bounced | delayed | complained
    outcome: str
    original_message_id: str | None
    recipients: tuple[str, ...]  # lowercased
    status_code: str  # "5.1.1" ("" when none)
    diagnostic: str  # the mail server's reply as reported ("" when none)
    report_id: str  # the notification's own Message-ID ("" when none)

    @property
    def permanent(self) -> bool:
        """A hard bounce (the address will not take mail) or a complaint: the address is
        suppressed."""
        return self.outcome == "complained" or (
            self.outcome == "bounced" and not self.status_code.startswith("4")
        )

    def in_words(self) -> str:
        """What staff read beside the state: "The address does not exist (5.1.1; the server
        said: 550 5.1.1 User unknown)."."""
        if self.outcome == "complained":
            return "The recipient marked the email as spam (a complaint from their mail provider)."
        if self.outcome == "delivered":
            return "The recipient's mail server accepted the email."
        words = status_words(self.status_code)
        said = f"; the server said: {self.diagnostic}" if self.diagnostic else ""
        code = f" ({self.status_code}{said})" if self.status_code or said else ""
        if self.outcome == "delayed":
            return f"Delayed, still being tried: {words}{code}."
        return f"{words[:1].upper()}{words[1:]}{code}."


def status_words(code: str) -> str:
    match = _STATUS.search(code or "")
    if match is None:
        return "the recipient's mail server refused it"
    detail = f"{match.group(2)}.{match.group(3)}"
    return _STATUS_WORDS.get(detail) or _CLASS_WORDS.get(
        match.group(2), "the recipient's mail server refused it"
    )


def is_report(raw_or_parsed: bytes | Message) -> bool:
    parsed = (
        message_from_bytes(raw_or_parsed, policy=policy.default)
        if isinstance(raw_or_parsed, bytes)
        else raw_or_parsed
    )
    return parsed.get_content_type() == "multipart/report" and (
        (parsed.get_param("report-type") or "").lower() in ("delivery-status", "feedback-report")
    )


def parse_report(raw: bytes) -> DeliveryReport | None:
    """The report in a DSN or ARF mail; None when the mail is neither."""
    parsed = message_from_bytes(raw, policy=policy.compat32)
    if not is_report(parsed):
        return None
    report_id = _first_id(str(parsed.get("Message-ID", "")))
    parts = parsed.get_payload()
    if not isinstance(parts, list):
        return None
    original = _original_message_id(parts)
    if (parsed.get_param("report-type") or "").lower() == "feedback-report":
        fields = _fields_of(_part(parts, "message/feedback-report"))
        recipients = _addresses(fields.get("original-rcpt-to", ""))
        return DeliveryReport(
            "complained",
            original or _first_id(fields.get("original-message-id", "")),
            recipients or _original_recipients(parts),
            "",
            "",
            report_id or "",
        )
    blocks = _status_blocks(_part(parts, "message/delivery-status"))
    if not blocks:
        return None
    per_message, per_recipient = blocks[0], blocks[1:] or blocks[:1]
    original = original or _first_id(per_message.get("original-message-id", ""))
    recipient = per_recipient[0]
    action = recipient.get("action", "").strip().lower()
    status = _STATUS.search(recipient.get("status", ""))
    code = status.group(0) if status else ""
    outcome = {
        "failed": "bounced",
        "delayed": "delayed",
        "delivered": "delivered",
        "relayed": "delivered",
        "expanded": "delivered",
    }.get(action)
    if outcome is None:  # no Action: the status class says it
        outcome = {"2": "delivered", "4": "delayed", "5": "bounced"}.get(code[:1], "delayed")
    recipients = tuple(
        dict.fromkeys(
            address
            for block in per_recipient
            for name in ("final-recipient", "original-recipient")
            for address in _addresses(block.get(name, ""))
        )
    )
    diagnostic = " ".join(recipient.get("diagnostic-code", "").split())
    diagnostic = re.sub(r"^(smtp|x-[\w-]+)\s*;\s*", "", diagnostic, flags=re.I)
    return DeliveryReport(
        outcome,
        original,
        recipients or _original_recipients(parts),
        code,
        diagnostic[:MAX_DIAGNOSTIC],
        report_id or "",
    )


def _first_id(value: str) -> str | None:
    found = _MESSAGE_ID.findall(value or "")
    return found[0] if found else None


def _addresses(value: str) -> tuple[str, ...]:
    """`rfc822; ada@example.com` (or a bare address) -> ("ada@example.com",)."""
    _kind, _, address = value.rpartition(";")
    address = address.strip().strip("<>").strip().lower()
    return (address,) if "@" in address and " " not in address else ()


def _part(parts: list, content_type: str) -> Message | None:
    return next((p for p in parts if p.get_content_type() == content_type), None)


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    inner = part.get_payload()
    if isinstance(inner, list):
        return "\n".join(str(m) for m in inner)
    return str(inner or "")


def _fields_of(part: Message | None) -> dict[str, str]:
    if part is None:
        return {}
    block = _text_of(part).replace("\r\n", "\n").strip("\n")
    return _header_block(block)


def _header_block(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in message_from_string(block + "\n\n").items():
        fields.setdefault(name.lower(), " ".join(str(value).split()))
    return fields


def _status_blocks(part: Message | None) -> list[dict[str, str]]:
    """The per-message block and the per-recipient blocks of a message/delivery-status."""
    if part is None:
        return []
    inner = part.get_payload()
    if isinstance(inner, list):  # the parser split the blocks into header-only messages
        return [{k.lower(): " ".join(str(v).split()) for k, v in m.items()} for m in inner]
    text = _text_of(part).replace("\r\n", "\n").strip("\n")
    return [_header_block(b) for b in re.split(r"\n\s*\n", text) if b.strip()]


def _original_headers(parts: list) -> Message | None:
    for part in parts[1:]:
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                return inner[0]
            return message_from_string(_text_of(part))
        if kind in ("text/rfc822-headers", "message/global-headers"):
            return message_from_string(_text_of(part).replace("\r\n", "\n").strip("\n") + "\n\n")
    return None


def _original_message_id(parts: list) -> str | None:
    headers = _original_headers(parts)
    return _first_id(str(headers.get("Message-ID", ""))) if headers is not None else None


def _original_recipients(parts: list) -> tuple[str, ...]:
    headers = _original_headers(parts)
    if headers is None:
        return ()
    from email.utils import getaddresses

    return tuple(a.lower() for _n, a in getaddresses([str(headers.get("To", ""))]) if a)
