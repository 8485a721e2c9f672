"""Clicks on an advocate's `/r/<code>` link, deduplicated and bounded.

A click is one row per advocate, visitor and UTC day: the visitor is a fingerprint of the
client address and the browser's user agent, so reloads, a second tab or a bot repeating
itself make no new rows (`uq_referral_clicks_visitor_day` holds it, even for two requests
at once). A bot changing its user agent on every request still makes at most
`CLICKS_PER_ADVOCATE_PER_DAY` rows per advocate and day (beyond that nothing is recorded,
the shopper is still sent on), and the per-address rate limit on `/r/` slows it down first.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.models import Advocate, ReferralClick, Shop, utcnow

CLICKS_PER_ADVOCATE_PER_DAY = 1000


def fingerprint(ip: str | None, user_agent: str | None) -> str:
    return hashlib.sha256(f"{ip or ''}\n{user_agent or ''}".encode()).hexdigest()[:32]


def record_click(
    session: Session,
    shop: Shop,
    advocate: Advocate,
    *,
    ip: str | None,
    user_agent: str | None,
    visitor_id: str,
    share_token: str | None = None,
) -> bool:
    """Record the click unless this visitor's is already recorded today or the advocate's
    daily cap is reached; True when a row was added."""
    now = utcnow()
    today = now.date()
    recorded = session.scalar(
        select(func.count())
        .select_from(ReferralClick)
        .where(
            ReferralClick.shop_id == shop.id,
            ReferralClick.advocate_id == advocate.id,
            ReferralClick.day == today,
        )
    )
    if recorded >= CLICKS_PER_ADVOCATE_PER_DAY:
        return False
    added = insert_ignore(
        session,
        ReferralClick,
        {
            "shop_id": shop.id,
            "advocate_id": advocate.id,
            "clicked_at": now,
            "day": today,
            "fingerprint": fingerprint(ip, user_agent),
            "ip": ip,
            "user_agent": user_agent,
            "visitor_id": visitor_id,
            "share_token": share_token,
        },
        ["advocate_id", "day", "fingerprint"],
    )
    return added is not None
