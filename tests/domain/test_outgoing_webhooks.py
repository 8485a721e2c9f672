"""Outgoing webhooks in the domain: emit (one event per key, one delivery per subscribed
enabled endpoint, jobs after commit), delivery to a real local receiver verified with the
Standard Webhooks reference library, retries and back-off, rotation, disabling after days
of failures (with the email), the sweep, SSRF at delivery time, and the domain's emitters."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select
from standardwebhooks.webhooks import WebhookVerificationError

from shopify_app import jobs
from shopify_app.customers import unsubscribe
from shopify_app.customers import upsert as customer_upsert
from shopify_app.models import (
    EmailMessage,
    OutgoingDelivery,
    OutgoingEndpoint,
    OutgoingEvent,
    Reward,
    utcnow,
)
from shopify_app.outgoing import addresses, delivery, endpoints, events, signing
from shopify_app.outgoing.event_types import EVENT_TYPES
from shopify_app.referrals import advocates, rewards
from shopify_app.sync import order_flow
from shopify_app.sync.customers import upsert_customer
from shopify_app.values import iso_utc

from .. import factories, payloads
from ..receiver import Receiver, dead_url, verify

ALL = list(EVENT_TYPES)


def register(session, shop, url, types=None):
    created = endpoints.register(
        session,
        shop,
        url=url,
        event_types=types or ALL,
        alert_email="Ops@Example.com",
        description="crm",
        actor="staff:1",
    )
    session.flush()
    return created


def deliveries(session, shop) -> list[OutgoingDelivery]:
    return list(
        session.scalars(
            select(OutgoingDelivery)
            .where(OutgoingDelivery.shop_id == shop.id)
            .order_by(OutgoingDelivery.id)
        )
    )


def emitted(session, shop) -> list[tuple[str, dict]]:
    return [
        (e.event_type, e.data)
        for e in session.scalars(
            select(OutgoingEvent).where(OutgoingEvent.shop_id == shop.id).order_by(OutgoingEvent.id)
        )
    ]


# --- emit -------------------------------------------------------------------------------


def test_without_a_subscribed_endpoint_emit_writes_nothing(session, shop, enqueued):
    register(session, shop, "http://127.0.0.1:9/a", ["reward.used"])
    events.emit(session, shop, "referral.created", {"n": 1}, key="k")
    session.commit()
    assert emitted(session, shop) == [] and enqueued.jobs == []


def test_emit_is_one_event_per_key_with_one_delivery_per_subscribed_enabled_endpoint(
    session, shop, enqueued
):
    wanted = register(session, shop, "http://127.0.0.1:9/a", ["referral.created"]).endpoint
    register(session, shop, "http://127.0.0.1:9/b", ["reward.issued"])
    off = register(session, shop, "http://127.0.0.1:9/c").endpoint
    endpoints.disable(session, shop, off, actor="staff:1", reason="staff")
    every = register(session, shop, "http://127.0.0.1:9/d").endpoint
    other_shop = factories.shop(session)
    register(session, other_shop, "http://127.0.0.1:9/e")

    events.emit(session, shop, "referral.created", {"n": 1}, key="referral:1")
    events.emit(session, shop, "referral.created", {"n": 2}, key="referral:1")  # a duplicate
    assert emitted(session, shop) == [("referral.created", {"n": 1})]
    assert [d.endpoint_id for d in deliveries(session, shop)] == [wanted.id, every.id]
    assert deliveries(session, other_shop) == []
    assert enqueued.jobs == []  # nothing before the commit
    session.commit()
    assert sorted(enqueued.calls(jobs.DELIVER_OUTGOING)) == [(wanted.id,), (every.id,)]


def test_a_rollback_takes_the_event_its_deliveries_and_its_jobs_away(session, shop, enqueued):
    register(session, shop, "http://127.0.0.1:9/a")
    session.commit()
    events.emit(session, shop, "reward.used", {"n": 1}, key="k")
    session.rollback()
    session.commit()
    assert emitted(session, shop) == [] and enqueued.calls(jobs.DELIVER_OUTGOING) == []
    events.emit(session, shop, "reward.used", {"n": 1}, key="k")  # the same key, now for real
    session.commit()
    assert len(emitted(session, shop)) == 1 and len(enqueued.calls(jobs.DELIVER_OUTGOING)) == 1


def test_unknown_types_and_oversized_data_are_refused(session, shop):
    register(session, shop, "http://127.0.0.1:9/a")
    with pytest.raises(ValueError, match="unknown outgoing event type"):
        events.emit(session, shop, "order.paid", {}, key="k")
    with pytest.raises(ValueError, match="bytes"):
        events.emit(session, shop, "reward.used", {"x": "y" * 70_000}, key="k")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"event_types": []}, "at least one event type"),
        ({"event_types": ["order.paid"]}, "unknown event type"),
        ({"alert_email": "nobody"}, "email address"),
        ({"url": "ftp://example.com/x"}, "https://"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "user name or password"),
        ({"url": "http://127.0.0.1:99999/x"}, "port"),
        ({"url": ""}, "enter the endpoint's URL"),
    ],
)
def test_registration_refuses_bad_input_and_saves_nothing(session, shop, fields, problem):
    values = {
        "url": "http://127.0.0.1:9/a",
        "event_types": ["reward.used"],
        "alert_email": "ops@example.com",
        "description": None,
        **fields,
    }
    with pytest.raises(endpoints.EndpointRefused, match=problem):
        endpoints.register(session, shop, actor="staff:1", **values)
    assert endpoints.list_endpoints(session, shop) == []


def test_the_secret_is_stored_encrypted_and_another_shops_endpoint_is_not_found(session, shop):
    created = register(session, shop, "http://127.0.0.1:9/a")
    assert created.secret.startswith("whsec_")
    assert created.secret not in created.endpoint.secret_enc
    assert endpoints.get_endpoint(session, factories.shop(session), created.endpoint.id) is None


# --- delivery ---------------------------------------------------------------------------


def test_a_delivery_reaches_a_real_receiver_signed_the_standard_webhooks_way(session, shop):
    with Receiver() as receiver:
        created = register(session, shop, receiver.url)
        events.emit(session, shop, "reward.issued", {"reward": {"id": 7}}, key="r:7")
        session.commit()
        assert delivery.drain(session, created.endpoint.id) == "sent 1, failed 0"
    [request] = receiver.received
    payload = verify(created.secret, request)
    [event] = session.scalars(select(OutgoingEvent).where(OutgoingEvent.shop_id == shop.id))
    assert payload == {
        "type": "reward.issued",
        "timestamp": iso_utc(event.occurred_at),
        "data": {"reward": {"id": 7}},
    }
    assert request.headers["webhook-id"] == event.public_id
    assert request.headers["content-type"] == "application/json"
    assert request.path == "/hooks"
    with pytest.raises(WebhookVerificationError):
        verify(signing.new_secret(), request)  # any other secret fails
    [sent] = deliveries(session, shop)
    assert (sent.status, sent.attempts, sent.response_status) == ("succeeded", 1, 200)
    assert sent.response_excerpt == '{"ok":true}' and sent.latency_ms is not None
    assert sent.next_attempt_at is None
    endpoint = session.get(OutgoingEndpoint, created.endpoint.id)
    assert endpoint.lease_until is None and endpoint.last_success_at is not None


def test_during_a_rotation_both_secrets_sign_and_after_the_grace_only_the_new(session, shop):
    with Receiver() as receiver:
        created = register(session, shop, receiver.url)
        endpoint = created.endpoint
        rotated = endpoints.rotate_secret(session, shop, endpoint, actor="staff:1")
        assert rotated.secret != created.secret
        events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
        session.commit()
        delivery.drain(session, endpoint.id)
        during = receiver.received[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert verify(created.secret, during) == verify(rotated.secret, during)

        endpoint.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
        events.emit(session, shop, "reward.used", {"n": 2}, key="k2")
        session.commit()
        delivery.drain(session, endpoint.id)
        after = receiver.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(rotated.secret, after)["data"] == {"n": 2}
    with pytest.raises(WebhookVerificationError):
        verify(created.secret, after)


def test_a_failure_holds_the_endpoint_back_and_each_delivery_is_retried_on_schedule(
    session, shop, enqueued
):
    with Receiver("error") as receiver:
        endpoint = register(session, shop, receiver.url).endpoint
        for n in range(3):
            events.emit(session, shop, "reward.used", {"n": n}, key=f"k{n}")
        session.commit()
        before = utcnow()
        assert delivery.drain(session, endpoint.id) == "sent 0, failed 1"
        assert receiver.count() == 1  # it stopped at the first failure
        first, second, _third = deliveries(session, shop)
        assert (first.status, first.attempts, first.response_status) == ("pending", 1, 500)
        assert first.response_excerpt == "boom" and first.error == "HTTP 500"
        assert before + timedelta(seconds=4) < first.next_attempt_at
        assert first.next_attempt_at < utcnow() + timedelta(seconds=6)
        assert second.attempts == 0
        session.refresh(endpoint)
        assert endpoint.consecutive_failures == 1 and endpoint.retry_at > utcnow()
        assert endpoint.failing_since is not None
        # Held back: a drain now sends nothing, costs nothing.
        assert delivery.drain(session, endpoint.id).startswith("not taken")
        assert receiver.count() == 1

        receiver.mode = "ok"  # it recovers, and the back-off passes
        endpoint.retry_at = first.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.commit()
        assert delivery.drain(session, endpoint.id) == "sent 3, failed 0"
    assert [d.status for d in deliveries(session, shop)] == ["succeeded"] * 3
    session.refresh(endpoint)
    assert (endpoint.consecutive_failures, endpoint.failing_since, endpoint.retry_at) == (
        0,
        None,
        None,
    )


def test_a_delivery_fails_for_good_after_its_last_attempt(session, shop):
    endpoint = register(session, shop, dead_url()).endpoint
    events.emit(session, shop, "reward.used", {"n": 1}, key="k")
    [pending] = deliveries(session, shop)
    pending.attempts = delivery.MAX_ATTEMPTS - 1
    session.commit()
    assert delivery.drain(session, endpoint.id) == "sent 0, failed 1"
    session.refresh(pending)
    assert (pending.status, pending.attempts, pending.next_attempt_at) == (
        "failed",
        delivery.MAX_ATTEMPTS,
        None,
    )
    assert pending.error.startswith("ConnectError") and pending.response_status is None


def test_the_schedule_retries_for_about_a_day():
    total = sum(delivery.SCHEDULE, timedelta())
    assert timedelta(hours=20) < total < timedelta(hours=30)
    assert delivery.MAX_ATTEMPTS == 8


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_alert_address_emailed(
    session, shop, enqueued
):
    with Receiver("error") as receiver:
        endpoint = register(session, shop, receiver.url).endpoint
        events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
        endpoint.failing_since = utcnow() - timedelta(days=2)  # not yet
        endpoint.consecutive_failures = 40
        session.commit()
        delivery.drain(session, endpoint.id)
        session.refresh(endpoint)
        assert endpoint.enabled

        endpoint.failing_since = utcnow() - delivery.DISABLE_AFTER - timedelta(minutes=1)
        endpoint.retry_at = None
        [waiting] = deliveries(session, shop)
        waiting.next_attempt_at = utcnow()
        session.commit()
        enqueued.clear()
        delivery.drain(session, endpoint.id)
    session.refresh(endpoint)
    assert not endpoint.enabled and "Every delivery has failed since" in endpoint.disabled_reason
    [email] = session.scalars(
        select(EmailMessage).where(
            EmailMessage.shop_id == shop.id, EmailMessage.kind == "webhook_disabled"
        )
    )
    assert email.to_address == "ops@example.com"
    assert receiver.url in email.body_text and "disabled" in email.subject
    assert [m for (m,) in enqueued.calls(jobs.DELIVER_EMAIL)] == [email.id]
    # Disabled: new events make no delivery for it, and its drains send nothing.
    events.emit(session, shop, "reward.used", {"n": 2}, key="k2")
    assert len(deliveries(session, shop)) == 1
    assert delivery.drain(session, endpoint.id).startswith("not taken")


def test_the_sweep_starts_due_retries_and_gives_up_on_deliveries_older_than_a_day(
    session, shop, enqueued
):
    endpoint = register(session, shop, "http://127.0.0.1:9/a").endpoint
    held = register(session, shop, "http://127.0.0.1:9/b").endpoint
    events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
    events.emit(session, shop, "reward.used", {"n": 2}, key="k2")
    # event 1 to a, event 1 to b, event 2 to a, event 2 to b
    old, _, due, _ = deliveries(session, shop)
    old.created_at = utcnow() - delivery.GIVE_UP_AFTER - timedelta(minutes=1)
    held.retry_at = utcnow() + timedelta(minutes=5)  # b is held back after a failure
    session.commit()
    enqueued.clear()
    assert delivery.sweep(session) == {"expired": 1, "drains": 1, "purged": 0}
    session.refresh(old)
    assert old.status == "failed" and "not delivered within a day" in old.error
    assert enqueued.calls(jobs.DELIVER_OUTGOING) == [(endpoint.id,)]  # for `due`, not b's
    assert due.endpoint_id == endpoint.id and due.status == "pending"


def test_a_second_drain_of_an_endpoint_whose_lease_is_held_sends_nothing(session, shop):
    with Receiver() as receiver:
        endpoint = register(session, shop, receiver.url).endpoint
        events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
        endpoint.lease_until = utcnow() + timedelta(seconds=30)  # another worker's
        endpoint.lease_owner = "someone"
        session.commit()
        assert delivery.drain(session, endpoint.id).startswith("not taken")
        assert receiver.count() == 0
        endpoint.lease_until = utcnow() - timedelta(seconds=1)  # that worker died
        session.commit()
        assert delivery.drain(session, endpoint.id) == "sent 1, failed 0"


# --- SSRF at delivery time ----------------------------------------------------------------


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery(
    session, shop, monkeypatch
):
    monkeypatch.setitem(current_app.config, "OUTGOING_WEBHOOKS_ALLOW_LOCAL", False)
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["93.184.216.34"])
    endpoint = register(session, shop, "https://hooks.example.com/in").endpoint
    events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
    session.commit()
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["10.0.0.7"])

    def no_connection(_target):
        raise AssertionError("a refused address must not be connected to")

    monkeypatch.setattr(delivery, "_client", no_connection)
    assert delivery.drain(session, endpoint.id) == "sent 0, failed 1"
    [refused] = deliveries(session, shop)
    assert refused.error.startswith("refused: hooks.example.com resolves to a non-public")
    assert "10.0.0.7 is a private address" in refused.error


def test_delivery_connects_to_the_address_it_checked(session, shop, monkeypatch):
    """The name is resolved once per attempt; the connection goes to that address, with the
    name as Host (so a second, different DNS answer is never used)."""
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        monkeypatch.setattr(addresses, "resolve", lambda host, p: ["127.0.0.1"])
        endpoint = register(session, shop, f"http://hooks.test:{port}/in").endpoint
        events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
        session.commit()
        assert delivery.drain(session, endpoint.id) == "sent 1, failed 0"
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.test:{port}" and request.path == "/in"


# --- emitters -----------------------------------------------------------------------------


@pytest.fixture
def subscribed(session, shop):
    """An endpoint of the shop's subscribed to every event type."""
    return register(session, shop, "http://127.0.0.1:9/all").endpoint


