"""Sharing the friend offer by email from the storefront page, within limits.

Four limits hold at once (settings in docs/operations.md): per advocate a day, per
recipient across all advocates of the shop in a block of days, per client IP address a
day, and per shop a day. A recipient over their limit or on the suppression list is left
out and named; the other three refuse the whole share. Counters are taken in one order
(recipients by key, then advocate, IP, shop), so concurrent shares never deadlock, inside
a savepoint that a refusal rolls back: a refused share counts nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.emails import Suppressed, queue_email, render
from shopify_app.emails.marketing_consent import unsubscribed_among
from shopify_app.emails.names import safe_name
from shopify_app.emails.quotas import Limit, digest, take
from shopify_app.emails.suppression import canonical, suppressed_among
from shopify_app.models import Advocate, Customer, EmailMessage, Shop, utcnow
from shopify_app.referrals.program import get_program, offer_text, shop_currency
from shopify_app.timeline.events import record_event

from .views import share_url

SKIPPED = {
    "suppressed": _l("does not want emails from this store"),
    "recipient_limit": _l("has had enough invitations from this store for now"),
}


@dataclass(frozen=True)
class ShareLimits:
    per_advocate: int
    per_recipient: int
    recipient_days: int
    per_ip: int
    per_shop: int

    @classmethod
    def from_config(cls, config: Any) -> ShareLimits:
        return cls(
            per_advocate=int(config["SHARE_LIMIT_PER_ADVOCATE"]),
            per_recipient=int(config["SHARE_LIMIT_PER_RECIPIENT"]),
            recipient_days=int(config["SHARE_RECIPIENT_WINDOW_DAYS"]),
            per_ip=int(config["SHARE_LIMIT_PER_IP"]),
            per_shop=int(config["SHARE_LIMIT_PER_SHOP"]),
        )


@dataclass
class ShareResult:
    sent: list[str] = field(default_factory=list)  # queued now or already today
    skipped: dict[str, str] = field(default_factory=dict)  # address -> SKIPPED code
    refused: str | None = None  # "advocate" | "ip" | "shop": the whole share was refused


class _Refused(Exception):
    def __init__(self, scope: str) -> None:
        self.scope = scope


def _dedupe_key(advocate: Advocate, friend: str, day: str) -> str:
    return f"share:{advocate.id}:{friend}:{day}"


def share_token(dedupe_key: str) -> str:
    """The tag on one share's link (`/r/<code>?s=<tag>`), so a click counts for that share
    (the portal's Shares tab). Derived from the message's dedupe key: nothing to store, and
    the friend's address cannot be read back from it."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]


def share_offer(
    session: Session,
    shop: Shop,
    advocate: Advocate,
    customer: Customer,
    friends: list[str],
    *,
    ip: str | None,
    limits: ShareLimits,
) -> ShareResult:
    """Queue the friend offer to each of `friends` (normalised addresses) that the limits
    and the suppression list allow. The caller commits."""
    result = ShareResult()
    for friend in suppressed_among(session, shop.id, friends):
        result.skipped[friend] = "suppressed"
    for friend in unsubscribed_among(session, shop.id, friends):
        result.skipped[friend] = "suppressed"  # a customer unsubscribed from email marketing
    day = utcnow().date().isoformat()
    keys = {friend: _dedupe_key(advocate, friend, day) for friend in friends}
    already = set(
        session.scalars(
            select(EmailMessage.dedupe_key).where(
                EmailMessage.shop_id == shop.id, EmailMessage.dedupe_key.in_(list(keys.values()))
            )
        )
    )
    pending = [f for f in friends if f not in result.skipped]
    result.sent += [f for f in pending if keys[f] in already]  # a double submit: done
    pending = [f for f in pending if keys[f] not in already]
    recipient_keys = {f: digest(canonical(f) or f) for f in pending}
    try:
        with session.begin_nested():
            for friend in sorted(pending, key=recipient_keys.__getitem__):
                limit = Limit(
                    "recipient", recipient_keys[friend], limits.per_recipient, limits.recipient_days
                )
                if not take(session, shop.id, limit):
                    result.skipped[friend] = "recipient_limit"
            pending = [f for f in pending if f not in result.skipped]
            quotas = [Limit("advocate", str(advocate.id), limits.per_advocate)]
            if ip:
                quotas.append(Limit("ip", digest(ip), limits.per_ip))
            quotas.append(Limit("shop", "all", limits.per_shop))
            for quota in quotas:
                if not take(session, shop.id, quota, len(pending)):
                    raise _Refused(quota.scope)
    except _Refused as refused:
        result.refused = refused.scope
        return result
    for friend in _queue(session, shop, advocate, customer, pending, keys):
        result.sent.append(friend)
    for friend in set(pending) - set(result.sent):  # unsubscribed a moment ago
        result.skipped[friend] = "suppressed"
    return result


def _queue(session, shop, advocate, customer, friends, keys):
    """Queue the share to each friend; yields those queued."""
    if not friends:
        return
    program = get_program(session, shop)
    context = {
        "shop_name": " ".join((shop.name or shop.domain).split()),
        "friend_name": safe_name(customer.first_name),
        "offer": offer_text(program, shop_currency(shop)),
        "code": advocate.code,
    }
    link = share_url(advocate.code)
    for friend in friends:
        subject, body = render("share", **context, link=f"{link}?s={share_token(keys[friend])}")
        try:
            message, _ = queue_email(
                session,
                shop,
                kind="share",
                to=friend,
                subject=subject,
                body=body,
                dedupe_key=keys[friend],
                advocate_id=advocate.id,
            )
        except Suppressed:
            continue
        # The friend's address stays on the message (erased with it); the event names it.
        record_event(
            session,
            shop_id=shop.id,
            customer_id=customer.id,
            kind="program.shared",
            occurred_at=message.created_at,
            source="app",
            actor=f"customer:{customer.id}",
            payload={"email_id": message.id, "subject": message.subject},
            dedupe_key=f"email:{message.id}:shared",
        )
        yield friend
