"""The storefront page behind Shopify's app proxy: signature checks, joining, sharing by email
(validated, rate-limited, logged), and the invitation path."""

from __future__ import annotations

import re
import time

import pytest

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import (
    Advocate,
    AdvocateVisit,
    Customer,
    EmailMessage,
    FraudCheck,
    Referral,
    Shop,
)
from shopify_app.referrals import advocates
from shopify_app.shopify.hmac import app_proxy_signature
from tests.conftest import SHOP_A
from tests.helpers import proxy_query, signed_proxy_pairs

from .webhook_support import install_with_program, one, rows, run_jobs


def test_the_signature_matches_shopifys_documented_example():
    params = {
        "extra": ["1", "2"],
        "shop": ["shop-name.myshopify.com"],
        "logged_in_customer_id": ["1"],
        "path_prefix": ["/apps/awesome_reviews"],
        "timestamp": ["1317327555"],
    }
    assert app_proxy_signature(params, "hush") == (
        "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"
    )


def settle(live, rounds=3):
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


@pytest.fixture
def store(live):
    install_with_program(live, SHOP_A)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    return live, ada


def page(live, customer_id=None, **extra):
    return live.http.get(
        f"{live.app_url}/proxy", params=proxy_query(SHOP_A, customer_id, extra=extra)
    )


def act(live, action, data, customer_id=None, *, token=True):
    """Post a form of the page, with the token the page gave (as a browser would)."""
    if token:
        found = re.search(r'name="token" value="([0-9a-f]+)"', page(live, customer_id).text)
        data = {**data, "token": found.group(1)} if found else data
    return live.http.post(
        f"{live.app_url}/proxy/{action}", params=proxy_query(SHOP_A, customer_id), data=data
    )


def test_unsigned_forged_and_stale_requests_are_refused(store):
    live, ada = store
    plain = live.http.get(f"{live.app_url}/proxy", params={"shop": SHOP_A})
    assert plain.status_code == 401
    forged = proxy_query(SHOP_A, ada.id)
    forged["logged_in_customer_id"] = "999"
    assert live.http.get(f"{live.app_url}/proxy", params=forged).status_code == 401
    stale = proxy_query(SHOP_A, ada.id, timestamp=1_000_000_000)
    assert live.http.get(f"{live.app_url}/proxy", params=stale).status_code == 401
    wrong_secret = proxy_query(SHOP_A, ada.id, secret="not-the-secret")
    assert live.http.post(f"{live.app_url}/proxy/join", params=wrong_secret).status_code == 401
    assert rows(live.app, Advocate) == []


def test_a_repeated_security_param_is_refused_even_when_shopify_signed_it(store):
    """A logged-in shopper adds `&logged_in_customer_id=<victim>` (or another `shop`) to the
    storefront URL; Shopify signs the values comma-joined. Acting as either would let them
    see the victim's code, join or share in their name: every such request is a 401."""
    live, ada = store
    victim = commerce.create_customer(live.state, SHOP_A, email="vic@example.com", first_name="Vic")
    settle(live)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        customer = session.query(Customer).filter_by(shopify_id=victim.id).one()
        advocates.join(session, shop, customer, via="staff", actor="staff:501")
        session.commit()
    signed = [(k, v) for k, v in proxy_query(SHOP_A, ada.id).items() if k != "signature"]
    for extra in (
        ("logged_in_customer_id", str(victim.id)),
        ("shop", "beta-shop.myshopify.com"),
        ("path_prefix", "/apps/elsewhere"),
        ("timestamp", str(int(time.time()))),
    ):
        for pairs in ([*signed, extra], [extra, *signed]):
            query = signed_proxy_pairs(pairs)
            shown = live.http.get(f"{live.app_url}/proxy", params=query)
            assert shown.status_code == 401, extra
            assert "Vic-" not in shown.text and "VIC-" not in shown.text
            joined = live.http.post(f"{live.app_url}/proxy/join", params=query)
            assert joined.status_code == 401
    single = live.http.get(f"{live.app_url}/proxy", params=signed_proxy_pairs(signed))
    assert single.status_code == 200  # the same query without the repeat is fine
    odd_key = signed_proxy_pairs([*signed, ("utm.source", "mail")])
    assert live.http.get(f"{live.app_url}/proxy", params=odd_key).status_code == 401
    assert [a.customer_id for a in rows(live.app, Advocate)] == [customer.id]


def test_a_logged_out_shopper_is_asked_to_log_in(store):
    live, _ada = store
    response = page(live)
    assert response.status_code == 200 and "Log in to your account" in response.text
    assert act(live, "join", {}).status_code == 403  # no form to post: not from this page


