"""The inbox, on a plain connection: insert-or-ignore (a duplicate delivery is a no-op at the
database) and the shop id lookup, without the ORM on the acknowledgement path."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore_stmt
from shopify_app.models import Shop, WebhookDelivery, utcnow

from .headers import DeliveryHeaders

_DELIVERIES = WebhookDelivery.__table__
_SHOPS = Shop.__table__


def shop_id_for(conn: Connection, domain: str, cache: dict[str, int]) -> int:
    """The shop's id, creating a not-installed row on first contact. Ids never change, so a
    per-process cache is always right."""
    if domain in cache:
        return cache[domain]
    shop_id = conn.scalar(select(_SHOPS.c.id).where(_SHOPS.c.domain == domain))
    if shop_id is None:
        now = utcnow()
        conn.execute(
            insert_ignore_stmt(
                conn.dialect.name,
                _SHOPS,
                {"domain": domain, "scopes": "", "created_at": now, "updated_at": now},
                ["domain"],
            )
        )
        shop_id = conn.scalar(select(_SHOPS.c.id).where(_SHOPS.c.domain == domain))
    if len(cache) > 10_000:
        cache.clear()
    cache[domain] = shop_id
    return shop_id


def store_delivery(
    conn: Connection,
    shop_id: int,
    headers: DeliveryHeaders,
    body: bytes,
    *,
    status: str = "pending",
    error: str | None = None,
) -> int | None:
    """Insert the delivery; return its id, or None when this webhook id was already stored."""
    values = {
        "shop_id": shop_id,
        "webhook_id": headers.webhook_id,
        "topic": headers.topic,
        "api_version": headers.api_version,
        "event_id": headers.event_id,
        "triggered_at": headers.triggered_at,
        "body": body,
        "status": status,
        "last_error": error,
        "attempts": 0,
        "received_at": utcnow(),
    }
    return conn.execute(_insert_delivery(conn.dialect.name), values).scalar_one_or_none()


@cache
def _insert_delivery(dialect: str):
    """Built once per dialect with bind parameters: this is the hot path of every webhook."""
    columns = (
        "shop_id",
        "webhook_id",
        "topic",
        "api_version",
        "event_id",
        "triggered_at",
        "body",
        "status",
        "last_error",
        "attempts",
        "received_at",
    )
    return insert_ignore_stmt(
        dialect,
        _DELIVERIES,
        {c: bindparam(c, type_=_DELIVERIES.c[c].type) for c in columns},
        ["shop_id", "webhook_id"],
    )


def list_deliveries(
    session: Session,
    *,
    status: str | None = None,
    shop_domain: str | None = None,
    limit: int = 50,
) -> list[tuple[WebhookDelivery, str]]:
    """Newest first, with each row's shop domain."""
    query = (
        select(WebhookDelivery, Shop.domain)
        .join(Shop, Shop.id == WebhookDelivery.shop_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if shop_domain:
        query = query.where(Shop.domain == shop_domain)
    return [(row, domain) for row, domain in session.execute(query).all()]


def replay(session: Session, delivery_ids: list[int]) -> list[int]:
    """Put finished or dead deliveries back to `pending` and enqueue them after commit.

    A replay is safe by construction: every handler is idempotent.
    """
    from workers.queues import enqueue_after_commit
    from workers.webhook_jobs import process_delivery

    replayed = []
    for delivery in session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.status != "processing"
        )
    ):
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.locked_until = delivery.next_attempt_at = None
        enqueue_after_commit(session, process_delivery, delivery.id)
        replayed.append(delivery.id)
    session.commit()
    return replayed
