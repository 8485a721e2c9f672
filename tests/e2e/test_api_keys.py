"""A merchant makes an API key in Settings > API keys inside the devstore admin frame, copies
it (shown once), sees it used and revokes it; the customer hub shows the custom attributes
the key set; the API reference page reads offline. Screenshots at 1280 px."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.conftest import SHOP_A
from tests.integration.webhook_support import install


def test_a_merchant_makes_uses_and_revokes_an_api_key(live, page, screenshots_dir):
    install(live, SHOP_A)
    page.goto(live.admin_url("alpha-shop") + "/settings/api-keys")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#empty")).to_be_visible(timeout=15000)
    app.get_by_label("Name").fill("Klaviyo sync")
    app.get_by_label("Access").select_option("write")
    app.get_by_role("button", name="Create key").click()
    secret_box = app.locator("#new-secret")
    expect(secret_box).to_be_visible(timeout=15000)
    secret = secret_box.input_value()
    assert secret.startswith("rk_")
    page.screenshot(path=str(screenshots_dir / "api-keys-created.png"))

    api = f"{live.app_url}/api/v1"
    headers = {"Authorization": f"Bearer {secret}"}
    made = httpx.post(
        f"{api}/customers",
        json={
            "email": "ada@example.com",
            "first_name": "Ada",
            "custom_attributes": {"tier": "gold", "vip": True, "renews_on": "2027-01-31"},
        },
        headers=headers,
    )
    assert made.status_code == 201

    page.goto(live.admin_url("alpha-shop") + f"/customers/{made.json()['id']}")
    attributes = page.frame_locator("#app-frame").locator("#custom-attributes")
    expect(attributes).to_contain_text("gold", timeout=15000)
    expect(attributes).to_contain_text("2027-01-31")
    attributes.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots_dir / "customer-custom-attributes.png"))

    page.goto(live.admin_url("alpha-shop") + "/settings/api-keys")
    app = page.frame_locator("#app-frame")
    row = app.locator("#api-keys tbody tr").first
    expect(row.locator(".last-used")).not_to_have_text("Never", timeout=15000)
    row.get_by_role("button", name="Revoke the key Klaviyo sync").click()
    expect(app.locator("#result")).to_contain_text("is revoked", timeout=15000)
    page.screenshot(path=str(screenshots_dir / "api-keys-revoked.png"))
    assert httpx.get(f"{api}/customers", headers=headers).status_code == 401


def test_the_api_reference_reads_without_the_internet(live, page, screenshots_dir):
    blocked = []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(live.app_url)
            else (blocked.append(route.request.url), route.abort())
        ),
    )
    page.goto(f"{live.app_url}/api/v1/docs")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Referrals public API")
    expect(page.locator("#upsertCustomer")).to_contain_text("POST")
    page.screenshot(path=str(screenshots_dir / "api-reference.png"), full_page=False)
    assert blocked == []
