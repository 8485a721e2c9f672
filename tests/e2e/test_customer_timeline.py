"""A merchant opens a customer in the devstore admin frame: the hub header, the timeline in
the shop's time zone, a filter by source and by kind, an order's details opened in place, a
third party's event with its payload, and the older page. Screenshots at 1280 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Customer, Shop
from shopify_app.timeline import third_party
from tests.conftest import SHOP_A
from tests.e2e.shop_setup import settle
from tests.integration.webhook_support import install

LINES = [{"title": "Green tea 100 g", "price": "24.95", "quantity": 2, "sku": "TEA-GREEN-100"}]


def test_a_merchant_reads_filters_opens_and_pages_a_customers_timeline(live, page, screenshots_dir):
    install(live, SHOP_A)
    ada = commerce.create_customer(
        live.state,
        SHOP_A,
        email="ada.lovelace@example.com",
        first_name="Ada",
        last_name="Lovelace",
        state="enabled",
        email_consent="subscribed",
    )
    order = commerce.place_order(live.state, SHOP_A, customer_id=ada.id, lines=LINES)
    commerce.fulfill_order(live.state, SHOP_A, order.id)
    settle(live, rounds=3)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        customer = session.scalar(
            select(Customer).where(Customer.shop_id == shop.id, Customer.shopify_id == ada.id)
        )
        start = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
        for n in range(30):
            third_party.add_event(
                session,
                shop,
                customer,
                event_type="loyalty.points_earned",
                source_name="Smile",
                properties={"points": 10 * (n + 1), "reason": "Purchase"},
                occurred_at=start + timedelta(hours=n),
            )
        session.commit()
        customer_id = customer.id

    page.goto(live.admin_url("alpha-shop") + f"/customers/{customer_id}")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#hub-orders")).to_have_text("1 order", timeout=15000)
    expect(app.locator("#email-consent")).to_contain_text("Subscribed since")
    expect(app.locator("#order-history")).to_contain_text(order.name)
    expect(app.locator("#order-history")).to_contain_text("fulfilled")
    timeline = app.locator("#timeline")
    expect(timeline.locator("li.event").first).to_contain_text(f"Order {order.name} fulfilled")
    page.screenshot(path=str(screenshots_dir / "customer-hub.png"))
    timeline.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir / "customer-timeline.png"))

    # Shopify's events only, orders only; then open the order to its lines and totals.
    app.get_by_role("checkbox", name="Shopify").check()
    app.get_by_role("checkbox", name="Orders").check()
    app.get_by_role("button", name="Apply").click()
    expect(app.get_by_role("checkbox", name="Shopify")).to_be_checked(timeout=15000)
    expect(timeline.locator("li.event")).to_have_count(3)  # placed, paid, fulfilled
    placed = timeline.locator("li.event", has_text=f"Order {order.name} placed")
    placed.locator("summary").click()
    details = placed.locator(".event-details")
    expect(details).to_be_visible()
    expect(details).to_contain_text("Green tea 100 g")
    expect(details).to_contain_text("49.90")
    details.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir / "customer-timeline-order.png"))

    # Third parties: their source name, their payload, and the older page.
    app.get_by_role("link", name="Clear").click()
    # the cleared page has loaded (else the box is ticked on the page being replaced)
    expect(app.get_by_role("checkbox", name="Shopify")).not_to_be_checked(timeout=15000)
    app.get_by_role("checkbox", name="Third parties").check()
    app.get_by_role("button", name="Apply").click()
    expect(timeline.locator("li.event")).to_have_count(25, timeout=15000)
    newest = timeline.locator("li.event").first
    expect(newest).to_contain_text("Loyalty points earned (from Smile)")
    expect(newest.locator("time")).to_contain_text("11 Jan 2026, 16:00")  # 14:00Z in Helsinki
    newest.locator("summary").click()
    expect(newest.locator(".api-payload")).to_contain_text("300")
    newest.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir / "customer-timeline-api.png"))
    app.get_by_role("link", name="Older").click()
    expect(timeline.locator("li.event")).to_have_count(5, timeout=15000)
    expect(timeline.locator("li.event").last).to_contain_text("10 Jan 2026, 11:00")
    expect(app.get_by_role("checkbox", name="Third parties")).to_be_checked()
    timeline.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir / "customer-timeline-older.png"))