def test_a_customer_joins_and_shares_the_offer_by_email(store):
    live, ada = store
    before = page(live, ada.id)
    assert "Join the program" in before.text and "15% off" in before.text
    joined = act(live, "join", {"via": "storefront"}, ada.id)
    assert joined.status_code == 200 and "Share your link with friends" in joined.text
    advocate = one(live.app, Advocate)
    assert advocate.joined_via == "storefront" and advocate.code in joined.text
    assert f"/r/{advocate.code}" in joined.text

    for data, status, text in (
        ({"emails": ""}, 422, "Enter one or more"),
        ({"emails": "not-an-address, bob@example.com"}, 422, "not-an-address"),
        ({"emails": "ada@example.com"}, 422, "your own address"),
        ({"emails": ",".join(f"f{n}@example.com" for n in range(6))}, 422, "up to 5"),
    ):
        refused = act(live, "share", data, ada.id)
        assert refused.status_code == status and text in refused.text
    assert rows(live.app, EmailMessage) == []

    shared = act(live, "share", {"emails": "bob@example.com\nCy@Example.com"}, ada.id)
    assert shared.status_code == 200 and "Sent to 2 friends" in shared.text
    again = act(live, "share", {"emails": "bob@example.com"}, ada.id)  # a double submit
    assert again.status_code == 200
    run_jobs(live.app)
    messages = rows(live.app, EmailMessage)
    assert sorted(m.to_address for m in messages) == ["bob@example.com", "cy@example.com"]
    assert {(m.kind, m.status, m.advocate_id) for m in messages} == {("share", "sent", advocate.id)}
    mailbox = live.devstore.extensions["devstore_mailbox"]
    assert len(mailbox.to("bob@example.com")) == 1
    assert advocate.code in mailbox.to("cy@example.com")[0].text


def test_sharing_is_rate_limited_per_day(store, monkeypatch):
    live, ada = store
    monkeypatch.setitem(live.app.config, "SHARE_LIMIT_PER_ADVOCATE", 3)
    act(live, "join", {}, ada.id)
    assert act(live, "share", {"emails": "a@example.com, b@example.com"}, ada.id).status_code == 200
    limited = act(live, "share", {"emails": "c@example.com, d@example.com"}, ada.id)
    assert limited.status_code == 429 and "3 friends a day" in limited.text
    assert len(rows(live.app, EmailMessage)) == 2


def test_an_invitation_link_records_how_the_customer_joined(store):
    live, ada = store
    invited = page(live, ada.id, via="invitation")
    assert 'name="via" value="invitation"' in invited.text
    act(live, "join", {"via": "invitation"}, ada.id)
    assert one(live.app, Advocate).joined_via == "invitation"


def test_an_order_from_the_advocates_own_device_is_a_self_referral(store):
    live, ada = store
    act(live, "join", {}, ada.id)
    device = {"X-Forwarded-For": "198.51.100.50", "User-Agent": "AdaPhone/1"}  # from Shopify
    live.http.get(f"{live.app_url}/proxy", params=proxy_query(SHOP_A, ada.id), headers=device)
    advocate = one(live.app, Advocate)
    visit = one(live.app, AdvocateVisit)
    assert (visit.ip, visit.user_agent) == ("198.51.100.50", "AdaPhone/1")
    run_jobs(live.app)
    alias = commerce.create_customer(live.state, SHOP_A, email="someone-else@example.com")
    commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=alias.id,
        lines=[{"title": "Teapot", "price": "49.00"}],
        discount_code=advocate.code,
        browser_ip="198.51.100.50",
        user_agent="AdaPhone/1",
    )
    settle(live, rounds=4)
    referral = one(live.app, Referral)
    assert referral.status == "blocked" and "advocate's own device" in referral.status_reason
    check = one(live.app, FraudCheck, FraudCheck.rule_id == "self_referral.device")
    assert check.evidence["friend_ip"] == "198.51.100.50"
    assert ["198.51.100.50", "AdaPhone/1"] in check.evidence["advocate_devices"]


def test_the_shoppers_address_is_the_one_shopifys_proxy_wrote_not_one_they_sent(store):
    """The shopper sends `X-Forwarded-For: <someone else>` to the storefront; Shopify's proxy
    appends the address it saw. With no trusted proxy in front of the app (the default here)
    that last entry is the shopper, and a spoofed one never becomes their device."""
    live, ada = store
    act(live, "join", {}, ada.id)
    spoofed = {"X-Forwarded-For": "203.0.113.66, 198.51.100.50", "User-Agent": "AdaPhone/1"}
    live.http.get(f"{live.app_url}/proxy", params=proxy_query(SHOP_A, ada.id), headers=spoofed)
    assert [(v.ip, v.user_agent) for v in rows(live.app, AdvocateVisit)] == [
        ("198.51.100.50", "AdaPhone/1")
    ]
    unsigned = live.http.get(f"{live.app_url}/proxy", params={"shop": SHOP_A}, headers=spoofed)
    assert unsigned.status_code == 401


def test_a_form_posted_from_another_site_is_refused(store):
    live, ada = store
    forged = act(live, "join", {"token": "0" * 32}, ada.id, token=False)
    assert forged.status_code == 403 and "expired" in forged.text
    assert act(live, "join", {}, ada.id, token=False).status_code == 403
    assert rows(live.app, Advocate) == []
