"""What the referral engine holds about a person, for the compliance webhooks: erased with
the shop, redacted with the customer (anonymous counts and money stay), and reported in a
customers/data_request answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from shopify_app.models import (
    Advocate,
    AdvocateVisit,
    AuditEntry,
    BlocklistEntry,
    EmailMessage,
    EmailSuppression,
    FraudCheck,
    Program,
    Referral,
    ReferralClick,
    ReferralTransition,
    Reward,
    SendQuota,
    Shop,
    TimelineEvent,
)

# Children before parents.
SHOP_TABLES = (
    EmailMessage,
    AdvocateVisit,
    ReferralClick,
    FraudCheck,
    ReferralTransition,
    Reward,
    Referral,
    Advocate,
    BlocklistEntry,
    AuditEntry,
    Program,
    EmailSuppression,
    SendQuota,
)
REDACTED = "redacted"


def erase_shop(session: Session, shop: Shop) -> None:
    for model in SHOP_TABLES:
        session.execute(delete(model).where(model.shop_id == shop.id))


def redact_customer(session: Session, shop: Shop, customer_id: int) -> None:
    """Scrub the customer's personal data from referral rows: the emails sent to them, the
    evidence fraud rules compared, reasons that quote it, their devices and the audit trail's
    before/after. Referrals, rewards and revenue stay as anonymous facts."""
    advocate_id = session.scalar(
        select(Advocate.id).where(Advocate.shop_id == shop.id, Advocate.customer_id == customer_id)
    )
    referral_ids = select(Referral.id).where(
        Referral.shop_id == shop.id,
        or_(
            Referral.friend_customer_id == customer_id,
            Referral.advocate_id == (advocate_id if advocate_id is not None else -1),
        ),
    )
    session.execute(
        update(FraudCheck)
        .where(FraudCheck.shop_id == shop.id, FraudCheck.referral_id.in_(referral_ids))
        .values(evidence={REDACTED: True}, explanation="(redacted)")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Referral)
        .where(Referral.shop_id == shop.id, Referral.id.in_(referral_ids))
        .where(Referral.status_reason.is_not(None))
        .values(status_reason="(redacted)")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ReferralTransition)
        .where(
            ReferralTransition.shop_id == shop.id,
            ReferralTransition.referral_id.in_(referral_ids),
            ReferralTransition.reason.is_not(None),
        )
        .values(reason="(redacted)")
        .execution_options(synchronize_session=False)
    )
    ids = set(session.scalars(referral_ids))
    if ids:
        for event in session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.shop_id == shop.id, TimelineEvent.kind.like("referral.%")
            )
        ):
            payload = event.payload or {}
            if payload.get("referral_id") in ids and payload.get("reason"):
                event.payload = {**payload, "reason": "(redacted)"}
    conditions = [EmailMessage.customer_id == customer_id]
    if advocate_id is not None:
        conditions.append(EmailMessage.advocate_id == advocate_id)  # shares went to friends
        session.execute(
            delete(AdvocateVisit).where(
                AdvocateVisit.shop_id == shop.id, AdvocateVisit.advocate_id == advocate_id
            )
        )
    session.execute(
        update(EmailMessage)
        .where(EmailMessage.shop_id == shop.id, or_(*conditions))
        .values(to_address=REDACTED, body_text="", subject="(redacted)", error=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.shop_id == shop.id, AuditEntry.customer_id == customer_id)
        .values(before=None, after=None, reason=None)
        .execution_options(synchronize_session=False)
    )


def customer_referral_data(session: Session, shop: Shop, customer_id: int) -> dict[str, Any]:
    """The referral program's part of a data request."""
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    advocate = session.scalar(
        select(Advocate).where(Advocate.shop_id == shop.id, Advocate.customer_id == customer_id)
    )
    as_friend = session.scalars(
        select(Referral).where(
            Referral.shop_id == shop.id, Referral.friend_customer_id == customer_id
        )
    ).all()
    data: dict[str, Any] = {
        "advocate": None,
        "referred_by": [
            {"referral_id": r.id, "order_id": r.order_shopify_id, "status": r.status}
            for r in as_friend
        ],
        "emails": [
            {
                "kind": m.kind,
                "to": m.to_address,
                "subject": m.subject,
                "status": m.status,
                "sent_at": iso(m.sent_at),
            }
            for m in session.scalars(
                select(EmailMessage).where(
                    EmailMessage.shop_id == shop.id, EmailMessage.customer_id == customer_id
                )
            )
        ],
    }
    if advocate is not None:
        referrals = session.scalars(
            select(Referral).where(Referral.shop_id == shop.id, Referral.advocate_id == advocate.id)
        ).all()
        rewards = session.scalars(
            select(Reward).where(Reward.shop_id == shop.id, Reward.advocate_id == advocate.id)
        ).all()
        visits = session.scalars(
            select(AdvocateVisit).where(AdvocateVisit.advocate_id == advocate.id)
        ).all()
        data["advocate"] = {
            "code": advocate.code,
            "joined_at": iso(advocate.joined_at),
            "joined_via": advocate.joined_via,
            "referrals": [
                {"referral_id": r.id, "order_id": r.order_shopify_id, "status": r.status}
                for r in referrals
            ],
            "rewards": [
                {"code": w.code, "status": w.status, "expires_at": iso(w.expires_at)}
                for w in rewards
            ],
            "devices": [{"ip": v.ip, "user_agent": v.user_agent} for v in visits],
        }
    return data
