"""The inbox pipeline: retries with backoff, dead letters, the sweeper, lapsed claims, replay."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from shopify_app.cli import main
from shopify_app.db import get_session
from shopify_app.jobs import get_queue
from shopify_app.models import Order, WebhookDelivery, utcnow
from tests import payloads
from tests.conftest import SHOP_A
from webhooks import processing, routing
from workers import webhook_jobs

from .webhook_support import cli_env, deliver, install, one, rows, run_jobs


def set_rows(app, **values):
    with app.app_context():
        session = get_session()
        session.execute(update(WebhookDelivery).values(**values))
        session.commit()


def flush_queue(app):
    with app.app_context():
        get_queue().empty()


@pytest.fixture
def broken_orders(monkeypatch):
    def boom(session, shop, payload, delivery):
        raise RuntimeError("database on fire")

    monkeypatch.setitem(routing.HANDLERS, "orders/create", boom)


def test_a_failing_handler_is_retried_with_backoff_then_dead(live, broken_orders):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    with live.app.app_context():
        (row,) = rows(live.app, WebhookDelivery)
        with pytest.raises(RuntimeError):
            webhook_jobs.process_delivery(row.id)
    row = one(live.app, WebhookDelivery)
    assert row.status == "failed" and row.attempts == 1 and "database on fire" in row.last_error
    assert row.next_attempt_at > utcnow()
    with live.app.app_context():
        for _ in range(processing.MAX_ATTEMPTS - 1):
            with contextlib.suppress(RuntimeError):
                webhook_jobs.process_delivery(row.id)
    row = one(live.app, WebhookDelivery)
    assert row.status == "dead" and row.attempts == processing.MAX_ATTEMPTS


def test_a_done_delivery_is_never_processed_twice(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    run_jobs(live.app)
    row = one(live.app, WebhookDelivery)
    with live.app.app_context():
        assert webhook_jobs.process_delivery(row.id) == "not claimed (done)"
    assert one(live.app, WebhookDelivery).attempts == 1


def test_sweeper_finds_deliveries_whose_job_was_lost(live):
    """Stored, then Redis lost the job (flushed queue): the sweeper re-enqueues it."""
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    flush_queue(live.app)
    run_jobs(live.app)
    assert rows(live.app, Order) == []
    with live.app.app_context():
        assert webhook_jobs.sweep_inbox() == 0  # too fresh: its job may still be on its way
    set_rows(live.app, received_at=utcnow() - timedelta(minutes=5))
    with live.app.app_context():
        assert webhook_jobs.sweep_inbox() == 1
    run_jobs(live.app)
    assert one(live.app, Order).shopify_id == 5001
    assert one(live.app, WebhookDelivery).status == "done"


def test_a_killed_workers_claim_lapses_and_the_delivery_is_processed_once(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    flush_queue(live.app)
    set_rows(
        live.app, status="processing", attempts=1, locked_until=utcnow() + timedelta(minutes=4)
    )
    with live.app.app_context():
        assert webhook_jobs.sweep_inbox() == 0  # the claim is still held
    set_rows(live.app, locked_until=utcnow() - timedelta(seconds=1))
    with live.app.app_context():
        assert webhook_jobs.sweep_inbox() == 1
        webhook_jobs.sweep_inbox()  # a second sweep enqueues a duplicate job: harmless
    run_jobs(live.app)
    row = one(live.app, WebhookDelivery)
    assert row.status == "done" and row.attempts == 2
    assert len(rows(live.app, Order)) == 1


def test_failed_rows_come_back_when_their_retry_is_due(live, broken_orders, monkeypatch):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    flush_queue(live.app)
    with live.app.app_context(), pytest.raises(RuntimeError):
        webhook_jobs.process_delivery(one(live.app, WebhookDelivery).id)
    monkeypatch.undo()
    flush_queue(live.app)  # RQ's own retry is lost too
    set_rows(live.app, next_attempt_at=utcnow() - timedelta(minutes=1))
    with live.app.app_context():
        assert webhook_jobs.sweep_inbox() == 1
    run_jobs(live.app)
    assert one(live.app, WebhookDelivery).status == "done"


def test_cli_lists_shows_and_replays_dead_letters(live, monkeypatch):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", b"[{not json")
    run_jobs(live.app)
    row = one(live.app, WebhookDelivery)
    assert row.status == "dead"
    env = cli_env(live.app)
    runner = CliRunner()
    listed = runner.invoke(main, ["webhooks", "list", "--status", "dead"], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"{row.id}" in listed.output and "orders/create" in listed.output
    shown = runner.invoke(main, ["webhooks", "show", str(row.id)], env=env)
    assert "malformed JSON" in shown.output and "[{not json" in shown.output
    # fix the payload as an operator would after a bug fix, then replay
    with live.app.app_context():
        session = get_session()
        session.get(WebhookDelivery, row.id).body = json.dumps(payloads.order()).encode()
        session.commit()
    replayed = runner.invoke(main, ["webhooks", "replay", "--status", "dead"], env=env)
    assert replayed.exit_code == 0 and f"replayed 1 delivery: {row.id}" in replayed.output
    run_jobs(live.app)
    assert one(live.app, WebhookDelivery).status == "done"
    assert one(live.app, Order).shopify_id == 5001
