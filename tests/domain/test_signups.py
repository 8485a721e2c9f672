"""Storefront signups (E1): one record per address, double opt-in email with a sealed,
expiring, single-use link, SMS consent as given, and the merge into the Shopify customer
when Shopify reports one with the same email or phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shopify_app import compliance, jobs
from shopify_app.customers import consent_requests, signups
from shopify_app.emails import delivery
from shopify_app.models import (
    ConsentRequest,
    Customer,
    EmailMessage,
    SignupConfirmation,
    TimelineEvent,
    utcnow,
)
from shopify_app.sync import customers
from shopify_app.timeline import labels

from .. import factories, payloads
from . import queries

CONFIRM_URL = "https://shop.example/apps/referrals/confirm"


@pytest.fixture
def shop(session):
    return factories.shop(session)


def email_contact(address: str = "Shopper@Example.com") -> signups.Contact:
    return signups.parse_contact(address, None)


def records(session, shop) -> list[Customer]:
    return list(
        session.scalars(select(Customer).where(Customer.shop_id == shop.id).order_by(Customer.id))
    )


def consent_requests_of(session, customer) -> list[ConsentRequest]:
    return list(
        session.scalars(select(ConsentRequest).where(ConsentRequest.customer_id == customer.id))
    )


def token_of(session, signup: signups.Signup) -> str:
    row = session.get(SignupConfirmation, signup.confirmation_id)
    return signups.confirmation_token(row)


def test_an_email_signup_is_a_pending_record_with_a_confirmation_email(session, shop, enqueued):
    signup = signups.sign_up(session, shop, email_contact(), confirm_url=CONFIRM_URL)
    session.commit()
    [record] = records(session, shop)
    assert signup.created and record.id == signup.customer_id
    assert (record.source, record.shopify_id, record.email) == (
        "storefront",
        None,
        "shopper@example.com",
    )
    assert (record.email_normalized, record.email_marketing_state) == (
        "shopper@example.com",
        "pending",
    )
    assert record.email_marketing_opt_in_level == "confirmed_opt_in"
    assert record.email_marketing_consent_updated_at is not None
    assert (record.shopify_status, record.program_status, record.list_segment) == (
        "Guest",
        "Not joined",
        0,
    )
    [message] = session.scalars(select(EmailMessage).where(EmailMessage.shop_id == shop.id))
    assert message.kind == "signup_confirmation" and message.to_address == "shopper@example.com"
    assert f"{CONFIRM_URL}?token={token_of(session, signup)}" in message.body_text
    assert "/u/" not in message.body_text  # transactional: no unsubscribe footer
    assert enqueued.names() == [jobs.DELIVER_EMAIL]
    [event] = queries.events(session, shop, "storefront.signup")
    assert event.payload["channel"] == "email" and "email me news" in event.payload["consent_text"]


def test_the_click_subscribes_with_its_date_once(session, shop):
    signup = signups.sign_up(session, shop, email_contact(), confirm_url=CONFIRM_URL)
    token = token_of(session, signup)
    before = utcnow()
    assert signups.confirm(session, shop, token) == "confirmed"
    record = session.get(Customer, signup.customer_id)
    assert record.email_marketing_state == "subscribed"
    assert record.email_marketing_opt_in_level == "confirmed_opt_in"
    assert record.email_marketing_consent_updated_at >= before
    assert signups.confirm(session, shop, token) == "used"
    assert len(queries.events(session, shop, "storefront.signup_confirmed")) == 1
    changes = [
        (e.payload["from"], e.payload["to"])
        for e in queries.events(session, shop)
        if e.kind == "consent.email"
    ]
    assert changes == [(None, "pending"), ("pending", "subscribed")]


def test_a_link_that_expired_was_altered_or_is_for_another_shop_does_nothing(session, shop):
    signup = signups.sign_up(session, shop, email_contact(), confirm_url=CONFIRM_URL)
    token = token_of(session, signup)
    other = factories.shop(session)
    assert signups.confirm(session, other, token) == "invalid"
    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert signups.confirm(session, shop, altered) == "invalid"
    assert signups.confirm(session, shop, "not a token") == "invalid"
    row = session.get(SignupConfirmation, signup.confirmation_id)
    row.expires_at = utcnow() - timedelta(seconds=1)
    assert signups.confirm(session, shop, token) == "expired"
    assert session.get(Customer, signup.customer_id).email_marketing_state == "pending"


def test_a_token_sealed_for_another_shop_names_its_own_shop(session, shop):
    other = factories.shop(session)
    theirs = signups.sign_up(session, other, email_contact(), confirm_url=CONFIRM_URL)
    ours = signups.sign_up(session, shop, email_contact(), confirm_url=CONFIRM_URL)
    assert signups.read_confirmation_token(token_of(session, theirs))[0] == other.id
    assert signups.confirm(session, shop, token_of(session, theirs)) == "invalid"
    assert signups.confirm(session, shop, token_of(session, ours)) == "confirmed"
    assert session.get(Customer, theirs.customer_id).email_marketing_state == "pending"


def test_repeated_signups_for_one_address_are_one_record(session, shop):
    first = signups.sign_up(session, shop, email_contact("a.b@example.com"), confirm_url="u")
    again = signups.sign_up(session, shop, email_contact(" A.B@EXAMPLE.COM "), confirm_url="u")
    assert (first.created, again.created) == (True, False)
    assert first.customer_id == again.customer_id
    assert len(records(session, shop)) == 1
    assert signups.confirm(session, shop, token_of(session, again)) == "confirmed"
    # the older link still works once, but the record is already subscribed
    assert signups.confirm(session, shop, token_of(session, first)) == "already"


def test_a_signup_that_loses_the_race_uses_the_winners_record(session, shop, monkeypatch):
    """Two submissions at once: both look, neither sees a record; the second insert is
    ignored by the unique index and reads the first one's row."""
    winner = signups.sign_up(session, shop, email_contact(), confirm_url="u")
    real = signups._known
    calls = {"n": 0}

    def unseen_first(shop_, contact):
        calls["n"] += 1
        query = real(shop_, contact)
        return query.where(Customer.id < 0) if calls["n"] == 1 else query

    monkeypatch.setattr(signups, "_known", unseen_first)
    loser = signups.sign_up(session, shop, email_contact(), confirm_url="u")
    assert (loser.customer_id, loser.created) == (winner.customer_id, False)
    assert len(records(session, shop)) == 1


