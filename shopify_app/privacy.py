"""GDPR/CPRA compliance: erase a shop, redact a customer, answer a data request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shopify_app.models import (
    Customer,
    DataRequest,
    DiscountCode,
    OAuthState,
    Order,
    OrderLineItem,
    Refund,
    Shop,
    TimelineEvent,
    WebhookDelivery,
    utcnow,
)
from shopify_app.shopify.offline_tokens import clear_tokens
from shopify_app.sync.customers import customer_by_shopify_id
from shopify_app.sync.values import parse_id
from shopify_app.timeline.events import record_event

# What stays of a redacted customer's timeline: anonymous aggregates only.
AGGREGATE_KEYS = ("order_id", "total_minor", "amount_minor", "currency", "refund_id")


def redact_shop(session: Session, shop: Shop, *, keep_delivery_id: int | None = None) -> None:
    """Erase everything the app holds for the shop but the bare row that records the erasure."""
    for model in (TimelineEvent, OrderLineItem, Refund, DataRequest, DiscountCode):
        session.execute(delete(model).where(model.shop_id == shop.id))
    session.execute(delete(Order).where(Order.shop_id == shop.id))
    session.execute(delete(Customer).where(Customer.shop_id == shop.id))
    session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.shop_id == shop.id, WebhookDelivery.id != (keep_delivery_id or -1)
        )
    )
    session.execute(delete(OAuthState).where(OAuthState.shop_domain == shop.domain))
    clear_tokens(shop)
    shop.name = None
    shop.scopes = ""
    if shop.uninstalled_at is None:
        shop.uninstalled_at = utcnow()


def redact_customer(session: Session, shop: Shop, payload: dict[str, Any]) -> Customer | None:
    """Remove the customer's personal data from the customer, their orders and timeline."""
    customer_data = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shopify_id = parse_id(customer_data.get("id"))
    order_ids = [i for i in (parse_id(o) for o in payload.get("orders_to_redact") or []) if i]
    customer = customer_by_shopify_id(session, shop.id, shopify_id) if shopify_id else None
    now = utcnow()
    conditions = [Order.shopify_id.in_(order_ids)] if order_ids else []
    if customer is not None:
        conditions.append(Order.customer_id == customer.id)
    if conditions:
        for order in session.scalars(
            select(Order).where(Order.shop_id == shop.id, or_(*conditions))
        ):
            order.email = order.client_ip = order.user_agent = None
            order.shipping_address = None
            order.redacted_at = now
    if customer is None:
        return None
    customer.email = customer.email_normalized = customer.phone = None
    customer.first_name = customer.last_name = None
    customer.tags = ""
    customer.redacted_at = now
    for event in session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.shop_id == shop.id, TimelineEvent.customer_id == customer.id
        )
    ):
        event.payload = {k: v for k, v in (event.payload or {}).items() if k in AGGREGATE_KEYS}
        event.actor = None
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind="privacy.redacted",
        occurred_at=now,
        source="shopify",
        payload={},
        dedupe_key=f"customer:{shopify_id}:redacted",
    )
    return customer


def customer_data(session: Session, shop: Shop, customer: Customer) -> dict[str, Any]:
    """Everything the app holds about one customer, as plain JSON values."""
    orders = session.scalars(
        select(Order).where(Order.shop_id == shop.id, Order.customer_id == customer.id)
    ).all()
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.shop_id == shop.id, TimelineEvent.customer_id == customer.id)
        .order_by(TimelineEvent.occurred_at)
    ).all()
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "customer": {
            "shopify_id": customer.shopify_id,
            "email": customer.email,
            "phone": customer.phone,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "account_state": customer.account_state,
            "tags": customer.tags,
            "email_marketing_state": customer.email_marketing_state,
            "sms_marketing_state": customer.sms_marketing_state,
            "created_at": iso(customer.shopify_created_at),
        },
        "orders": [
            {
                "shopify_id": o.shopify_id,
                "name": o.name,
                "currency": o.currency,
                "total_minor": o.total_minor,
                "refunded_minor": o.refunded_minor,
                "discount_codes": o.discount_codes,
                "note_attributes": o.note_attributes,
                "landing_site": o.landing_site,
                "referring_site": o.referring_site,
                "client_ip": o.client_ip,
                "user_agent": o.user_agent,
                "shipping_address": o.shipping_address,
                "processed_at": iso(o.processed_at),
                "line_items": [
                    {
                        "title": li.title,
                        "sku": li.sku,
                        "quantity": li.quantity,
                        "price_minor": li.price_minor,
                    }
                    for li in o.line_items
                ],
            }
            for o in orders
        ],
        "timeline": [
            {
                "occurred_at": iso(e.occurred_at),
                "source": e.source,
                "kind": e.kind,
                "payload": e.payload,
            }
            for e in events
        ],
    }


def answer_data_request(session: Session, shop: Shop, payload: dict[str, Any]) -> DataRequest:
    """Record the request and keep the customer's data for the merchant to download."""
    customer_info = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shopify_id = parse_id(customer_info.get("id"))
    request_id = (
        parse_id((payload.get("data_request") or {}).get("id"))
        if isinstance(payload.get("data_request"), dict)
        else None
    )
    if request_id is not None:
        existing = session.scalar(
            select(DataRequest).where(
                DataRequest.shop_id == shop.id, DataRequest.shopify_request_id == request_id
            )
        )
        if existing is not None:
            return existing
    customer = customer_by_shopify_id(session, shop.id, shopify_id) if shopify_id else None
    content = (
        customer_data(session, shop, customer)
        if customer
        else {
            "customer": None,
            "orders": [],
            "timeline": [],
            "note": "The app holds no data about this customer.",
        }
    )
    request = DataRequest(
        shop_id=shop.id,
        shopify_request_id=request_id,
        customer_shopify_id=shopify_id,
        customer_email=str(customer_info.get("email") or "")[:320] or None,
        requested_at=utcnow(),
        content=content,
    )
    session.add(request)
    session.flush()
    if customer is not None:
        record_event(
            session,
            shop_id=shop.id,
            customer_id=customer.id,
            kind="privacy.data_requested",
            occurred_at=request.requested_at,
            source="shopify",
            payload={"data_request_id": request.id},
            dedupe_key=f"data_request:{request_id or request.id}",
        )
    return request
