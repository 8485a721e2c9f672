"""A merchant finds the existing customers who used a friend code: from Referrals to the list,
inside the devstore's admin frame in Chromium."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from tests.conftest import SHOP_A
from tests.e2e.shop_setup import LINES, settle
from tests.integration.webhook_support import enable_program_and_join


def test_existing_customers_who_used_a_friend_code_are_listed(live, page, screenshots_dir):
    page.goto(live.admin_url("alpha-shop") + "/referrals")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#empty")).to_be_visible(timeout=15000)
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    cy = commerce.create_customer(
        live.state, SHOP_A, email="cy@example.com", first_name="Cy", last_name="Young"
    )
    commerce.place_order(live.state, SHOP_A, customer_id=cy.id, lines=LINES)
    settle(live)
    code = enable_program_and_join(live, SHOP_A, ada.id)
    settle(live)
    commerce.place_order(
        live.state, SHOP_A, customer_id=None, email="cy@example.com", lines=LINES,
        discount_code=code,
    )  # fmt: skip
    settle(live)

    page.goto(live.admin_url("alpha-shop") + "/referrals")
    link = app.get_by_role("link", name="Existing customers who used a friend code (1)")
    expect(app.locator("#referrals tbody tr").first).to_contain_text("Blocked")
    page.screenshot(path=str(screenshots_dir / "referrals-existing-link.png"), full_page=True)
    link.click()
    row = app.locator("#existing-customers tbody tr").first
    expect(row).to_contain_text("Cy Young")
    expect(row).to_contain_text(code)
    expect(row).to_contain_text("already ordered")
    page.screenshot(path=str(screenshots_dir / "existing-customers.png"), full_page=True)
