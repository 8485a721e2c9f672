"""Issue 19's conversation, in two Chromium windows side by side: a shopper on the devstore
storefront (the chat embed switched on, the widget from extensions/chat-embed) and a staff
member in the devstore's admin frame on the app's Conversations inbox, against a real
`referrals realtime` process and the real worker (RQ, burst).

1. They chat both ways live: the shopper writes, the staff member sees it without a reload
   with "Online"; the staff member replies and the widget shows it; typing shows both ways.
2. The shopper closes the tab: the note that a reply goes by email replaces "Online".
3. The staff member replies meanwhile: the reply arrives in the devstore mailbox from the
   conversation's reply address.
4. The shopper answers from the mailbox page's Reply: the answer lands in the same thread in
   the staff member's inbox live, marked "by email".
Then the shopper comes back to the store: the widget has the whole thread.

Screenshots of both windows at each step: tests/e2e/screenshots/side-by-side-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shopify_app.conversations.email_replies import reply_address
from shopify_app.models import Conversation, ConversationMessage, EmailMessage
from tests.conftest import SHOP_A
from tests.e2e.conversations_support import enable_embed
from tests.integration.webhook_support import install, one, rows, run_jobs

pytestmark = pytest.mark.xdist_group("realtime")

STORE = f"/shops/{SHOP_A}/"
EMAIL = "mia.shopper@example.com"
# Generous: the machine may be busy; nothing here measures speed (tests/bench/ does).
LIVE = 30000


def test_a_shopper_and_a_staff_member_side_by_side(live, browser, page, realtime, screenshots_dir):
    def snap(step: str) -> None:
        for who, p in (("shopper", shopper), ("staff", page)):
            if not p.is_closed():
                p.screenshot(path=str(screenshots_dir / f"side-by-side-{step}-{who}.png"))

    install(live, SHOP_A)
    enable_embed(live, page)  # the merchant, in the admin frame

    # The staff member opens Conversations: nothing yet, the stream is live.
    page.goto(live.admin_url("alpha-shop") + "/admin/conversations")
    staff = page.frame_locator("#app-frame")
    expect(staff.locator("#live-state")).to_contain_text("Live", timeout=LIVE)

    # The shopper, in another window, on the storefront.
    shopper_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shopper = shopper_context.new_page()
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_role("button", name="Chat with us").click()
    widget = shopper.get_by_role("dialog", name="Chat with us")
    widget.get_by_label("Your email").fill(EMAIL)
    widget.get_by_label("Your name (optional)").fill("Mia")
    widget.get_by_role("button", name="Start chat").click()
    message = widget.get_by_label("Message", exact=True)
    expect(message).to_be_focused()
    snap("1-started")

    # 1. The shopper writes: the conversation appears in the staff list without a reload,
    # unread and online.
    message.fill("Hi! Is the green tea in stock?")
    message.press("Enter")
    log = widget.get_by_role("log")
    expect(log).to_contain_text("Hi! Is the green tea in stock?")
    (conversation,) = rows(live.app, Conversation)
    cid = conversation.id
    row = staff.locator(f"#conversation-{cid}")
    expect(row).to_contain_text(EMAIL, timeout=LIVE)
    expect(row.locator(".presence")).to_have_text("Online", timeout=LIVE)
    expect(row.locator(".unread-count")).to_contain_text("1")
    snap("2-new-conversation")

    row.locator("a").click()
    expect(staff.locator("#thread-heading")).to_have_text("Mia", timeout=LIVE)
    expect(staff.locator("#thread-presence")).to_contain_text("Online: your reply appears")
    expect(staff.locator("#messages .message.shopper")).to_contain_text(
        "Is the green tea in stock?"
    )

    # Typing, shopper to staff; then the next message arrives in the open thread.
    message.press_sequentially("And do you ship")
    expect(staff.locator("#typing")).to_have_text("Mia is typing…", timeout=LIVE)
    snap("3-shopper-typing")
    message.press_sequentially(" to Finland?")
    message.press("Enter")
    expect(staff.locator("#messages .message.shopper").last).to_contain_text(
        "And do you ship to Finland?", timeout=LIVE
    )

    # Typing, staff to shopper; then the reply shows in the widget.
    composer = staff.locator("#reply-body")
    composer.click()
    composer.press_sequentially("Yes, both")
    expect(widget).to_contain_text("Ada is typing…", timeout=LIVE)  # the replies' first name
    snap("4-staff-typing")
    composer.press_sequentially(": 40 in stock, and we ship to Finland.")
    composer.press("Enter")
    theirs = log.locator(".rc-chat__message--theirs")
    expect(theirs).to_contain_text("Yes, both: 40 in stock, and we ship to Finland.", timeout=LIVE)
    expect(widget).not_to_contain_text("is typing")
    expect(staff.locator("#messages .message.staff")).to_have_count(1)
    # Right after a reply, the next one's typing shows again (as the shopper's did above).
    composer.press_sequentially("Anything")
    expect(widget).to_contain_text("is typing…", timeout=LIVE)
    composer.fill("")
    snap("5-chatting")

    # 2. The shopper closes the tab: the note about email replaces "Online" (the realtime
    # process decides after its grace; wait for the outcome, not a time).
    shopper.close()
    expect(row.locator(".presence")).to_have_text("Away: a reply goes by email", timeout=LIVE)
    expect(staff.locator("#thread-presence")).to_contain_text(
        f"your reply will be emailed to {EMAIL}"
    )
    snap("6-shopper-left")

    # 3. The staff member replies meanwhile: the worker emails it from the reply address.
    composer.fill("Your parcel can leave today if you order before 3 pm.")
    composer.press("Enter")
    expect(staff.locator("#messages .message.staff")).to_have_count(2)
    run_jobs(live.app)  # send_reply_email, then deliver_email
    email = one(live.app, EmailMessage, EmailMessage.kind == "conversation_reply")
    assert (email.status, email.to_address) == ("sent", EMAIL)
    address = reply_address(
        cid,
        secret=live.app.config["INBOUND_EMAIL_SECRET"],
        domain=live.app.config["INBOUND_EMAIL_DOMAIN"],
    )
    (mail,) = live.devstore.extensions["devstore_mailbox"].to(EMAIL)
    assert address in mail.headers["From"]
    assert mail.headers["Reply-To"] == address
    assert "Your parcel can leave today" in mail.text

    mailbox_context = browser.new_context(viewport={"width": 1280, "height": 800})
    mailbox = mailbox_context.new_page()
    mailbox.goto(f"{live.devstore_url}/mailbox")
    received = mailbox.locator("li.mail-received").first
    expect(received).to_contain_text("Your parcel can leave today if you order before 3 pm.")
    expect(received).to_contain_text(f"to {EMAIL}")
    expect(received).to_contain_text(address)
    mailbox.screenshot(
        path=str(screenshots_dir / "side-by-side-7-mailbox-shopper.png"), full_page=True
    )
    snap("7-mailbox")

    # 4. The shopper answers from the mailbox: the answer lands in the thread live.
    received.get_by_text("Reply", exact=True).click()
    expect(received.get_by_label(f"Your reply to {address}")).to_be_visible()
    received.get_by_label(f"Your reply to {address}").fill("Great, I just ordered two.")
    received.get_by_role("button", name="Send reply").click()
    expect(mailbox.locator("li.mail-sent")).to_contain_text("201 accepted: attached")
    mailbox.screenshot(
        path=str(screenshots_dir / "side-by-side-8-mailbox-replied-shopper.png"), full_page=True
    )
    answer = staff.locator("#messages .message.shopper").last
    expect(answer).to_contain_text("Great, I just ordered two.", timeout=LIVE)
    expect(answer).to_contain_text("by email")
    expect(answer).not_to_contain_text("wrote:")
    expect(row).to_contain_text("Great, I just ordered two.", timeout=LIVE)
    snap("8-answer-by-email")
    mailbox_context.close()

    messages = rows(live.app, ConversationMessage)
    assert {m.conversation_id for m in messages} == {cid}
    assert [(m.author, m.channel) for m in messages] == [
        ("shopper", "widget"),
        ("shopper", "widget"),
        ("staff", "admin"),
        ("staff", "admin"),
        ("shopper", "email"),
    ]

    # The shopper comes back to the store: the widget has the whole thread, the staff sees
    # them online again.
    shopper = shopper_context.new_page()
    shopper.goto(live.devstore_url + STORE)
    widget = shopper.get_by_role("dialog", name="Chat with us")
    expect(widget).to_be_visible()  # open, as they left it
    log = widget.get_by_role("log")
    expect(log.locator("li")).to_have_count(5, timeout=LIVE)
    expect(log).to_contain_text("Your parcel can leave today")
    expect(log).to_contain_text("Great, I just ordered two.")
    expect(row.locator(".presence")).to_have_text("Online", timeout=LIVE)
    snap("9-back-in-the-store")
    shopper_context.close()
