"""An order or a refund from Shopify, whichever way it reached the app: stored, then handed to
the referral engine.

Webhooks (`orders/*`, `refunds/create`) and reconciliation (which re-reads what webhooks
missed) both call these two functions, so a recovered order is attributed, redeems the
reward code it carries and voids its referral when refunded exactly as a delivered one does.
Both halves are idempotent (upserts by Shopify id and `updated_at`, one referral per order,
one reward per referral and advocate), so whichever of a webhook and a reconciliation pass
comes second changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import Order, Refund, Shop
from shopify_app.referrals import states

from .orders import order_by_shopify_id, record_refund, upsert_order


def apply_order(session: Session, shop: Shop, payload: dict[str, Any]) -> Order | None:
    """An order payload (REST-shaped; GraphQL nodes go through `graphql_nodes` first),
    refunds it carries included."""
    order = upsert_order(session, shop, payload)
    if order is not None:
        states.on_order(session, shop, order)
    return order


def apply_refund(session: Session, shop: Shop, payload: dict[str, Any]) -> Refund | None:
    """A refund payload; its order, if stored, is re-run through the engine (a full refund
    voids the referral and claws the reward back)."""
    refund = record_refund(session, shop, payload)
    if refund is not None:
        order = order_by_shopify_id(session, shop.id, refund.order_shopify_id)
        if order is not None:
            states.on_order(session, shop, order)
    return refund
