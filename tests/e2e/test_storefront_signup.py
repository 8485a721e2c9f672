"""E1 as a shopper and a merchant see it: a shopper without an account signs up by email on
the devstore storefront's app-proxy page, confirms from the link in the devstore mailbox,
and the merchant finds them subscribed on the Customers page in the admin frame."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from shopify_app.models import Customer
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install_with_program, one, run_jobs
from tests.support import wait_until


def test_a_shopper_signs_up_confirms_and_the_merchant_sees_them_subscribed(
    live, browser, page, screenshots_dir
):
    install_with_program(live, SHOP_A)
    shopper = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    shopper.goto(f"{live.devstore_url}/shops/{SHOP_A}/apps/referrals")
    signup = shopper.locator("#signup-email")
    expect(signup.get_by_label("Yes, email me news and offers")).not_to_be_checked()
    signup.get_by_label("Email", exact=True).fill("Mia.Shopper@example.com")
    signup.get_by_role("button", name="Subscribe by email").click()
    expect(shopper.locator("#problem")).to_contain_text("Tick the box")
    shopper.locator("#signup-email").get_by_label("Yes, email me news and offers").check()
    shopper.screenshot(path=str(screenshots_dir / "storefront-signup-form.png"), full_page=True)
    shopper.locator("#signup-email").get_by_role("button", name="Subscribe by email").click()
    expect(shopper.locator("#message")).to_contain_text("Almost done: we sent a link to m")
    shopper.screenshot(path=str(screenshots_dir / "storefront-signup-sent.png"), full_page=True)

    run_jobs(live.app)
    mailbox = live.devstore.extensions["devstore_mailbox"]
    (mail,) = wait_until(lambda: mailbox.to("mia.shopper@example.com"), 10, "the email")
    link = re.search(r"(http\S+/confirm\?token=\S+)", mail.text).group(1)
    assert link.startswith(f"{live.devstore_url}/shops/{SHOP_A}/apps/referrals/confirm")
    shopper.goto(link)
    shopper.screenshot(path=str(screenshots_dir / "storefront-signup-confirm.png"), full_page=True)
    shopper.get_by_role("button", name="Confirm my subscription").click()
    expect(shopper.locator("#message")).to_contain_text("You are subscribed to emails from")
    shopper.screenshot(path=str(screenshots_dir / "storefront-signup-done.png"), full_page=True)
    shopper.goto(link)  # the link works once
    expect(shopper.locator("#problem")).to_contain_text("already used")
    shopper.context.close()

    record = one(live.app, Customer)
    assert (record.source, record.shopify_id, record.email_marketing_state) == (
        "storefront",
        None,
        "subscribed",
    )
    page.goto(live.admin_url("alpha-shop") + "/customers")
    app = page.frame_locator("#app-frame")
    row = app.locator(f"#customer-{record.id}")
    expect(row).to_contain_text("mia.shopper@example.com", timeout=15000)
    expect(row).to_contain_text("Guest")
    expect(row).to_contain_text("Not joined")
    page.screenshot(path=str(screenshots_dir / "customers-signup-listed.png"), full_page=True)
    row.get_by_role("link", name="mia.shopper@example.com").click()
    expect(app.locator("#email-consent")).to_contain_text(
        re.compile(r"Subscribed since .* \(confirmed opt in\)")
    )
    page.screenshot(path=str(screenshots_dir / "customer-signup-subscribed.png"), full_page=True)
