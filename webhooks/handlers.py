"""Handlers for sync and compliance topics: thin adapters from payload to services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app import privacy
from shopify_app.models import Shop, SyncRun, WebhookDelivery
from shopify_app.referrals import lifecycle, rewards
from shopify_app.sync.customers import delete_customer, upsert_customer
from shopify_app.sync.discounts import delete_discount, upsert_discount
from shopify_app.sync.orders import order_by_shopify_id, record_refund, upsert_order


def _fired_at(delivery: WebhookDelivery):
    return delivery.triggered_at or delivery.received_at


def customer_changed(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    upsert_customer(session, shop, payload)


def customer_deleted(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    delete_customer(session, shop, payload, _fired_at(delivery))


def order_changed(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    order = upsert_order(session, shop, payload)
    if order is not None:
        lifecycle.on_order(session, shop, order)


def refund_created(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    refund = record_refund(session, shop, payload)
    if refund is not None:
        order = order_by_shopify_id(session, shop.id, refund.order_shopify_id)
        if order is not None:
            lifecycle.on_order(session, shop, order)


def discount_changed(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    discount = upsert_discount(session, shop, payload)
    if discount is not None and discount.deleted_at is None:
        rewards.reflect_discount(session, shop, discount.node_gid, discount.status)


def discount_deleted(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    discount = delete_discount(session, shop, payload, _fired_at(delivery))
    if discount is not None:
        rewards.reflect_discount(session, shop, discount.node_gid, "DELETED")


def shop_redact(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    privacy.redact_shop(session, shop, keep_delivery_id=delivery.id)


def customers_redact(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    privacy.redact_customer(session, shop, payload, current_delivery_id=delivery.id)


def customers_data_request(
    session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery
) -> None:
    privacy.answer_data_request(session, shop, payload, current_delivery_id=delivery.id)


def bulk_operation_finished(
    session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery
) -> None:
    """Hand the finished operation to the import that started it (if it was ours)."""
    from workers.queues import enqueue_after_commit

    gid = str(payload.get("admin_graphql_api_id") or "")
    run = session.scalar(
        select(SyncRun).where(SyncRun.shop_id == shop.id, SyncRun.bulk_operation_gid == gid)
    )
    if run is not None and run.status == "running":
        enqueue_after_commit(session, "workers.sync_jobs.advance_import", run.id)
