"""The audit trail of staff and system actions (who, when, what, why, before and after).

An action about a customer is also written to that customer's timeline.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import AuditEntry, Shop, utcnow
from shopify_app.timeline.events import batched_events, record_event


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


def record_audits(session: Session, shop: Shop, entries: list[dict[str, Any]]) -> None:
    """Many `record_audit`s at once (a batch of the public API): one INSERT for the entries
    and one for their timeline events, instead of two statements each. Each dict holds
    `record_audit`'s keyword arguments."""
    if not entries:
        return
    now = utcnow()
    rows = [AuditEntry(shop_id=shop.id, at=now, **fields) for fields in entries]
    session.add_all(rows)
    session.flush()
    with batched_events(session):
        for entry in rows:
            if entry.customer_id is None:
                continue
            record_event(
                session,
                shop_id=shop.id,
                customer_id=entry.customer_id,
                kind=f"staff.{entry.action}"
                if entry.actor.startswith("staff:")
                else f"app.{entry.action}",
                occurred_at=entry.at,
                source="app",
                actor=entry.actor,
                payload={
                    "subject": entry.subject_type,
                    "subject_id": entry.subject_id,
                    "reason": entry.reason,
                },
                dedupe_key=f"audit:{entry.id}",
            )
