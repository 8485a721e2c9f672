"""Events a third party posts about a customer (the public API, built later; the CLI now).

Each is stored as a timeline event with source "api", the third party's name, a type of its
own ("review.submitted") and a few bounded properties, shown on the timeline with its source
name. Everything is validated here, so every door (API, CLI) refuses the same bad input with
the same sentence.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.models import Customer, Shop, TimelineEvent, utcnow

from .events import record_event

MAX_PROPERTIES = 30
MAX_KEY_LENGTH = 64
MAX_TEXT_LENGTH = 500
MAX_PAYLOAD_BYTES = 4096
MAX_FUTURE = timedelta(minutes=5)
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)

_TYPE = re.compile(r"[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,30}){0,3}")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_SOURCE_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_IDEMPOTENCY = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def valid_event_type(event_type: object) -> bool:
    """An event type third parties may use ("review.submitted", "subscription_started")."""
    return isinstance(event_type, str) and _TYPE.fullmatch(event_type) is not None


def valid_idempotency_key(key: object) -> bool:
    """1 to 100 letters, digits or '_', '.', ':', '-'."""
    return isinstance(key, str) and _IDEMPOTENCY.fullmatch(key) is not None


class InvalidEvent(ValueError):
    """The event was refused; the message says why, in a sentence."""


def _check_properties(properties: Any) -> dict[str, Any]:
    if not isinstance(properties, dict):
        raise InvalidEvent("Properties must be a JSON object of names and values.")
    if len(properties) > MAX_PROPERTIES:
        raise InvalidEvent(f"At most {MAX_PROPERTIES} properties are allowed.")
    for key, value in properties.items():
        if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
            raise InvalidEvent(
                f"The property name {str(key)[:80]!r} is not allowed: use letters, digits, "
                f"'_', '.' or '-', at most {MAX_KEY_LENGTH} characters, starting with a letter."
            )
        if isinstance(value, bool) or value is None or isinstance(value, int | float):
            if isinstance(value, float) and value != value:  # NaN
                raise InvalidEvent(f"The property {key!r} is not a number.")
            continue
        if not isinstance(value, str):
            raise InvalidEvent(
                f"The property {key!r} must be text, a number, true/false or null "
                "(no lists or objects)."
            )
        if len(value) > MAX_TEXT_LENGTH:
            raise InvalidEvent(f"The property {key!r} is longer than {MAX_TEXT_LENGTH} characters.")
    size = len(json.dumps(properties, ensure_ascii=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidEvent(f"The properties take {size} bytes; at most {MAX_PAYLOAD_BYTES}.")
    return dict(properties)


def validate(
    *,
    event_type: str,
    source_name: str,
    occurred_at: datetime | None,
    properties: Any,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """The event's fields, checked; raises InvalidEvent naming the first problem."""
    if not valid_event_type(event_type):
        raise InvalidEvent(
            "The type must be lowercase words joined by dots, like 'review.submitted'."
        )
    name = source_name.strip() if isinstance(source_name, str) else ""
    if not _SOURCE_NAME.fullmatch(name):
        raise InvalidEvent("The source name is required: 1 to 64 printable characters.")
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        raise InvalidEvent(
            "The idempotency key must be 1 to 100 letters, digits or '_', '.', ':', '-'."
        )
    now = utcnow()
    if occurred_at is not None:
        if occurred_at.tzinfo is None:
            raise InvalidEvent("The time must name its time zone (e.g. 2026-12-04T10:00:00Z).")
        if occurred_at > now + MAX_FUTURE:
            raise InvalidEvent("The time is in the future.")
        if occurred_at < OLDEST:
            raise InvalidEvent("The time is before the year 2000.")
    return {
        "type": event_type,
        "source_name": name,
        "occurred_at": occurred_at or now,
        "properties": _check_properties(properties),
        "idempotency_key": idempotency_key,
    }


def add_event(
    session: Session,
    shop: Shop,
    customer: Customer,
    *,
    event_type: str,
    source_name: str,
    properties: Any = None,
    occurred_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> TimelineEvent:
    """Store a third party's event on the shop's customer's timeline and return it. The same
    `idempotency_key` from the same source is one event. Raises InvalidEvent for bad input,
    a customer of another shop or an erased one. The caller commits."""
    if customer.shop_id != shop.id:
        raise InvalidEvent("No such customer in this shop.")
    if customer.redacted_at is not None:
        raise InvalidEvent("This customer's data was erased; no event can be added.")
    fields = validate(
        event_type=event_type,
        source_name=source_name,
        occurred_at=occurred_at,
        properties={} if properties is None else properties,
        idempotency_key=idempotency_key,
    )
    key = f"api:{fields['source_name']}:{idempotency_key or uuid.uuid4().hex}"
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind=fields["type"],
        occurred_at=fields["occurred_at"],
        source="api",
        source_name=fields["source_name"],
        payload={"properties": fields["properties"]},
        dedupe_key=key,
    )
    return session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.shop_id == shop.id, TimelineEvent.dedupe_key == key[:255]
        )
    ).one()
