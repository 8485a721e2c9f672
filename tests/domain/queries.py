"""What domain tests read back: timeline events, transitions, fraud checks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.models import (
    FraudCheck,
    Referral,
    ReferralTransition,
    Reward,
    Shop,
    TimelineEvent,
)


def events(session: Session, shop: Shop, kind: str | None = None) -> list[TimelineEvent]:
    query = select(TimelineEvent).where(TimelineEvent.shop_id == shop.id)
    if kind is not None:
        query = query.where(TimelineEvent.kind == kind)
    return list(session.scalars(query.order_by(TimelineEvent.id)))


def event_kinds(session: Session, shop: Shop) -> list[str]:
    return [e.kind for e in events(session, shop)]


def transitions(session: Session, referral: Referral) -> list[tuple[str | None, str, str]]:
    """(from, to, cause) of every status change, oldest first."""
    rows = session.scalars(
        select(ReferralTransition)
        .where(ReferralTransition.referral_id == referral.id)
        .order_by(ReferralTransition.id)
    )
    return [(t.from_status, t.to_status, t.cause) for t in rows]


def referrals(session: Session, shop: Shop) -> list[Referral]:
    return list(session.scalars(select(Referral).where(Referral.shop_id == shop.id)))


def rewards(session: Session, shop: Shop) -> list[Reward]:
    return list(session.scalars(select(Reward).where(Reward.shop_id == shop.id)))


def checks(session: Session, referral: Referral, evaluation: int = 1) -> dict[str, FraudCheck]:
    rows = session.scalars(
        select(FraudCheck).where(
            FraudCheck.referral_id == referral.id, FraudCheck.evaluation == evaluation
        )
    )
    return {c.rule_id: c for c in rows}
