"""Customers from Shopify's REST-shaped payloads (webhooks, and the nested `order.customer`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import get_or_insert
from shopify_app.models import Customer, Shop
from shopify_app.outgoing import payloads
from shopify_app.outgoing.events import emit
from shopify_app.timeline.events import record_event
from shopify_app.values import clean_str, is_stale, normalize_email, parse_id, parse_timestamp

from . import signup_merge
from .consent import (
    PAYLOAD_KEYS,
    MalformedConsent,
    apply_consent,
    parse_consent,
    snapshot_consents,
    store_consent,
)


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


def _customer_for(
    session: Session,
    shop: Shop,
    shopify_id: int,
    payload: dict[str, Any],
    prepare: Callable[[Customer], None],
) -> tuple[Customer, bool, list[datetime]]:
    """The customer's row, locked, for a payload: a storefront signup record with the same
    email or phone becomes it (`signup_merge`), never a second row. (row, inserted, the
    dates of the confirmed email opt-ins the merged records carried)."""
    email, phone = signup_merge.addresses_of(payload) if payload else (None, None)
    existing, records = signup_merge.customer_and_records(session, shop, shopify_id, email, phone)
    opt_ins = [at for at in map(signup_merge.confirmed_opt_in, records) if at is not None]
    if existing is None and records:
        first = records.pop(0)
        by = signup_merge.matched_by(first, email, phone)
        existing = signup_merge.adopt(session, shop, first, shopify_id, by=by)
    if existing is not None:
        if existing.redacted_at is not None or existing.deleted_at is not None:
            return existing, False, []
        for record in records:
            by = signup_merge.matched_by(record, email, phone)
            signup_merge.fold_into(session, shop, existing, record, by=by)
        return existing, False, opt_ins
    return (*_row_for(session, shop, shopify_id, prepare), [])


def upsert_customer(
    session: Session, shop: Shop, payload: dict[str, Any], *, account_updated: bool = False
) -> Customer | None:
    """Apply a customer payload; None when it has no id or is older than what is stored.
    `account_updated` (a `customers/update` delivery) puts the change on the timeline; the
    customer inside an order or an import is the same account seen again, not an update."""
    shopify_id = parse_id(payload.get("id"))
    if shopify_id is None:
        return None
    updated_at = parse_timestamp(payload.get("updated_at"))
    consents = snapshot_consents(payload, updated_at)

    def prepare(draft: Customer) -> None:
        _apply_fields(draft, payload, updated_at)
        for consent in consents:
            store_consent(draft, consent)

    customer, created, opt_ins = _customer_for(session, shop, shopify_id, payload, prepare)
    if not created:
        if is_stale(updated_at, customer.shopify_updated_at):
            return customer
        if customer.deleted_at is not None and (
            updated_at is None or updated_at <= customer.deleted_at
        ):
            return customer
        if customer.redacted_at is not None:
            return customer  # redacted data never comes back from a late delivery
        _apply_fields(customer, payload, updated_at)
        if account_updated and updated_at is not None:
            record_event(
                session,
                shop_id=shop.id,
                customer_id=customer.id,
                kind="customer.updated",
                occurred_at=updated_at,
                source="shopify",
                payload={"account_state": customer.account_state},
                dedupe_key=f"customer:{shopify_id}:updated:{updated_at.isoformat()}",
            )
            emit(
                session,
                shop,
                "customer.updated",
                {"customer": payloads.customer(customer)},
                key=f"customer.updated:{shopify_id}:{updated_at.isoformat()}",
            )

    for consent in consents:
        apply_consent(session, shop, customer, consent, change=False, created=created)
    signup_merge.share_opt_in(session, shop, customer, opt_ins)
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


def consent_changed(
    session: Session, shop: Shop, channel: str, payload: dict[str, Any], fired_at: datetime
) -> Customer | None:
    """A `customers_email_marketing_consent/update` (channel "email": `customer_id`,
    `email_marketing_consent`) or `customers_marketing_consent/update` ("sms": `id`,
    `sms_marketing_consent`). A customer not synced yet gets a row now (the consent topic
    can overtake `customers/create`), or takes over the storefront signup record with the
    address the payload names; a deleted or redacted one is left alone. Raises
    MalformedConsent for a payload that names no customer or carries no consent object."""
    key = PAYLOAD_KEYS[channel]
    shopify_id = parse_id(payload.get("customer_id") or payload.get("id"))
    if shopify_id is None:
        raise MalformedConsent(f"the {key} payload names no customer")
    if key not in payload:
        raise MalformedConsent(f"the payload carries no {key}")
    consent = parse_consent(channel, payload[key], fired_at)
    if consent is None:
        return None  # `state: null`: Shopify has no consent to tell
    addresses = {"email": payload.get("email_address"), "phone": payload.get("phone")}
    customer, created, opt_ins = _customer_for(
        session, shop, shopify_id, addresses, lambda draft: store_consent(draft, consent)
    )
    if not created and (customer.redacted_at is not None or customer.deleted_at is not None):
        return customer
    apply_consent(session, shop, customer, consent, change=True, created=created)
    signup_merge.share_opt_in(session, shop, customer, opt_ins)
    return customer


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
