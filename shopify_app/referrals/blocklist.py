"""The blocklist (D6 storage and matching; its admin page comes with the portal): emails
with `*` wildcards, phones in E.164, IP addresses and CIDR ranges."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.models import BlocklistEntry, Shop

from .identity import canonical_email, canonical_ip, canonical_phone

KINDS = ("email", "phone", "ip")


class InvalidEntry(ValueError):
    """The value cannot be a blocklist entry of that kind; the message says why."""


def normalise_entry(kind: str, value: str) -> str:
    text = (value or "").strip()
    if kind == "email":
        pattern = text.lower()
        if pattern.count("@") != 1 or not re.fullmatch(r"[a-z0-9.!#$%&'*+/=?^_`{|}~@-]+", pattern):
            raise InvalidEntry(
                _(
                    "%(value)s is not an email address or pattern like *@example.com",
                    value=repr(value),
                )
            )
        return pattern
    if kind == "phone":
        phone = canonical_phone(text)
        if phone is None:
            raise InvalidEntry(
                _("%(value)s is not a phone number in international form (+…)", value=repr(value))
            )
        return phone
    if kind == "ip":
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise InvalidEntry(
                _("%(value)s is not an IP address or CIDR range", value=repr(value))
            ) from exc
    raise InvalidEntry(_("unknown blocklist kind %(kind)s", kind=repr(kind)))


@dataclass(frozen=True)
class Hit:
    entry_id: int
    kind: str
    pattern: str
    matched: str


def matches(
    entries: Iterable[BlocklistEntry],
    *,
    emails: Iterable[str | None] = (),
    phones: Iterable[str | None] = (),
    ips: Iterable[str | None] = (),
) -> list[Hit]:
    """Every entry that one of the given values hits (emails as given and canonical)."""
    email_values = set()
    for email in emails:
        if email:
            email_values.add(email.strip().lower())
            if canonical := canonical_email(email):
                email_values.add(canonical)
    phone_values = {p for p in (canonical_phone(x) for x in phones if x) if p}
    ip_values = [ipaddress.ip_address(i) for i in (canonical_ip(x) for x in ips) if i]
    hits = []
    for entry in entries:
        if entry.kind == "email":
            hits += [
                Hit(entry.id, "email", entry.value, e)
                for e in sorted(email_values)
                if fnmatchcase(e, entry.value)
            ]
        elif entry.kind == "phone" and entry.value in phone_values:
            hits.append(Hit(entry.id, "phone", entry.value, entry.value))
        elif entry.kind == "ip":
            network = ipaddress.ip_network(entry.value)
            hits += [Hit(entry.id, "ip", entry.value, str(i)) for i in ip_values if i in network]
    return hits


def entries_for(session: Session, shop: Shop) -> list[BlocklistEntry]:
    return list(session.scalars(select(BlocklistEntry).where(BlocklistEntry.shop_id == shop.id)))


def add_entry(
    session: Session, shop: Shop, kind: str, value: str, *, note: str | None, actor: str
) -> BlocklistEntry:
    """Add (or return the existing) entry; audited."""
    normalised = normalise_entry(kind, value)
    existing = session.scalar(
        select(BlocklistEntry).where(
            BlocklistEntry.shop_id == shop.id,
            BlocklistEntry.kind == kind,
            BlocklistEntry.value == normalised,
        )
    )
    if existing is not None:
        return existing
    entry = BlocklistEntry(
        shop_id=shop.id, kind=kind, value=normalised, note=note, created_by=actor
    )
    session.add(entry)
    session.flush()
    record_audit(
        session,
        shop,
        actor=actor,
        action="blocklist.added",
        subject_type="blocklist_entry",
        subject_id=entry.id,
        after={"kind": kind, "value": normalised, "note": note},
    )
    return entry


def remove_entry(
    session: Session, shop: Shop, entry_id: int, *, actor: str
) -> BlocklistEntry | None:
    """Remove one entry (one action, audited with what it was); None if it is already gone."""
    entry = session.scalar(
        select(BlocklistEntry).where(
            BlocklistEntry.shop_id == shop.id, BlocklistEntry.id == entry_id
        )
    )
    if entry is None:
        return None
    record_audit(
        session,
        shop,
        actor=actor,
        action="blocklist.removed",
        subject_type="blocklist_entry",
        subject_id=entry.id,
        before={"kind": entry.kind, "value": entry.value, "note": entry.note},
    )
    session.delete(entry)
    return entry


MAX_PASTE_LINES = 1000


@dataclass(frozen=True)
class LineResult:
    """What one line of a pasted list became: `added`, `already` (on the list, or earlier
    in the same paste) or `invalid` (nothing added; `message` says why)."""

    line: int
    text: str
    outcome: str
    kind: str | None
    value: str | None
    message: str


def guess_kind(text: str) -> str | None:
    """email (has an @), ip (an address or CIDR range), phone (international, +…)."""
    if "@" in text:
        return "email"
    try:
        ipaddress.ip_network(text, strict=False)
        return "ip"
    except ValueError:
        pass
    return "phone" if canonical_phone(text) is not None else None


def paste_lines(text: str) -> list[tuple[int, str]]:
    """(line number, value) of a pasted list: one per line, or separated by commas or
    semicolons; blank ones skipped. A phone may keep its spaces."""
    found = []
    for number, line in enumerate((text or "").splitlines(), 1):
        for part in re.split(r"[,;]", line):
            if part.strip():
                found.append((number, part.strip()[:320]))
    return found


def add_many(
    session: Session,
    shop: Shop,
    text: str,
    *,
    kind: str | None = None,
    note: str | None,
    actor: str,
) -> list[LineResult]:
    """Add every value of a pasted list (D6), each audited like a single add; `kind` None
    detects each line's. Returns one result per value, in order. A value already listed is
    not added again, so submitting the same paste twice adds nothing the second time."""
    lines = paste_lines(text)
    if len(lines) > MAX_PASTE_LINES:
        raise InvalidEntry(
            _(
                "The list has %(count)s values; paste at most %(max)s at a time.",
                count=len(lines),
                max=MAX_PASTE_LINES,
            )
        )
    if kind is not None and kind not in KINDS:
        raise InvalidEntry(_("unknown blocklist kind %(kind)s", kind=repr(kind)))
    results: list[LineResult] = []
    seen: dict[tuple[str, str], int] = {}
    for number, value in lines:
        line_kind = kind or guess_kind(value)
        if line_kind is None:
            results.append(
                LineResult(
                    number,
                    value,
                    "invalid",
                    None,
                    None,
                    "Not an email, a phone number in international form (+…) or an IP "
                    "address or range.",
                )
            )
            continue
        try:
            normalised = normalise_entry(line_kind, value)
        except InvalidEntry as exc:
            results.append(LineResult(number, value, "invalid", line_kind, None, f"{exc}."))
            continue
        if (line_kind, normalised) in seen:
            results.append(
                LineResult(
                    number,
                    value,
                    "already",
                    line_kind,
                    normalised,
                    f"Repeats line {seen[(line_kind, normalised)]}.",
                )
            )
            continue
        seen[(line_kind, normalised)] = number
        if _existing(session, shop, line_kind, normalised) is not None:
            results.append(
                LineResult(
                    number, value, "already", line_kind, normalised, "Already on the blocklist."
                )
            )
            continue
        try:
            with session.begin_nested():
                add_entry(session, shop, line_kind, normalised, note=note, actor=actor)
        except IntegrityError:  # added by someone else a moment ago
            results.append(
                LineResult(
                    number, value, "already", line_kind, normalised, "Already on the blocklist."
                )
            )
            continue
        results.append(LineResult(number, value, "added", line_kind, normalised, "Added."))
    return results


def _existing(session: Session, shop: Shop, kind: str, value: str) -> BlocklistEntry | None:
    return session.scalar(
        select(BlocklistEntry).where(
            BlocklistEntry.shop_id == shop.id,
            BlocklistEntry.kind == kind,
            BlocklistEntry.value == value,
        )
    )
