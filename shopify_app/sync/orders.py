"""Orders and refunds from Shopify's REST-shaped payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from shopify_app.db import get_or_insert, insert_ignore
from shopify_app.models import Customer, Order, OrderLineItem, Refund, Shop
from shopify_app.timeline.events import record_event
from shopify_app.values import (
    clean_str,
    customer_locale,
    is_stale,
    parse_id,
    parse_timestamp,
    to_minor,
)

from .customers import upsert_customer


def order_by_shopify_id(
    session: Session, shop_id: int, shopify_id: int, *, lock: bool = False
) -> Order | None:
    query = select(Order).where(Order.shop_id == shop_id, Order.shopify_id == shopify_id)
    return session.scalar(query.with_for_update() if lock else query)


def _row_for(
    session: Session, shop: Shop, shopify_id: int, payload: dict, prepare: Callable[[Order], None]
) -> tuple[Order, bool]:
    return get_or_insert(
        session,
        Order,
        {"shop_id": shop.id, "shopify_id": shopify_id},
        {
            "name": clean_str(payload.get("name"), 64) or f"#{shopify_id}",
            "currency": (payload.get("currency") or "XXX")[:3],
        },
        prepare=prepare,
    )


def _discount_codes(payload: dict, currency: str) -> list[dict[str, Any]]:
    codes = []
    for entry in payload.get("discount_codes") or []:
        if isinstance(entry, dict) and entry.get("code"):
            codes.append(
                {
                    "code": str(entry["code"])[:255],
                    "amount_minor": to_minor(entry.get("amount"), currency),
                    "type": entry.get("type"),
                }
            )
    return codes


def _note_attributes(payload: dict) -> list[dict[str, str]]:
    return [
        {"name": str(a.get("name"))[:255], "value": str(a.get("value"))[:1000]}
        for a in payload.get("note_attributes") or []
        if isinstance(a, dict) and a.get("name") is not None
    ]


def _line_items(shop: Shop, order: Order, payload: dict, currency: str) -> list[dict[str, Any]]:
    items = []
    for position, line in enumerate(payload.get("line_items") or []):
        if not isinstance(line, dict):
            continue
        items.append(
            {
                "shop_id": shop.id,
                "order_id": order.id,
                "position": position,
                "shopify_id": parse_id(line.get("id")),
                "product_id": parse_id(line.get("product_id")),
                "variant_id": parse_id(line.get("variant_id")),
                "sku": clean_str(line.get("sku"), 255),
                "title": str(line.get("title") or "")[:1000],
                "quantity": int(line.get("quantity") or 0),
                "price_minor": to_minor(line.get("price"), currency),
            }
        )
    return items


def _replace_line_items(
    session: Session, shop: Shop, order: Order, payload: dict, currency: str, *, new: bool
) -> None:
    """Replace the order's items with the payload's: one DELETE (none for a new order) and
    one executemany INSERT, instead of loading the old collection through the ORM."""
    table = OrderLineItem.__table__
    if not new:
        session.execute(
            delete(table).where(table.c.shop_id == shop.id, table.c.order_id == order.id)
        )
    items = _line_items(shop, order, payload, currency)
    if items:
        session.execute(insert(table), items)
    if items or not new:
        session.expire(order, ["line_items"])


def upsert_order(session: Session, shop: Shop, payload: dict[str, Any]) -> Order | None:
    """Apply an order payload (orders/create, updated, paid, cancelled all carry the order).

    A payload older than the stored state changes nothing; its refunds are still recorded,
    since each refund is its own immutable fact.
    """
    shopify_id = parse_id(payload.get("id"))
    if shopify_id is None:
        return None
    currency = str(payload.get("currency") or "").upper()[:3] or "XXX"
    updated_at = parse_timestamp(payload.get("updated_at"))
    customer = None
    if isinstance(payload.get("customer"), dict):
        customer = upsert_customer(session, shop, payload["customer"])

    def apply(order: Order) -> None:
        _apply_order_fields(shop, order, payload, currency, customer)
        order.shopify_updated_at = updated_at or order.shopify_updated_at

    order, new = _row_for(session, shop, shopify_id, payload, apply)
    if new or not is_stale(updated_at, order.shopify_updated_at):
        if not new:
            apply(order)
        if "line_items" in payload:
            _replace_line_items(session, shop, order, payload, currency, new=new)

    _order_events(session, shop, order)
    for refund in payload.get("refunds") or []:
        if isinstance(refund, dict):
            record_refund(
                session, shop, {**refund, "order_id": shopify_id}, currency=order.currency
            )
    return order


def _apply_order_fields(
    shop: Shop, order: Order, payload: dict, currency: str, customer: Customer | None
) -> None:
    """Set what the payload carries; a field it lacks (a GraphQL-sourced payload has no
    landing site, say) keeps its stored value."""
    present = payload.__contains__
    order.name = clean_str(payload.get("name"), 64) or order.name
    order.currency = currency
    if customer is not None:
        order.customer_id = customer.id
        order.customer_shopify_id = customer.shopify_id
        if customer.redacted_at is not None and order.redacted_at is None:
            order.redacted_at = customer.redacted_at
        locale = customer_locale(payload.get("customer_locale"))
        if locale and customer.redacted_at is None:
            customer.locale = locale
    if order.redacted_at is None:
        if present("email") or present("contact_email"):
            order.email = clean_str(payload.get("email") or payload.get("contact_email"), 320)
        client = (
            payload.get("client_details") if isinstance(payload.get("client_details"), dict) else {}
        )
        if present("browser_ip") or client:
            order.client_ip = clean_str(payload.get("browser_ip") or client.get("browser_ip"), 64)
        if client:
            order.user_agent = clean_str(client.get("user_agent"), 2000)
        if present("shipping_address"):
            address = payload.get("shipping_address")
            order.shipping_address = address if isinstance(address, dict) else None
    for key, attr in (
        ("total_price", "total_minor"),
        ("subtotal_price", "subtotal_minor"),
        ("total_discounts", "total_discounts_minor"),
    ):
        if present(key):
            setattr(order, attr, to_minor(payload.get(key), currency))
    if present("discount_codes"):
        order.discount_codes = _discount_codes(payload, currency)
    if order.redacted_at is None:
        if present("note_attributes"):
            order.note_attributes = _note_attributes(payload)
        for key in ("landing_site", "referring_site"):
            if present(key):
                setattr(order, key, clean_str(payload.get(key), 4000))
    for key, limit in (("financial_status", 32), ("fulfillment_status", 32), ("cancel_reason", 32)):
        if present(key):
            setattr(order, key, clean_str(payload.get(key), limit))
    if present("cancelled_at"):
        order.cancelled_at = parse_timestamp(payload.get("cancelled_at"))
    if present("processed_at"):
        order.processed_at = parse_timestamp(payload.get("processed_at"))
    order.shopify_created_at = (
        parse_timestamp(payload.get("created_at")) or order.shopify_created_at
    )


# An order that was paid, whatever happened after (a refund keeps the payment on the timeline).
PAID_STATUSES = ("paid", "partially_refunded", "refunded")


def _order_events(session: Session, shop: Shop, order: Order) -> None:
    """The order's facts on its customer's timeline, each once (the dedupe keys): placed,
    paid, fulfilled, cancelled. Refunds are their own (`record_refund`)."""
    summary = {
        "order": order.name,
        "order_id": order.shopify_id,
        "total_minor": order.total_minor,
        "currency": order.currency,
        "discount_codes": [c["code"] for c in order.discount_codes],
    }
    record_event(
        session,
        shop_id=shop.id,
        customer_id=order.customer_id,
        kind="order.placed",
        occurred_at=order.processed_at or order.shopify_created_at,
        source="shopify",
        payload=summary,
        dedupe_key=f"order:{order.shopify_id}:placed",
    )
    changed_at = order.shopify_updated_at or order.processed_at or order.shopify_created_at
    if order.financial_status in PAID_STATUSES:
        record_event(
            session,
            shop_id=shop.id,
            customer_id=order.customer_id,
            kind="order.paid",
            occurred_at=order.processed_at if order.financial_status == "paid" else changed_at,
            source="shopify",
            payload=summary,
            dedupe_key=f"order:{order.shopify_id}:paid",
        )
    if order.fulfillment_status == "fulfilled":
        record_event(
            session,
            shop_id=shop.id,
            customer_id=order.customer_id,
            kind="order.fulfilled",
            occurred_at=changed_at,
            source="shopify",
            payload=summary,
            dedupe_key=f"order:{order.shopify_id}:fulfilled",
        )
    if order.cancelled_at is not None:
        record_event(
            session,
            shop_id=shop.id,
            customer_id=order.customer_id,
            kind="order.cancelled",
            occurred_at=order.cancelled_at,
            source="shopify",
            payload={**summary, "reason": order.cancel_reason},
            dedupe_key=f"order:{order.shopify_id}:cancelled",
        )


def _refund_amount(payload: dict, currency: str) -> int:
    transactions = [
        t
        for t in payload.get("transactions") or []
        if isinstance(t, dict)
        and t.get("kind") == "refund"
        and t.get("status") in (None, "success")
    ]
    if transactions:
        return sum(to_minor(t.get("amount"), currency) for t in transactions)
    return sum(
        to_minor(line.get("subtotal"), currency)
        for line in payload.get("refund_line_items") or []
        if isinstance(line, dict)
    )


def record_refund(
    session: Session, shop: Shop, payload: dict[str, Any], currency: str | None = None
) -> Refund | None:
    """Record a refund once (unique per Shopify id) and recompute the order's refunded total."""
    refund_id, order_id = parse_id(payload.get("id")), parse_id(payload.get("order_id"))
    if refund_id is None or order_id is None:
        return None
    order = order_by_shopify_id(session, shop.id, order_id, lock=True)
    currency = currency or (order.currency if order else None) or "XXX"
    insert_ignore(
        session,
        Refund,
        {
            "shop_id": shop.id,
            "shopify_id": refund_id,
            "order_shopify_id": order_id,
            "amount_minor": _refund_amount(payload, currency),
            "currency": currency,
            "note": clean_str(payload.get("note"), 2000),
            "shopify_created_at": parse_timestamp(payload.get("created_at")),
        },
        ["shop_id", "shopify_id"],
    )
    refund = session.scalar(
        select(Refund).where(Refund.shop_id == shop.id, Refund.shopify_id == refund_id)
    )
    if order is not None:
        order.refunded_minor = session.scalar(
            select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
                Refund.shop_id == shop.id, Refund.order_shopify_id == order_id
            )
        )
        record_event(
            session,
            shop_id=shop.id,
            customer_id=order.customer_id,
            kind="order.refunded",
            occurred_at=refund.shopify_created_at if refund else None,
            source="shopify",
            payload={
                "order": order.name,
                "order_id": order_id,
                "refund_id": refund_id,
                "amount_minor": refund.amount_minor if refund else 0,
                "currency": currency,
            },
            dedupe_key=f"refund:{refund_id}",
        )
    return refund
