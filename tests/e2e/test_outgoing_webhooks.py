"""A merchant registers a webhook endpoint in Settings › Webhooks inside the devstore's admin
frame, copies the secret, sends a test event and reads the delivery log."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.integration.webhook_support import run_jobs
from tests.receiver import Receiver, verify


def test_register_an_endpoint_send_a_test_event_and_read_the_log(live, page, screenshots_dir):
    with Receiver() as receiver:
        page.goto(live.admin_url("alpha-shop") + "/settings/webhooks")
        app = page.frame_locator("#app-frame")
        expect(app.locator("#no-endpoints")).to_be_visible(timeout=15000)
        app.locator("#f-url").fill(receiver.url)
        app.locator("#f-alert").fill("ops@example.com")
        app.locator("#t-referral\\.completed").check()
        app.locator("#t-reward\\.issued").check()
        app.get_by_role("button", name="Add endpoint").click()
        expect(app.locator("#secret")).to_contain_text("whsec_")
        secret = app.locator("#secret").inner_text()
        page.screenshot(path=str(screenshots_dir / "webhooks-secret-once.png"), full_page=True)

        app.get_by_role("button", name="Send test event").click()
        expect(app.locator("#result")).to_contain_text("Test event sent")
        run_jobs(live.app)
        [request] = receiver.received
        assert verify(secret, request)["type"] == "webhook.test"

        page.goto(live.admin_url("alpha-shop") + "/settings/webhooks")
        row = app.locator("#delivery-log tbody tr").first
        expect(row).to_contain_text("Succeeded")
        expect(row).to_contain_text("HTTP 200")
        expect(app.locator("#secret")).to_have_count(0)  # shown once
        page.set_viewport_size({"width": 1280, "height": 1700})  # the whole page in the frame
        page.screenshot(path=str(screenshots_dir / "webhooks-log.png"), full_page=True)
