"""Links and defaults a merchant and a shopper meet (issue 21, item 4): Audit in the app's
navigation, Referrals rows that open the referral and the people, the Advocates page's
referral link with Copy and without `?shop=`, Export CSV on its default (all matching), and the
storefront page's "Log in to your account" leading to the store's login and back."""

from __future__ import annotations

from playwright.sync_api import expect

from devstore import commerce
from shopify_app.models import Advocate, BulkJob, Customer
from tests.conftest import SHOP_A
from tests.e2e.admin_story import seed
from tests.integration.webhook_support import install_with_program, one, rows, run_jobs
from tests.support import wait_until


def test_audit_in_the_navigation_and_referrals_rows_open_the_referral_and_the_people(
    live, page, screenshots_dir
):
    story = seed(live)
    page.goto(live.admin_url("alpha-shop") + "/referrals")
    app = page.frame_locator("#app-frame")
    row = app.locator(f"#referral-{story.reassigned.id}")
    expect(row).to_contain_text("Ben Bishop", timeout=15000)

    row.locator("[data-referral-link]").click()
    expect(app.locator("#reward-status")).to_be_visible()
    expect(app.locator("#history")).to_contain_text("Given to Ben Bishop instead of Ada Lovelace")

    page.goto(live.admin_url("alpha-shop") + "/referrals")
    app.locator(f"#referral-{story.reassigned.id} [data-advocate-link]").click()
    expect(app.locator("#hub-last-order")).to_be_visible()
    assert page.frame(name="app-iframe").url.split("?")[0].endswith(f"/customers/{story.ben.id}")
    page.goto(live.admin_url("alpha-shop") + "/referrals")
    app.locator(f"#referral-{story.reassigned.id} [data-friend-link]").click()
    expect(app.locator("#hub-last-order")).to_contain_text("#1001")
    assert "/customers/" in page.frame(name="app-iframe").url

    # The app's navigation (s-app-nav, shown by the admin) has Audit.
    page.locator("#app-nav a", has_text="Audit").click()
    expect(app.locator("#audit")).to_contain_text("Gave a referral to another advocate")
    expect(app.locator("#audit")).to_contain_text("Ben told Bob about the shop first")
    page.screenshot(path=str(screenshots_dir / "audit-from-navigation.png"), full_page=True)


def test_advocates_show_the_referral_link_with_copy(live, browser, screenshots_dir):
    story = seed(live)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    try:
        page.goto(live.admin_url("alpha-shop") + "/advocates")
        app = page.frame_locator("#app-frame")
        advocate = one(live.app, Advocate, Advocate.customer_id == story.ada.id)
        row = app.locator(f"#advocate-{advocate.id}")
        link = f"{live.app_url}/r/{advocate.code}"
        expect(row.locator("[data-referral-link]")).to_have_text(link, timeout=15000)
        assert "?shop=" not in row.inner_text()
        copy = row.locator("[data-copy]")
        expect(copy).to_have_text("Copy link")
        copy.click()
        expect(copy).to_have_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == link
        page.screenshot(path=str(screenshots_dir / "advocates-copy.png"), full_page=True)
    finally:
        context.close()


def test_export_csv_on_its_default_exports_all_matching(live, page):
    install_with_program(live, SHOP_A)
    for n in range(3):
        commerce.create_customer(live.state, SHOP_A, email=f"c{n}@example.com", first_name=f"C{n}")
    live.state.dispatcher.drain(15)
    run_jobs(live.app)
    page.goto(live.admin_url("alpha-shop") + "/customers")
    app = page.frame_locator("#app-frame")
    expect(app.get_by_role("radio", name="All 3 matching")).to_be_checked(timeout=15000)
    app.get_by_role("button", name="Export CSV").click()
    [job] = wait_until(lambda: rows(live.app, BulkJob), 30, "the export to start")
    assert (job.kind, job.total) == ("export", 3)
    run_jobs(live.app)
    expect(app.get_by_text("Download CSV (3 customers)")).to_be_visible(timeout=15000)
    # Ticking a customer means "these"; unticking goes back to all.
    box = app.locator("#customers input[name=ids]").first
    box.check()
    expect(app.get_by_role("radio", name="Selected (1)")).to_be_checked(timeout=15000)
    box.uncheck()
    expect(app.get_by_role("radio", name="All 3 matching")).to_be_checked(timeout=15000)


def test_log_in_to_your_account_is_a_link_to_the_store_login_and_back(
    live, browser, screenshots_dir
):
    install_with_program(live, SHOP_A)
    commerce.create_customer(live.state, SHOP_A, email="mia@example.com", first_name="Mia")
    live.state.dispatcher.drain(15)
    run_jobs(live.app)
    assert one(live.app, Customer).email == "mia@example.com"
    shopper = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        shopper.goto(f"{live.devstore_url}/shops/{SHOP_A}/apps/referrals")
        login = shopper.get_by_role("link", name="Log in to your account")
        expect(login).to_have_attribute(
            "href",
            f"/shops/{SHOP_A}/account/login?return_url=%2Fshops%2F{SHOP_A}%2Fapps%2Freferrals",
        )
        login.click()
        expect(shopper.get_by_role("heading", name="Log in to")).to_be_visible()
        shopper.screenshot(path=str(screenshots_dir / "storefront-login.png"), full_page=True)
        shopper.get_by_label("Email").fill("mia@example.com")
        shopper.get_by_role("button", name="Log in").click()
        expect(shopper.get_by_role("button", name="Join the program")).to_be_visible()
        assert shopper.url.endswith(f"/shops/{SHOP_A}/apps/referrals")
    finally:
        shopper.context.close()
