"""Storefront signups through Shopify's signed app proxy (E1): the form, the confirmation
email and its link, the answer that never tells whether an address is known, invalid input,
rate limits, duplicate submissions, and the merge when Shopify reports the customer."""

from __future__ import annotations

import re
import threading

import pytest

from devstore import commerce
from shopify_app.models import ConsentRequest, Customer, SignupConfirmation
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import proxy_query, signed_proxy_pairs
from tests.support import app_like, close_app, wait_until

from .webhook_support import install, install_with_program, one, rows, run_jobs

LINK_RE = re.compile(r"/confirm\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def store(live):
    install_with_program(live, SHOP_A)
    return live


def settle(live, rounds=3):
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


def form_token(live, shop=SHOP_A) -> str:
    page = live.http.get(f"{live.app_url}/proxy", params=proxy_query(shop))
    return re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)


def subscribe(live, shop=SHOP_A, *, consent="yes", **fields):
    data = {"token": form_token(live, shop), **fields}
    if consent:
        data["consent"] = consent
    return live.http.post(f"{live.app_url}/proxy/subscribe", params=proxy_query(shop), data=data)


def confirmation_link(live, address: str) -> str:
    run_jobs(live.app)
    mailbox = live.devstore.extensions["devstore_mailbox"]
    mail = wait_until(lambda: mailbox.to(address), 10, f"the confirmation email to {address}")
    return LINK_RE.search(mail[-1].text).group(1)


def signup_records(live):
    return rows(live.app, Customer, Customer.source == "storefront")


def test_the_page_offers_the_signup_to_a_shopper_without_an_account(store):
    page = store.http.get(f"{store.app_url}/proxy", params=proxy_query(SHOP_A))
    assert 'action="/apps/referrals/subscribe"' in page.text
    assert 'type="checkbox" id="signup-email-consent" name="consent" value="yes">' in page.text
    assert "email me news and offers" in page.text and "text me news" in page.text


def test_an_email_signup_is_confirmed_from_the_emailed_link_once(store):
    answer = subscribe(store, email="New.Shopper@example.com")
    assert answer.status_code == 200
    assert "Almost done: we sent a link to n••••••@example.com" in answer.text
    record = one(store.app, Customer, Customer.source == "storefront")
    assert (record.shopify_id, record.email_marketing_state) == (None, "pending")

    token = confirmation_link(store, "new.shopper@example.com")
    page = store.http.get(
        f"{store.app_url}/proxy/confirm", params=proxy_query(SHOP_A, extra={"token": token})
    )
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert one(store.app, Customer, Customer.id == record.id).email_marketing_state == "pending"

    def click():
        return store.http.post(
            f"{store.app_url}/proxy/confirm", params=proxy_query(SHOP_A), data={"token": token}
        )

    done = click()
    assert done.status_code == 200 and "You are subscribed to emails" in done.text
    confirmed = one(store.app, Customer, Customer.id == record.id)
    assert confirmed.email_marketing_state == "subscribed"
    assert confirmed.email_marketing_consent_updated_at is not None
    again = click()
    assert again.status_code == 410 and "already used" in again.text
    assert one(store.app, SignupConfirmation).used_at is not None


def test_a_confirmed_signup_of_a_store_customer_is_written_back_to_shopify(store):
    dev = commerce.create_customer(
        store.state, SHOP_A, email="kim@example.com", email_consent="unsubscribed"
    )
    settle(store)
    customer = one(store.app, Customer, Customer.shopify_id == dev.id)
    assert customer.email_marketing_state == "unsubscribed"
    subscribe(store, email="Kim@example.com")
    token = confirmation_link(store, "kim@example.com")
    done = store.http.post(
        f"{store.app_url}/proxy/confirm", params=proxy_query(SHOP_A), data={"token": token}
    )
    assert "You are subscribed to emails" in done.text
    settle(store)
    # the job sent it through customerEmailMarketingConsentUpdate; the devstore's consent
    # webhook came back and agrees
    assert (dev.email_consent, dev.email_opt_in_level) == ("subscribed", "confirmed_opt_in")
    [request] = rows(store.app, ConsentRequest)
    assert (request.target_state, request.status) == ("subscribed", "confirmed")
    customer = one(store.app, Customer, Customer.shopify_id == dev.id)
    assert customer.email_marketing_state == "subscribed"
    assert customer.email_marketing_consent_updated_at == dev.email_consent_updated_at
    assert len(signup_records(store)) == 0  # one customer: Shopify's


def test_a_link_opened_under_another_shop_or_altered_does_nothing(store):
    install(store, SHOP_B)
    subscribe(store, email="lin@example.com")
    token = confirmation_link(store, "lin@example.com")
    for shop, value in ((SHOP_B, token), (SHOP_A, token[:-3] + "xyz"), (SHOP_A, "")):
        page = store.http.post(
            f"{store.app_url}/proxy/confirm", params=proxy_query(shop), data={"token": value}
        )
        assert page.status_code == 404 and "not valid for this store" in page.text
    assert one(store.app, Customer, Customer.source == "storefront").email_marketing_state == (
        "pending"
    )