def test_a_signup_for_a_shopify_customers_email_updates_it_only_after_the_click(session, shop):
    ada = factories.customer(
        session, shop, email="ada@example.com", email_marketing_state="unsubscribed"
    )
    signup = signups.sign_up(session, shop, email_contact("ADA@example.com"), confirm_url="u")
    assert (signup.customer_id, signup.created) == (ada.id, False)
    assert ada.email_marketing_state == "unsubscribed"  # nobody proved the mailbox yet
    assert len(records(session, shop)) == 1
    # the confirmation is how an unsubscribed customer subscribes again: it is sent, and the
    # job's check before sending lets it through
    [message] = session.scalars(select(EmailMessage).where(EmailMessage.shop_id == shop.id))
    assert message.kind == "signup_confirmation"
    assert delivery._reason_not_to_send(session, message, lambda *_: None) is None
    assert signups.confirm(session, shop, token_of(session, signup)) == "confirmed"
    assert ada.email_marketing_state == "subscribed"


def test_a_confirmed_signup_of_a_shopify_customer_is_written_back_to_shopify(
    session, shop, enqueued, shopify_answers
):
    calls, outcome = shopify_answers
    ada = factories.customer(
        session, shop, email="ada@example.com", email_marketing_state="unsubscribed"
    )
    signup = signups.sign_up(session, shop, email_contact("ada@example.com"), confirm_url="u")
    session.commit()
    assert consent_requests_of(session, ada) == []  # nothing before the click
    token = token_of(session, signup)
    assert signups.confirm(session, shop, token) == "confirmed"
    session.commit()
    [request] = consent_requests_of(session, ada)
    assert (request.channel, request.target_state, request.status) == (
        "email",
        "subscribed",
        "pending",
    )
    assert request.consent_updated_at == ada.email_marketing_consent_updated_at
    assert enqueued.calls(jobs.WRITE_CONSENT) == [(request.id,)]
    assert consent_requests.write_back(session, request.id) == "confirmed"
    assert calls == [(ada.shopify_id, "email", "subscribed", request.consent_updated_at)]
    assert outcome["levels"] == ["confirmed_opt_in"]
    # the link again: nothing more is sent
    assert signups.confirm(session, shop, token) == "used"
    session.commit()
    assert len(consent_requests_of(session, ada)) == 1


