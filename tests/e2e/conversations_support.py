"""What the conversation browser tests share: the realtime process as the app's browsers
reach it, and the merchant switching the storefront chat on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import expect

from shopify_app.conversations import notify
from tests.integration.realtime_support import Realtime


@contextmanager
def realtime_for(live, redis_url: str, workdir: Path) -> Iterator[Realtime]:
    """`referrals realtime` signing with the app's secret (staff tokens and the widget's
    tokens then verify there), and the app pointing browsers at it while it runs."""
    server = Realtime(redis_url, workdir)
    server.env["SHOPIFY_API_SECRET"] = live.app.config["SHOPIFY_API_SECRET"]
    with live.app.app_context():
        server.secret = notify.realtime_secret()
    server.start()
    previous = live.app.config.get("REALTIME_URL")
    live.app.config["REALTIME_URL"] = server.url
    try:
        yield server
    finally:
        live.app.config["REALTIME_URL"] = previous
        server.stop()


def enable_embed(live, page, screenshots_dir=None, accent: str | None = None) -> None:
    """The merchant turns the chat on as the app guides them: Settings, the theme editor's
    App embeds, Save."""
    page.goto(live.admin_url("alpha-shop") + "/settings")
    card = page.frame_locator("#app-frame").locator("#chat-embed-card")
    expect(card).to_contain_text("Shopify keeps the button hidden", timeout=15000)
    if screenshots_dir:
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots_dir / "chat-embed-settings-card.png"))
    card.get_by_role("link", name="Turn on the chat in the theme editor").click()
    expect(page.locator("#editor-activating")).to_be_visible()
    expect(page.get_by_label("On (shown on every storefront page)")).to_be_checked()
    if screenshots_dir:
        page.screenshot(path=str(screenshots_dir / "chat-embed-theme-editor.png"))
    if accent:
        page.get_by_label("Launcher and button colour").fill(accent)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-saved")).to_be_visible()
