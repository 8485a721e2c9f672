"""A merchant on one customer's page in the devstore admin frame (E4, E5): unsubscribe them
from SMS marketing (the change shows at once, pending; Shopify confirms it after the job
and the webhook), then "Export data" as JSON and as zipped CSVs, and open both files.
Screenshots are written for review."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from playwright.sync_api import expect

from devstore import commerce
from shopify_app.models import Customer
from tests.conftest import SHOP_A
from tests.e2e.shop_setup import LINES, settle
from tests.integration.webhook_support import install, one


def test_a_merchant_unsubscribes_a_customer_from_sms_and_exports_them(
    live, page, screenshots_dir, tmp_path
):
    install(live, SHOP_A)
    dev = commerce.create_customer(
        live.state,
        SHOP_A,
        email="grace.hopper@example.com",
        phone="+15550104040",
        first_name="Grace",
        last_name="Hopper",
        state="enabled",
        email_consent="subscribed",
        sms_consent="subscribed",
    )
    commerce.place_order(live.state, SHOP_A, customer_id=dev.id, lines=LINES)
    settle(live, rounds=3)
    customer = one(live.app, Customer, Customer.shopify_id == dev.id)

    page.goto(live.admin_url("alpha-shop") + f"/customers/{customer.id}")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#sms-consent")).to_contain_text("Subscribed", timeout=15000)
    expect(app.locator("#customer-actions")).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "customer-actions.png"), full_page=True)

    # Unsubscribe from SMS: a reason is required, the page shows the change at once.
    app.get_by_label("SMS marketing").check()
    app.get_by_label("Reason").fill("Asked by phone to stop texts")
    app.get_by_role("button", name="Unsubscribe").click()
    expect(app.locator("#result")).to_contain_text("Unsubscribed from SMS marketing")
    expect(app.locator("#sms-consent")).to_contain_text("Unsubscribed")
    expect(app.locator("#email-consent")).to_contain_text("Subscribed")
    expect(app.locator("#writeback-sms")).to_contain_text("waiting for Shopify to confirm")
    page.screenshot(path=str(screenshots_dir / "customer-unsubscribed-pending.png"), full_page=True)

    # The job writes it back; the devstore's webhook comes back; a reload shows it confirmed.
    settle(live)
    assert dev.sms_consent == "unsubscribed" and dev.email_consent == "subscribed"
    page.reload()
    app = page.frame_locator("#app-frame")
    expect(app.locator("#writeback-sms")).to_contain_text("Shopify confirmed", timeout=15000)
    expect(app.locator("#sms-consent")).to_contain_text("Unsubscribed")
    page.screenshot(
        path=str(screenshots_dir / "customer-unsubscribed-confirmed.png"), full_page=True
    )

    # Export data: both files download at once and hold the customer.
    with page.expect_download() as info:
        app.locator("#export-json").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name == f"customer-{dev.id}.json"
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["profile"]["email"] == "grace.hopper@example.com"
    assert {c["channel"]: c["state"] for c in document["consent"]}["sms"] == "unsubscribed"
    assert [li["title"] for li in document["orders"][0]["lines"]] == ["Green tea"]
    assert any(e["kind"] == "staff.customer.unsubscribed_sms" for e in document["timeline"])

    with page.expect_download() as info:
        app.locator("#export-zip").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        profile = list(csv.DictReader(io.StringIO(archive.read("profile.csv").decode())))
        lines = list(csv.DictReader(io.StringIO(archive.read("order_lines.csv").decode())))
    assert profile[0]["email"] == "grace.hopper@example.com"
    assert [li["title"] for li in lines] == ["Green tea"]
    page.screenshot(path=str(screenshots_dir / "customer-exported.png"), full_page=True)
