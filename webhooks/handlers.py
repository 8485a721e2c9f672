"""Handlers for sync and compliance topics: thin adapters from payload to services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app import compliance, jobs
from shopify_app.models import Shop, SyncRun, WebhookDelivery
from shopify_app.referrals import rewards
from shopify_app.sync.consent import MalformedConsent
from shopify_app.sync.customers import consent_changed, delete_customer, upsert_customer
from shopify_app.sync.discounts import delete_discount, upsert_discount
from shopify_app.sync.order_flow import apply_order, apply_refund

from .errors import PermanentDeliveryError


def _fired_at(delivery: WebhookDelivery):
    return delivery.triggered_at or delivery.received_at


def customer_changed(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    upsert_customer(session, shop, payload, account_updated=delivery.topic == "customers/update")


def email_consent_changed(
    session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery
) -> None:
    _consent_changed(session, shop, "email", payload, delivery)


def sms_consent_changed(
    session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery
) -> None:
    _consent_changed(session, shop, "sms", payload, delivery)


def _consent_changed(
    session: Session, shop: Shop, channel: str, payload: Any, delivery: WebhookDelivery
) -> None:
    """A payload Shopify would never send is dead at once, with the reason, changing nothing."""
    try:
        consent_changed(session, shop, channel, payload, _fired_at(delivery))
    except MalformedConsent as exc:
        raise PermanentDeliveryError(str(exc)) from exc


def customer_deleted(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    delete_customer(session, shop, payload, _fired_at(delivery))


def order_changed(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    apply_order(session, shop, payload)


def refund_created(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    apply_refund(session, shop, payload)


def discount_changed(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    discount = upsert_discount(session, shop, payload)
    if discount is not None and discount.deleted_at is None:
        rewards.reflect_discount(session, shop, discount.node_gid, discount.status)


def discount_deleted(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    discount = delete_discount(session, shop, payload, _fired_at(delivery))
    if discount is not None:
        rewards.reflect_discount(session, shop, discount.node_gid, "DELETED")


def shop_redact(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    compliance.redact_shop(session, shop, keep_delivery_id=delivery.id)


def customers_redact(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    compliance.redact_customer(session, shop, payload, current_delivery_id=delivery.id)


def customers_data_request(
    session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery
) -> None:
    compliance.answer_data_request(session, shop, payload, current_delivery_id=delivery.id)


def bulk_operation_finished(
    session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery
) -> None:
    """Hand the finished operation to the import that started it (if it was ours)."""
    gid = str(payload.get("admin_graphql_api_id") or "")
    run = session.scalar(
        select(SyncRun).where(SyncRun.shop_id == shop.id, SyncRun.bulk_operation_gid == gid)
    )
    if run is not None and run.status == "running":
        jobs.enqueue_after_commit(session, jobs.ADVANCE_IMPORT, run.id)
