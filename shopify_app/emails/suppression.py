"""The per-shop suppression list and the unsubscribe links that fill it.

Every non-transactional email (a share, an invitation) carries a link `/u/<token>` and the
RFC 8058 headers. The token is the shop id and the address sealed with AES-SIV under a key
derived from `ENCRYPTION_KEY`: it cannot be made or altered without the key, names no
guessable id, does not show the address to whoever reads a log line, and is the same
for the same shop and address (deterministic), so every email to one person carries one
link. It does not expire; it stops working only when every key that sealed it has been
removed from `ENCRYPTION_KEY`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.crypto import derived_keys, seal, unseal
from shopify_app.db import insert_ignore
from shopify_app.models import Customer, EmailSuppression, Shop, utcnow
from shopify_app.referrals.identity import canonical_email
from shopify_app.timeline.events import record_event
from shopify_app.values import normalize_email

KEY_PURPOSE = "referrals/unsubscribe-link/v1"
TOKEN_CONTEXT = b"unsubscribe"
TOKEN_MAX_LENGTH = 700
REASONS = {
    "unsubscribed": "unsubscribed by the recipient",
    "staff": "added by staff",
    "bounced": "the address bounced (the mail system reported it undeliverable)",
    "complained": "the recipient marked an email as spam",
}
# bounce / complaint: a delivery status notification (`shopify_app.inbound.delivery_status`)
SOURCES = ("one_click", "link", "staff", "bounce", "complaint")


class NotAnAddress(ValueError):
    """The text is not an email address; the message says why."""


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid token names."""

    shop_id: int
    email: str


def _keys() -> tuple[bytes, ...]:
    return derived_keys(current_app.config["ENCRYPTION_KEY"], KEY_PURPOSE, 64)


def unsubscribe_token(shop_id: int, email: str) -> str:
    address = normalize_email(email)
    if address is None:
        raise NotAnAddress(f"{email!r} is not an email address")
    return seal(_keys(), f"{shop_id}\n{address}", TOKEN_CONTEXT)


def read_token(token: str) -> Unsubscribe | None:
    """The shop and address a token was made for; None for anything forged or altered."""
    plain = unseal(_keys(), token, TOKEN_CONTEXT, TOKEN_MAX_LENGTH)
    if plain is None:
        return None
    shop_part, _, address = plain.partition("\n")
    if shop_part.isdigit() and normalize_email(address) == address:
        return Unsubscribe(int(shop_part), address)
    return None


def unsubscribe_url(shop_id: int, email: str) -> str:
    base = current_app.config["SHOPIFY_APP_URL"].rstrip("/")
    return f"{base}/u/{unsubscribe_token(shop_id, email)}"


