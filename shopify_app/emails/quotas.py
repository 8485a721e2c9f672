"""Sending limits as counters in the database (`send_quotas`).

A unit is taken with one conditional upsert, `INSERT ... ON CONFLICT DO UPDATE SET count =
count + n WHERE count + n <= limit RETURNING count`, inside the transaction that queues the
emails: the count and the messages commit or roll back together (a crash never leaves a
count without its email, nor an email without its count), a second share that reaches
the same counter waits for the first one's commit and then sees its count (PostgreSQL
re-checks the WHERE on the row's newest version; SQLite has one writer), and a Redis
restart forgets nothing. Periods are fixed (UTC days, or blocks of N days), so a limit may
be reached twice across a period boundary; that is the price of one row per counter.

Keys of recipients and IP addresses are HMAC digests (a key derived from
`ENCRYPTION_KEY`): the counters hold no address.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shopify_app.crypto import derived_keys
from shopify_app.models import SendQuota, utcnow

KEY_PURPOSE = "referrals/send-quota-key/v1"
SCOPES = ("recipient", "advocate", "ip", "shop")  # the order counters are taken in


@dataclass(frozen=True)
class Limit:
    """At most `limit` units per `days`-day period for one (scope, key)."""

    scope: str
    key: str
    limit: int
    days: int = 1


def digest(value: str) -> str:
    """A stable, keyed stand-in for an address in a counter's key."""
    key = derived_keys(current_app.config["ENCRYPTION_KEY"], KEY_PURPOSE)[0]
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:48]


def period_of(days: int, today: date | None = None) -> tuple[int, datetime]:
    """(period number, when it ends) of the `days`-day block `today` falls in."""
    today = today or utcnow().date()
    number = today.toordinal() // days
    end = date.fromordinal((number + 1) * days)
    return number, datetime.combine(end, time(), tzinfo=UTC)


@functools.cache
def _take_statement(dialect: str):
    table = SendQuota.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(
        shop_id=bindparam("shop_id"),
        scope=bindparam("scope"),
        key=bindparam("key"),
        period=bindparam("period"),
        count=bindparam("n"),
        expires_at=bindparam("expires_at", type_=table.c.expires_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["shop_id", "scope", "key", "period"],
        set_={"count": table.c.count + stmt.excluded.count},
        where=table.c.count + stmt.excluded.count <= bindparam("limit"),
    ).returning(table.c.count)


def take(session: Session, shop_id: int, limit: Limit, n: int = 1) -> bool:
    """Count `n` more units against `limit` if they fit; False (nothing counted) if not.
    The row stays locked until the transaction ends."""
    if n <= 0:
        return True
    if n > limit.limit:
        return False
    period, expires_at = period_of(limit.days)
    taken = session.execute(
        _take_statement(session.get_bind().dialect.name),
        {
            "shop_id": shop_id,
            "scope": limit.scope,
            "key": limit.key,
            "period": period,
            "n": n,
            "expires_at": expires_at,
            "limit": limit.limit,
        },
    ).scalar_one_or_none()
    return taken is not None


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Drop counters whose period has ended (a periodic job)."""
    cutoff = (now or utcnow()) - timedelta(minutes=1)
    return session.execute(delete(SendQuota).where(SendQuota.expires_at < cutoff)).rowcount
