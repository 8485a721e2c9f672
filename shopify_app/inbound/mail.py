"""An inbound mail read from raw MIME: who sent it, to which addresses, what it answers,
and the new text the shopper wrote (the quoted thread below it stripped).

Quoted text is found by `mail-parser-reply` (the "On … wrote:" lines of many languages,
signatures, forwarded blocks); it knows no Finnish, so the Finnish attribution line
("… kirjoitti:") and a trailing block of "> " lines are cut here too. An HTML-only mail is
read as text with its <blockquote>s (the quoted thread) left out. Attachments are counted,
never kept.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

REPLY_LANGUAGES = ["en", "de", "fr", "sv", "da", "nl", "es", "it", "pl", "cs"]
_PARSER = EmailReplyParser(languages=REPLY_LANGUAGES)
_ATTRIBUTION = re.compile(
    r"^(?:.{0,200}\s)?(?:wrote|kirjoitti|skrev|schrieb|a écrit)\s?:\s*$", re.IGNORECASE
)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
# The library's regexes backtrack badly on long hostile lines (20,000 characters of "On " took
# 16 s): it reads at most `MAX_PARSED_CHARS` (the new text is at most the chat's 5,000
# characters, so its attribution line comes before that), and a line longer than
# `MAX_HEADER_LINE` (no "On … wrote:" line is) reaches it as a placeholder.
MAX_PARSED_CHARS = 8000
MAX_HEADER_LINE = 200
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


@dataclass(frozen=True)
class InboundMail:
    message_id: str  # "<…>"; derived from the body's hash when the mail has none
    sender: str  # the From address, lowercased ("" when none)
    recipients: tuple[str, ...]  # To, Cc, Delivered-To … addresses, lowercased
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str  # the new text, quotes stripped
    attachments: int
    automatic: bool  # an auto-reply or bounce (Auto-Submitted, Precedence: bulk …)
    # The receiving provider's verdict (the topmost Authentication-Results, which it adds
    # above any the sender wrote): a forged From of the shopper's domain fails DMARC.
    dmarc_failed: bool = False


def parse_mail(raw: bytes) -> InboundMail:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return InboundMail(
        message_id=_first_id(_header(parsed, "Message-ID"))
        or f"<{hashlib.sha256(raw).hexdigest()}@inbound.invalid>",
        sender=parseaddr(_header(parsed, "From"))[1].strip().lower(),
        recipients=tuple(
            address.strip().lower()
            for _name, address in getaddresses(
                [value for name in RECIPIENT_HEADERS for value in _all_values(parsed, name)]
            )
            if address
        ),
        in_reply_to=tuple(_MESSAGE_ID.findall(_header(parsed, "In-Reply-To"))),
        references=tuple(_MESSAGE_ID.findall(_header(parsed, "References"))),
        text=strip_quoted(_body_text(parsed)),
        attachments=sum(1 for _ in parsed.iter_attachments()) if parsed.is_multipart() else 0,
        automatic=_automatic(parsed),
        dmarc_failed=_dmarc_failed(parsed),
    )


def _header(parsed: EmailMessage, name: str) -> str:
    try:
        value = parsed.get(name)
    except (ValueError, IndexError, TypeError):  # a malformed header the policy cannot fold
        return ""
    return str(value) if value is not None else ""


def _all_values(parsed: EmailMessage, name: str) -> list[str]:
    try:
        return [str(v) for v in parsed.get_all(name) or []]
    except (ValueError, IndexError, TypeError):
        return []


def _first_id(value: str) -> str | None:
    found = _MESSAGE_ID.findall(value)
    return found[0] if found else None


def _automatic(parsed: EmailMessage) -> bool:
    auto = _header(parsed, "Auto-Submitted").strip().lower()
    precedence = _header(parsed, "Precedence").strip().lower()
    return (
        (bool(auto) and auto != "no")
        or precedence in ("bulk", "junk", "auto_reply")
        or bool(_header(parsed, "X-Autoreply") or _header(parsed, "X-Autorespond"))
    )


def _dmarc_failed(parsed: EmailMessage) -> bool:
    results = _all_values(parsed, "Authentication-Results")
    return bool(results) and re.search(r"\bdmarc\s*=\s*fail\b", results[0], re.I) is not None


def _body_text(parsed: EmailMessage) -> str:
    part = parsed.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content


class _TextFromHtml(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
    SKIPPED = frozenset({"blockquote", "script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """The new text of a reply: what comes before the quoted thread."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_PARSED_CHARS]
    long_lines: dict[str, str] = {}

    def masked(index: int, line: str) -> str:
        if len(line) <= MAX_HEADER_LINE:
            return line
        token = f"\x1a{index}\x1a"
        long_lines[token] = line.strip()
        return token

    lines = [masked(i, line) for i, line in enumerate(text.split("\n"))]
    try:
        reply = _PARSER.parse_reply(text="\n".join(lines)) or ""
    except Exception:  # noqa: BLE001 - a library's regex on hostile text: fall back to ours
        reply = "\n".join(lines)
    lines = [long_lines.get(line.strip(), line) for line in reply.split("\n")]
    for index, line in enumerate(lines):
        if _ATTRIBUTION.match(line.strip()) and all(
            not r.strip() or r.lstrip().startswith(">") for r in lines[index + 1 :]
        ):
            lines = lines[:index]
            break
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    return "\n".join(lines).strip()
