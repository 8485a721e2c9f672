"""A friend unsubscribes from the link in a share email, in Chromium with JavaScript off
(the page needs none); the merchant then finds the address on the Emails page's
suppression list and removes it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from devstore import commerce
from shopify_app.models import EmailSuppression
from tests.conftest import SHOP_A
from tests.e2e.shop_setup import settle
from tests.helpers import proxy_query
from tests.integration.webhook_support import enable_program_and_join, install, one, rows, run_jobs


def test_a_friend_unsubscribes_and_the_merchant_sees_it(live, browser, page, screenshots_dir):
    install(live, SHOP_A)
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    settle(live, rounds=3)
    enable_program_and_join(live, SHOP_A, ada.id, friend_value=20)
    query = proxy_query(SHOP_A, ada.id)
    form = live.http.get(f"{live.app_url}/proxy", params=query).text
    token = re.search(r'name="token" value="([0-9a-f]+)"', form).group(1)
    sent = live.http.post(
        f"{live.app_url}/proxy/share",
        params=query,
        data={"emails": "bea.friend@example.com", "token": token},
    )
    assert sent.status_code == 200
    run_jobs(live.app)
    (mail,) = live.devstore.extensions["devstore_mailbox"].to("bea.friend@example.com")
    link = re.search(r"To get no more emails like it: (\S+)", mail.text).group(1)

    context = browser.new_context(java_script_enabled=False, viewport={"width": 800, "height": 600})
    friend = context.new_page()
    friend.goto(link)
    expect(friend.get_by_role("heading")).to_contain_text("Unsubscribe from Alpha Shop")
    expect(friend.locator("main")).to_contain_text("b••••••@example.com")
    friend.screenshot(path=str(screenshots_dir / "unsubscribe-confirm.png"), full_page=True)
    friend.get_by_role("button", name="Unsubscribe").click()
    expect(friend.locator("#result")).to_contain_text("will get no more referral emails")
    friend.screenshot(path=str(screenshots_dir / "unsubscribe-done.png"), full_page=True)
    context.close()
    entry = one(live.app, EmailSuppression)
    assert (entry.email, entry.source) == ("bea.friend@example.com", "link")

    page.goto(live.admin_url("alpha-shop") + "/emails")
    app = page.frame_locator("#app-frame")
    row = app.locator(f"#suppression-{entry.id}")
    expect(row).to_contain_text("bea.friend@example.com")
    expect(row).to_contain_text("unsubscribed by the recipient (link in the email)")
    page.screenshot(path=str(screenshots_dir / "emails-suppression-list.png"), full_page=True)
    row.get_by_role(
        "button", name="Remove bea.friend@example.com from the suppression list"
    ).click()
    expect(app.locator("#result")).to_contain_text("may get shares and invitations again")
    assert rows(live.app, EmailSuppression) == []