def test_a_refused_subscription_keeps_the_shoppers_confirmed_opt_in(
    session, shop, enqueued, shopify_answers
):
    _, outcome = shopify_answers
    outcome["errors"] = [{"field": ["email"], "message": "Email is invalid", "code": "INVALID"}]
    ada = factories.customer(session, shop, email="ada@example.com")
    signup = signups.sign_up(session, shop, email_contact("ada@example.com"), confirm_url="u")
    assert signups.confirm(session, shop, token_of(session, signup)) == "confirmed"
    session.commit()
    [request] = consent_requests_of(session, ada)
    assert consent_requests.write_back(session, request.id) == "failed"
    assert request.error == "Email is invalid"
    assert ada.email_marketing_state == "subscribed"
    [failed] = queries.events(session, shop, "consent.email.writeback_failed")
    assert failed.customer_id == ada.id


def test_a_signup_only_record_is_not_written_to_shopify_until_shopify_reports_it(
    session, shop, enqueued, shopify_answers
):
    signup = signups.sign_up(session, shop, email_contact("grace@example.com"), confirm_url="u")
    assert signups.confirm(session, shop, token_of(session, signup)) == "confirmed"
    session.commit()
    record = session.get(Customer, signup.customer_id)
    assert consent_requests_of(session, record) == []
    # Shopify reports the customer with an older consent: the confirmed opt-in is
    # newer, stays, and is sent to Shopify; a second delivery sends nothing more
    cid = factories.next_id()
    for updated in (1, 2):
        customers.upsert_customer(
            session,
            shop,
            payloads.customer(cid, updated=updated, email="grace@example.com", phone=None),
        )
        session.commit()
    [request] = consent_requests_of(session, record)
    assert (request.target_state, request.actor) == ("subscribed", "system")
    assert request.consent_updated_at == record.email_marketing_consent_updated_at
    assert enqueued.calls(jobs.WRITE_CONSENT) == [(request.id,)]


def test_a_merged_record_whose_opt_in_shopify_already_outdated_is_not_written_back(
    session, shop, enqueued
):
    signup = signups.sign_up(session, shop, email_contact("grace@example.com"), confirm_url="u")
    assert signups.confirm(session, shop, token_of(session, signup)) == "confirmed"
    later = utcnow() + timedelta(minutes=5)
    payload = payloads.customer(factories.next_id(), email="grace@example.com", phone=None)
    payload["updated_at"] = later.isoformat()
    payload["email_marketing_consent"] = {
        "state": "unsubscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": later.isoformat(),
    }
    row = customers.upsert_customer(session, shop, payload)
    session.commit()
    assert row.email_marketing_state == "unsubscribed"
    assert consent_requests_of(session, row) == []


