"""Initial import through bulk operations: customers, then orders with their line items.

Driven by jobs: `begin` starts the customers bulk query; every `advance` (after the
`bulk_operations/finish` webhook, or a periodic poll if that webhook is lost) reads the
operation's progress and, when it is complete, applies its JSONL through the same upserts
as webhooks, then starts the next phase.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.models import Shop, SyncRun, utcnow
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.services import ShopifyServices

from .customers import upsert_customer
from .graphql_nodes import (
    CUSTOMER_FIELDS,
    LINE_ITEM_FIELDS,
    ORDER_FIELDS,
    customer_payload,
    order_payload,
)
from .orders import upsert_order

BULK_QUERIES = {
    "customers": "{ customers { edges { node { CUSTOMER } } } }".replace(
        "CUSTOMER", CUSTOMER_FIELDS
    ),
    "orders": (
        "{ orders { edges { node { ORDER lineItems { edges { node { LINE } } } } } } }".replace(
            "ORDER", ORDER_FIELDS
        ).replace("LINE", LINE_ITEM_FIELDS)
    ),
}
RUN_BULK = """
mutation RunBulk($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""
BULK_STATUS = """
query BulkStatus($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url }
}"""
COMMIT_EVERY = 500


def latest_run(session: Session, shop: Shop, kind: str) -> SyncRun | None:
    return session.scalar(
        select(SyncRun)
        .where(SyncRun.shop_id == shop.id, SyncRun.kind == kind)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )


def begin(session: Session, shop: Shop, services: ShopifyServices) -> SyncRun:
    """Start the import unless one is already running; returns the run."""
    running = latest_run(session, shop, "import")
    if running is not None and running.status == "running":
        if running.bulk_operation_gid is None:  # created at install, not started yet
            _start_phase(session, shop, services, running, "customers")
            session.commit()
        return running
    run = SyncRun(
        shop_id=shop.id, kind="import", status="running", phase="customers", started_at=utcnow()
    )
    session.add(run)
    session.flush()
    _start_phase(session, shop, services, run, "customers")
    session.commit()
    return run


def _start_phase(session: Session, shop: Shop, services: ShopifyServices, run: SyncRun, phase: str):
    result = admin_api(session, shop, services).mutate(
        RUN_BULK, {"query": BULK_QUERIES[phase]}, "bulkOperationRunQuery"
    )
    run.phase = phase
    run.bulk_operation_gid = result["bulkOperation"]["id"]


def advance(session: Session, run: SyncRun, services: ShopifyServices) -> str:
    """Move a running import forward; returns its status afterwards."""
    if run.status != "running" or not run.bulk_operation_gid:
        return run.status
    shop = session.get(Shop, run.shop_id)
    api = admin_api(session, shop, services)
    operation = api.execute(BULK_STATUS, {"id": run.bulk_operation_gid})["bulkOperation"] or {}
    status = operation.get("status")
    if status in ("CREATED", "RUNNING"):
        run.objects_seen = int(operation.get("objectCount") or 0)
        session.commit()
        return "running"
    if status != "COMPLETED":
        run.status, run.finished_at = "failed", utcnow()
        run.error = f"bulk operation {status}: {operation.get('errorCode')}"
        session.commit()
        return "failed"
    if operation.get("url"):
        lines = _jsonl(services, operation["url"])
        if run.phase == "customers":
            _apply_customers(session, shop, run, lines)
        else:
            _apply_orders(session, shop, run, lines)
    if run.phase == "customers":
        _start_phase(session, shop, services, run, "orders")
        session.commit()
        return "running"
    run.status, run.finished_at, run.phase = "completed", utcnow(), None
    session.commit()
    return "completed"


def poll_running(session: Session) -> int:
    """Fallback for a lost `bulk_operations/finish`: enqueue a step of every running import
    (its start, if the start job was lost). Returns how many imports were running."""
    runs = session.execute(
        select(SyncRun.id, SyncRun.shop_id, SyncRun.bulk_operation_gid).where(
            SyncRun.kind == "import", SyncRun.status == "running"
        )
    ).all()
    for run_id, shop_id, gid in runs:
        if gid is None:
            jobs.enqueue_after_commit(session, jobs.START_IMPORT, shop_id)
        else:
            jobs.enqueue_after_commit(session, jobs.ADVANCE_IMPORT, run_id)
    session.commit()
    return len(runs)


def _jsonl(services: ShopifyServices, url: str) -> Iterator[dict[str, Any]]:
    with services.http.stream("GET", url) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.strip():
                yield json.loads(line)


def _apply_customers(session: Session, shop: Shop, run: SyncRun, lines) -> None:
    for n, node in enumerate(lines, 1):
        upsert_customer(session, shop, customer_payload(node))
        run.customers_synced += 1
        if n % COMMIT_EVERY == 0:
            session.commit()
    session.commit()


def _apply_orders(session: Session, shop: Shop, run: SyncRun, lines) -> None:
    """Line items arrive as their own lines with `__parentId`; group them under their order."""
    orders: dict[str, dict] = {}
    items: dict[str, list[dict]] = {}
    for node in lines:
        parent = node.get("__parentId")
        if parent:
            items.setdefault(parent, []).append(node)
        else:
            orders[node["id"]] = node
    for n, (gid, node) in enumerate(orders.items(), 1):
        upsert_order(session, shop, order_payload(node, items.get(gid, [])))
        run.orders_synced += 1
        if n % COMMIT_EVERY == 0:
            session.commit()
    session.commit()
