"""The email loop in two Chromium pages side by side (issue 19, item 4): a staff member in
the admin frame answers a shopper who has left the store; the worker emails the reply into
the devstore's mailbox; the shopper answers it there with Reply; the answer appears in the
staff member's open thread live (the realtime process), marked "by email"."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from shopify_app.conversations import service
from shopify_app.db import get_session
from shopify_app.models import ConversationMessage, EmailMessage, Shop
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install, one, rows, run_jobs


def test_a_reply_by_email_and_its_answer_from_the_mailbox(
    live, browser, page, realtime, screenshots_dir
):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        conversation = service.start_conversation(
            session, shop, email="ada@example.com", name="Ada Lovelace"
        )
        service.post_message(
            session, shop, conversation, author="shopper", body="Is it sent?", channel="widget"
        )
        session.commit()
        cid = conversation.id

    # The staff member, in the admin frame: the shopper is not in the store.
    page.goto(live.admin_url("alpha-shop") + f"/admin/conversations?c={cid}")
    staff = page.frame_locator("#app-frame")
    expect(staff.locator("#live-state")).to_contain_text("Live", timeout=15000)
    expect(staff.locator("#thread-presence")).to_contain_text(
        "your reply will be emailed to ada@example.com"
    )
    composer = staff.locator("#reply-body")
    composer.fill("Your parcel left today.")
    composer.press("Enter")
    expect(staff.locator("#messages .message.staff")).to_have_count(1)

    run_jobs(live.app)  # the worker: send_reply_email, then deliver_email
    sent = one(live.app, EmailMessage)
    assert (sent.kind, sent.status, sent.to_address) == (
        "conversation_reply",
        "sent",
        "ada@example.com",
    )

    # The shopper, in a second window: the devstore's mailbox.
    context = browser.new_context(viewport={"width": 900, "height": 800})
    mailbox = context.new_page()
    mailbox.goto(f"{live.devstore_url}/mailbox")
    mail = mailbox.locator("li.mail-received").first
    expect(mail).to_contain_text("Your conversation with Alpha Shop")
    expect(mail).to_contain_text("Your parcel left today.")
    mail.get_by_text("Reply", exact=True).click()
    mail.get_by_label("Your reply to").fill("Wonderful, thank you!")
    mailbox.screenshot(path=str(screenshots_dir / "email-loop-mailbox.png"), full_page=True)
    mail.get_by_role("button", name="Send reply").click()
    expect(mailbox.locator("li.mail-sent")).to_contain_text("201 accepted: attached")

    # Back in the admin: the answer arrived without a reload, marked as an email.
    answer = staff.locator("#messages .message.shopper").last
    expect(answer).to_contain_text("Wonderful, thank you!", timeout=15000)
    expect(answer).to_contain_text("by email")
    expect(answer).not_to_contain_text("wrote:")  # the quoted thread is not kept
    page.screenshot(path=str(screenshots_dir / "email-loop-inbox.png"), full_page=True)
    context.close()

    last = rows(live.app, ConversationMessage, ConversationMessage.conversation_id == cid)[-1]
    assert (last.author, last.channel, last.body) == ("shopper", "email", "Wonderful, thank you!")
