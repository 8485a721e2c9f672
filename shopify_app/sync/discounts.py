"""Code discounts from `discounts/*` webhooks (which carry the node id, not the code)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.models import DiscountCode, Shop, utcnow
from shopify_app.values import clean_str, is_stale, parse_id, parse_timestamp

CODE_NODE = "gid://shopify/DiscountCodeNode/"


def discount_by_gid(session: Session, shop_id: int, gid: str) -> DiscountCode | None:
    return session.scalar(
        select(DiscountCode)
        .where(DiscountCode.shop_id == shop_id, DiscountCode.node_gid == gid)
        .with_for_update()
    )


def _row_for(session: Session, shop: Shop, gid: str) -> DiscountCode:
    existing = discount_by_gid(session, shop.id, gid)
    if existing is not None:
        return existing
    now = utcnow()
    insert_ignore(
        session,
        DiscountCode,
        {
            "shop_id": shop.id,
            "node_gid": gid,
            "shopify_id": parse_id(gid),
            "created_at": now,
            "updated_at": now,
        },
        ["shop_id", "node_gid"],
    )
    row = discount_by_gid(session, shop.id, gid)
    assert row is not None
    return row


def upsert_discount(session: Session, shop: Shop, payload: dict[str, Any]) -> DiscountCode | None:
    """Apply discounts/create or discounts/update; automatic discounts are not codes: skipped."""
    gid = str(payload.get("admin_graphql_api_id") or "")
    if not gid.startswith(CODE_NODE):
        return None
    updated_at = parse_timestamp(payload.get("updated_at"))
    discount = _row_for(session, shop, gid)
    if discount.deleted_at is not None or is_stale(updated_at, discount.shopify_updated_at):
        return discount
    discount.title = clean_str(payload.get("title"), 255) or discount.title
    discount.status = clean_str(payload.get("status"), 16) or discount.status
    if payload.get("code"):
        discount.code = str(payload["code"])[:255]
        discount.code_upper = discount.code.upper()
    discount.shopify_created_at = (
        parse_timestamp(payload.get("created_at")) or discount.shopify_created_at
    )
    discount.shopify_updated_at = updated_at or discount.shopify_updated_at
    return discount


def delete_discount(
    session: Session, shop: Shop, payload: dict[str, Any], deleted_at: datetime
) -> DiscountCode | None:
    gid = str(payload.get("admin_graphql_api_id") or "")
    if not gid.startswith(CODE_NODE):
        return None
    discount = _row_for(session, shop, gid)
    if discount.deleted_at is None:
        discount.deleted_at = parse_timestamp(payload.get("deleted_at")) or deleted_at
        discount.status = "DELETED"
    return discount
