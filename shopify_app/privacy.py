"""GDPR/CPRA compliance: erase a shop, redact a customer, answer a data request."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from shopify_app.emails.suppression import forget_customer as forget_suppressed
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
from shopify_app.referrals import privacy as referral_privacy
from shopify_app.shopify.offline_tokens import clear_tokens
from shopify_app.sync.customers import customer_by_shopify_id
from shopify_app.sync.values import parse_id
from shopify_app.timeline.events import record_event

# What stays of a redacted customer's timeline: anonymous aggregates only.
AGGREGATE_KEYS = ("order_id", "total_minor", "amount_minor", "currency", "refund_id")


def redact_shop(session: Session, shop: Shop, *, keep_delivery_id: int | None = None) -> None:
    """Erase everything the app holds for the shop but the bare row that records the erasure."""
    referral_privacy.erase_shop(session, shop)
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


REDACTED_BODY = b'{"redacted":true}'


def redact_order(order: Order, now: datetime) -> None:
    """Drop an order's personal fields; its totals, items and statuses stay, anonymous."""
    order.email = order.client_ip = order.user_agent = None
    order.shipping_address = None
    order.note_attributes = []
    order.landing_site = order.referring_site = None
    order.redacted_at = now


def redact_customer(
    session: Session,
    shop: Shop,
    payload: dict[str, Any],
    *,
    current_delivery_id: int | None = None,
) -> Customer | None:
    """Remove the customer's personal data wherever the app holds it: the customer, their
    orders (and refund notes), timeline payloads, data-request answers, and the raw bodies of
    stored webhook deliveries that mention them, the redaction request's own included
    (`current_delivery_id`). Totals stay, anonymous."""
    customer_data = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shopify_id = parse_id(customer_data.get("id"))
    order_ids = {i for i in (parse_id(o) for o in payload.get("orders_to_redact") or []) if i}
    customer = customer_by_shopify_id(session, shop.id, shopify_id) if shopify_id else None
    now = utcnow()
    conditions = [Order.shopify_id.in_(order_ids)] if order_ids else []
    if customer is not None:
        conditions.append(Order.customer_id == customer.id)
    if conditions:
        for order in session.scalars(
            select(Order).where(Order.shop_id == shop.id, or_(*conditions))
        ):
            redact_order(order, now)
            order_ids.add(order.shopify_id)
    if order_ids:
        for refund in session.scalars(
            select(Refund).where(Refund.shop_id == shop.id, Refund.order_shopify_id.in_(order_ids))
        ):
            refund.note = None
    if shopify_id is not None:
        for request in session.scalars(
            select(DataRequest).where(
                DataRequest.shop_id == shop.id, DataRequest.customer_shopify_id == shopify_id
            )
        ):
            request.content = {"redacted": True}
            request.customer_email = None
    _scrub_deliveries(session, shop, customer_data, shopify_id, order_ids, current_delivery_id)
    forget_suppressed(
        session, shop, [customer_data.get("email"), customer.email if customer else None]
    )
    if customer is None:
        return None
    referral_privacy.redact_customer(session, shop, customer.id)
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


def _mentions(payload: Any, ids: set[int], texts: set[str]) -> bool:
    """Does a JSON document carry one of these ids (as `id`, `order_id`, `customer.id`...) or
    one of these strings (email, phone) anywhere?"""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in ("id", "order_id", "customer_id") and parse_id(value) in ids:
                return True
            if _mentions(value, ids, texts):
                return True
        return False
    if isinstance(payload, list):
        return any(_mentions(v, ids, texts) for v in payload)
    return isinstance(payload, str) and payload.strip().lower() in texts


def _scrub_deliveries(
    session: Session,
    shop: Shop,
    customer_data: dict[str, Any],
    shopify_id: int | None,
    order_ids: set[int],
    current_delivery_id: int | None,
) -> None:
    """Replace stored webhook bodies that mention the customer or their orders. Finished rows
    only (and the request being processed): a pending one still has work to do, and is applied
    against rows that are already redacted."""
    ids = set(order_ids) | ({shopify_id} if shopify_id else set())
    texts = {
        str(v).strip().lower()
        for v in (customer_data.get("email"), customer_data.get("phone"))
        if v
    }
    if not ids and not texts:
        return
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.body).where(
            WebhookDelivery.shop_id == shop.id,
            or_(
                WebhookDelivery.status.in_(("done", "dead", "ignored", "skipped", "rejected")),
                WebhookDelivery.id == (current_delivery_id or -1),
            ),
        )
    ).all()
    for delivery_id, body in rows:
        try:
            document = json.loads(body)
        except ValueError:
            document = body.decode("utf-8", "replace")
        if (
            delivery_id == current_delivery_id
            or _mentions(document, ids, texts)
            or (isinstance(document, str) and any(t in document.lower() for t in texts))
        ):
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(body=REDACTED_BODY)
            )


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
        "referral_program": referral_privacy.customer_referral_data(session, shop, customer.id),
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