def test_joining_emits_advocate_joined_once(session, shop, subscribed):
    factories.program(session, shop)
    person = factories.customer(session, shop)
    advocate, _ = advocates.join(session, shop, person, via="staff", actor="staff:1")
    advocates.join(session, shop, person, via="staff", actor="staff:1")
    [(kind, data)] = emitted(session, shop)
    assert kind == "advocate.joined"
    assert data["advocate"]["code"] == advocate.code and data["advocate"]["joined_via"] == "staff"
    assert data["customer"]["id"] == person.id and data["customer"]["email"] == person.email


def test_the_referral_lifecycle_emits_each_transition_once_however_often_the_order_arrives(
    session, shop, subscribed
):
    factories.program(session, shop)
    advocate = factories.advocate(session, shop)
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_order(session, shop, payload)  # the same webhook again
    assert [kind for kind, _ in emitted(session, shop)] == [
        "referral.created",
        "referral.completed",
    ]
    created, completed = (data for _, data in emitted(session, shop))
    assert created["transition"] == {
        "from": None,
        "to": "pending",
        "cause": "attributed:note_attribute",
        "actor": "system",
        "reason": None,
        "at": created["transition"]["at"],
    }
    assert completed["referral"]["status"] == "completed"
    assert completed["referral"]["advocate_code"] == advocate.code
    assert completed["referral"]["order"]["shopify_id"] == payload["id"]
    assert completed["referral"]["order"]["total"]["currency"] == "EUR"

    [reward] = session.scalars(select(Reward).where(Reward.shop_id == shop.id))
    rewards.mark_issued(session, shop, reward, "gid://shopify/DiscountCodeNode/1")
    rewards.mark_issued(session, shop, reward, "gid://shopify/DiscountCodeNode/1")  # a retry
    refund = factories.refund_payload(payload["id"], "89.90")
    order_flow.apply_refund(session, shop, refund)
    order_flow.apply_refund(session, shop, refund)
    kinds = [kind for kind, _ in emitted(session, shop)]
    assert kinds[2:] == ["reward.issued", "referral.voided", "reward.voided"]
    issued = emitted(session, shop)[2][1]["reward"]
    assert issued["code"] == reward.code and issued["status"] == "issued"
    assert issued["value"] == {"amount": "10.00", "currency": "EUR"}


