"""The inbox's claim and apply, on stored deliveries: one claimer at a time, arrival order,
and the status every outcome leaves on the row (done, ignored, skipped, rejected, failed,
dead)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopify_app import jobs
from shopify_app.models import WebhookDelivery, utcnow
from webhooks import claims, inbox, processing, routing

from .. import factories, payloads
from . import queries


def _stored(session, shop, topic="customers/update", payload=None, **overrides):
    row = factories.delivery(
        session, shop, topic, payload if payload is not None else payloads.customer(), **overrides
    )
    session.commit()
    return row


def _reload(session, delivery: WebhookDelivery | int) -> WebhookDelivery:
    delivery_id = delivery if isinstance(delivery, int) else delivery.id
    return session.get(WebhookDelivery, delivery_id, populate_existing=True)


def test_a_pending_delivery_is_claimed_once(session, shop):
    delivery = _stored(session, shop)
    assert claims.claim(session, delivery.id)
    assert not claims.claim(session, delivery.id)
    row = _reload(session, delivery)
    assert (row.status, row.attempts) == ("processing", 1)
    assert row.locked_until > utcnow()


def test_a_done_delivery_is_never_claimed_again(session, shop):
    delivery = _stored(session, shop, status="done")
    assert not claims.claim(session, delivery.id)


def test_a_claim_whose_lock_lapsed_can_be_taken_over(session, shop):
    delivery = _stored(
        session, shop, status="processing", locked_until=utcnow() - timedelta(seconds=1)
    )
    assert claims.claim(session, delivery.id)


def test_a_rolled_back_claim_leaves_the_row_pending(session, shop):
    delivery = _stored(session, shop)
    claims.claim(session, delivery.id)
    session.rollback()
    assert _reload(session, delivery).status == "pending"


def test_claim_batch_takes_due_rows_in_arrival_order_up_to_the_limit(session, shop):
    rows = [_stored(session, shop) for _ in range(4)]
    ids, more = claims.claim_batch(session, shop.id, 3)
    assert (ids, more) == ([r.id for r in rows[:3]], True)
    ids, more = claims.claim_batch(session, shop.id, 3)
    assert (ids, more) == ([rows[3].id], False)
    assert claims.claim_batch(session, shop.id, 3) == ([], False)


def test_claim_batch_leaves_other_shops_and_retries_not_yet_due(session, shop):
    _stored(session, factories.shop(session))
    _stored(session, shop, status="failed", next_attempt_at=utcnow() + timedelta(minutes=5))
    due = _stored(session, shop, status="failed", next_attempt_at=utcnow() - timedelta(seconds=1))
    assert claims.claim_batch(session, shop.id, 10) == ([due.id], False)


def test_a_lifecycle_delivery_closes_its_batch(session, shop):
    first = _stored(session, shop)
    uninstall = _stored(session, shop, "app/uninstalled", payloads.app_uninstalled(shop.domain))
    _stored(session, shop)
    ids, more = claims.claim_batch(session, shop.id, 10)
    assert (ids, more) == ([first.id, uninstall.id], True)


def test_process_delivery_applies_the_handler_and_marks_done(session, shop):
    cid = factories.next_id()
    delivery = _stored(session, shop, payload=payloads.customer(cid))
    assert processing.process_delivery(session, delivery.id) == "done"
    row = _reload(session, delivery)
    assert (row.status, row.last_error, row.locked_until) == ("done", None, None)
    assert row.processed_at is not None
    assert "customer.created" in queries.event_kinds(session, shop)


def test_a_second_process_of_a_done_delivery_does_nothing(session, shop):
    delivery = _stored(session, shop)
    processing.process_delivery(session, delivery.id)
    assert processing.process_delivery(session, delivery.id) == "not claimed (done)"
    assert _reload(session, delivery).attempts == 1


def test_a_topic_without_handler_is_ignored(session, shop):
    delivery = _stored(session, shop, "products/update", {"id": 1})
    assert processing.process_delivery(session, delivery.id) == "ignored"
    assert _reload(session, delivery).last_error == "no handler for topic products/update"


def test_sync_topics_for_a_shop_not_installed_are_skipped(session):
    shop = factories.shop(session, installed_at=None)
    delivery = _stored(session, shop)
    assert processing.process_delivery(session, delivery.id) == "skipped"
    assert _reload(session, delivery).last_error == "shop is not installed"
    assert queries.event_kinds(session, shop) == []


def test_a_body_shaped_for_another_topic_is_rejected_without_effect(session, shop):
    delivery = _stored(session, shop, "customers/update", payloads.order(factories.next_id()))
    assert processing.process_delivery(session, delivery.id) == "rejected"
    assert "admin_graphql_api_id" in _reload(session, delivery).last_error
    assert queries.event_kinds(session, shop) == []


def test_a_body_erased_by_a_redaction_is_rejected(session, shop):
    delivery = _stored(session, shop, payload=b'{"redacted":true}')
    assert processing.process_delivery(session, delivery.id) == "rejected"
    assert "erased" in _reload(session, delivery).last_error


def test_an_uninstall_naming_another_shop_is_rejected(session, shop):
    delivery = _stored(
        session, shop, "app/uninstalled", payloads.app_uninstalled("other.myshopify.com")
    )
    assert processing.process_delivery(session, delivery.id) == "rejected"
    assert shop.uninstalled_at is None


def test_malformed_json_is_dead_at_once(session, shop):
    delivery = _stored(session, shop, payload=b"{not json")
    assert processing.process_delivery(session, delivery.id) == "dead"
    row = _reload(session, delivery)
    assert row.status == "dead" and row.last_error.startswith("PermanentDeliveryError")


def test_a_failing_handler_rolls_back_its_effects_and_schedules_a_retry(session, shop, monkeypatch):
    def boom(session, shop, payload, delivery):
        factories.customer(session, shop, email="half-done@example.com")
        raise RuntimeError("Shopify said no")

    monkeypatch.setitem(routing.HANDLERS, "customers/update", boom)
    delivery = _stored(session, shop)
    with pytest.raises(RuntimeError):
        processing.process_delivery(session, delivery.id)
    row = _reload(session, delivery)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "RuntimeError: Shopify said no"
    assert row.next_attempt_at > utcnow() + timedelta(seconds=5)
    assert queries.event_kinds(session, shop) == []


def test_the_last_attempt_ends_dead(session, shop, monkeypatch):
    def boom(session, shop, payload, delivery):
        raise RuntimeError("still no")

    monkeypatch.setitem(routing.HANDLERS, "customers/update", boom)
    delivery = _stored(session, shop, attempts=processing.MAX_ATTEMPTS - 1)
    assert processing.process_delivery(session, delivery.id) == "dead"
    assert _reload(session, delivery).attempts == processing.MAX_ATTEMPTS


def test_a_batch_applies_every_row_in_one_go(session, shop):
    cids = [factories.next_id() for _ in range(3)]
    rows = [_stored(session, shop, payload=payloads.customer(c)).id for c in cids]
    ids, _more = claims.claim_batch(session, shop.id, 10)
    assert processing.apply_batch(session, shop.id, ids) == ["done"] * 3
    assert {_reload(session, r).status for r in rows} == {"done"}


def test_one_bad_row_in_a_batch_fails_alone(session, shop, monkeypatch):
    real = routing.HANDLERS["customers/update"]

    def picky(session, shop, payload, delivery):
        if payload.get("first_name") == "Bad":
            raise ValueError("bad row")
        real(session, shop, payload, delivery)

    monkeypatch.setitem(routing.HANDLERS, "customers/update", picky)
    good = _stored(session, shop, payload=payloads.customer(factories.next_id())).id
    bad = _stored(
        session, shop, payload=payloads.customer(factories.next_id(), first_name="Bad")
    ).id
    ids, _more = claims.claim_batch(session, shop.id, 10)
    assert processing.apply_batch(session, shop.id, ids) == ["done", "failed"]
    assert (_reload(session, good).status, _reload(session, bad).status) == ("done", "failed")
    assert _reload(session, bad).last_error == "ValueError: bad row"


def test_an_order_delivery_runs_the_whole_referral_flow(session, shop, enqueued):
    factories.program(session, shop)
    advocate = factories.advocate(session, shop)
    body = factories.order_payload(advocate.code, financial_status="paid")
    delivery = _stored(session, shop, "orders/paid", body)
    assert processing.process_delivery(session, delivery.id) == "done"
    [referral] = queries.referrals(session, shop)
    assert referral.status == "completed"
    assert [name.rsplit(".", 1)[-1] for name in enqueued.names()] == ["create_reward_code"]


def test_replay_puts_finished_rows_back_and_enqueues_them_after_commit(session, shop, enqueued):
    dead = _stored(session, shop, status="dead", attempts=6, last_error="x")
    busy = _stored(session, shop, status="processing", locked_until=utcnow())
    assert inbox.replay(session, [dead.id, busy.id]) == [dead.id]
    row = _reload(session, dead)
    assert (row.status, row.attempts) == ("pending", 0)
    assert enqueued.calls(jobs.PROCESS_DELIVERY) == [(dead.id,)]
