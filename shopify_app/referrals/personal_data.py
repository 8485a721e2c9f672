"""What the referral engine holds about a person, for the compliance webhooks: erased with
the shop, redacted with the customer (anonymous counts and money stay), and reported in a
customers/data_request answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.emails import redact_emails
from shopify_app.models import (
    Advocate,
    AdvocateVisit,
    AuditEntry,
    BlocklistEntry,
    DataRequest,
    DiscountCode,
    EmailMessage,
    EmailSuppression,
    FraudCheck,
    Order,
    Program,
    Referral,
    ReferralClick,
    ReferralTransition,
    Reward,
    SendQuota,
    Shop,
    TimelineEvent,
)
from shopify_app.scrub import scrub_columns
from shopify_app.values import parse_id

from .codes import advocate_code

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
# Where an advocate's code is written besides the advocate (`retire_code` replaces it there).
CODE_COLUMNS: tuple[tuple[type, tuple[str, ...]], ...] = (
    (Order, ("discount_codes", "note_attributes", "landing_site", "referring_site")),
    (Referral, ("attribution_evidence",)),
    (TimelineEvent, ("payload",)),
    (AuditEntry, ("reason", "before", "after")),
    (DataRequest, ("content",)),
    (EmailMessage, ("subject", "body_text")),
)
ERASED_REASON = "erased at the customer's request"


@dataclass(frozen=True)
class RetiredCode:
    """An erased advocate's code (it starts with their first name) and the neutral code that
    replaces it wherever the app keeps it; `discount_id` is the friend discount in Shopify
    that carried it (deleted there by a job)."""

    old: str
    new: str
    discount_id: int | None


def erase_shop(session: Session, shop: Shop) -> None:
    for model in SHOP_TABLES:
        session.execute(delete(model).where(model.shop_id == shop.id))


def redact_customer(
    session: Session, shop: Shop, customer_id: int, addresses: set[str]
) -> RetiredCode | None:
    """Scrub the customer's personal data from referral rows: the emails sent to them (to
    any of `addresses`, lower-cased, also before they were a customer) or from them, the
    evidence fraud rules compared, reasons that quote it, their devices and the audit
    trail's before/after. An advocate's code, which starts with their first name, is
    retired (`retire_code`). Referrals, rewards and revenue stay as anonymous facts.
    Returns the retired code, if any."""
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
    if addresses:
        conditions.append(func.lower(EmailMessage.to_address).in_(sorted(addresses)))
    if advocate_id is not None:
        conditions.append(EmailMessage.advocate_id == advocate_id)  # shares went to friends
        session.execute(
            delete(AdvocateVisit).where(
                AdvocateVisit.shop_id == shop.id, AdvocateVisit.advocate_id == advocate_id
            )
        )
    redact_emails(
        session,
        EmailMessage.shop_id == shop.id,
        or_(*conditions),
        to_address=REDACTED,
        body_text="",
        subject="(redacted)",
        error=None,
        delivery_detail=None,  # a bounce's diagnostic quotes the address
        # the key of a share names the friend's address
        dedupe_key=literal("redacted:") + cast(EmailMessage.id, String),
    )
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.shop_id == shop.id, AuditEntry.customer_id == customer_id)
        .values(before=None, after=None, reason=None)
        .execution_options(synchronize_session=False)
    )
    if advocate_id is None:
        return None
    advocate = session.get(Advocate, advocate_id)
    assert advocate is not None
    return retire_code(session, shop, advocate)


def retire_code(session: Session, shop: Shop, advocate: Advocate) -> RetiredCode:
    """Give an erased advocate a neutral code (`FRIEND-…`) in place of the one that starts
    with their first name, and write the new one wherever the old one is kept: the
    discounts mirrored from Shopify (dropped), orders that used it, referral evidence,
    timelines, the audit trail, data-request answers and emails. The friend discount in
    Shopify stops: a job deletes it (`workers.referral_jobs.delete_friend_discount`), and
    its deliveries are screened like the customer's."""
    old = advocate.code
    new = advocate_code(None)
    while session.scalar(select(Advocate.id).where(Advocate.code == new)) is not None:
        new = advocate_code(None)
    advocate.code = new
    advocate.friend_discount_status = "inactive"
    advocate.friend_discount_error = ERASED_REASON
    discount_id = parse_id(advocate.friend_discount_gid)
    session.execute(
        delete(DiscountCode).where(
            DiscountCode.shop_id == shop.id,
            or_(
                DiscountCode.node_gid == (advocate.friend_discount_gid or ""),
                DiscountCode.code_upper == old.upper(),
            ),
        )
    )
    needles = {old.lower()}
    for model, columns in CODE_COLUMNS:
        scrub_columns(session, model, columns, needles, model.shop_id == shop.id, replacement=new)
    if advocate.friend_discount_gid:
        jobs.enqueue_after_commit(session, jobs.DELETE_FRIEND_DISCOUNT, advocate.id)
    return RetiredCode(old=old, new=new, discount_id=discount_id)


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
            {"referral_id": r.id, "order_id": _order_id(r), "status": r.status} for r in as_friend
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
                {"referral_id": r.id, "order_id": _order_id(r), "status": r.status}
                for r in referrals
            ],
            "rewards": [
                {"code": w.code, "status": w.status, "expires_at": iso(w.expires_at)}
                for w in rewards
            ],
            "devices": [{"ip": v.ip, "user_agent": v.user_agent} for v in visits],
        }
    return data


def _order_id(referral: Referral) -> int | None:
    """Shopify's order id; a conversion's referral has none (models/conversion.py)."""
    return referral.order_shopify_id if referral.order_shopify_id > 0 else None