def test_the_answer_is_the_same_whether_the_address_is_known_or_not(store):
    before = subscribe(store, email="ada@example.com")
    assert len(signup_records(store)) == 1
    # Ada now has a store account: Shopify reports her, and her record is hers
    commerce.create_customer(store.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(store)
    after = subscribe(store, email="ada@example.com")
    assert after.status_code == before.status_code == 200
    assert after.text == before.text
    [ada] = rows(store.app, Customer)
    assert ada.shopify_id is not None and ada.first_name == "Ada"
    assert ada.source == "storefront"  # the signup record became the Shopify customer


def test_invalid_input_is_refused_with_the_reason_and_makes_no_record(store):
    cases = [
        ({"email": "not-an-email"}, "That is not an email address."),
        ({"phone": "555 0123"}, "Enter the phone number with its country code"),
        ({"phone": "+1 2"}, "That is not a phone number."),
        ({"email": "a@example.com", "phone": "+16135550123"}, "not both"),
        ({}, "Enter an email address or a phone number."),
    ]
    for fields, reason in cases:
        answer = subscribe(store, **fields)
        assert answer.status_code == 422 and reason in answer.text, fields
    unticked = subscribe(store, consent=None, email="ok@example.com")
    assert unticked.status_code == 422 and "Tick the box" in unticked.text
    assert 'value="ok@example.com"' in unticked.text  # the form keeps what was typed
    assert signup_records(store) == []


def test_a_phone_signup_is_normalised_and_recorded_as_given(store):
    answer = subscribe(store, phone="+1 (613) 555-0123")
    assert answer.status_code == 200 and "+16135550123" in answer.text
    record = one(store.app, Customer, Customer.source == "storefront")
    assert (record.phone, record.sms_marketing_state) == ("+16135550123", "subscribed")
    assert record.sms_marketing_opt_in_level == "single_opt_in"


def test_repeated_security_params_and_unsigned_posts_are_refused(store):
    pairs = signed_proxy_pairs(
        [
            ("shop", SHOP_A),
            ("shop", SHOP_B),
            ("logged_in_customer_id", ""),
            ("path_prefix", "/apps/referrals"),
            ("timestamp", str(int(__import__("time").time()))),
        ]
    )
    data = {"email": "x@example.com", "consent": "yes"}
    assert store.http.post(
        f"{store.app_url}/proxy/subscribe", params=pairs, data=data
    ).status_code in (
        400,
        401,
    )
    unsigned = store.http.post(
        f"{store.app_url}/proxy/subscribe", params={"shop": SHOP_A}, data=data
    )
    assert unsigned.status_code == 401
    assert signup_records(store) == []


def test_concurrent_duplicate_submissions_make_one_record(store):
    token = form_token(store)
    answers = []

    def submit():
        answers.append(
            store.http.post(
                f"{store.app_url}/proxy/subscribe",
                params=proxy_query(SHOP_A),
                data={"token": token, "email": "twice@example.com", "consent": "yes"},
            ).status_code
        )

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200, 200]
    assert len(signup_records(store)) == 1


@pytest.fixture
def limited(store):
    app = app_like(
        store.app,
        TRUSTED_PROXY_COUNT=1,
        RATE_LIMIT_SIGNUP="4 per hour",
        RATE_LIMIT_SIGNUP_ADDRESS="2 per hour",
    )
    yield app.test_client()
    close_app(app)


def _post(client, shopper: str, **fields):
    headers = {"X-Forwarded-For": f"{shopper}, 10.20.30.40"}
    page = client.get("/proxy", query_string=proxy_query(SHOP_A), headers=headers)
    token = re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)
    return client.post(
        "/proxy/subscribe",
        query_string=proxy_query(SHOP_A),
        data={"token": token, "consent": "yes", **fields},
        headers=headers,
    )


def test_signups_are_limited_per_address_and_per_shopper(limited, store):
    # one address, from three shoppers: the address's budget (2) runs out
    codes = [_post(limited, f"203.0.113.{n}", email="ann@example.com") for n in (1, 2, 3)]
    assert [c.status_code for c in codes] == [200, 200, 429]
    assert 1 <= int(codes[2].headers["Retry-After"]) <= 3600
    # one shopper, many addresses (invalid ones count too): the shopper's budget (4) runs out
    shopper = [
        _post(limited, "203.0.113.9", email=address).status_code
        for address in ("b@example.com", "bad", "c@example.com", "d@example.com", "e@example.com")
    ]
    assert shopper == [200, 422, 200, 200, 429]
    assert _post(limited, "203.0.113.10", email="f@example.com").status_code == 200
