"""Batched drains: many deliveries per transaction, a bad one isolated, lifecycle deliveries
closing their batch, and several drains on one shop applying each delivery exactly once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from shopify_app.db import get_session
from shopify_app.jobs import get_queue
from shopify_app.models import Order, OrderLineItem, TimelineEvent, WebhookDelivery
from tests import payloads
from tests.conftest import SHOP_A
from webhooks import claims, drain, routing
from workers import webhook_jobs

from .webhook_support import deliver, install, one, rows, run_jobs, shop_id


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(drain, "DRAIN_BATCH", 5)


def placed_events(app) -> list[int]:
    return sorted(
        e.payload["order_id"]
        for e in rows(app, TimelineEvent, TimelineEvent.kind == "order.placed")
    )


def test_a_failing_delivery_fails_alone_and_its_batch_is_applied_once(
    live, small_batches, monkeypatch
):
    install(live, SHOP_A)
    real = routing.HANDLERS["orders/create"]

    def fragile(session, shop, payload, delivery):
        real(session, shop, payload, delivery)  # its effects must roll back with the error
        if payload["id"] == 7003:
            raise RuntimeError("order 7003 cannot be applied")

    monkeypatch.setitem(routing.HANDLERS, "orders/create", fragile)
    for n in range(7):
        deliver(live, SHOP_A, "orders/create", payloads.order(oid=7000 + n, cid=900 + n))
    run_jobs(live.app)

    by_order = {
        int(d.body.split(b'"id": ')[1].split(b",")[0]): d for d in rows(live.app, WebhookDelivery)
    }
    assert by_order[7003].status == "failed"
    assert "order 7003 cannot be applied" in by_order[7003].last_error
    assert by_order[7003].attempts == 1
    others = [d for oid, d in by_order.items() if oid != 7003]
    assert {d.status for d in others} == {"done"} and {d.attempts for d in others} == {1}
    assert sorted(o.shopify_id for o in rows(live.app, Order)) == [
        7000,
        7001,
        7002,
        7004,
        7005,
        7006,
    ]
    assert placed_events(live.app) == [7000, 7001, 7002, 7004, 7005, 7006]
    assert len(rows(live.app, OrderLineItem)) == 6 * len(payloads.order()["line_items"])


def test_a_lifecycle_delivery_closes_its_batch(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order(oid=8001))
    deliver(live, SHOP_A, "app/uninstalled", payloads.app_uninstalled(SHOP_A))
    deliver(live, SHOP_A, "orders/create", payloads.order(oid=8002))
    with live.app.app_context():
        get_queue().empty()
        session = get_session()
        ids, more = claims.claim_batch(session, shop_id(live.app, SHOP_A), 100)
        session.rollback()
        drain.schedule_drain(shop_id(live.app, SHOP_A), force=True)
    assert len(ids) == 2 and more  # the order, then app/uninstalled; the next order waits
    run_jobs(live.app)
    assert one(live.app, Order).shopify_id == 8001
    deliveries = sorted(rows(live.app, WebhookDelivery), key=lambda d: d.id)
    assert [d.status for d in deliveries] == ["done", "done", "skipped"]


def test_concurrent_drains_of_one_shop_apply_every_delivery_exactly_once(live, small_batches):
    install(live, SHOP_A)
    count = 23
    for n in range(count):
        # Two orders per customer and every order twice: drains contend for the same rows.
        payload = payloads.order(oid=9000 + n, cid=950 + n // 2)
        deliver(live, SHOP_A, "orders/create", payload)
        deliver(live, SHOP_A, "orders/updated", payload)
    shop = shop_id(live.app, SHOP_A)
    with live.app.app_context():
        get_queue().empty()
    results, errors = [], []

    def run_drain(slot: int) -> None:
        try:
            with live.app.app_context():
                results.append(webhook_jobs.drain_inbox(shop, slot))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run_drain, args=(slot,)) for slot in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(r.get("done", 0) for r in results) == 2 * count
    deliveries = rows(live.app, WebhookDelivery)
    assert {d.status for d in deliveries} == {"done"}
    assert {d.attempts for d in deliveries} == {1}
    assert sorted(o.shopify_id for o in rows(live.app, Order)) == list(range(9000, 9000 + count))
    assert placed_events(live.app) == list(range(9000, 9000 + count))
    with live.app.app_context():
        items_per_order = get_session().execute(
            select(OrderLineItem.order_id, func.count()).group_by(OrderLineItem.order_id)
        )
        assert {n for _order, n in items_per_order} == {len(payloads.order()["line_items"])}


def test_a_backlog_asks_for_helper_drains_where_the_database_allows(live, small_batches):
    install(live, SHOP_A)
    for n in range(12):
        deliver(live, SHOP_A, "orders/create", payloads.order(oid=9500 + n, cid=990))
    with live.app.app_context():
        get_queue().empty()
        live.app.config["INBOX_DRAIN_WORKERS"] = 2
        try:
            counts = webhook_jobs.drain_inbox(shop_id(live.app, SHOP_A))
            queued = [job.args for job in get_queue().jobs]
            dialect = get_session().get_bind().dialect.name
        finally:
            live.app.config["INBOX_DRAIN_WORKERS"] = 4
    assert counts == {"done": 12}
    shop = shop_id(live.app, SHOP_A)
    if dialect == "sqlite":
        assert queued == []  # one writer: a helper would only wait for the lock
    else:
        assert queued == [(shop, 1)]  # one helper, not one per batch