def test_an_already_subscribed_address_gets_no_email(session, shop):
    factories.customer(session, shop, email="ada@example.com", email_marketing_state="subscribed")
    signup = signups.sign_up(session, shop, email_contact("ada@example.com"), confirm_url="u")
    assert signup.confirmation_id is None
    assert (
        session.scalar(
            select(func.count()).select_from(EmailMessage).where(EmailMessage.shop_id == shop.id)
        )
        == 0
    )


def test_a_link_stops_working_when_the_record_no_longer_has_the_address(session, shop):
    signup = signups.sign_up(session, shop, email_contact(), confirm_url="u")
    record = session.get(Customer, signup.customer_id)
    record.email = record.email_normalized = "someone.else@example.com"
    assert signups.confirm(session, shop, token_of(session, signup)) == "invalid"


@pytest.mark.parametrize(
    ("email", "phone", "reason"),
    [
        ("", "", "Enter an email address or a phone number."),
        ("not-an-email", "", "That is not an email address."),
        ("a@b", "", "That is not an email address."),
        ("", "12", "Enter the phone number with its country code"),
        ("", "+1 2", "That is not a phone number."),
        ("", "+" + "1" * 40, "That is not a phone number."),
        ("a@example.com", "+16135550123", "not both"),
    ],
)
def test_invalid_contacts_are_refused_with_the_reason(email, phone, reason):
    with pytest.raises(signups.InvalidContact, match=reason.replace("+", r"\+")):
        signups.parse_contact(email, phone)


def test_a_phone_signup_is_normalised_and_its_sms_consent_recorded_as_given(session, shop):
    contact = signups.parse_contact(None, "+1 (613) 555-0123")
    assert contact == signups.Contact("sms", "+16135550123")
    signup = signups.sign_up(session, shop, contact, confirm_url="u")
    again = signups.sign_up(
        session, shop, signups.parse_contact("", "+1 613 555 0123"), confirm_url="u"
    )
    assert again.customer_id == signup.customer_id and signup.confirmation_id is None
    [record] = records(session, shop)
    assert (record.phone, record.sms_marketing_state, record.sms_marketing_opt_in_level) == (
        "+16135550123",
        "subscribed",
        "single_opt_in",
    )
    assert record.sms_marketing_consent_updated_at is not None
    assert record.email_marketing_state is None


def test_a_phone_signup_never_changes_a_shopify_customers_consent(session, shop):
    ada = factories.customer(
        session, shop, phone="+16135550123", sms_marketing_state="unsubscribed"
    )
    signup = signups.sign_up(
        session, shop, signups.parse_contact("", "+16135550123"), confirm_url="u"
    )
    assert signup.customer_id == ada.id and ada.sms_marketing_state == "unsubscribed"
    [event] = queries.events(session, shop, "storefront.signup")
    assert event.payload["applied"] is False


# -- the merge with the Shopify customer ---------------------------------------------------


def test_shopify_reporting_the_email_turns_the_signup_record_into_that_customer(session, shop):
    signup = signups.sign_up(session, shop, email_contact("grace@example.com"), confirm_url="u")
    assert signups.confirm(session, shop, token_of(session, signup)) == "confirmed"
    cid = factories.next_id()
    row = customers.upsert_customer(
        session, shop, payloads.customer(cid, email="Grace@Example.com", phone=None)
    )
    assert row.id == signup.customer_id and row.shopify_id == cid
    assert (row.first_name, row.account_state, row.source) == ("Ada", "enabled", "storefront")
    [record] = records(session, shop)
    assert record.id == signup.customer_id
    # the click (now) is newer than the snapshot's consent (day 0): it stays
    assert record.email_marketing_state == "subscribed"
    [matched] = queries.events(session, shop, "customer.matched")
    assert matched.payload == {"shopify_id": cid, "matched_by": "email"}
    kinds = {e.kind for e in queries.events(session, shop) if e.customer_id == row.id}
    assert {"storefront.signup", "storefront.signup_confirmed", "customer.created"} <= kinds
    # later deliveries of the same customer find it by its Shopify id
    customers.upsert_customer(
        session, shop, payloads.customer(cid, updated=2, email="grace@example.com")
    )
    assert len(records(session, shop)) == 1


