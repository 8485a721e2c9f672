"""Third parties' timeline events (E3, G5) over the API."""

from __future__ import annotations

from datetime import datetime

from shopify_app.db import get_session
from shopify_app.timeline import third_party

from . import representations
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
