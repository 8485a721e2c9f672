"""A support agent answers "why was my referral blocked?" from the portal's search box."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from tests.conftest import SHOP_A
from tests.e2e.shop_setup import LINES, settle
from tests.integration.webhook_support import enable_program_and_join, install, run_jobs


def test_an_agent_finds_the_friend_and_sees_why_the_referral_was_blocked(
    live, page, screenshots_dir
):
    install(live, SHOP_A)
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada.lovelace@gmail.com", first_name="Ada", last_name="Lovelace"
    )
    settle(live)
    code = enable_program_and_join(live, SHOP_A, ada.id)
    run_jobs(live.app)
    alias = commerce.create_customer(
        live.state, SHOP_A, email="adalovelace+shop@gmail.com", first_name="A."
    )
    commerce.place_order(live.state, SHOP_A, customer_id=alias.id, lines=LINES, discount_code=code)
    settle(live)

    page.goto(live.admin_url("alpha-shop") + "/portal")
    app = page.frame_locator("#app-frame")
    app.locator("#q").fill("adalovelace+shop@gmail.com")
    app.get_by_role("button", name="Find").click()
    expect(app.locator("#people")).to_contain_text("adalovelace+shop@gmail.com", timeout=15000)
    page.screenshot(path=str(screenshots_dir / "portal-search.png"), full_page=True)
    app.locator("#people a").first.click()
    app.locator("#as-friend a").first.click()
    expect(app.locator("#reward-status")).to_contain_text("blocked")
    expect(app.locator("#check-self_referral\\.email")).to_contain_text("adalovelace@gmail.com")
    page.screenshot(path=str(screenshots_dir / "portal-referral.png"), full_page=True)
