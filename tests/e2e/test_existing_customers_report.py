"""A merchant finds the existing customers who used a friend code: from Referrals to the list,
inside the devstore's admin frame in Chromium."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Customer, Shop
from shopify_app.referrals import advocates
from shopify_app.referrals.program import update_program
from tests.conftest import SHOP_A
from tests.integration.webhook_support import run_jobs

LINES = [{"title": "Green tea", "price": "40.00", "quantity": 1}]


def settle(live, rounds=4):
    for _ in range(rounds):
        live.state.dispatcher.drain(10)
        run_jobs(live.app)


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
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        update_program(session, shop, {"enabled": True}, actor="staff:501")
        customer = session.query(Customer).filter_by(shopify_id=ada.id).one()
        advocate, _ = advocates.join(session, shop, customer, via="staff", actor="staff:501")
        code = advocate.code
        session.commit()
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