def test_shopify_reporting_the_phone_merges_too_and_a_newer_consent_of_shopifys_wins(session, shop):
    signup = signups.sign_up(
        session, shop, signups.parse_contact("", "+1 613 555 0199"), confirm_url="u"
    )
    cid = factories.next_id()
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    payload = payloads.customer(
        cid,
        email=None,
        phone="+16135550199",
        sms_marketing_consent={
            "state": "unsubscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": later,
        },
    )
    row = customers.upsert_customer(session, shop, payload)
    assert row.id == signup.customer_id and row.shopify_id == cid
    assert row.sms_marketing_state == "unsubscribed"
    assert queries.events(session, shop, "customer.matched")[0].payload["matched_by"] == "phone"
    assert len(records(session, shop)) == 1


def test_a_signup_record_is_folded_into_a_shopify_row_that_already_exists(session, shop):
    """A consent delivery made the Shopify customer's row first (no email yet); the
    customer's own delivery then names the signup's address: one row remains."""
    signup = signups.sign_up(session, shop, email_contact("lin@example.com"), confirm_url="u")
    token = token_of(session, signup)
    cid = factories.next_id()
    consent_row = customers.consent_changed(
        session,
        shop,
        "sms",
        {
            "id": cid,
            "sms_marketing_consent": {
                "state": "subscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": None,
            },
        },
        utcnow() - timedelta(days=1),
    )
    row = customers.upsert_customer(
        session, shop, payloads.customer(cid, email="lin@example.com", phone=None)
    )
    assert row.id == consent_row.id != signup.customer_id
    [only] = records(session, shop)
    assert only.id == row.id
    assert only.email_marketing_state == "pending"  # the signup's, newer than day 0's
    moved = session.scalars(
        select(TimelineEvent.kind).where(TimelineEvent.customer_id == row.id)
    ).all()
    assert "storefront.signup" in moved and "customer.matched" in moved
    confirmation = session.get(SignupConfirmation, signup.confirmation_id)
    assert confirmation.customer_id == row.id
    assert signups.confirm(session, shop, token) == "confirmed"
    assert only.email_marketing_state == "subscribed"


def test_a_deleted_shopify_customer_with_the_address_does_not_take_the_signup(session, shop):
    gone = factories.customer(session, shop, email="kim@example.com", deleted_at=utcnow())
    signup = signups.sign_up(session, shop, email_contact("kim@example.com"), confirm_url="u")
    assert signup.created and signup.customer_id != gone.id


def test_customers_redact_erases_an_unmatched_signup_record_of_the_same_person(session, shop):
    signups.sign_up(session, shop, email_contact("eve@example.com"), confirm_url="u")
    signups.sign_up(session, shop, signups.parse_contact("", "+16135550142"), confirm_url="u")
    eve = factories.customer(session, shop, email="eve@example.com", phone="+1 613 555 0142")
    compliance.redact_customer(
        session,
        shop,
        {
            "shop_domain": shop.domain,
            "customer": {"id": eve.shopify_id, "email": "eve@example.com", "phone": None},
            "orders_to_redact": [],
        },
    )
    [only] = records(session, shop)
    assert only.id == eve.id and only.redacted_at is not None
    assert (only.email, only.phone) == (None, None)
    payloads_left = [e.payload for e in queries.events(session, shop)]
    assert "eve@example.com" not in str(payloads_left) and "0142" not in str(payloads_left)


