"""A friend follows the advocate's link in Chromium, lands on the store with the discount,
checks out, and the advocate's reward code appears in Shopify (the devstore's Discounts
page) and in their inbox."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Customer, ReferralClick, Reward, Shop
from shopify_app.referrals import advocates
from shopify_app.referrals.program import update_program
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install, one, run_jobs


def settle(live, rounds=4):
    for _ in range(rounds):
        live.state.dispatcher.drain(10)
        run_jobs(live.app)


def test_a_friend_follows_the_link_and_checks_out_with_the_discount(live, page, screenshots_dir):
    install(live, SHOP_A)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        update_program(session, shop, {"enabled": True, "friend_value": 20}, actor="staff:501")
        customer = session.query(Customer).filter_by(shopify_id=ada.id).one()
        advocate, _ = advocates.join(session, shop, customer, via="staff", actor="staff:501")
        session.commit()
        code = advocate.code
    run_jobs(live.app)

    page.goto(f"{live.app_url}/r/{code}")
    expect(page.locator("#discount-applied")).to_contain_text(code)
    page.screenshot(path=str(screenshots_dir / "storefront-with-discount.png"), full_page=True)
    page.fill("#email", "friend@example.com")
    page.fill("#first_name", "Fran")
    page.click("text=Check out")
    expect(page.locator("#order-placed")).to_contain_text(f"with the code {code}")
    page.screenshot(path=str(screenshots_dir / "storefront-order-placed.png"), full_page=True)

    settle(live)
    click = one(live.app, ReferralClick)
    assert "Chrome" in (click.user_agent or "")
    reward = one(live.app, Reward)
    assert reward.status == "issued"
    assert commerce.find_discount(commerce.data(live.state, SHOP_A), reward.code) is not None
    order = next(iter(commerce.data(live.state, SHOP_A).orders.values()))
    assert order.landing_site == f"/?ref={code}" and order.discount_code == code

    page.goto(f"{live.devstore_url}/mailbox")
    expect(page.locator("#mailbox")).to_contain_text(reward.code)
    page.screenshot(path=str(screenshots_dir / "mailbox-reward.png"), full_page=True)

    # the README's demo: the codes and their usage on the devstore's Discounts page
    page.goto(f"{live.devstore_url}/store/alpha-shop")
    page.click("nav >> text=Discounts")
    friend = page.locator("#discounts tr", has_text=code)
    expect(friend).to_contain_text("20% off")
    expect(friend.locator(".usage")).to_contain_text("1 /")
    expect(page.locator("#discounts tr", has_text=reward.code)).to_contain_text("Active")
    page.screenshot(path=str(screenshots_dir / "devstore-discounts.png"), full_page=True)
