"""A merchant sets up the program, adds an advocate and voids a referral, inside the devstore's
admin frame in Chromium (forms post through fetch, signed by the App Bridge stand-in)."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from shopify_app.models import Advocate, Referral
from tests.conftest import SHOP_A
from tests.e2e.shop_setup import LINES, settle
from tests.integration.webhook_support import one, run_jobs


def test_settings_advocate_and_referral_actions_in_the_admin(live, page, screenshots_dir):
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    page.goto(live.admin_url("alpha-shop") + "/settings")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#f-friend_value")).to_be_visible(timeout=15000)
    settle(live)  # the install's webhooks and Ada reach the app

    app.locator("#f-friend_value").fill("0")
    app.get_by_role("button", name="Save settings").click()
    expect(app.locator("#e-friend_value")).to_contain_text("from 1 to 100")
    page.screenshot(path=str(screenshots_dir / "settings-error.png"), full_page=True)

    app.locator("#f-friend_value").fill("15")
    app.locator("#f-enabled").check()
    app.get_by_role("button", name="Save settings").click()
    expect(app.locator("#saved")).to_contain_text("version 2")
    page.screenshot(path=str(screenshots_dir / "settings-saved.png"), full_page=True)

    page.goto(live.admin_url("alpha-shop") + "/advocates")
    app.locator("#f-email").fill("ada@example.com")
    app.get_by_role("button", name="Join the program").click()
    expect(app.locator("#result")).to_contain_text("joined with the code")
    run_jobs(live.app)
    advocate = one(live.app, Advocate)

    bob = commerce.create_customer(live.state, SHOP_A, email="bob@example.com", first_name="Bob")
    commerce.place_order(
        live.state, SHOP_A, customer_id=bob.id, lines=LINES, discount_code=advocate.code
    )
    settle(live)
    page.goto(live.admin_url("alpha-shop") + "/referrals")
    row = app.locator("#referrals tbody tr").first
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text(advocate.code)
    page.screenshot(path=str(screenshots_dir / "referrals.png"), full_page=True)

    row.get_by_label("Reason for voiding").fill("Order returned in store")
    row.get_by_role("button", name="Void").click()
    expect(app.locator("#result")).to_contain_text("voided")
    expect(app.locator("#referrals tbody tr").first).to_contain_text("Order returned in store")
    page.screenshot(path=str(screenshots_dir / "referral-voided.png"), full_page=True)
    assert one(live.app, Referral).status == "voided"
    assert ada.id
