"""The app in Finnish in Chromium (G3): the admin opened with the staff member's language
(`locale=fi`, as Shopify passes it) keeps it from page to page, and the store's Finnish
storefront shows the referral page in Finnish. Screenshots go to tests/e2e/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect

from shopify_app.db import get_session
from shopify_app.models import Shop
from tests import factories
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install_with_program


def test_a_finnish_merchant_and_a_finnish_shopper(live, page, screenshots_dir):
    install_with_program(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(session.query(Shop).filter_by(domain=SHOP_A).statement)
        ada = factories.customer(
            session,
            shop,
            first_name="Aino",
            last_name="Virtanen",
            customer_since=datetime(2026, 3, 7, tzinfo=UTC),
        )
        advocate = factories.advocate(session, shop, ada)
        order = factories.order(session, shop, currency="EUR", total_minor=1250)
        factories.referral(
            session, shop, advocate, order, created_at=datetime(2026, 11, 24, tzinfo=UTC)
        )
        session.commit()
        aino = ada.id

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live.admin_url("alpha-shop") + "/customers?locale=fi")
    app = page.frame_locator("#app-frame")
    expect(app.locator("s-page")).to_have_attribute("heading", "Asiakkaat", timeout=15000)
    expect(app.locator("#customers th").filter(has_text="Shopify-tila")).to_be_visible()
    expect(app.locator("#summary")).to_contain_text("asiakas")
    page.screenshot(path=str(screenshots_dir / "fi-customers-1280.png"), full_page=True)

    app.get_by_role("link", name="Aino Virtanen").click()  # a link keeps the language
    expect(app.locator("#activity-referrals")).to_contain_text("12,50\xa0€")
    expect(app.locator("#activity-referrals")).to_contain_text("24.11.2026")
    expect(app.get_by_text("Tilauksen summa")).to_be_visible()
    page.screenshot(path=str(screenshots_dir / f"fi-customer-{aino}-1280.png"), full_page=True)

    page.goto(f"{live.devstore_url}/shops/{SHOP_A}/fi/apps/referrals")
    expect(page.get_by_role("heading", name="Suosittele kauppaa")).to_be_visible()
    expect(page.get_by_role("button", name="Tilaa sähköpostiin")).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "fi-storefront-1280.png"), full_page=True)
