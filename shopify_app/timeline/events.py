"""Writing timeline events: append-only, one per `dedupe_key`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore_stmt
from shopify_app.models import TimelineEvent, utcnow

from .kinds import family_of

_PENDING = "pending_timeline_events"
_COLUMNS = (
    "shop_id",
    "customer_id",
    "kind",
    "occurred_at",
    "recorded_at",
    "source",
    "family",
    "source_name",
    "actor",
    "payload",
    "dedupe_key",
)


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
    source_name: str | None = None,
) -> None:
    """Write one event; the same `dedupe_key` twice is one event.

    Inside `batched_events` the row is held and written with the others in one statement
    when the block ends; otherwise it is written now.
    """
    row = {
        "shop_id": shop_id,
        "customer_id": customer_id,
        "kind": kind,
        "occurred_at": occurred_at or utcnow(),
        "recorded_at": utcnow(),
        "source": source,
        "family": family_of(source, kind),
        "source_name": source_name,
        "actor": actor,
        "payload": payload,
        "dedupe_key": dedupe_key[:255],
    }
    pending = session.info.get(_PENDING)
    if pending is not None:
        pending.setdefault((shop_id, row["dedupe_key"]), row)
    else:
        write_events(session, [row])


@contextmanager
def batched_events(session: Session) -> Iterator[None]:
    """Hold the events recorded in the block and write them together at its end (not on an
    error: the caller rolls back). Events are written after the block's other changes, so
    nothing in the block may read the events it records."""
    if session.info.get(_PENDING) is not None:
        yield  # already batching: the outer block writes them
        return
    session.info[_PENDING] = {}
    try:
        yield
        rows = list(session.info[_PENDING].values())
    finally:
        session.info.pop(_PENDING, None)
    write_events(session, rows)


def write_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(_insert_event(session.get_bind().dialect.name), rows)


@cache
def _insert_event(dialect: str):
    table = TimelineEvent.__table__
    return insert_ignore_stmt(
        dialect,
        table,
        {c: bindparam(c, type_=table.c[c].type) for c in _COLUMNS},
        ["shop_id", "dedupe_key"],
        returning=False,
    )
