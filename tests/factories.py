"""Small factories for domain tests: each takes the session and overrides, adds one row with
sensible defaults, flushes (so it has its id) and returns it.

Identifiers come from one counter, so rows never collide with each other nor with rows a
live test left in the same database (Shopify ids from 10**9 up, codes with a unique tail).
For rows the sync writes (customers, orders, refunds), prefer going through the sync with a
payload from `tests/payloads.py`: the factories here are for the state a test starts from.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import (
    Advocate,
    Customer,
    Order,
    Program,
    Referral,
    Reward,
    Shop,
    WebhookDelivery,
    utcnow,
)
from shopify_app.referrals.program import get_program, terms_of

from . import payloads

_ids = itertools.count(1_000_000_001)


def next_id() -> int:
    """A Shopify-style id no other factory row has."""
    return next(_ids)


def _add(session: Session, row):
    session.add(row)
    session.flush()
    return row


def shop(session: Session, **overrides: Any) -> Shop:
    """An installed shop paying in EUR."""
    n = next_id()
    now = utcnow()
    values = {
        "domain": f"shop-{n}.myshopify.com",
        "name": f"Shop {n}",
        "currency": "EUR",
        "shopify_id": n,
        "scopes": "read_customers,read_orders,write_discounts",
        "installed_at": now - timedelta(days=1),
    }
    return _add(session, Shop(**{**values, **overrides}))


def customer(session: Session, shop: Shop, **overrides: Any) -> Customer:
    n = next_id()
    email = overrides.pop("email", f"customer-{n}@example.com")
    values = {
        "shop_id": shop.id,
        "shopify_id": n,
        "email": email,
        "email_normalized": email.lower() if email else None,
        "first_name": "Ada",
        "last_name": f"Customer{n}",
        "account_state": "enabled",
        "tags": "",
    }
    return _add(session, Customer(**{**values, **overrides}))


def program(session: Session, shop: Shop, **overrides: Any) -> Program:
    """The shop's program, enabled, with `overrides` applied (defaults otherwise: a fixed
    reward on payment, automatic approval, no delay, new customers only)."""
    row = get_program(session, shop)
    row.enabled = True
    for key, value in overrides.items():
        setattr(row, key, value)
    session.flush()
    return row


def advocate(
    session: Session, shop: Shop, customer_row: Customer | None = None, **overrides: Any
) -> Advocate:
    """An advocate (for a new customer unless one is given) with a unique code."""
    owner = customer_row or customer(session, shop)
    values = {
        "shop_id": shop.id,
        "customer_id": owner.id,
        "code": f"ADV-{next_id()}",
        "joined_at": utcnow(),
        "joined_via": "staff",
        "friend_discount_status": "active",
    }
    owner.program_joined = True
    return _add(session, Advocate(**{**values, **overrides}))


def order(session: Session, shop: Shop, customer_row: Customer | None = None, **overrides):
    """An order row as the sync stores it (no referral is made: see `payloads.order` and
    `sync.order_flow.apply_order` for that path)."""
    n = next_id()
    values = {
        "shop_id": shop.id,
        "shopify_id": n,
        "name": f"#{n}",
        "customer_id": customer_row.id if customer_row else None,
        "customer_shopify_id": customer_row.shopify_id if customer_row else None,
        "email": customer_row.email if customer_row else None,
        "currency": shop.currency or "USD",
        "total_minor": 8990,
        "subtotal_minor": 9990,
        "financial_status": "paid",
        "discount_codes": [],
        "note_attributes": [],
        "processed_at": utcnow(),
        "shopify_created_at": utcnow(),
    }
    return _add(session, Order(**{**values, **overrides}))


def referral(
    session: Session, shop: Shop, advocate_row: Advocate, order_row: Order, **overrides: Any
) -> Referral:
    """A referral row made directly (no rules run): the start state of a transition test."""
    now = utcnow()
    prog = get_program(session, shop)
    values = {
        "shop_id": shop.id,
        "advocate_id": advocate_row.id,
        "friend_customer_id": order_row.customer_id,
        "order_id": order_row.id,
        "order_shopify_id": order_row.shopify_id,
        "attribution": "discount_code",
        "attribution_evidence": {},
        "status": "pending",
        "terms": terms_of(prog),
        "program_version": prog.version,
        "order_total_minor": order_row.total_minor,
        "currency": order_row.currency,
        "created_at": now,
        "updated_at": now,
    }
    return _add(session, Referral(**{**values, **overrides}))


def reward(session: Session, shop: Shop, referral_row: Referral, **overrides: Any) -> Reward:
    values = {
        "shop_id": shop.id,
        "referral_id": referral_row.id,
        "advocate_id": referral_row.advocate_id,
        "code": f"REWARD-{next_id()}",
        "kind": "fixed_amount",
        "value": 1000,
        "currency": referral_row.currency,
        "status": "issued",
        "discount_gid": f"gid://shopify/DiscountCodeNode/{next_id()}",
        "issued_at": utcnow(),
    }
    return _add(session, Reward(**{**values, **overrides}))


def delivery(
    session: Session,
    shop: Shop,
    topic: str,
    payload: dict[str, Any] | bytes,
    **overrides: Any,
) -> WebhookDelivery:
    """A stored webhook delivery, as the intake leaves it (`pending`)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    values = {
        "shop_id": shop.id,
        "webhook_id": f"wh-{next_id()}",
        "topic": topic,
        "api_version": "2026-07",
        "body": body,
        "status": "pending",
        "attempts": 0,
        "received_at": utcnow(),
    }
    return _add(session, WebhookDelivery(**{**values, **overrides}))


def order_payload(
    code: str | None = None, *, oid: int | None = None, cid: int | None = None, **overrides: Any
) -> dict[str, Any]:
    """`payloads.order` with fresh ids, carrying `code` as its only referral signal (a
    `referral_code` cart attribute) unless `overrides` say otherwise."""
    oid = oid or next_id()
    cid = cid or next_id()
    body = payloads.order(
        oid,
        cid=cid,
        discount_codes=[],
        note_attributes=[{"name": "referral_code", "value": code}] if code else [],
        landing_site=None,
    )
    body["name"] = f"#{oid}"
    body.update(overrides)
    return body


def refund_payload(order_id: int, amount: str, *, rid: int | None = None) -> dict[str, Any]:
    return payloads.refund(rid or next_id(), order_id, amount)
