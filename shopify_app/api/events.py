"""Third parties' timeline events (E3, G5) over the API."""

from __future__ import annotations

from datetime import datetime

from flask import request
from sqlalchemy import and_, or_, select

from shopify_app.db import get_session
from shopify_app.models import TimelineEvent
from shopify_app.timeline import third_party

from . import pagination, representations
from .blueprint import bp
from .customers import shop_customer
from .errors import ApiError, FieldError
from .guard import api_key_required, current_shop, json_body


def _field(message: str) -> str:
    """The field a third_party sentence is about."""
    lowered = message.lower()
    for word, field in (
        ("propert", "properties"),
        ("type", "type"),
        ("source", "source"),
        ("time", "occurred_at"),
        ("isoformat", "occurred_at"),
    ):
        if word in lowered:
            return field
    return "body"


@bp.post("/customers/<int:customer_id>/events")
@api_key_required("write")
def create_event(customer_id: int):
    customer = shop_customer(customer_id)
    body = json_body()
    occurred = body.get("occurred_at")
    try:
        event = third_party.add_event(
            get_session(),
            current_shop(),
            customer,
            event_type=body["type"],
            source_name=body["source"],
            properties=body.get("properties") or {},
            occurred_at=datetime.fromisoformat(occurred) if occurred else None,
        )
    except (third_party.InvalidEvent, ValueError) as exc:
        message = str(exc)
        raise ApiError(
            "validation_failed", message, [FieldError(_field(message), message)]
        ) from exc

    return representations.event(event), 201


@bp.get("/customers/<int:customer_id>/events")
@api_key_required("read")
def list_events(customer_id: int):
    """The customer's third-party events, newest first (by when they happened), over the
    timeline's (shop, customer, family, time) index."""
    customer = shop_customer(customer_id)
    size = pagination.limit()
    query = (
        select(TimelineEvent)
        .where(
            TimelineEvent.shop_id == current_shop().id,
            TimelineEvent.customer_id == customer.id,
            TimelineEvent.family == "api",
        )
        .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
        .limit(size + 1)
    )
    if "cursor" in request.args:
        values = pagination.decode(request.args["cursor"])
        try:
            moment, last_id = datetime.fromisoformat(values[0]), values[1]
        except (IndexError, TypeError, ValueError) as exc:
            raise pagination.malformed() from exc
        if not isinstance(last_id, int) or isinstance(last_id, bool) or moment.tzinfo is None:
            raise pagination.malformed()
        query = query.where(
            or_(
                TimelineEvent.occurred_at < moment,
                and_(TimelineEvent.occurred_at == moment, TimelineEvent.id < last_id),
            )
        )
    rows = list(get_session().scalars(query))
    page = rows[:size]
    last = page[-1] if len(rows) > size and page else None
    return {
        "data": [representations.event(e) for e in page],
        "next_cursor": pagination.encode([last.occurred_at.isoformat(), last.id]) if last else None,
    }
