"""Customers from Shopify's REST-shaped payloads (webhooks, and the nested `order.customer`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import get_or_insert
from shopify_app.models import Customer, Shop
from shopify_app.timeline.events import record_event

from .values import clean_str, is_stale, normalize_email, parse_id, parse_timestamp


def customer_by_shopify_id(
    session: Session, shop_id: int, shopify_id: int, *, lock: bool = False
) -> Customer | None:
    query = select(Customer).where(Customer.shop_id == shop_id, Customer.shopify_id == shopify_id)
    return session.scalar(query.with_for_update() if lock else query)


def _row_for(
    session: Session, shop: Shop, shopify_id: int, prepare: Callable[[Customer], None]
) -> tuple[Customer, bool]:
    """The customer's row, locked; a new one is inserted as `prepare` fills it (safe under
    concurrent workers)."""
    return get_or_insert(
        session,
        Customer,
        {"shop_id": shop.id, "shopify_id": shopify_id},
        {"tags": ""},
        prepare=prepare,
    )


def _consent_state(payload: dict[str, Any], key: str) -> tuple[bool, str | None, Any]:
    """(present, state, consent_updated_at) of `email_marketing_consent`/`sms_marketing_consent`.

    API 2025-01+ customer webhooks no longer carry consent: absent means "unknown", never
    "not subscribed".
    """
    if key not in payload:
        return False, None, None
    consent = payload.get(key)
    if not isinstance(consent, dict):
        return True, None, None
    state = consent.get("state")
    return True, (str(state).lower() if state else None), consent.get("consent_updated_at")


def upsert_customer(session: Session, shop: Shop, payload: dict[str, Any]) -> Customer | None:
    """Apply a customer payload; None when it has no id or is older than what is stored."""
    shopify_id = parse_id(payload.get("id"))
    if shopify_id is None:
        return None
    updated_at = parse_timestamp(payload.get("updated_at"))
    customer, created = _row_for(
        session, shop, shopify_id, lambda draft: _apply_fields(draft, payload, updated_at)
    )
    previous = {channel: None for channel in _CONSENT}
    if not created:
        if is_stale(updated_at, customer.shopify_updated_at):
            return customer
        if customer.deleted_at is not None and (
            updated_at is None or updated_at <= customer.deleted_at
        ):
            return customer
        if customer.redacted_at is not None:
            return customer  # redacted data never comes back from a late delivery
        previous = {channel: getattr(customer, attr) for channel, (_key, attr) in _CONSENT.items()}
        _apply_fields(customer, payload, updated_at)

    for channel, (key, _attr) in _CONSENT.items():
        _consent_event(session, shop, customer, payload, key, channel, previous[channel])
    if customer.shopify_created_at is not None:
        record_event(
            session,
            shop_id=shop.id,
            customer_id=customer.id,
            kind="customer.created",
            occurred_at=customer.shopify_created_at,
            source="shopify",
            payload={"account_state": customer.account_state},
            dedupe_key=f"customer:{shopify_id}:created",
        )
    return customer


_CONSENT = {
    "email": ("email_marketing_consent", "email_marketing_state"),
    "sms": ("sms_marketing_consent", "sms_marketing_state"),
}


def _apply_fields(customer: Customer, payload: dict[str, Any], updated_at) -> None:
    """Set what the payload carries (a field it lacks keeps its stored value)."""
    if "email" in payload:
        customer.email = clean_str(payload.get("email"), 320)
        customer.email_normalized = normalize_email(payload.get("email"))
    if "phone" in payload:
        customer.phone = clean_str(payload.get("phone"), 32)
    for field in ("first_name", "last_name"):
        if field in payload:
            setattr(customer, field, clean_str(payload.get(field), 255))
    if payload.get("state"):
        customer.account_state = str(payload["state"]).lower()[:16]
    if "tags" in payload:
        tags = payload.get("tags") or ""
        customer.tags = ", ".join(t.strip() for t in str(tags).split(",") if t.strip())
    customer.shopify_created_at = (
        parse_timestamp(payload.get("created_at")) or customer.shopify_created_at
    )
    customer.shopify_updated_at = updated_at or customer.shopify_updated_at
    for key, attr in _CONSENT.values():
        _present, state, _at = _consent_state(payload, key)
        if state is not None:
            setattr(customer, attr, state[:24])


def _consent_event(
    session: Session,
    shop: Shop,
    customer: Customer,
    payload: dict,
    key: str,
    channel: str,
    previous: str | None,
) -> None:
    """A consent change on the timeline (none for a first "not subscribed")."""
    present, state, consent_at = _consent_state(payload, key)
    if not present or state is None:
        return
    if previous == state or (previous is None and state == "not_subscribed"):
        return
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind=f"consent.{channel}",
        occurred_at=parse_timestamp(consent_at) or customer.shopify_updated_at,
        source="shopify",
        payload={"channel": channel, "from": previous, "to": state},
        dedupe_key=(
            f"customer:{customer.shopify_id}:{channel}:{state}:"
            f"{consent_at or customer.shopify_updated_at}"
        ),
    )


def delete_customer(
    session: Session, shop: Shop, payload: dict[str, Any], deleted_at: datetime
) -> Customer | None:
    """Honour a Shopify deletion: the row stays (referral history) but is marked deleted."""
    shopify_id = parse_id(payload.get("id"))
    if shopify_id is None:
        return None
    customer, created = _row_for(
        session, shop, shopify_id, lambda draft: setattr(draft, "deleted_at", deleted_at)
    )
    if created or customer.deleted_at is None:
        customer.deleted_at = deleted_at
        record_event(
            session,
            shop_id=shop.id,
            customer_id=customer.id,
            kind="customer.deleted",
            occurred_at=deleted_at,
            source="shopify",
            payload={},
            dedupe_key=f"customer:{shopify_id}:deleted",
        )
    return customer
