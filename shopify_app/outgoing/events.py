"""Emitting events: `emit` is what domain code calls where something happens.

The event and one delivery per enabled endpoint subscribed to its type are written in the
caller's transaction, so they exist exactly when what they announce does (a rollback takes
them away); the endpoints' delivery jobs are enqueued after the commit. `key` makes it
idempotent: the same key twice (a duplicate webhook, a retried job) is one event. A shop
without a subscribed endpoint costs one indexed read and writes nothing.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.db import insert_ignore
from shopify_app.models import OutgoingDelivery, OutgoingEndpoint, OutgoingEvent, Shop, utcnow

from .event_types import EVENT_TYPES, TEST_EVENT_TYPE

MAX_DATA_BYTES = 64 * 1024


def new_public_id() -> str:
    return "evt_" + secrets.token_hex(12)


def _subscribed(session: Session, shop: Shop, event_type: str) -> list[int]:
    rows = session.execute(
        select(OutgoingEndpoint.id, OutgoingEndpoint.event_types).where(
            OutgoingEndpoint.shop_id == shop.id, OutgoingEndpoint.enabled.is_(True)
        )
    ).all()
    return [endpoint_id for endpoint_id, types in rows if event_type in (types or ())]


def emit(session: Session, shop: Shop, event_type: str, data: dict[str, Any], *, key: str) -> None:
    """Announce `event_type` with `data` to the shop's subscribed endpoints (see the module
    docstring). Raises ValueError for an unknown type or data that is not small JSON."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outgoing event type {event_type!r}")
    endpoint_ids = _subscribed(session, shop, event_type)
    if not endpoint_ids:
        return
    _create(session, shop, event_type, data, key, endpoint_ids)


def _create(
    session: Session,
    shop: Shop,
    event_type: str,
    data: dict[str, Any],
    key: str,
    endpoint_ids: list[int],
    *,
    replay_of_id: int | None = None,
) -> OutgoingEvent | None:
    if len(json.dumps(data, separators=(",", ":"), default=str)) > MAX_DATA_BYTES:
        raise ValueError(f"the {event_type} payload is over {MAX_DATA_BYTES} bytes")
    now = utcnow()
    event_id = insert_ignore(
        session,
        OutgoingEvent,
        {
            "shop_id": shop.id,
            "public_id": new_public_id(),
            "event_type": event_type,
            "idempotency_key": key[:255],
            "data": data,
            "occurred_at": now,
        },
        ["shop_id", "idempotency_key"],
    )
    if event_id is None:
        return None  # emitted before under this key
    session.add_all(
        OutgoingDelivery(
            shop_id=shop.id,
            endpoint_id=endpoint_id,
            event_id=event_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            replay_of_id=replay_of_id,
            created_at=now,
            updated_at=now,
        )
        for endpoint_id in endpoint_ids
    )
    session.flush()
    for endpoint_id in endpoint_ids:
        schedule_endpoint(session, endpoint_id)
    return session.get(OutgoingEvent, event_id)


class _DeliverJob:
    """The endpoint's delivery job, enqueued after the commit (a callable that knows its
    endpoint, so one transaction enqueues it once)."""

    def __init__(self, endpoint_id: int) -> None:
        self.endpoint_id = endpoint_id

    def __call__(self) -> None:
        jobs.get_queue().enqueue_call(jobs.DELIVER_OUTGOING, args=(self.endpoint_id,))


def schedule_endpoint(session: Session, endpoint_id: int) -> None:
    """The endpoint's delivery job, once per transaction, after it commits (a rollback
    forgets it with the deliveries)."""
    pending = session.info.get("after_commit", [])
    if any(isinstance(c, _DeliverJob) and c.endpoint_id == endpoint_id for c in pending):
        return
    jobs.after_commit(session, _DeliverJob(endpoint_id))


def send_test(session: Session, shop: Shop, endpoint: OutgoingEndpoint) -> OutgoingDelivery:
    """A `webhook.test` event to this endpoint only (whatever it subscribes to), now."""
    event = OutgoingEvent(
        shop_id=shop.id,
        public_id=new_public_id(),
        event_type=TEST_EVENT_TYPE,
        idempotency_key=f"test:{endpoint.id}:{secrets.token_hex(8)}",
        data={"message": "A test event from the referral app.", "endpoint_id": endpoint.id},
        occurred_at=utcnow(),
    )
    session.add(event)
    session.flush()
    return _new_delivery(session, shop, endpoint, event, replay_of_id=None)


def replay(session: Session, shop: Shop, delivery: OutgoingDelivery) -> OutgoingDelivery:
    """The delivery's event sent again to its endpoint, as a new delivery (same
    `webhook-id`, a fresh timestamp and signature)."""
    endpoint = session.get(OutgoingEndpoint, delivery.endpoint_id)
    event = session.get(OutgoingEvent, delivery.event_id)
    assert endpoint is not None and event is not None and endpoint.shop_id == shop.id
    return _new_delivery(session, shop, endpoint, event, replay_of_id=delivery.id)


def _new_delivery(
    session: Session,
    shop: Shop,
    endpoint: OutgoingEndpoint,
    event: OutgoingEvent,
    *,
    replay_of_id: int | None,
) -> OutgoingDelivery:
    if not endpoint.enabled:
        raise ValueError("the endpoint is disabled: enable it first")
    now = utcnow()
    delivery = OutgoingDelivery(
        shop_id=shop.id,
        endpoint_id=endpoint.id,
        event_id=event.id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        replay_of_id=replay_of_id,
    )
    session.add(delivery)
    endpoint.retry_at = None  # the merchant asked for it now: no back-off wait
    session.flush()
    schedule_endpoint(session, endpoint.id)
    return delivery