def test_a_blocked_referral_emits_created_then_blocked(session, shop, subscribed):
    factories.program(session, shop)
    advocate = factories.advocate(session, shop)
    payload = factories.order_payload(advocate.code, financial_status="paid", currency="USD")
    order_flow.apply_order(session, shop, payload)
    kinds = [kind for kind, _ in emitted(session, shop)]
    assert kinds == ["referral.created", "referral.blocked"]
    assert "USD" in emitted(session, shop)[1][1]["referral"]["status_reason"]


def test_a_used_reward_emits_reward_used(session, shop, subscribed):
    factories.program(session, shop)
    advocate = factories.advocate(session, shop)
    friend_order = factories.order(session, shop)
    referral = factories.referral(session, shop, advocate, friend_order, status="completed")
    reward = factories.reward(session, shop, referral)
    payload = factories.order_payload(None, discount_codes=[{"code": reward.code}])
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_order(session, shop, payload)
    [(kind, data)] = emitted(session, shop)
    assert kind == "reward.used" and data["reward"]["used_order_shopify_id"] == payload["id"]


def test_a_customer_update_emits_once_per_change(session, shop, subscribed):
    upsert_customer(session, shop, payloads.customer(5001, updated=0), account_updated=True)
    assert emitted(session, shop) == []  # the first sight of a customer is not an update
    body = payloads.customer(5001, updated=1, first_name="Augusta")
    upsert_customer(session, shop, body, account_updated=True)
    upsert_customer(session, shop, body, account_updated=True)  # a duplicate delivery
    [(kind, data)] = emitted(session, shop)
    assert kind == "customer.updated"
    assert data["customer"]["first_name"] == "Augusta"
    assert data["customer"]["shopify_id"] == 5001
    assert data["customer"]["tags"] == ["vip", "newsletter"]


