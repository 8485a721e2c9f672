"""The app as a merchant sees it: inside the (dev)store admin's iframe, in Chromium."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import expect

from tests.conftest import SHOP_A
from tests.helpers import id_token


def app_frame(page):
    return page.frame_locator("#app-frame")


def test_app_loads_in_the_admin_frame_and_shows_the_shop_name(live, page, screenshots_dir):
    page.goto(live.admin_url("alpha-shop"))
    frame = app_frame(page)
    expect(frame.locator("#shop-name")).to_have_text("Alpha Shop", timeout=15000)
    expect(frame.locator("body")).to_contain_text("alpha-shop.myshopify.com")
    page.screenshot(path=str(screenshots_dir / "home-in-admin-frame.png"), full_page=True)


def test_second_shop_sees_only_its_own_data(live, page):
    page.goto(live.admin_url("beta-shop"))
    frame = app_frame(page)
    expect(frame.locator("#shop-name")).to_have_text("Beta Shop", timeout=15000)
    expect(frame.locator("body")).not_to_contain_text("Alpha Shop")


def test_document_load_without_token_bounces_through_app_bridge_and_lands(
    live, page, screenshots_dir
):
    page.goto(live.admin_url("alpha-shop"))
    expect(app_frame(page).locator("#shop-name")).to_have_text("Alpha Shop", timeout=15000)
    query = urlencode({"shop": SHOP_A, "embedded": "1", "host": "aG9zdA"})
    page.locator("#app-frame").evaluate("(f, src) => { f.src = src; }", f"{live.app_url}/?{query}")
    expect(app_frame(page).locator("#shop-name")).to_have_text("Alpha Shop", timeout=15000)
    frame = page.frame(name="app-iframe")
    assert frame is not None and "id_token=" in frame.url


def test_fetch_from_the_app_carries_a_fresh_id_token(live, page):
    page.goto(live.admin_url("alpha-shop"))
    expect(app_frame(page).locator("#shop-name")).to_have_text("Alpha Shop", timeout=15000)
    frame = page.frame(name="app-iframe")
    status = frame.evaluate("async () => (await fetch('/')).status")
    assert status == 200
    unpatched = frame.evaluate(
        "async () => (await fetch('/', {headers: {'Authorization': 'Bearer forged'}})).status"
    )
    assert unpatched == 200  # App Bridge replaces whatever Authorization the page set


def test_csp_lets_only_the_admin_frame_the_app(live, page):
    """frame-ancestors names the shop and the admin origin; any other origin is blocked."""
    token_query = urlencode({"shop": SHOP_A, "embedded": "1", "id_token": id_token(SHOP_A)})
    src = f"{live.app_url}/?{token_query}"
    inject = """src => {
        const f = document.createElement('iframe');
        f.id = 'probe'; f.name = 'probe'; f.src = src;
        document.body.appendChild(f);
    }"""

    page.goto(f"{live.devstore_url}/")  # the admin origin: allowed
    page.evaluate(inject, src)
    expect(page.frame_locator("#probe").locator("#shop-name")).to_have_text(
        "Alpha Shop", timeout=15000
    )

    other_origin = live.devstore_url.replace("127.0.0.1", "localhost")
    page.goto(f"{other_origin}/")  # same server, another origin: refused by the CSP
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "frame-ancestors" in m.text else None)
    page.evaluate(inject, src)
    page.wait_for_timeout(1500)
    assert page.frame_locator("#probe").locator("#shop-name").count() == 0
    assert blocked, "Chromium should report the frame-ancestors violation"


def test_page_is_readable_without_shopifys_cdn(live, page, screenshots_dir):
    """Polaris comes from cdn.shopify.com, which is unreachable here: the local CSS carries it."""
    page.goto(live.admin_url("alpha-shop"))
    frame = app_frame(page)
    heading = frame.locator("s-page")
    expect(heading).to_be_visible(timeout=15000)
    section = frame.locator("s-section").first
    background = section.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(255, 255, 255)"
    page.screenshot(path=str(screenshots_dir / "home-without-cdn.png"))