def test_a_data_request_lists_the_unmatched_signup_records_of_the_same_person(session, shop):
    signups.sign_up(session, shop, email_contact("eve@example.com"), confirm_url="u")
    signups.sign_up(session, shop, signups.parse_contact("", "+16135550142"), confirm_url="u")
    signups.sign_up(session, shop, email_contact("someone.else@example.com"), confirm_url="u")
    body = {
        "shop_domain": shop.domain,
        "customer": {"id": 987654, "email": "Eve@example.com", "phone": "+1 613 555 0142"},
        "data_request": {"id": 555},
    }
    answer = compliance.answer_data_request(session, shop, body).content
    assert answer["customer"] is None and "storefront signups" in answer["note"]
    found = answer["storefront_signups"]
    assert [(r["customer"]["email"], r["customer"]["phone"]) for r in found] == [
        ("eve@example.com", None),
        (None, "+16135550142"),
    ]
    assert {e["kind"] for e in found[0]["timeline"]} >= {"storefront.signup"}
    # a Shopify customer the app knows, with an unmatched signup of their phone
    eve = factories.customer(session, shop, email="eve.shopify@example.com")
    body = {
        "shop_domain": shop.domain,
        "customer": {"id": eve.shopify_id, "email": eve.email, "phone": "+16135550142"},
        "data_request": {"id": 556},
    }
    answer = compliance.answer_data_request(session, shop, body).content
    assert answer["customer"]["email"] == "eve.shopify@example.com"
    assert [r["customer"]["phone"] for r in answer["storefront_signups"]] == ["+16135550142"]


def test_a_consent_delivery_naming_the_address_takes_over_the_signup_record(session, shop):
    signup = signups.sign_up(session, shop, email_contact("noa@example.com"), confirm_url="u")
    cid = factories.next_id()
    later = utcnow() + timedelta(minutes=1)
    row = customers.consent_changed(
        session,
        shop,
        "email",
        {
            "customer_id": cid,
            "email_address": "noa@example.com",
            "email_marketing_consent": {
                "state": "subscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": later.isoformat(),
            },
        },
        later,
    )
    assert (row.id, row.shopify_id) == (signup.customer_id, cid)
    assert row.email_marketing_state == "subscribed"  # Shopify's, newer than the signup's
    assert len(records(session, shop)) == 1


def _consent_first_row(session, shop, cid):
    return customers.consent_changed(
        session,
        shop,
        "sms",
        {"id": cid, "sms_marketing_consent": {"state": "not_subscribed"}},
        utcnow() - timedelta(days=1),
    )


def test_a_folded_signup_record_brings_its_advocate_along(session, shop):
    signup = signups.sign_up(session, shop, email_contact("ola@example.com"), confirm_url="u")
    record = session.get(Customer, signup.customer_id)
    advocate = factories.advocate(session, shop, record)  # staff joined the signup record
    cid = factories.next_id()
    row = _consent_first_row(session, shop, cid)
    customers.upsert_customer(session, shop, payloads.customer(cid, email="ola@example.com"))
    assert records(session, shop) == [row]
    session.refresh(advocate)
    assert advocate.customer_id == row.id and row.program_joined
    assert row.list_segment == 3  # member, joined


def test_two_advocates_are_never_merged(session, shop):
    signup = signups.sign_up(session, shop, email_contact("pia@example.com"), confirm_url="u")
    factories.advocate(session, shop, session.get(Customer, signup.customer_id))
    cid = factories.next_id()
    row = _consent_first_row(session, shop, cid)
    factories.advocate(session, shop, row)
    customers.upsert_customer(session, shop, payloads.customer(cid, email="pia@example.com"))
    assert len(records(session, shop)) == 2
    # both timelines say why, naming the other record; a later delivery says it once
    customers.upsert_customer(
        session, shop, payloads.customer(cid, updated=1, email="pia@example.com")
    )
    held = queries.events(session, shop, "customer.match_held")
    assert sorted((e.customer_id, e.payload["other_customer"]) for e in held) == sorted(
        [(row.id, signup.customer_id), (signup.customer_id, row.id)]
    )
    assert "both are advocates" in labels.describe(held[0])
