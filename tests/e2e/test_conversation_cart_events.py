"""Cart events (F2) side by side: a shopper on the devstore storefront starts a chat, then
adds Teapot (2) and the gift set whose title is over 40 characters and removes one Teapot
with the store's own cart buttons (Shopify's Ajax cart API). The app's web pixel
(extensions/referral-pixel, activated by the app after install) runs in a real Web Worker,
hears the standard events, reads the chat token through `browser.localStorage` and sends
them to the app; the staff member's inbox shows each as a compact line: "Added Teapot to the
cart", the long one without its title, the subtotal and each product's quantity. The shopper's
chat shows none of it.

Screenshots: tests/e2e/screenshots/cart-events-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shopify_app.models import Conversation, ConversationMessage
from tests.conftest import SHOP_A
from tests.e2e.conversations_support import enable_embed
from tests.integration.webhook_support import install, rows, run_jobs

pytestmark = pytest.mark.xdist_group("realtime")

STORE = f"/shops/{SHOP_A}/"
EMAIL = "cara.shopper@example.com"
LIVE = 30000  # generous: the machine may be busy; nothing here measures speed
GIFT = "First flush Darjeeling gift set with two cups"


def cart_messages(live) -> list[ConversationMessage]:
    return rows(live.app, ConversationMessage, ConversationMessage.kind == "cart")


def wait_for_cart_messages(live, shopper, count: int) -> list[ConversationMessage]:
    """The pixel's POSTs are the browser's own; poll the stored messages while the page
    keeps running (Playwright's sync API only runs inside its calls)."""
    for _ in range(150):
        found = cart_messages(live)
        if len(found) >= count:
            return found
        shopper.wait_for_timeout(200)
    raise AssertionError(f"{len(cart_messages(live))} cart events stored, {count} expected")


def test_cart_events_reach_the_staff_thread(
    live, browser, page, realtime, screenshots_dir, monkeypatch
):
    def snap(step: str) -> None:
        shopper.screenshot(path=str(screenshots_dir / f"cart-events-{step}-shopper.png"))
        page.screenshot(path=str(screenshots_dir / f"cart-events-{step}-staff.png"))

    monkeypatch.setitem(live.app.config, "WEB_PIXEL_ACTIVATION", True)  # off in tests
    install(live, SHOP_A)
    run_jobs(live.app)  # the web pixel's activation (webPixelCreate)
    assert live.state.shop(SHOP_A).web_pixel is not None
    enable_embed(live, page)

    shopper_context = browser.new_context(viewport={"width": 1280, "height": 900})
    shopper = shopper_context.new_page()
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_role("button", name="Chat with us").click()
    widget = shopper.get_by_role("dialog", name="Chat with us")
    widget.get_by_label("Your email").fill(EMAIL)
    widget.get_by_label("Your name (optional)").fill("Cara")
    widget.get_by_role("button", name="Start chat").click()
    message = widget.get_by_label("Message", exact=True)
    expect(message).to_be_focused()
    message.fill("Which teapot goes with the gift set?")
    message.press("Enter")
    expect(widget.get_by_role("log")).to_contain_text("Which teapot goes")
    (conversation,) = rows(live.app, Conversation)
    cid = conversation.id

    # The staff member has the thread open.
    page.goto(live.admin_url("alpha-shop") + f"/admin/conversations?c={cid}")
    staff = page.frame_locator("#app-frame")
    expect(staff.locator("#live-state")).to_contain_text("Live", timeout=LIVE)
    expect(staff.locator("#thread-heading")).to_have_text("Cara", timeout=LIVE)

    # The shopper closes the chat panel and shops: the page reloads between steps, as a
    # shopper browsing product pages does, so each page's pixel starts from init.data.cart.
    shopper.goto(live.devstore_url + STORE + "products/teapot")
    shopper.locator("#add-teapot").click()
    expect(shopper.locator("#cart-count")).to_have_text("1")
    shopper.locator("#add-teapot").click()
    expect(shopper.locator("#cart-count")).to_have_text("2")
    wait_for_cart_messages(live, shopper, 2)
    shopper.screenshot(path=str(screenshots_dir / "cart-events-1-product-shopper.png"))
    shopper.goto(live.devstore_url + STORE)
    shopper.locator("#add-first-flush-darjeeling-gift-set").click()
    expect(shopper.locator("#cart-count")).to_have_text("3")
    wait_for_cart_messages(live, shopper, 3)
    shopper.locator("#remove-teapot").click()
    expect(shopper.locator("#cart-count")).to_have_text("2")
    found = wait_for_cart_messages(live, shopper, 4)
    shopper.screenshot(
        path=str(screenshots_dir / "cart-events-2-store-shopper.png"), full_page=True
    )

    payloads = [m.payload for m in found]
    assert [p["event"] for p in payloads] == ["added", "added", "added", "removed"]
    assert [p["product_title"] for p in payloads] == ["Teapot", "Teapot", None, "Teapot"]
    assert [p["subtotal"] for p in payloads] == ["49.00", "98.00", "137.90", "88.90"]
    assert payloads[2]["lines"] == [
        {"title": "Teapot", "quantity": 2},
        {"title": GIFT[:39].rstrip() + "…", "quantity": 1},
    ]
    assert all(m.author == "system" for m in found)

    # Live in the staff thread: compact lines, the long title left out.
    thread = staff.locator("#messages")
    cart_lines = thread.locator(".message.kind-cart")
    expect(cart_lines).to_have_count(4, timeout=LIVE)
    expect(cart_lines.nth(0)).to_contain_text("Added Teapot to the cart")
    expect(cart_lines.nth(1)).to_contain_text("Teapot × 2")
    expect(cart_lines.nth(2)).to_contain_text("Added a product to the cart")
    expect(cart_lines.nth(2)).to_contain_text("Subtotal €137.90")
    expect(cart_lines.nth(3)).to_contain_text("Removed Teapot from the cart")
    expect(cart_lines.nth(3)).to_contain_text("Teapot × 1")
    expect(thread).not_to_contain_text(GIFT)
    page.screenshot(path=str(screenshots_dir / "cart-events-2-staff-live.png"))

    # The shopper's cart page: cart_viewed; the chat shows none of the cart events.
    shopper.goto(live.devstore_url + STORE + "cart")
    expect(shopper.locator("#cart-subtotal")).to_contain_text("88.90")
    wait_for_cart_messages(live, shopper, 5)
    dialog = shopper.get_by_role("dialog", name="Chat with us")
    if not dialog.is_visible():
        shopper.get_by_role("button", name="Chat with us").click()
    log = dialog.get_by_role("log")
    expect(log).to_contain_text("Which teapot goes", timeout=LIVE)
    expect(log).not_to_contain_text("cart")
    snap("3-cart-viewed")

    # After a reload the thread renders the same lines; not unread.
    page.reload()
    staff = page.frame_locator("#app-frame")
    cart_lines = staff.locator("#messages .message.kind-cart")
    expect(cart_lines).to_have_count(5, timeout=LIVE)
    expect(cart_lines.nth(4)).to_contain_text("Viewed the cart")
    expect(cart_lines.nth(2)).to_contain_text(f"Teapot × 2, {GIFT[:39].rstrip()}… × 1")
    staff.locator("#messages .message.kind-cart").nth(4).scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir / "cart-events-4-staff-reloaded.png"))
    assert rows(live.app, Conversation)[0].last_message_preview.startswith("Which teapot")
    shopper_context.close()
