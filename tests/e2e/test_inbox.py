"""A staff member in the devstore admin frame answers a shopper from the inbox (issue 19,
item 5): the conversation (started through the service, as the widget starts one) is in the
list, unread; opening it reads it; Enter sends a reply, Shift+Enter makes a new line; a
private note looks different; a saved reply is created, inserted and deleted; the customer's
hub and "Find in Support". Screenshots at 1280 and 1440 px (nothing scrolls sideways), with
Shopify's CDN unreachable, as in every browser test."""

from __future__ import annotations

import re

import redis
from playwright.sync_api import expect
from sqlalchemy import select

from shopify_app.conversations import chat_tokens, service
from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, Customer, Referral, Reward, Shop
from tests.conftest import SHOP_A
from tests.helpers import proxy_query
from tests.integration.realtime_support import streams
from tests.integration.test_program_pages import referral_setup
from tests.integration.webhook_support import install, one, rows


def start(live, email, name, *bodies, customer=False):
    """A conversation started as the widget starts one (`customer`: by the logged-in
    customer with that email)."""
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        linked = None
        if customer:
            linked = session.scalars(
                select(Customer).where(Customer.shop_id == shop.id, Customer.email == email)
            ).one()
        conversation = service.start_conversation(
            session, shop, email=email, name=name, customer=linked
        )
        for body in bodies:
            service.post_message(
                session, shop, conversation, author="shopper", body=body, channel="widget"
            )
        session.commit()
        return conversation.id


