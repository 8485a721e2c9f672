"""Issue 21's support gaps in the browser, inside the devstore admin frame: a flagged
referral found in the review queue on Referrals, approved from the portal's referral page
(its reward issued), another voided there. Screenshots: support-flagged-queue.png,
support-referral-flagged.png, support-referral-approved.png, support-referral-voided.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from devstore import commerce
from shopify_app.models import Referral, Reward
from tests.conftest import SHOP_A
from tests.integration.test_program_pages import LINES, post, referral_setup, settle
from tests.integration.webhook_support import install, one, rows


@pytest.fixture
def flagged(live):
    """Ada (ada.l@gmail.com) refers ada.l@yahoo.com and ada.l@outlook.com: both flagged."""
    install(live, SHOP_A)
    _ada, advocate, _order = referral_setup(live, last_name="Lovelace")
    for email in ("ada.l@yahoo.com", "ada.l@outlook.com"):
        twin = commerce.create_customer(live.state, SHOP_A, email=email, first_name="Ada")
        commerce.place_order(
            live.state, SHOP_A, customer_id=twin.id, lines=LINES, discount_code=advocate.code
        )
    settle(live)
    return live


def test_review_queue_approve_and_void_from_the_portal(flagged, page, screenshots_dir):
    live = flagged
    first, second = sorted(
        rows(live.app, Referral, Referral.flagged_at.is_not(None)), key=lambda r: r.id
    )
    page.goto(live.admin_url("alpha-shop") + "/referrals?status=flagged")
    app = page.frame_locator("#app-frame")
    table = app.locator("#referrals")
    expect(table.locator("tbody tr")).to_have_count(2, timeout=15000)
    expect(table).to_contain_text("Flagged")
    page.screenshot(path=str(screenshots_dir / "support-flagged-queue.png"), full_page=True)

    page.goto(live.admin_url("alpha-shop") + f"/portal/referrals/{first.id}")
    expect(app.locator("#reward-status")).to_contain_text("Held for review", timeout=15000)
    expect(app.locator("#referral-status")).to_have_text("Flagged")
    page.screenshot(path=str(screenshots_dir / "support-referral-flagged.png"), full_page=True)
    app.locator("#a-reason").fill("Her second address, checked")
    app.get_by_role("button", name="Approve").click()
    expect(app.locator("#result")).to_contain_text("approved", timeout=15000)
    expect(app.locator("#referral-status")).to_have_text("Completed")
    expect(app.locator("#approve-form")).to_have_count(0)
    page.screenshot(path=str(screenshots_dir / "support-referral-approved.png"), full_page=True)
    assert [r.referral_id for r in rows(live.app, Reward)].count(first.id) == 1

    page.goto(live.admin_url("alpha-shop") + f"/portal/referrals/{second.id}")
    expect(app.locator("#void-form")).to_be_visible(timeout=15000)
    app.locator("#v-reason").fill("The same person twice")
    app.get_by_role("button", name="Void").click()
    expect(app.locator("#result")).to_contain_text("voided", timeout=15000)
    expect(app.locator("#referral-status")).to_have_text("Voided")
    page.screenshot(path=str(screenshots_dir / "support-referral-voided.png"), full_page=True)
    assert one(live.app, Referral, Referral.id == second.id).status == "voided"
    assert [r.referral_id for r in rows(live.app, Reward)].count(second.id) == 0


def test_paste_a_blocklist_and_read_each_lines_result(live, page, screenshots_dir):
    install(live, SHOP_A)
    page.goto(live.admin_url("alpha-shop") + "/blocklist")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#b-values")).to_be_visible(timeout=15000)
    app.locator("#b-values").fill(
        "*@spam.example\n+358 40 123 4567\nnot an address\n198.51.100.0/24\n*@SPAM.example"
    )
    app.locator("#b-note").fill("Spam wave in December")
    app.get_by_role("button", name="Blocklist every line").click()
    results = app.locator("#bulk-results")
    expect(results.locator("tbody tr")).to_have_count(5, timeout=15000)
    expect(results.locator("tr.added")).to_have_count(3)
    expect(results.locator("tr.invalid")).to_contain_text("Not added")
    expect(results.locator("tr.already")).to_contain_text("Repeats line 1.")
    expect(app.locator("#blocklist tbody tr")).to_have_count(3)
    page.screenshot(path=str(screenshots_dir / "support-blocklist-paste.png"), full_page=True)


def test_undo_a_void_from_the_audit_page(live, page, screenshots_dir):
    install(live, SHOP_A)
    referral_setup(live)
    completed = one(live.app, Referral, Referral.status == "completed")
    post(live, f"/referrals/{completed.id}/void", {"reason": "Returned in store"})
    page.goto(live.admin_url("alpha-shop") + "/portal/audit")
    app = page.frame_locator("#app-frame")
    row = app.locator("#audit tbody tr", has_text="Returned in store")
    expect(row.get_by_role("button", name="Un-void")).to_be_visible(timeout=15000)
    page.screenshot(path=str(screenshots_dir / "support-audit-undo.png"), full_page=True)
    row.get_by_label("Why undo this").fill("The return was cancelled")
    row.get_by_role("button", name="Un-void").click()
    expect(app.locator("#result")).to_contain_text("Undone", timeout=15000)
    expect(row).to_contain_text("Undone")
    assert one(live.app, Referral, Referral.id == completed.id).status == "completed"


def test_did_my_friend_get_the_email(live, page, screenshots_dir):
    from tests.integration.test_share_limits import advocates, share
    from tests.integration.webhook_support import install_with_program, run_jobs

    install_with_program(live, SHOP_A)
    [ben] = advocates(live, "Ben")
    assert share(live, ben, "zoe.stranger@example.net, yann@example.net").status_code == 200
    run_jobs(live.app)
    page.goto(live.admin_url("alpha-shop") + "/portal")
    app = page.frame_locator("#app-frame")
    app.locator("#q").fill("zoe.stranger@example.net")
    app.get_by_role("button", name="Find").click()
    expect(app.locator("#emails-to")).to_contain_text("Referral offer email", timeout=15000)
    page.screenshot(path=str(screenshots_dir / "support-search-emailed.png"), full_page=True)
    app.locator("#emails-to a").first.click()
    expect(app.locator("#shares tbody tr")).to_have_count(2, timeout=15000)
    expect(app.locator("#shares")).to_contain_text("zoe.stranger@example.net")
    expect(app.locator("#shares")).to_contain_text("Not yet")
    page.screenshot(path=str(screenshots_dir / "support-shares-tab.png"), full_page=True)
