"""Where is the reward? (issue 21, D3): the reward email bounces at the recipient's mail
system (the devstore mailbox's Bounce button sends the app a signed DSN), and the Customer
Service Portal's referral page says so, with the sender address and the diagnostic in
words. Screenshots: reward-bounce-mailbox.png, reward-bounce-portal.png."""

from __future__ import annotations

from playwright.sync_api import expect

from shopify_app.models import EmailMessage, Reward
from tests.conftest import SHOP_A
from tests.integration.test_program_pages import referral_setup
from tests.integration.webhook_support import install, one, run_jobs


def test_the_portal_shows_bounced_after_the_mailbox_bounces_the_reward_email(
    live, page, screenshots_dir
):
    install(live, SHOP_A)
    referral_setup(live, last_name="Lovelace")
    run_jobs(live.app)
    reward = one(live.app, Reward)
    mailbox = live.devstore.extensions["devstore_mailbox"]
    [reward_mail] = [m for m in mailbox.to("ada.l@gmail.com") if reward.code in m.text]

    page.goto(f"{live.devstore_url}/mailbox")
    card = page.locator(f"#mail-{reward_mail.id}")
    card.get_by_role("button", name="Bounce").click()
    expect(page.locator(".just-sent .delivery")).to_contain_text("200 recorded: bounced")
    page.screenshot(path=str(screenshots_dir / "reward-bounce-mailbox.png"), full_page=True)
    email = one(live.app, EmailMessage, EmailMessage.reward_id == reward.id)
    assert email.delivery_status == "bounced"

    page.goto(live.admin_url("alpha-shop") + "/portal")
    app = page.frame_locator("#app-frame")
    app.locator("#q").fill("ada.l@gmail.com")
    app.get_by_role("button", name="Find").click()
    app.locator("#people a").first.click()
    app.locator("#as-advocate li", has_text="Completed").locator("a").click()
    row = app.locator(f"#reward-email-{email.id}")
    expect(row.locator(".delivery .badge")).to_have_text("Bounced", timeout=15000)
    expect(row.locator(".delivery")).to_contain_text("The address does not exist (5.1.1;")
    expect(row.locator(".sender")).to_have_text(live.app.config["MAIL_FROM"])
    expect(app.locator("#reward-status")).to_contain_text(
        "The reward email to ada.l@gmail.com bounced: the address does not exist"
    )
    page.screenshot(path=str(screenshots_dir / "reward-bounce-portal.png"), full_page=True)