def no_sideways_scroll(page, app, name, screenshots_dir):
    for width in (1280, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        scroll, client = app.locator("body").evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"sideways scrolling at {width} px"
        app.locator("body").evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshots_dir / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_staff_reply_add_a_note_and_use_a_saved_reply(live, page, screenshots_dir):
    install(live, SHOP_A)
    start(live, "bob@example.com", None, "Do you ship to Finland?")
    cid = start(
        live,
        "ada@example.com",
        "Ada Lovelace",
        "Hello! Where is my reward?",
        "<b>My order was #1001</b>",
    )

    page.goto(live.admin_url("alpha-shop") + "/admin/conversations")
    app = page.frame_locator("#app-frame")
    row = app.locator(f"#conversation-{cid}")
    expect(row).to_contain_text("ada@example.com", timeout=15000)
    expect(row).to_contain_text("Ada Lovelace")
    expect(row.locator(".unread-count")).to_contain_text("2")
    expect(row).to_contain_text("Away: a reply goes by email")
    expect(app.locator("#conversations li").first).to_have_id(f"conversation-{cid}")
    no_sideways_scroll(page, app, "inbox-list", screenshots_dir)

    # Open it: the thread, read; HTML in a message is shown as text.
    row.locator("a").click()
    expect(app.locator("#thread-heading")).to_have_text("Ada Lovelace", timeout=15000)
    expect(app.locator("#messages .message.shopper").last).to_contain_text(
        "<b>My order was #1001</b>"
    )
    expect(app.locator(f"#conversation-{cid} .unread-count")).to_have_count(0)
    expect(app.locator("#thread-presence")).to_contain_text(
        "your reply will be emailed to ada@example.com"
    )
    expect(app.locator("#hub-unknown")).to_be_visible()
    expect(app.locator("#find-in-support")).to_have_attribute(
        "href", re.compile(r"^/portal\?q=ada@example.com&")
    )
    assert one(live.app, Conversation, Conversation.id == cid).unread_for_staff == 0

    # Shift+Enter is a new line; Enter sends.
    composer = app.locator("#reply-body")
    composer.click()
    composer.type("Hi Ada,")
    composer.press("Shift+Enter")
    composer.type("your reward is on its way.")
    composer.press("Enter")
    staff = app.locator("#messages .message.staff")
    expect(staff).to_have_count(1)
    expect(staff.locator(".body")).to_have_text("Hi Ada,\nyour reward is on its way.")
    expect(composer).to_have_value("")

    # A private note: marked as such, never the shopper's.
    composer.fill("Called her too; VIP customer.")
    app.get_by_role("button", name="Add private note").click()
    note = app.locator("#messages .message.note")
    expect(note).to_have_count(1)
    expect(note.locator(".author")).to_contain_text("Private note")

    # Saved replies: create one, insert it, send it, delete it.
    app.locator("#saved-replies summary").click()
    app.get_by_label("Title").fill("Shipping to Finland")
    app.get_by_label("Text").fill("We ship to Finland in 3-5 working days.")
    app.get_by_role("button", name="Save reply").click()
    saved = app.locator("#saved-reply-list button.insert", has_text="Shipping to Finland")
    expect(saved).to_have_count(1)
    saved.click()
    expect(composer).to_have_value("We ship to Finland in 3-5 working days.")
    app.get_by_role("button", name="Send", exact=True).click()
    expect(staff).to_have_count(2)
    no_sideways_scroll(page, app, "inbox-thread", screenshots_dir)
    app.get_by_role("button", name="Delete saved reply Shipping to Finland").click()
    expect(saved).to_have_count(0)
    expect(app.locator("#no-saved-replies")).to_be_visible()

    stored = rows(live.app, ConversationMessage, ConversationMessage.conversation_id == cid)
    assert [(m.author, m.body) for m in stored][2:] == [
        ("staff", "Hi Ada,\nyour reward is on its way."),
        ("note", "Called her too; VIP customer."),
        ("staff", "We ship to Finland in 3-5 working days."),
    ]

    # Search by message text, from the list.
    app.locator("#inbox-q").fill("finland")
    app.locator("#inbox-q").press("Enter")
    expect(app.locator("#inbox")).to_have_attribute("data-list-url", re.compile("q=finland"))
    # Bob's question, Ada's reply
    expect(app.locator("#conversations li")).to_have_count(2, timeout=15000)
    app.locator("#inbox-q").fill("bob@")
    app.locator("#inbox-q").press("Enter")
    expect(app.locator("#inbox")).to_have_attribute("data-list-url", re.compile("q=bob@"))
    expect(app.locator("#conversations li")).to_have_count(1, timeout=15000)
    expect(app.locator("#conversations li")).to_contain_text("bob@example.com")


def test_the_inbox_follows_the_conversation_live(live, page, realtime, screenshots_dir):
    """Presence, shopper messages and typing arrive without a reload; staff typing and the
    reply reach the shopper's stream; what was sent while the stream was down is caught up
    on reconnect; the shopper leaves and the note about the email replaces "Online"."""
    install(live, SHOP_A)
    cid = start(live, "ada@example.com", "Ada Lovelace", "Hello?")
    shop_id = one(live.app, Shop, Shop.domain == SHOP_A).id
    with live.app.app_context():
        chat = chat_tokens.issue_chat_token(
            get_session().get(Shop, shop_id), one(live.app, Conversation, Conversation.id == cid)
        )

    page.goto(live.admin_url("alpha-shop") + f"/admin/conversations?c={cid}")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#live-state")).to_contain_text("Live", timeout=15000)
    presence = app.locator(f"#conversation-{cid} .presence")
    expect(presence).to_contain_text("Away: a reply goes by email")

    with streams() as opened:
        shopper = realtime.shopper(shop_id, cid)
        opened.append(shopper)
        shopper.wait_ready()
        expect(presence).to_have_text("Online", timeout=15000)
        expect(app.locator("#thread-presence")).to_contain_text("Online: your reply appears")

        # The shopper types, then writes: both show without a reload.
        signed = proxy_query(SHOP_A)
        typing = live.http.post(
            f"{live.app_url}/proxy/chat/typing", params=signed, json={"token": chat}
        )
        assert typing.status_code == 204
        expect(app.locator("#typing")).to_have_text("Ada Lovelace is typing…")
        sent = live.http.post(
            f"{live.app_url}/proxy/chat/messages",
            params=proxy_query(SHOP_A),
            json={"token": chat, "body": "Is my reward coming?", "client_id": "w1"},
        )
        assert sent.status_code == 201
        expect(app.locator("#messages .message.shopper").last).to_contain_text(
            "Is my reward coming?", timeout=15000
        )
        expect(app.locator("#typing")).to_have_text("")  # the message ends the typing

        # Staff types and replies: the shopper's stream hears both, never a note.
        composer = app.locator("#reply-body")
        composer.click()
        composer.type("It is")
        assert (
            shopper.next(lambda e: e.event == "typing", timeout=15).data["conversation_id"] == cid
        )
        composer.fill("Yes, today.")
        composer.press("Enter")
        heard = shopper.next(lambda e: e.event == "message", timeout=15)
        assert (heard.data["author"], heard.data["body"]) == ("staff", "Yes, today.")
        composer.fill("Private: check the order")
        app.get_by_role("button", name="Add private note").click()
        expect(app.locator("#messages .message.note")).to_have_count(1)
        page.screenshot(path=str(screenshots_dir / "inbox-live.png"), full_page=True)

        # The stream drops; a message arrives meanwhile; the page catches up on reconnect.
        realtime.stop()
        expect(app.locator("#live-state")).to_contain_text("Reconnecting", timeout=15000)
        start(live, "ada@example.com", "Ada Lovelace", "Sent while you were away")
        realtime.redis = redis.Redis.from_url(realtime.env["REDIS_URL"])
        realtime.start()
        expect(app.locator("#messages .message.shopper").last).to_contain_text(
            "Sent while you were away", timeout=40000
        )
        expect(app.locator("#live-state")).to_contain_text("Live")
        shopper = realtime.shopper(shop_id, cid)
        opened.append(shopper)
        shopper.wait_ready()
        expect(presence).to_have_text("Online", timeout=15000)
        assert "Private: check the order" not in [e.data.get("body") for e in shopper.seen]

        # The shopper closes the tab: the note about the email replaces "Online".
        shopper.close()
    expect(presence).to_contain_text("Away: a reply goes by email", timeout=20000)
    expect(app.locator("#thread-presence")).to_contain_text(
        "your reply will be emailed to ada@example.com, the address given at the start"
    )
    page.screenshot(path=str(screenshots_dir / "inbox-shopper-left.png"), full_page=True)


def test_the_customers_hub_beside_the_thread_and_its_support_actions(live, page, screenshots_dir):
    install(live, SHOP_A)
    ada, advocate, _order = referral_setup(live)
    cid = start(live, "ada.l@gmail.com", "Ada", "Where is my reward?", customer=True)
    reward = one(live.app, Reward)
    customer = one(live.app, Customer, Customer.email == "ada.l@gmail.com")
    assert one(live.app, Referral, Referral.id == reward.referral_id).status == "completed"

    page.goto(live.admin_url("alpha-shop") + f"/admin/conversations?c={cid}")
    app = page.frame_locator("#app-frame")
    hub = app.locator("#customer-hub")
    expect(hub.locator("#hub-program")).to_contain_text(advocate.code, timeout=15000)
    expect(hub.locator("#hub-referrals")).to_contain_text("Completed")
    expect(hub.locator(f"#hub-reward-{reward.id}")).to_contain_text(reward.code)
    expect(hub.locator("#view-in-shopify")).to_have_attribute(
        "href", f"shopify://admin/customers/{ada.id}"
    )
    no_sideways_scroll(page, app, "inbox-hub", screenshots_dir)

    # Resend the reward email through Support's own action, staying in the inbox.
    hub.get_by_role("button", name="Resend reward email").click()
    expect(hub.locator(".resend-result")).to_contain_text(
        "The reward email to ada.l@gmail.com is queued to be sent again"
    )
    expect(app.locator("#thread-heading")).to_have_text("Ada")

    # Open in Support: the portal's page of that customer.
    hub.get_by_role("link", name="Open in Support").click()
    expect(app.locator("s-page")).to_have_attribute("heading", customer.display_name)
    assert f"/portal/customers/{customer.id}" in app.locator("body").evaluate(
        "() => location.pathname"
    )
