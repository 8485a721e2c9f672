"""Reconciliation: re-read what changed in Shopify since the last pass and repair what missed
or failed webhooks left out, counting what it recovered for the merchant's report (H2).

Orders (with their refunds) go through `order_flow.apply_order`, the function the order
webhooks call: a recovered order is attributed, completes its referral, marks a reward it
redeemed Used, and a recovered refund voids the referral, exactly as if its webhook had come.
Each page of orders is its own transaction, so an order that fails stops the pass without
losing the pages before it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.models import Customer, Order, Shop, SyncRun, utcnow
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.services import ShopifyServices
from shopify_app.values import parse_id, parse_timestamp

from .customers import upsert_customer
from .graphql_nodes import (
    CUSTOMER_FIELDS,
    LINE_ITEM_FIELDS,
    ORDER_FIELDS,
    REFUND_FIELDS,
    customer_payload,
    order_payload,
)
from .importer import latest_run
from .order_flow import apply_order

# Sized to Shopify's cost model: a page must stay under the 1,000-point single-query cap.
CUSTOMER_PAGE = 100
ORDER_PAGE = 10
OVERLAP = timedelta(minutes=5)
FIRST_WINDOW = timedelta(days=1)

CUSTOMERS_SINCE = """
query CustomersSince($query: String!, $after: String, $first: Int!) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { CUSTOMER }
  }
}""".replace("CUSTOMER", CUSTOMER_FIELDS)
ORDERS_SINCE = (
    """
query OrdersSince($query: String!, $after: String, $first: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ORDER lineItems(first: 20) { nodes { LINE } } refunds(first: 10) { REFUND } }
  }
}""".replace("ORDER", ORDER_FIELDS)
    .replace("LINE", LINE_ITEM_FIELDS)
    .replace("REFUND", REFUND_FIELDS)
)


def _pages(api, query: str, key: str, search: str, page: int):
    after = None
    while True:
        data = api.execute(query, {"query": search, "after": after, "first": page})[key]
        yield from data["nodes"]
        if not data["pageInfo"]["hasNextPage"]:
            return
        after = data["pageInfo"]["endCursor"]


def _missed(stored_updated_at, node_updated_at) -> bool:
    node_time = parse_timestamp(node_updated_at)
    return stored_updated_at is None or (node_time is not None and stored_updated_at < node_time)


def reconcile(session: Session, shop: Shop, services: ShopifyServices) -> SyncRun:
    """One pass over everything updated since the previous pass (with a little overlap)."""
    previous = latest_run(session, shop, "reconcile")
    last_import = latest_run(session, shop, "import")
    if previous is not None and previous.status == "completed":
        since = previous.started_at - OVERLAP
    elif last_import is not None:
        since = last_import.started_at - OVERLAP
    else:
        since = utcnow() - FIRST_WINDOW
    run = SyncRun(
        shop_id=shop.id, kind="reconcile", status="running", since=since, started_at=utcnow()
    )
    session.add(run)
    session.commit()
    api = admin_api(session, shop, services)
    search = f"updated_at:>'{since.isoformat()}'"
    try:
        for node in _pages(api, CUSTOMERS_SINCE, "customers", search, CUSTOMER_PAGE):
            stored = session.scalar(
                select(Customer.shopify_updated_at).where(
                    Customer.shop_id == shop.id, Customer.shopify_id == parse_id(node["id"])
                )
            )
            if _missed(stored, node.get("updatedAt")):
                run.customers_recovered += 1
            upsert_customer(session, shop, customer_payload(node))
            run.customers_synced += 1
        session.commit()
        for n, node in enumerate(_pages(api, ORDERS_SINCE, "orders", search, ORDER_PAGE), 1):
            stored = session.scalar(
                select(Order.shopify_updated_at).where(
                    Order.shop_id == shop.id, Order.shopify_id == parse_id(node["id"])
                )
            )
            if _missed(stored, node.get("updatedAt")):
                run.orders_recovered += 1
            items = (node.get("lineItems") or {}).get("nodes")
            apply_order(session, shop, order_payload(node, items))
            run.orders_synced += 1
            if n % ORDER_PAGE == 0:
                session.commit()
        run.status = "completed"
    except Exception as exc:
        session.rollback()
        run = session.get(SyncRun, run.id)
        run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        run.finished_at = utcnow()
        session.commit()
    return run


def reconcile_shop(session: Session, shop_id: int, services: ShopifyServices) -> dict[str, int]:
    """Reconcile one shop if it can be (installed, its token valid); what was recovered."""
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.is_installed or shop.reauth_required_at is not None:
        return {}
    run = reconcile(session, shop, services)
    return {
        "customers_recovered": run.customers_recovered,
        "orders_recovered": run.orders_recovered,
    }


def schedule_all(session: Session) -> int:
    """Enqueue a reconciliation of every shop that can be reconciled; returns how many."""
    ids = session.scalars(
        select(Shop.id).where(
            Shop.installed_at.is_not(None),
            Shop.uninstalled_at.is_(None),
            Shop.reauth_required_at.is_(None),
        )
    ).all()
    for shop_id in ids:
        jobs.enqueue_after_commit(session, jobs.RECONCILE_SHOP, shop_id)
    session.commit()
    return len(ids)
