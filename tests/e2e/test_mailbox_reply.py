"""The shopper answers a chat reply email from the devstore's mailbox, in Chromium: the
Reply button opens a form, the reply goes (signed) to the app's inbound endpoint, the
mailbox keeps it as sent mail with the app's answer, and the conversation has it."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from shopify_app.conversations import service
from shopify_app.db import get_session
from shopify_app.models import ConversationMessage, Shop
from tests.conftest import SHOP_A
from tests.integration.webhook_support import install, rows, run_jobs


def test_the_mailbox_reply_button_answers_into_the_conversation(live, page, screenshots_dir):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        conversation = service.start_conversation(
            session, shop, email="ada@example.com", locale="fi"
        )
        service.post_message(
            session, shop, conversation, author="shopper", body="Onko tätä?", channel="widget"
        )
        service.post_message(
            session, shop, conversation, author="staff", body="On, 3 kpl.", channel="admin"
        )
        session.commit()
        conversation_id = conversation.id
    run_jobs(live.app)  # the shopper is not online: the reply goes by email

    page.goto(f"{live.devstore_url}/mailbox")
    mail = page.locator("li.mail-received").first
    expect(mail).to_contain_text("On, 3 kpl.")
    mail.get_by_text("Reply", exact=True).click()
    mail.get_by_label("Your reply to").fill("Hienoa, tilaan kaksi.")
    mail.get_by_role("button", name="Send reply").click()

    sent = page.locator("li.mail-sent")
    expect(sent).to_contain_text("Delivered to the app: 201 accepted: attached")
    expect(sent).to_contain_text("> On, 3 kpl.")
    page.screenshot(path=str(screenshots_dir / "mailbox_reply.png"), full_page=True)

    last = rows(
        live.app, ConversationMessage, ConversationMessage.conversation_id == conversation_id
    )[-1]
    assert (last.author, last.channel, last.body) == ("shopper", "email", "Hienoa, tilaan kaksi.")