def masked(email: str) -> str:
    """`ada@example.com` -> `a••@example.com`: enough for its owner to recognise."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'•' * min(max(len(local) - 1, 1), 6)}@{domain}"


def canonical(email: str) -> str | None:
    return canonical_email(email) or normalize_email(email)


def suppressed_among(session: Session, shop_id: int, emails: Iterable[str]) -> set[str]:
    """The given addresses that are on the shop's list (compared as the mailbox receives
    them: Gmail dots and `+tags` do not get around it)."""
    by_canonical: dict[str, list[str]] = {}
    for email in emails:
        if key := canonical(email):
            by_canonical.setdefault(key, []).append(email)
    if not by_canonical:
        return set()
    hits = session.scalars(
        select(EmailSuppression.email_canonical).where(
            EmailSuppression.shop_id == shop_id,
            EmailSuppression.email_canonical.in_(list(by_canonical)),
        )
    )
    return {email for key in hits for email in by_canonical[key]}


def is_suppressed(session: Session, shop_id: int, email: str) -> bool:
    return bool(suppressed_among(session, shop_id, [email]))


def _customers_with(session: Session, shop: Shop, address: str) -> list[int]:
    return list(
        session.scalars(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.email_normalized == address
            )
        )
    )


def suppress(
    session: Session,
    shop: Shop,
    email: str,
    *,
    reason: str,
    source: str,
    actor: str | None = None,
    note: str | None = None,
) -> tuple[EmailSuppression, bool]:
    """Put the address on the shop's list (idempotent). Returns (entry, newly added). A
    staff addition is audited; the recipient's own shows on their timeline when they are a
    customer of the shop."""
    address = normalize_email(email)
    if address is None or len(address) > 320 or address.count("@") != 1:
        raise NotAnAddress(f"{email} is not an email address")
    if reason not in REASONS or source not in SOURCES:
        raise ValueError(f"unknown suppression {reason}/{source}")
    now = utcnow()
    new_id = insert_ignore(
        session,
        EmailSuppression,
        {
            "shop_id": shop.id,
            "email": address,
            "email_canonical": canonical(address) or address,
            "reason": reason,
            "source": source,
            "note": note,
            "created_by": actor,
            "created_at": now,
        },
        ["shop_id", "email"],
    )
    entry = session.scalar(
        select(EmailSuppression).where(
            EmailSuppression.shop_id == shop.id, EmailSuppression.email == address
        )
    )
    assert entry is not None
    if new_id is None:
        return entry, False
    customers = _customers_with(session, shop, address)
    if actor and actor.startswith("staff:"):
        record_audit(
            session,
            shop,
            actor=actor,
            action="email.suppressed",
            subject_type="email_suppression",
            subject_id=entry.id,
            after={"email": masked(address), "reason": reason},
            reason=note,
            customer_id=customers[0] if customers else None,
        )
    elif reason == "unsubscribed":  # a bounce or complaint is on the email's own event
        for customer_id in customers:
            record_event(
                session,
                shop_id=shop.id,
                customer_id=customer_id,
                kind="email.unsubscribed",
                occurred_at=now,
                source="app",
                payload={"source": source},
                dedupe_key=f"suppression:{entry.id}:added",
            )
    return entry, True


def remove(
    session: Session, shop: Shop, suppression_id: int, *, actor: str
) -> EmailSuppression | None:
    """Take an entry off the list (staff only, audited); None when it is already gone or
    belongs to another shop."""
    entry = session.scalar(
        select(EmailSuppression).where(
            EmailSuppression.id == suppression_id, EmailSuppression.shop_id == shop.id
        )
    )
    if entry is None:
        return None
    customers = _customers_with(session, shop, entry.email)
    record_audit(
        session,
        shop,
        actor=actor,
        action="email.unsuppressed",
        subject_type="email_suppression",
        subject_id=entry.id,
        before={"email": masked(entry.email), "reason": entry.reason, "source": entry.source},
        customer_id=customers[0] if customers else None,
    )
    session.execute(delete(EmailSuppression).where(EmailSuppression.id == entry.id))
    return entry


def listing(
    session: Session, shop: Shop, *, before_id: int | None = None, limit: int = 50
) -> tuple[list[EmailSuppression], int, int | None]:
    """(a page of entries, newest first; the total; the id to continue before)."""
    query = (
        select(EmailSuppression)
        .where(EmailSuppression.shop_id == shop.id)
        .order_by(EmailSuppression.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        query = query.where(EmailSuppression.id < before_id)
    entries = list(session.scalars(query))
    total = session.scalar(
        select(func.count())
        .select_from(EmailSuppression)
        .where(EmailSuppression.shop_id == shop.id)
    )
    more = len(entries) > limit
    entries = entries[:limit]
    return entries, total or 0, entries[-1].id if more else None


def forget_customer(session: Session, shop: Shop, emails: Iterable[str | None]) -> None:
    """customers/redact: the erased customer's addresses leave the list too (the erasure
    asks that nothing identifying them remains; with it, a later share may reach them)."""
    keys = {canonical(e) for e in emails if e} - {None}
    if keys:
        session.execute(
            delete(EmailSuppression).where(
                EmailSuppression.shop_id == shop.id, EmailSuppression.email_canonical.in_(keys)
            )
        )
