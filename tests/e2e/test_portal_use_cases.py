"""Talkable's six Customer Service Portal use cases, walked through in the devstore admin
frame as a support agent would, from the search box to the result. Screenshots are written
for review (portal-uc1-… to portal-uc6-…).

The story: Ada (an advocate) referred Bob, whose order completed and earned her a reward;
an alias of Ada's own was blocked as a self-referral; Cy is another advocate; Dee ordered
without a code.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from devstore import commerce
from shopify_app.models import Advocate, Referral, Reward
from tests.conftest import SHOP_A
from tests.integration.test_program_pages import LINES, post, referral_setup, settle
from tests.integration.webhook_support import install, one, rows, run_jobs


@pytest.fixture
def story(live):
    install(live, SHOP_A)
    _ada, ada, bob_order = referral_setup(live, last_name="Lovelace")
    commerce.create_customer(live.state, SHOP_A, email="cy@example.com", first_name="Cy")
    settle(live)
    post(live, "/advocates", {"email": "cy@example.com"})
    run_jobs(live.app)
    cy = one(live.app, Advocate, Advocate.id != ada.id)
    dee = commerce.create_customer(live.state, SHOP_A, email="dee@example.com", first_name="Dee")
    dee_order = commerce.place_order(live.state, SHOP_A, customer_id=dee.id, lines=LINES)
    settle(live)
    return live, ada, cy, bob_order, dee_order


def portal(page, live):
    page.goto(live.admin_url("alpha-shop") + "/portal")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#q")).to_be_visible(timeout=15000)
    return app


def find(app, text: str) -> None:
    app.locator("#q").fill(text)
    app.get_by_role("button", name="Find").click()


def test_uc1_where_do_i_find_referrals(story, page, screenshots_dir):
    live, ada, _cy, bob_order, _dee = story
    app = portal(page, live)
    find(app, f"#{bob_order.number}")  # the order number the customer quotes
    expect(app.locator("#matches, #people").first).to_be_visible(timeout=15000)
    find(app, "bob@example.com")
    expect(app.locator("#people")).to_contain_text("bob@example.com", timeout=15000)
    app.locator("#people a").first.click()
    expect(app.locator("#as-friend")).to_contain_text("Completed", timeout=15000)
    expect(app.locator("#as-friend")).to_contain_text(ada.code)  # the offer code he used
    expect(app.locator("#as-friend")).to_contain_text(f"#{bob_order.number}")
    app.locator("#as-friend a").first.click()
    expect(app.locator("#history")).to_contain_text("Completed", timeout=15000)
    expect(app.locator("#checks")).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "portal-uc1-referral.png"), full_page=True)


def test_uc2_where_is_the_advocates_reward_and_resend(story, page, screenshots_dir):
    live, _ada, _cy, _bob_order, _dee = story
    reward = one(live.app, Reward)
    app = portal(page, live)
    find(app, "ada.l@gmail.com")
    app.locator("#people a").first.click()
    app.locator("#as-advocate li", has_text="Completed").locator("a").click()
    expect(app.locator("#reward-status")).to_contain_text(reward.code, timeout=15000)
    expect(app.locator("#reward-emails")).to_contain_text("Sent")
    app.get_by_role("button", name="Resend the reward email").click()
    expect(app.locator("#result")).to_contain_text("sent again", timeout=15000)
    expect(app.locator("#reward-emails tbody tr")).to_have_count(2)  # a new delivery, logged
    run_jobs(live.app)
    mails = live.devstore.extensions["devstore_mailbox"].to("ada.l@gmail.com")
    assert sum(reward.code in m.text for m in mails) == 2
    page.screenshot(path=str(screenshots_dir / "portal-uc2-reward.png"), full_page=True)


def test_uc3_who_should_get_the_reward(story, page, screenshots_dir):
    live, ada, cy, _bob_order, _dee = story
    app = portal(page, live)
    find(app, "bob@example.com")
    app.locator("#people a").first.click()
    app.locator("#as-friend a").first.click()
    app.get_by_label("Give this referral to (advocate code or email)").fill(cy.code)
    app.locator("#f-reason").fill("Bob says Cy told him about the shop")
    app.get_by_role("button", name="Reassign").click()
    expect(app.locator("#result")).to_contain_text(f"now belongs to {cy.code}", timeout=15000)
    run_jobs(live.app)
    completed = one(live.app, Referral, Referral.status == "completed")
    assert completed.advocate_id == cy.id
    by_advocate = {r.advocate_id: r.status for r in rows(live.app, Reward)}
    assert by_advocate[cy.id] in ("pending", "issued") and by_advocate[ada.id] == "voided"
    expect(app.locator("#history")).to_contain_text("Bob says Cy told him about the shop")
    page.screenshot(path=str(screenshots_dir / "portal-uc3-reassigned.png"), full_page=True)


def test_uc4_did_my_friend_get_an_email(story, page, screenshots_dir):
    live, ada, _cy, _bob_order, _dee = story
    app = portal(page, live)
    find(app, "a.da.l+x@gmail.com")
    expect(app.locator("#people")).to_contain_text("A.da.L+x@gmail.com", timeout=15000)
    app.locator("#people a").first.click()
    expect(app.locator("#as-friend")).to_contain_text("Blocked", timeout=15000)
    expect(app.locator("#as-friend")).to_contain_text(ada.code)
    app.locator("#as-friend a").first.click()
    expect(app.locator("#reward-status")).to_contain_text("blocked")
    expect(app.locator("#check-self_referral\\.email")).to_contain_text("adal@gmail.com")
    page.screenshot(path=str(screenshots_dir / "portal-uc4-friend-blocked.png"), full_page=True)


def test_uc5_blocklist_a_user_and_unblocklist(story, page, screenshots_dir):
    live, *_rest = story
    page.goto(live.admin_url("alpha-shop") + "/blocklist")
    app = page.frame_locator("#app-frame")
    app.locator("#f-kind").select_option("email")
    app.locator("#f-value").fill("*@spam.example")
    app.locator("#f-note").fill("Coupon farm, ticket 4411")
    app.get_by_role("button", name="Add").click()
    expect(app.locator("#blocklist")).to_contain_text("*@spam.example", timeout=15000)
    expect(app.locator("#blocklist")).to_contain_text("Coupon farm, ticket 4411")
    page.screenshot(path=str(screenshots_dir / "portal-uc5-blocklisted.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    app.get_by_role("button", name="Remove *@spam.example from the blocklist").click()
    expect(app.locator("#blocklist")).to_have_count(0, timeout=15000)
    page.goto(live.admin_url("alpha-shop") + "/portal/audit")
    app = page.frame_locator("#app-frame")
    expect(app.locator("table")).to_contain_text("blocklist.removed", timeout=15000)
    expect(app.locator("table")).to_contain_text("Ada Alpha (ada@alpha.example)")


def test_uc6_create_a_referral_for_an_advocate(story, page, screenshots_dir):
    live, ada, _cy, _bob_order, dee_order = story
    app = portal(page, live)
    app.locator("#c-advocate").fill("ada.l@gmail.com")
    app.locator("#c-order").fill(str(dee_order.number))
    app.locator("#c-reason").fill("Dee forgot to enter Ada's code at checkout")
    app.get_by_role("button", name="Check the rules").click()
    expect(app.locator("#check-result")).to_be_visible(timeout=15000)
    page.screenshot(path=str(screenshots_dir / "portal-uc6-check.png"), full_page=True)
    app.get_by_role("button", name="Create the referral").click()
    expect(app.locator("#result")).to_contain_text("created", timeout=15000)
    run_jobs(live.app)
    manual = one(live.app, Referral, Referral.attribution == "manual")
    assert manual.advocate_id == ada.id
    page.screenshot(path=str(screenshots_dir / "portal-uc6-created.png"), full_page=True)
