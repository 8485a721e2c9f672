"""A merchant installs the app and watches the import of their store finish, without reloading."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from tests.conftest import SHOP_A
from tests.support import wait_until
from workers.worker import build_worker


def test_import_progress_updates_in_place(live, page, screenshots_dir):
    live.state.shops[SHOP_A].installed_scopes = None
    commerce.seed_demo(live.state, SHOP_A, customers=6, orders=4)
    live.state.install(SHOP_A, live.devstore.extensions["devstore_app"].scopes)
    live.app.extensions["shopify"].initial_import = True
    try:
        page.goto(live.admin_url("alpha-shop"))
        status = page.frame_locator("#app-frame").locator("#import-status")
        expect(status).to_contain_text("import", timeout=15000)
        page.screenshot(path=str(screenshots_dir / "import-starting.png"))
        navigations = []
        page.frame(name="app-iframe").page.on("framenavigated", lambda f: navigations.append(f.url))
        polls = []
        page.on("request", lambda r: polls.append(r) if "/import/progress" in r.url else None)

        def imported() -> bool:
            live.state.dispatcher.drain(5)  # the devstore's webhooks, then the worker's jobs
            build_worker(live.app, simple=True).work(burst=True, logging_level="WARNING")
            return "Imported" in status.inner_text()  # the page asks for it every 2 s

        wait_until(imported, 30, "the page to show the import finished", interval=0.5)
        expect(status).to_contain_text("Imported 6 customers and 4 orders", timeout=10000)
        assert navigations == []  # updated in place, no reload
        expect(status).to_have_attribute("data-done", "completed")  # and the polling ended
        expect(page.frame_locator("#app-frame").locator("#import-bar")).to_have_count(0)
        assert polls and all(
            r.headers.get("authorization", "").startswith("Bearer ") for r in polls
        )
        page.screenshot(path=str(screenshots_dir / "import-finished.png"))
    finally:
        live.app.extensions["shopify"].initial_import = False
