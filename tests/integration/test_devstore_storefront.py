"""The devstore as a shopper and a merchant use it: log in, open the app-proxy page (signed
by the devstore as Shopify signs it), join; refund an order from the devstore's admin."""

from __future__ import annotations

import re

import httpx

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Advocate, Referral, Shop
from shopify_app.referrals.program import update_program
from tests.conftest import SHOP_A

from .webhook_support import install, one, run_jobs


def settle(live, rounds=4):
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


def test_a_shopper_joins_through_the_proxy_and_a_refund_in_the_admin_voids(live):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        update_program(session, shop, {"enabled": True}, actor="staff:501")
        session.commit()
    commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    store = f"{live.devstore_url}/shops/{SHOP_A}"
    with httpx.Client(follow_redirects=True, timeout=10) as shopper:
        logged_out = shopper.get(f"{store}/apps/referrals")
        assert logged_out.status_code == 200 and "Log in to your account" in logged_out.text
        page = shopper.post(
            f"{store}/account/login",
            data={"email": "ada@example.com", "next": f"/shops/{SHOP_A}/apps/referrals"},
        )
        assert "Join the program" in page.text
        assert f'action="/shops/{SHOP_A}/apps/referrals/join"' in page.text
        token = re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)
        joined = shopper.post(
            f"{store}/apps/referrals/join", data={"via": "storefront", "token": token}
        )
        assert joined.status_code == 200
    advocate = one(live.app, Advocate)
    assert advocate.code in joined.text and advocate.joined_via == "storefront"
    run_jobs(live.app)

    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com")
    order = commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=bob.id,
        lines=[{"title": "Teapot", "price": "49.00"}],
        discount_code=advocate.code,
    )
    settle(live)
    assert one(live.app, Referral).status == "completed"
    admin = httpx.post(f"{live.devstore_url}/store/alpha-shop/orders/{order.id}/refund", data={})
    assert admin.status_code == 302
    listing = httpx.get(f"{live.devstore_url}/store/alpha-shop/orders")
    assert "refunded" in listing.text
    settle(live)
    assert one(live.app, Referral).status == "voided"


def test_the_discounts_page_lists_codes_with_their_usage(live):
    from datetime import timedelta
    from decimal import Decimal

    shop = commerce.data(live.state, SHOP_A)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com")
    older = commerce.DevDiscount(
        id=commerce.next_id(),
        title="Reward <b>for Ada</b>",
        code="REWARD-ADA",
        starts_at=commerce.now(),
        amount=Decimal("10"),
        minimum_subtotal=Decimal("30"),
        usage_limit=1,
        applies_once_per_customer=True,
        customer_ids=[ada.id, 999],
        created_at=commerce.now() - timedelta(days=1),
    )
    newer = commerce.DevDiscount(
        id=commerce.next_id(),
        title="Friend offer",
        code="FRIEND-ADA",
        starts_at=commerce.now() + timedelta(days=2),
        percentage=0.125,
    )
    shop.discounts.update({older.id: older, newer.id: newer})
    commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=ada.id,
        lines=[{"title": "Tea", "price": "40"}],
        discount_code="REWARD-ADA",
    )

    home = httpx.get(f"{live.devstore_url}/store/alpha-shop").text
    assert 'href="/store/alpha-shop/discounts"' in home  # in the admin's nav
    page = httpx.get(f"{live.devstore_url}/store/alpha-shop/discounts").text
    rows = re.findall(r'<tr id="discount-\d+">(.*?)</tr>', page, re.S)
    text = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
    assert text[0].startswith("FRIEND-ADA Friend offer Scheduled")  # newest first
    assert "12.5% off" in text[0] and "0 / no limit" in text[0] and "All customers" in text[0]
    assert "10.00 EUR off minimum subtotal 30.00 EUR" in text[1]
    assert "1 / 1 once per customer" in text[1]
    assert "2 specific customers ada@example.com, Customer 999" in text[1]
    assert "Reward &lt;b&gt;for Ada&lt;/b&gt;" in rows[1]  # escaped
    assert httpx.get(f"{live.devstore_url}/store/nobody/discounts").status_code == 404
