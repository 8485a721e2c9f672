"""Home as a merchant sees it in Chromium: the dashboard at 1280 and 1440 px, and every page
rendered, loaded and usable while Shopify's CDN swallows requests without ever answering."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import EmailMessage, ReferralClick, Shop, SyncRun, utcnow
from tests import factories
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install
from tests.support import wait_until

CDN = "cdn.shopify.com"


def seed_month(live) -> None:
    """A month of referral activity for Alpha Shop, a bit every day, and a reconciliation."""
    now = utcnow()
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        factories.program(session, shop)
        advocate = factories.advocate(session, shop)
        for day in range(30):
            at = now - timedelta(days=day, hours=1)
            for n in range((day * 7) % 5 + 1):
                friend = factories.customer(session, shop)
                order = factories.order(session, shop, friend, total_minor=2_500 + 1_000 * n)
                done = n % 3 != 2
                factories.referral(
                    session,
                    shop,
                    advocate,
                    order,
                    status="completed" if done else "pending",
                    created_at=at,
                    completed_at=at if done else None,
                )
            for _ in range((day * 3) % 11 + 4):
                session.add(ReferralClick(shop_id=shop.id, advocate_id=advocate.id, clicked_at=at))
            for i in range(day % 4):
                session.add(
                    EmailMessage(
                        shop_id=shop.id,
                        kind="share",
                        to_address=f"friend{day}-{i}@example.com",
                        subject="A gift",
                        body_text="…",
                        dedupe_key=f"share:{day}:{i}",
                        created_at=at,
                    )
                )
        session.add(
            SyncRun(
                shop_id=shop.id,
                kind="reconcile",
                status="completed",
                orders_recovered=2,
                customers_recovered=1,
                started_at=now - timedelta(minutes=14),
                finished_at=now - timedelta(minutes=13),
            )
        )
        session.commit()


@pytest.mark.parametrize("width", [1280, 1440])
def test_the_dashboard_at_admin_widths(live, browser, screenshots_dir, width):
    seed_month(live)
    context = browser.new_context(viewport={"width": width, "height": 1900})
    page = context.new_page()
    try:
        page.goto(live.admin_url("alpha-shop"))
        app = page.frame_locator("#app-frame")
        expect(app.locator("#totals")).to_be_visible(timeout=15000)
        expect(app.locator("[data-metric=completed]")).not_to_have_text("0")
        expect(app.locator("svg.chart")).to_have_count(5)
        expect(app.locator("#reconcile-report")).to_contain_text(
            "Recovered 2 orders and 1 customer"
        )
        frame = page.frame(name="app-iframe")
        overflow = frame.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
        page.screenshot(path=str(screenshots_dir / f"home-dashboard-{width}.png"), full_page=True)
        app.get_by_role("link", name="Last 7 days").click()
        expect(app.locator("#period-label")).to_contain_text("Last 7 days")
        expect(app.locator("#daily-numbers tbody tr")).to_have_count(7)
    finally:
        context.close()


def black_hole(context) -> list[str]:
    """Every request to Shopify's CDN waits forever (never answered, never failed); returns
    the list the swallowed URLs are added to."""
    swallowed: list[str] = []
    context.route(f"**://{CDN}/**", lambda route: swallowed.append(route.request.url))
    return swallowed


def loaded(frame) -> bool:
    return frame.evaluate(
        "() => document.readyState === 'complete' && "
        "performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
    )


def test_pages_load_and_work_while_the_cdn_never_answers(live, page, screenshots_dir):
    swallowed = black_hole(page.context)
    install(live, SHOP_A)

    # Home: rendered, its load event fired, the custom range form works.
    page.goto(live.admin_url("alpha-shop"), wait_until="domcontentloaded")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#totals")).to_be_visible()
    frame = page.frame(name="app-iframe")
    wait_until(lambda: loaded(frame), 30, "Home's load event, with Polaris unanswered")
    # Playwright's sync API runs the route handler only while the test calls into Playwright,
    # so each poll gives it a turn (a bare list read would never see the request).
    wait_until(
        lambda: page.wait_for_timeout(50) or any("polaris" in url for url in swallowed),
        30,
        "the page to ask for Polaris",
    )
    assert frame.evaluate("() => customElements.get('s-page') === undefined")  # no Polaris
    page.screenshot(path=str(screenshots_dir / "home-cdn-black-hole.png"), full_page=True)
    today = utcnow().date()
    app.locator("#range-from").fill((today - timedelta(days=3)).isoformat())
    app.locator("#range-to").fill(today.isoformat())
    app.get_by_role("button", name="Show range").click()
    expect(app.locator("#daily-numbers tbody tr")).to_have_count(4)
    expect(app.locator("#period-label")).to_contain_text(today.isoformat())

    # Settings: a form posted through App Bridge's fetch.
    page.goto(live.admin_url("alpha-shop") + "/settings", wait_until="domcontentloaded")
    expect(app.locator("#f-friend_value")).to_be_visible()
    frame = page.frame(name="app-iframe")
    wait_until(lambda: loaded(frame), 30, "Settings' load event, with Polaris unanswered")
    app.locator("#f-friend_value").fill("15")
    app.get_by_role("button", name="Save settings").click()
    expect(app.locator("#saved")).to_contain_text("version 2")
    page.screenshot(path=str(screenshots_dir / "settings-cdn-black-hole.png"), full_page=True)
