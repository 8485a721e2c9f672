"""Unsubscribe (E4): the request, its idempotency, the audit and timeline, and the job that
writes it back to Shopify (Shopify's answer stubbed here; live in
tests/integration/test_customer_actions.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shopify_app import compliance, jobs
from shopify_app.customers import consent_requests, unsubscribe
from shopify_app.models import AuditEntry, ConsentRequest, utcnow
from shopify_app.sync import customers as customer_sync

from .. import factories
from . import queries

ACTOR = "staff:42"


@pytest.fixture
def shop(session):
    return factories.shop(session)


@pytest.fixture
def customer(session, shop):
    before = utcnow().replace(microsecond=0) - timedelta(days=30)
    return factories.customer(
        session,
        shop,
        phone="+15550001111",
        email_marketing_state="subscribed",
        email_marketing_opt_in_level="single_opt_in",
        email_marketing_consent_updated_at=before,
        sms_marketing_state="subscribed",
        sms_marketing_consent_updated_at=before,
    )


NO_PHONE = "A phone number is required for SMS marketing"


def _ask(session, shop, customer, channels=("email",), key="k1", reason="asked by phone"):
    outcome = unsubscribe.request_unsubscribe(
        session, shop, customer, list(channels), actor=ACTOR, reason=reason, request_key=key
    )
    session.commit()
    return outcome


def _requests(session, customer) -> list[ConsentRequest]:
    return list(
        session.scalars(
            select(ConsentRequest)
            .where(ConsentRequest.customer_id == customer.id)
            .order_by(ConsentRequest.id)
        )
    )


def test_the_row_shows_the_unsubscribe_at_once_audited_and_on_the_timeline(
    session, shop, customer, enqueued
):
    outcome = _ask(session, shop, customer, channels=("email", "sms"))
    assert "Unsubscribed from email marketing" in outcome.message
    assert customer.email_marketing_state == "unsubscribed"
    assert customer.sms_marketing_state == "unsubscribed"
    assert customer.email_marketing_opt_in_level == "single_opt_in"  # kept
    requests = _requests(session, customer)
    assert [(r.channel, r.status, r.actor, r.reason) for r in requests] == [
        ("email", "pending", ACTOR, "asked by phone"),
        ("sms", "pending", ACTOR, "asked by phone"),
    ]
    assert requests[0].previous["state"] == "subscribed"
    assert customer.email_marketing_consent_updated_at == requests[0].consent_updated_at
    audit = session.scalars(select(AuditEntry).where(AuditEntry.shop_id == shop.id)).all()
    assert [(a.actor, a.action, a.reason, a.before, a.after) for a in audit] == [
        (
            ACTOR,
            "customer.unsubscribed_email",
            "asked by phone",
            {"email_marketing": "subscribed"},
            {"email_marketing": "unsubscribed"},
        ),
        (
            ACTOR,
            "customer.unsubscribed_sms",
            "asked by phone",
            {"sms_marketing": "subscribed"},
            {"sms_marketing": "unsubscribed"},
        ),
    ]
    kinds = sorted(queries.event_kinds(session, shop))
    assert kinds == [
        "consent.email",
        "consent.sms",
        "staff.customer.unsubscribed_email",
        "staff.customer.unsubscribed_sms",
    ]
    [consent_event] = queries.events(session, shop, "consent.email")
    assert consent_event.payload["from"] == "subscribed"
    assert consent_event.payload["to"] == "unsubscribed"
    assert enqueued.calls(jobs.WRITE_CONSENT) == [(requests[0].id,), (requests[1].id,)]


def test_a_double_click_is_one_request_and_one_job(session, shop, customer, enqueued):
    _ask(session, shop, customer, key="same")
    again = _ask(session, shop, customer, key="same")
    assert again.message == "Already requested: email marketing."
    assert len(_requests(session, customer)) == 1
    assert len(enqueued.calls(jobs.WRITE_CONSENT)) == 1


def test_a_second_request_while_one_is_pending_changes_nothing(session, shop, customer, enqueued):
    _ask(session, shop, customer, key="first")
    again = _ask(session, shop, customer, key="second")
    assert again.message == "Already being unsubscribed from email marketing."
    assert len(_requests(session, customer)) == 1


def test_an_already_unsubscribed_customer_is_a_no_op(session, shop, customer, enqueued):
    customer.sms_marketing_state = "unsubscribed"
    outcome = _ask(session, shop, customer, channels=("sms",))
    assert outcome.message == "Already unsubscribed from SMS marketing: nothing to do."
    assert "already unsubscribed" in outcome.message.lower()
    assert _requests(session, customer) == []
    assert session.scalars(select(AuditEntry).where(AuditEntry.shop_id == shop.id)).all() == []
    assert enqueued.names() == []


@pytest.mark.parametrize(
    ("change", "channels", "reason", "refusal"),
    [
        ({}, ("email",), "  ", "say why"),
        ({}, (), "why", "choose email marketing"),
        ({}, ("fax",), "why", "choose email marketing"),
        ({"redacted_at": utcnow()}, ("email",), "why", "erased"),
        ({"deleted_at": utcnow()}, ("email",), "why", "deleted in Shopify"),
    ],
)
def test_refusals(session, shop, customer, enqueued, change, channels, reason, refusal):
    for key, value in change.items():
        setattr(customer, key, value)
    with pytest.raises(unsubscribe.UnsubscribeRefused, match=refusal):
        _ask(session, shop, customer, channels=channels, reason=reason)
    assert _requests(session, customer) == []


def test_the_job_confirms_and_a_retry_sends_nothing_more(
    session, shop, customer, enqueued, shopify_answers
):
    calls, _ = shopify_answers
    _ask(session, shop, customer, channels=("sms",))
    [request] = _requests(session, customer)
    assert consent_requests.write_back(session, request.id) == "confirmed"
    assert calls == [(customer.shopify_id, "sms", "unsubscribed", request.consent_updated_at)]
    assert request.status == "confirmed" and request.finished_at is not None
    assert customer.sms_marketing_state == "unsubscribed"
    assert consent_requests.write_back(session, request.id) == "already confirmed"
    assert len(calls) == 1
    # Shopify's answer had the same date: still one consent event
    assert len(queries.events(session, shop, "consent.sms")) == 1


def test_user_errors_are_kept_and_the_state_goes_back(
    session, shop, customer, enqueued, shopify_answers
):
    _, outcome = shopify_answers
    outcome["errors"] = [{"field": ["customerId"], "message": NO_PHONE, "code": "INVALID"}]
    previous_at = customer.sms_marketing_consent_updated_at
    _ask(session, shop, customer, channels=("sms",))
    [request] = _requests(session, customer)
    assert consent_requests.write_back(session, request.id) == "failed"
    assert request.status == "failed"
    assert request.user_errors == [
        {"field": ["customerId"], "message": NO_PHONE, "code": "INVALID"}
    ]
    assert request.error == NO_PHONE
    assert customer.sms_marketing_state == "subscribed"
    assert customer.sms_marketing_consent_updated_at == previous_at
    [event] = queries.events(session, shop, "consent.sms.writeback_failed")
    assert event.payload["errors"][0]["message"] == NO_PHONE
    assert consent_requests.latest_requests(session, shop, customer.id)["sms"].id == request.id
    # a retry after the refusal: nothing is sent again
    assert consent_requests.write_back(session, request.id) == "already failed"


def test_a_newer_consent_stands_when_shopify_refuses(
    session, shop, customer, enqueued, shopify_answers
):
    _, outcome = shopify_answers
    outcome["errors"] = [{"field": None, "message": "Invalid marketing state"}]
    _ask(session, shop, customer)
    [request] = _requests(session, customer)
    later = request.consent_updated_at + timedelta(minutes=5)
    customer_sync.consent_changed(
        session,
        shop,
        "email",
        {
            "customer_id": customer.shopify_id,
            "email_marketing_consent": {
                "state": "subscribed",
                "opt_in_level": "confirmed_opt_in",
                "consent_updated_at": later.isoformat(),
            },
        },
        later,
    )
    session.commit()
    assert consent_requests.write_back(session, request.id) == "failed"
    assert customer.email_marketing_state == "subscribed"
    assert customer.email_marketing_consent_updated_at == later


def test_the_consent_webhook_confirms_a_pending_request(
    session, shop, customer, enqueued, shopify_answers
):
    calls, _ = shopify_answers
    _ask(session, shop, customer)
    [request] = _requests(session, customer)
    customer_sync.consent_changed(
        session,
        shop,
        "email",
        {
            "customer_id": customer.shopify_id,
            "email_marketing_consent": {
                "state": "unsubscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": request.consent_updated_at.isoformat(),
            },
        },
        utcnow(),
    )
    session.commit()
    session.refresh(request)
    assert request.status == "confirmed"
    assert consent_requests.write_back(session, request.id) == "already confirmed"
    assert calls == []
    assert len(queries.events(session, shop, "consent.email")) == 1


def test_a_customer_only_the_app_knows_is_unsubscribed_here(session, shop, enqueued):
    local = factories.customer(session, shop, shopify_id=None, email_marketing_state="subscribed")
    _ask(session, shop, local)
    [request] = _requests(session, local)
    assert request.status == "confirmed"
    assert enqueued.names() == []


def test_customers_redact_scrubs_the_requests_free_text(session, shop, customer, enqueued):
    customer.first_name, customer.last_name = "Zelda", "Quartermain"
    session.flush()
    _ask(session, shop, customer, reason="Zelda Quartermain phoned: stop all marketing")
    compliance.redact_customer(
        session,
        shop,
        {"customer": {"id": customer.shopify_id, "email": customer.email}},
    )
    session.commit()
    [request] = _requests(session, customer)
    assert "Zelda" not in request.reason and "Quartermain" not in request.reason
