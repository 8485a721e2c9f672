"""The audit trail of staff and system actions (who, when, what, why, before and after).

An action about a customer is also written to that customer's timeline.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import AuditEntry, Shop, utcnow
from shopify_app.timeline.events import record_event


def record_audit(
    session: Session,
    shop: Shop,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    customer_id: int | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        shop_id=shop.id,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        reason=reason,
        before=before,
        after=after,
        at=utcnow(),
    )
    session.add(entry)
    session.flush()
    if customer_id is not None:
        record_event(
            session,
            shop_id=shop.id,
            customer_id=customer_id,
            kind=f"staff.{action}" if actor.startswith("staff:") else f"app.{action}",
            occurred_at=entry.at,
            source="app",
            actor=actor,
            payload={"subject": subject_type, "subject_id": subject_id, "reason": reason},
            dedupe_key=f"audit:{entry.id}",
        )
    return entry
