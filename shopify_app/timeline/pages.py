"""One customer's timeline, a page at a time: newest first, keyset over (occurred_at, id).

A page reads index ranges only: with no filter the range (shop, customer) of
`ix_timeline_events_customer_time`, read backwards from the cursor; with a filter one range
per family of `ix_timeline_events_customer_family_time`, each cut at the page size, merged.
The filter and the cursor live in the URL (`source`, `kind`, `before`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, union_all
from sqlalchemy.orm import Session

from shopify_app.db import int_param, unindexed
from shopify_app.models import Shop, TimelineEvent
from shopify_app.models.base import UTCDateTime

from .kinds import BY_KEY, SOURCES, families_for

PAGE_SIZE = 25
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    """The last event shown: the next page starts strictly below it."""

    occurred_at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.occurred_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.id}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        """The cursor in `raw`, or None for a missing or malformed one (the first page)."""
        if not raw or len(raw) > 40:
            return None
        micros, _, event_id = raw.partition(".")
        try:
            at = _EPOCH + timedelta(microseconds=int(micros))
            return cls(at, int(event_id)) if int(event_id) > 0 else None
        except (ValueError, OverflowError):
            return None


@dataclass(frozen=True)
class TimelineQuery:
    sources: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    before: Cursor | None = None

    @property
    def families(self) -> list[str] | None:
        return families_for(set(self.sources), set(self.kinds))

    def params(self, *, before: Cursor | None = None) -> dict[str, Any]:
        """The query string of this view (with another cursor)."""
        params: dict[str, Any] = {}
        if self.sources:
            params["source"] = sorted(self.sources)
        if self.kinds:
            params["kind"] = sorted(self.kinds)
        if before is not None:
            params["before"] = before.encode()
        return params


def parse_query(args: Mapping[str, Any]) -> TimelineQuery:
    """The timeline view in a request's arguments; unknown values are dropped, so a bad URL
    shows the unfiltered first page rather than an error."""

    def many(name: str, allowed) -> frozenset[str]:
        getlist = getattr(args, "getlist", None)
        values = getlist(name) if getlist else [args.get(name)] if args.get(name) else []
        return frozenset(v for v in values[:20] if v in allowed)

    return TimelineQuery(
        sources=many("source", SOURCES),
        kinds=many("kind", BY_KEY),
        before=Cursor.decode(args.get("before")),
    )


@dataclass
class TimelinePage:
    events: list[TimelineEvent]
    older: Cursor | None  # the cursor of the next (older) page, None on the last one
    query: TimelineQuery = field(default_factory=TimelineQuery)


def _range(family: str | None, cursor: bool, limit: int):
    t = TimelineEvent
    conditions = [t.shop_id == int_param("shop_id"), t.customer_id == int_param("customer_id")]
    if family is not None:
        conditions.append(t.family == bindparam(f"family_{family}", family))
    if cursor:
        at = bindparam("before_at", type_=UTCDateTime())
        # `occurred_at <= at` bounds the index range on both databases; the OR only sorts
        # out the events of that very instant.
        conditions += [t.occurred_at <= at, or_(t.occurred_at < at, t.id < int_param("before_id"))]
    return (
        select(t.id, t.occurred_at)
        .where(and_(*conditions))
        .order_by(t.occurred_at.desc(), t.id.desc())
        .limit(limit)
    )


@functools.lru_cache(maxsize=64)
def _page_statement(families: tuple[str, ...] | None, cursor: bool, limit: int):
    if families is None:
        return _range(None, cursor, limit)
    parts = [_range(f, cursor, limit).subquery() for f in families]
    merged = union_all(*(select(p.c.id, p.c.occurred_at) for p in parts)).subquery()
    return (
        select(merged.c.id, merged.c.occurred_at)
        .order_by(merged.c.occurred_at.desc(), merged.c.id.desc())
        .limit(limit)
    )


def page_keys(
    session: Session, shop_id: int, customer_id: int, query: TimelineQuery, limit: int
) -> list[Any]:
    """(id, occurred_at) of up to `limit` events the query selects, newest first: the index
    ranges only, one statement."""
    families = query.families
    if families == []:
        return []
    params: dict[str, Any] = {"shop_id": shop_id, "customer_id": customer_id}
    if query.before is not None:
        params["before_at"] = query.before.occurred_at
        params["before_id"] = query.before.id
    statement = _page_statement(
        tuple(families) if families is not None else None, query.before is not None, limit
    )
    return list(session.execute(statement, params).all())


def timeline_page(
    session: Session,
    shop: Shop,
    customer_id: int,
    query: TimelineQuery,
    *,
    page_size: int = PAGE_SIZE,
) -> TimelinePage:
    """The page of the shop's customer `customer_id`'s events that `query` selects: two
    statements, the page's ids from the index ranges, then those rows."""
    keys = page_keys(session, shop.id, customer_id, query, page_size + 1)
    more = len(keys) > page_size
    ids = [row.id for row in keys[:page_size]]
    rows: dict[int, TimelineEvent] = {}
    if ids:
        found = session.scalars(
            select(TimelineEvent).where(
                unindexed(TimelineEvent.shop_id) == shop.id, TimelineEvent.id.in_(ids)
            )
        )
        rows = {e.id: e for e in found}
    events = [rows[i] for i in ids if i in rows]
    older = Cursor(events[-1].occurred_at, events[-1].id) if more and events else None
    return TimelinePage(events, older, query)