def test_an_api_update_emits_customer_updated_and_a_repeat_or_a_creation_does_not(
    session, shop, subscribed
):
    body = {"email": "kai@example.com", "custom_attributes": {"tier": "gold"}}
    made = customer_upsert.upsert_customer(session, shop, body, actor="api:Zapier")
    assert made.created and emitted(session, shop) == []
    customer_upsert.upsert_customer(session, shop, body, actor="api:Zapier")  # nothing changed
    assert emitted(session, shop) == []
    body["custom_attributes"] = {"tier": "platinum"}
    customer_upsert.upsert_customer(session, shop, body, actor="api:Zapier")
    [(kind, data)] = emitted(session, shop)
    assert kind == "customer.updated" and data["changed"] == ["custom_attributes"]
    assert data["customer"]["id"] == made.customer.id


def test_an_unsubscribe_emits_customer_unsubscribed(session, shop, subscribed):
    person = factories.customer(session, shop, email_marketing_state="subscribed")
    unsubscribe.request_unsubscribe(
        session, shop, person, ["email"], actor="staff:1", reason="asked", request_key="r1"
    )
    unsubscribe.request_unsubscribe(
        session, shop, person, ["email"], actor="staff:1", reason="asked", request_key="r1"
    )
    [(kind, data)] = emitted(session, shop)
    assert kind == "customer.unsubscribed"
    assert (data["channel"], data["previous_state"]) == ("email", "subscribed")
    assert data["customer"]["id"] == person.id


