"""A friend follows the advocate's link in Chromium, lands on the store with the discount,
checks out, and the advocate's reward code appears in Shopify (the devstore's Discounts
page) and in their inbox."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from shopify_app.models import ReferralClick, Reward
from tests.conftest import SHOP_A
from tests.e2e.shop_setup import settle
from tests.integration.webhook_support import enable_program_and_join, install, one, run_jobs


def test_a_friend_follows_the_link_and_checks_out_with_the_discount(live, page, screenshots_dir):
    install(live, SHOP_A)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live)
    code = enable_program_and_join(live, SHOP_A, ada.id, friend_value=20)
    run_jobs(live.app)

    page.goto(f"{live.app_url}/r/{code}")
    expect(page.locator("#discount-applied")).to_contain_text(code)
    page.screenshot(path=str(screenshots_dir / "storefront-with-discount.png"), full_page=True)
    page.click("#add-green-tea")
    expect(page.locator("#cart-count")).to_have_text("1")
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
