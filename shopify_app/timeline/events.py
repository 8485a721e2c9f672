from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.models import TimelineEvent, utcnow


def record_event(
    session: Session,
    *,
    shop_id: int,
    customer_id: int | None,
    kind: str,
    occurred_at: datetime | None,
    source: str,
    payload: dict[str, Any],
    dedupe_key: str,
    actor: str | None = None,
) -> int | None:
    """Write one event; the same `dedupe_key` twice is one event. Returns the new id or None."""
    return insert_ignore(
        session,
        TimelineEvent,
        {
            "shop_id": shop_id,
            "customer_id": customer_id,
            "kind": kind,
            "occurred_at": occurred_at or utcnow(),
            "recorded_at": utcnow(),
            "source": source,
            "actor": actor,
            "payload": payload,
            "dedupe_key": dedupe_key[:255],
        },
        ["shop_id", "dedupe_key"],
    )
