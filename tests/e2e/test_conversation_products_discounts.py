"""Issue 20 F5, side by side: a staff member in the admin frame sends a product link and a
discount code from the inbox's pickers; the shopper's widget on the storefront shows the
product as a card linking to its page and the code with an "Apply" button, which applies the
code to their cart (the devstore's `/discount/<code>` sets the `ds_discount` cookie the cart
reads). Refusals show inline in the picker: a product not on the Online Store is never
offered, and a code that does not exist is refused with the reason.

Screenshots: tests/e2e/screenshots/products-discounts-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from devstore import commerce
from shopify_app.conversations import service
from shopify_app.db import get_session
from shopify_app.models import Conversation, Shop
from tests.conftest import SHOP_A
from tests.e2e.conversations_support import enable_embed
from tests.integration.test_chat_catalog import create_code
from tests.integration.webhook_support import install, rows

pytestmark = pytest.mark.xdist_group("realtime")

STORE = f"/shops/{SHOP_A}"
EMAIL = "mia.shopper@example.com"
LIVE = 30000  # generous: the machine may be busy; nothing here measures speed


def forge(live, conversation_id: int) -> None:
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        conversation = session.get(Conversation, conversation_id)
        for kind, payload in (
            (
                "product",
                {
                    "product_id": "gid://shopify/Product/2",
                    "handle": "teapot",
                    "title": "Tracked",
                    "url": f"{live.devstore_url}{STORE}/products/teapot",
                    "image_url": "https://evil.example/pixel.gif",
                    "price": "1.00",
                    "currency": "EUR",
                },
            ),
            (
                "product",
                {
                    "product_id": "gid://shopify/Product/1",
                    "handle": "forged",
                    "title": "Forged",
                    "url": "https://evil.example/shops/alpha-shop.myshopify.com/products/x",
                    "image_url": "javascript:alert(1)",
                    "price": "1.00",
                    "currency": "EUR",
                },
            ),
            (
                "discount",
                {
                    "code": "EVIL",
                    "summary": "Free",
                    "ends_at": None,
                    "apply_url": "javascript:alert(document.cookie)",
                },
            ),
        ):
            service.post_message(
                session,
                shop,
                conversation,
                author="staff",
                body=f"Shared a {kind}: Forged",
                channel="admin",
                kind=kind,
                payload=payload,
            )
        session.commit()


def test_staff_send_a_product_and_a_discount_the_shopper_applies(
    live, browser, page, realtime, screenshots_dir
):
    def snap(step: str) -> None:
        for who, p in (("shopper", shopper), ("staff", page)):
            p.screenshot(path=str(screenshots_dir / f"products-discounts-{step}-{who}.png"))

    install(live, SHOP_A)
    enable_embed(live, page)
    create_code(live, "WELCOME10")
    commerce.data(live.state, SHOP_A).products[7002].image = "products/teapot.svg"

    page.goto(live.admin_url("alpha-shop") + "/admin/conversations")
    staff = page.frame_locator("#app-frame")
    expect(staff.locator("#live-state")).to_contain_text("Live", timeout=LIVE)

    shopper_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shopper = shopper_context.new_page()
    shopper.goto(live.devstore_url + STORE + "/")
    shopper.get_by_role("button", name="Chat with us").click()
    widget = shopper.get_by_role("dialog", name="Chat with us")
    widget.get_by_label("Your email").fill(EMAIL)
    widget.get_by_role("button", name="Start chat").click()
    message = widget.get_by_label("Message", exact=True)
    message.fill("Do you sell teapots? Any offer for a first order?")
    message.press("Enter")
    (conversation,) = rows(live.app, Conversation)
    row = staff.locator(f"#conversation-{conversation.id}")
    expect(row).to_contain_text(EMAIL, timeout=LIVE)
    row.locator("a").click()
    expect(staff.locator("#thread-heading")).to_have_text(EMAIL, timeout=LIVE)

    # The product picker: opened from the composer, the search box has the focus; only
    # products a shopper could open are listed (the Point of Sale mug never is).
    opener = staff.get_by_role("button", name="Product", exact=True)
    opener.click()
    expect(opener).to_have_attribute("aria-expanded", "true")
    search = staff.get_by_label("Search products")
    expect(search).to_be_focused()
    results = staff.locator("#product-results")
    expect(results.locator("li")).to_have_count(4, timeout=LIVE)
    search.fill("mug")
    expect(staff.locator("#product-status")).to_have_text(
        "No products on the Online Store match.", timeout=LIVE
    )
    search.fill("pot")
    expect(results.locator("li")).to_have_count(1, timeout=LIVE)
    expect(results).to_contain_text("Teapot")
    expect(results).to_contain_text("49.00 EUR")
    snap("1-product-picker")

    # Meanwhile the merchant unpublishes the Teapot on the devstore's Products page: the send
    # checks again and refuses with the reason, inline; published again, it goes.
    products_page = page.context.new_page()
    products_page.goto(f"{live.devstore_url}/store/alpha-shop/products")
    toggle = "{} Teapot {} the Online Store"
    products_page.get_by_role("button", name=toggle.format("Unpublish", "from")).click()
    expect(products_page.locator("#product-7002")).not_to_contain_text("Online Store,")
    products_page.screenshot(path=str(screenshots_dir / "products-discounts-1-products-page.png"))
    send_teapot = results.get_by_role("button", name="Send Teapot, 49.00 EUR")
    send_teapot.click()
    expect(staff.locator("#product-error")).to_have_text(
        "Not sent: Teapot is not available on the Online Store, so a shopper could not open it.",
        timeout=LIVE,
    )
    snap("1-product-refused")
    products_page.get_by_role("button", name=toggle.format("Publish", "to")).click()
    expect(
        products_page.get_by_role("button", name=toggle.format("Unpublish", "from"))
    ).to_be_visible()
    products_page.close()
    send_teapot.click()
    expect(staff.locator("#product-picker")).to_be_hidden(timeout=LIVE)
    expect(opener).to_be_focused()
    card = staff.locator("#messages .kind-product .product-card")
    expect(card).to_contain_text("Teapot", timeout=LIVE)
    product_url = f"{live.devstore_url}{STORE}/products/teapot"
    expect(card.locator("a.product-title")).to_have_attribute("href", product_url)

    # The discount picker: the shop's active code is offered; a made-up one is refused
    # inline with the reason; Escape closes and gives the focus back.
    discount_opener = staff.get_by_role("button", name="Discount", exact=True)
    discount_opener.click()
    code_field = staff.get_by_role("combobox", name="Discount code")
    expect(code_field).to_be_focused()
    expect(staff.locator("#discount-results")).to_contain_text("WELCOME10", timeout=LIVE)
    code_field.fill("NOPE")
    code_field.press("Enter")
    error = staff.locator("#discount-error")
    expect(error).to_have_text("Not sent: No discount code NOPE exists.", timeout=LIVE)
    snap("2-discount-refused")
    staff.get_by_role("button", name="Use WELCOME10, 10% off entire order").click()
    expect(code_field).to_have_value("WELCOME10")
    staff.get_by_role("button", name="Send code").click()
    chip = staff.locator("#messages .kind-discount .code-chip")
    expect(chip).to_have_text("WELCOME10", timeout=LIVE)
    expect(staff.locator("#discount-picker")).to_be_hidden()
    staff.get_by_role("button", name="Discount", exact=True).click()
    code_field.press("Escape")
    expect(staff.locator("#discount-picker")).to_be_hidden()
    expect(discount_opener).to_be_focused()

    # The shopper's widget: the product card opens the product page in the same tab; the
    # code comes with an "Apply WELCOME10" button to the store's discount link.
    log = widget.get_by_role("log")
    product = log.locator("a.rc-chat__product")
    expect(product).to_contain_text("Teapot", timeout=LIVE)
    expect(product).to_have_attribute("href", product_url)
    assert product.get_attribute("target") is None
    apply = log.get_by_role("link", name="Apply WELCOME10")
    expect(apply).to_have_attribute(
        "href", f"{live.devstore_url}{STORE}/discount/WELCOME10?redirect=/cart", timeout=LIVE
    )
    expect(log.locator(".rc-chat__discount")).to_contain_text("10% off entire order")
    snap("3-shopper-sees-both")

    # A payload whose URLs are not on the storefront (as if written by an attacker straight
    # into the database) never becomes a link, in the widget or in the inbox.
    forge(live, conversation.id)
    forged = log.locator(".rc-chat__message--kind-product").last
    expect(forged).to_contain_text("Shared a product: Forged", timeout=LIVE)
    expect(log.locator('a[href*="evil.example"]')).to_have_count(0)
    expect(log.locator('a[href^="javascript"]')).to_have_count(0)
    # A picture from another host is not loaded (it would learn who reads the chat).
    expect(log.locator(".rc-chat__product", has_text="Tracked")).to_have_count(1)
    expect(log.locator('img[src*="evil.example"], img[src^="javascript"]')).to_have_count(0)
    page.goto(live.admin_url("alpha-shop") + f"/admin/conversations?c={conversation.id}")
    staff = page.frame_locator("#app-frame")
    expect(staff.locator("#messages .kind-product .product-card").first).to_contain_text(
        "Teapot", timeout=LIVE
    )
    expect(staff.locator("#messages .kind-discount .code-chip")).to_have_count(2)
    expect(staff.locator('#messages a[href*="evil.example"]')).to_have_count(0)
    expect(staff.locator('#messages a[href^="javascript"]')).to_have_count(0)
    expect(staff.locator('#messages img[src*="evil.example"]')).to_have_count(0)
    expect(staff.locator("#messages .kind-product .product-title").last).to_have_text("Forged")
    snap("4-forged-links-are-text")

    # The shopper puts the Teapot in the cart from its product page, then applies the code
    # from the chat: the cart shows it applied, with the discounted subtotal.
    shopper.goto(product_url)
    shopper.get_by_role("button", name="Add Teapot to the cart").click()
    expect(shopper.get_by_role("button", name="Remove one Teapot from the cart")).to_be_enabled(
        timeout=LIVE
    )
    launcher = shopper.get_by_role("button", name="Chat with us")
    expect(launcher).to_have_attribute("aria-expanded", re.compile("true|false"), timeout=LIVE)
    if launcher.get_attribute("aria-expanded") != "true":  # the chat reopens as it was left
        launcher.click()
    apply = widget.get_by_role("log").get_by_role("link", name="Apply WELCOME10")
    apply.click()
    shopper.wait_for_url(re.compile(re.escape(f"{live.devstore_url}{STORE}/cart") + r"/?$"))
    cookies = {c["name"]: c["value"] for c in shopper_context.cookies()}
    assert cookies.get("ds_discount") == "WELCOME10"
    expect(shopper.locator("#cart-discount")).to_contain_text(
        "Discount code WELCOME10 applied", timeout=LIVE
    )
    expect(shopper.locator("#cart-total")).to_contain_text("44.10")  # 49.00 less 10 %
    shopper.screenshot(path=str(screenshots_dir / "products-discounts-5-applied-shopper.png"))
    shopper_context.close()