def test_the_sweep_forgets_finished_deliveries_after_the_retention(session, shop):
    register(session, shop, "http://127.0.0.1:9/a")
    events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
    events.emit(session, shop, "reward.used", {"n": 2}, key="k2")
    old, recent = deliveries(session, shop)
    old.status = "succeeded"
    old.created_at = utcnow() - delivery.RETENTION - timedelta(days=1)
    old_event = session.get(OutgoingEvent, old.event_id)
    old_event.occurred_at = old.created_at
    recent.status = "failed"
    session.commit()
    assert delivery.sweep(session)["purged"] == 1
    assert deliveries(session, shop) == [recent]
    assert [data for _, data in emitted(session, shop)] == [{"n": 2}]


def test_customers_redact_scrubs_the_customer_from_events_and_answers(session, shop, subscribed):
    from shopify_app import compliance

    person = factories.customer(
        session, shop, first_name="Zelda", last_name="Quartermain", email="zq@example.com"
    )
    factories.program(session, shop)
    advocates.join(session, shop, person, via="staff", actor="staff:1")
    [sent] = deliveries(session, shop)
    sent.response_excerpt = '{"seen": "zq@example.com"}'
    session.commit()
    compliance.redact_customer(
        session, shop, {"customer": {"id": person.shopify_id, "email": "zq@example.com"}}
    )
    session.commit()
    [(_, data)] = emitted(session, shop)
    text = str(data) + str(deliveries(session, shop)[0].response_excerpt)
    for needle in ("zq@example.com", "Zelda", "Quartermain"):
        assert needle.lower() not in text.lower()


def test_a_slow_endpoint_gives_the_worker_back_after_each_delivery(
    session, shop, monkeypatch, enqueued
):
    endpoint = register(session, shop, "http://127.0.0.1:9/slow").endpoint
    for n in range(3):
        events.emit(session, shop, "reward.used", {"n": n}, key=f"k{n}")
    session.commit()
    slow = delivery.Outcome(True, 200, delivery.SLOW_MS + 500, "ok", None)
    monkeypatch.setattr(delivery, "send", lambda *args: slow)
    enqueued.clear()
    assert delivery.drain(session, endpoint.id) == "sent 1, failed 0"
    assert enqueued.calls(jobs.DELIVER_OUTGOING) == [(endpoint.id,)]  # its next turn
    assert [d.status for d in deliveries(session, shop)] == ["succeeded", "pending", "pending"]


def test_an_endpoint_dripping_its_answer_holds_the_worker_only_until_the_total_deadline(
    session, shop, monkeypatch
):
    """Each byte comes within the read timeout, so only the total deadline ends it; the
    abandoned exchange's connection is closed right after, so its thread ends too."""
    monkeypatch.setitem(current_app.config, "OUTGOING_TOTAL_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setitem(current_app.config, "OUTGOING_READ_TIMEOUT_SECONDS", 0.5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    closed = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                conn.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            closed.set()  # the app hung up
        finally:
            conn.close()

    threading.Thread(target=drip, daemon=True).start()
    endpoint = register(session, shop, f"http://127.0.0.1:{port}/drip").endpoint
    events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
    session.commit()
    # without the deadline this drain would wait for 10,000 bytes at 0.1 s each
    assert delivery.drain(session, endpoint.id) == "sent 0, failed 1"
    [attempt] = deliveries(session, shop)
    assert attempt.error == "timeout (no full answer in 1 s)"
    assert closed.wait(5), "the dripping connection was never closed"
    listener.close()


def test_nothing_is_sent_for_a_shop_that_uninstalled_the_app(session, shop):
    with Receiver() as receiver:
        endpoint = register(session, shop, receiver.url).endpoint
        events.emit(session, shop, "reward.used", {"n": 1}, key="k1")
        shop.uninstalled_at = utcnow()
        session.commit()
        assert delivery.drain(session, endpoint.id) == "sent 0, failed 0"
        assert receiver.count() == 0
    [kept] = deliveries(session, shop)
    assert kept.status == "pending"  # sent if the shop installs again, else erased by shop/redact
