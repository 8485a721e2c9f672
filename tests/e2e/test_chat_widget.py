"""The storefront chat as a merchant and a shopper meet it, in Chromium: the merchant turns the
chat on from the app's Settings (the theme editor's App embeds, then Save); the shopper opens
the launcher on the devstore storefront, starts a chat with an email, sends a message that the
app stores, and sees the staff's reply and typing arrive live through the realtime process,
HTML shown as text; the chat continues on the next page; a realtime outage loses nothing
(the widget catches up when the stream is back); the Finnish storefront speaks Finnish; and
everything works from the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shopify_app.conversations import service
from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, Shop
from tests.conftest import SHOP_A
from tests.e2e.conversations_support import enable_embed
from tests.helpers import API_SECRET
from tests.integration.realtime_support import Realtime
from tests.integration.webhook_support import install, rows
from tests.support import wait_until

pytestmark = pytest.mark.xdist_group("realtime")

STORE = f"/shops/{SHOP_A}/"


@pytest.fixture(scope="module")
def realtime(redis_url, tmp_path_factory):
    server = Realtime(redis_url, tmp_path_factory.mktemp("realtime-widget"))
    server.env["SHOPIFY_API_SECRET"] = API_SECRET  # the app's: the same signing secret
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(live, realtime, monkeypatch):
    """SHOP_A with the app installed, the app pointing shoppers at the realtime process, and
    the chat embed switched on the way a merchant does it (see the first test)."""
    monkeypatch.setitem(live.app.config, "REALTIME_URL", realtime.url)
    install(live, SHOP_A)
    return live


def staff_reply(live, body: str) -> None:
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        conversation = session.query(Conversation).filter_by(shop_id=shop.id).one()
        service.post_message(
            session, shop, conversation, author="staff", body=body, channel="admin"
        )
        session.commit()


def seen_up_to(live) -> int | None:
    return rows(live.app, Conversation)[0].shopper_seen_message_id


def staff_typing(live) -> None:
    from shopify_app.conversations import notify

    with live.app.app_context():
        conversation = rows(live.app, Conversation)[0]
        notify.publish_event(
            shop_id=conversation.shop_id,
            conversation_id=conversation.id,
            event="typing",
            data={"author": "staff"},
            to_shopper=True,
            to_staff=False,
        )


def test_a_shopper_chats_from_the_storefront_live_both_ways(
    store, realtime, browser, page, screenshots_dir
):
    live = store
    shopper = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    shopper.goto(live.devstore_url + STORE)
    expect(shopper.locator("h1")).to_have_text("Alpha Shop")
    assert shopper.locator("#rc-chat").count() == 0  # off after install

    enable_embed(live, page, screenshots_dir)
    shopper.reload()
    launcher = shopper.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    shopper.screenshot(path=str(screenshots_dir / "chat-widget-closed-en.png"))

    launcher.click()
    dialog = shopper.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Your email")).to_be_focused()
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_role("alert").first).to_contain_text("Enter your email address")
    dialog.get_by_label("Your email").fill("Mia.Shopper@example.com")
    dialog.get_by_label("Your name (optional)").fill("Mia")
    dialog.get_by_role("button", name="Start chat").click()
    message = dialog.get_by_label("Message", exact=True)
    expect(message).to_be_focused()
    expect(dialog).to_contain_text("If you leave, we reply to mia.shopper@example.com.")

    message.fill('Is the teapot <img src=x onerror="window.pwned=1"> dishwasher safe?')
    message.press("Enter")
    log = dialog.get_by_role("log")
    expect(log).to_contain_text('Is the teapot <img src=x onerror="window.pwned=1">')
    expect(message).to_have_value("")
    (stored,) = rows(live.app, ConversationMessage)
    assert (stored.author, stored.channel) == ("shopper", "widget")
    assert stored.body.startswith("Is the teapot <img")
    (conversation,) = rows(live.app, Conversation)
    assert (conversation.email, conversation.name, conversation.locale) == (
        "mia.shopper@example.com",
        "Mia",
        "en",
    )

    staff_typing(live)
    expect(dialog).to_contain_text("Alpha Shop is typing…")
    staff_reply(live, "<b>Yes</b>, it is.\nRinse it first.")
    reply = log.locator(".rc-chat__message--theirs")
    expect(reply).to_contain_text("<b>Yes</b>, it is.")
    assert log.locator("b, img").count() == 0
    assert shopper.evaluate("window.pwned") is None
    expect(dialog).not_to_contain_text("is typing")
    shopper.screenshot(path=str(screenshots_dir / "chat-widget-open-en.png"))
    # The open chat on a visible page tells the app the reply was seen: no email for it.
    answered = max(m.id for m in rows(live.app, ConversationMessage))
    wait_until(lambda: seen_up_to(live) == answered, what="the reply reported seen")

    # The next page: the same chat (the token is in localStorage), still open, no duplicates.
    shopper.goto(live.devstore_url + STORE + "?page=2")
    dialog = shopper.get_by_role("dialog", name="Chat with us")
    expect(dialog.get_by_role("log").locator("li")).to_have_count(2)
    expect(dialog.get_by_role("log")).to_contain_text("Rinse it first.")

    # Closed, a reply shows on the launcher; a realtime outage loses nothing.
    dialog.get_by_label("Message", exact=True).press("Escape")
    expect(dialog).to_be_hidden()
    realtime.kill()
    staff_reply(live, "Sent while the stream was down.")
    realtime.start()
    launcher = shopper.get_by_role("button", name="Chat with us, 1 new")
    expect(launcher).to_be_visible(timeout=20000)
    shopper.screenshot(path=str(screenshots_dir / "chat-widget-closed-unread-en.png"))
    assert seen_up_to(live) == answered  # arrived while closed: not seen yet
    launcher.click()
    expect(dialog.get_by_role("log")).to_contain_text("Sent while the stream was down.")
    expect(dialog.get_by_role("log").locator("li")).to_have_count(3)
    latest = max(m.id for m in rows(live.app, ConversationMessage))
    wait_until(lambda: seen_up_to(live) == latest, what="the reply seen once opened")
    shopper.context.close()


def test_the_finnish_storefront_and_the_keyboard(store, browser, page, screenshots_dir):
    live = store
    enable_embed(live, page)
    shopper = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    shopper.goto(live.devstore_url + STORE + "fi/")
    launcher = shopper.get_by_role("button", name="Keskustele kanssamme")
    expect(launcher).to_be_visible()
    shopper.screenshot(path=str(screenshots_dir / "chat-widget-closed-fi.png"))

    # Keyboard only: the launcher is the page's last stop, Shift+Tab from the top reaches it.
    shopper.keyboard.press("Shift+Tab")
    expect(launcher).to_be_focused()
    outline = launcher.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"  # a visible focus ring
    shopper.keyboard.press("Enter")
    dialog = shopper.get_by_role("dialog", name="Keskustele kanssamme")
    expect(dialog).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    email = dialog.get_by_label("Sähköpostiosoitteesi")
    expect(email).to_be_focused()
    shopper.keyboard.type("liisa@example.fi")
    shopper.keyboard.press("Tab")
    expect(dialog.get_by_label("Nimesi (vapaaehtoinen)")).to_be_focused()
    shopper.keyboard.type("Liisa")
    shopper.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Aloita keskustelu")).to_be_focused()
    shopper.keyboard.press("Enter")
    message = dialog.get_by_label("Viesti", exact=True)
    expect(message).to_be_focused()
    shopper.keyboard.type("Onko teekannu astianpesukoneen kestävä?")
    shopper.keyboard.press("Enter")
    expect(dialog.get_by_role("log")).to_contain_text("Onko teekannu astianpesukoneen kestävä?")
    expect(dialog.get_by_role("log")).to_contain_text("Sinä")
    expect(dialog).to_contain_text("Jos poistut, vastaamme osoitteeseen liisa@example.fi.")
    (conversation,) = rows(live.app, Conversation)
    assert conversation.locale == "fi"
    shopper.screenshot(path=str(screenshots_dir / "chat-widget-open-fi.png"))

    # An empty message is refused in Finnish, with the field marked.
    shopper.keyboard.press("Enter")
    expect(dialog.get_by_role("alert").last).to_have_text("Kirjoita ensin viesti.")
    expect(message).to_have_attribute("aria-invalid", "true")

    shopper.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    shopper.context.close()


def test_the_widget_renews_its_realtime_token_when_the_stream_says_it_expired(
    store, browser, page, monkeypatch
):
    """Realtime tokens last minutes; here two seconds, so the stream soon says
    `token_expired`: the widget fetches a new token through the proxy, reconnects, and the
    staff's next reply still arrives live."""
    from shopify_app.conversations import notify
    from shopify_app.realtime.tokens import issue_realtime_token

    def short_lived(shop_id: int, conversation_id: int) -> str:
        return issue_realtime_token(
            notify.realtime_secret(),
            shop_id=shop_id,
            audience="shopper",
            conversation_id=conversation_id,
            ttl=2,
        )

    monkeypatch.setattr(notify, "shopper_realtime_token", short_lived)
    live = store
    enable_embed(live, page, accent="#ffd700")  # a light accent: dark text on it
    shopper = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    shopper.goto(live.devstore_url + STORE)
    launcher = shopper.get_by_role("button", name="Chat with us")
    expect(launcher).to_have_css("background-color", "rgb(255, 215, 0)")
    expect(launcher).to_have_css("color", "rgb(26, 26, 26)")
    launcher.click()
    dialog = shopper.get_by_role("dialog", name="Chat with us")
    dialog.get_by_label("Your email").fill("ren@example.com")
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_label("Message", exact=True)).to_be_focused()

    def renewal(request) -> bool:
        return request.method == "POST" and request.url.endswith("/chat/realtime-token")

    for _ in range(2):  # renewed, and renewed again when the new token expires
        shopper.wait_for_event("request", predicate=renewal, timeout=30000)
    staff_reply(live, "Still here after the renewal.")
    expect(dialog.get_by_role("log")).to_contain_text("Still here after the renewal.")
    expect(dialog.locator(".rc-chat__status")).to_be_empty()  # no "Reconnecting…" left
    shopper.context.close()


def test_a_logged_in_customer_starts_without_typing_an_email(store, browser, page, screenshots_dir):
    """The app proxy's signed `logged_in_customer_id` says who the shopper is: the widget
    asks for nothing, and the conversation is the customer's."""
    from devstore import commerce
    from shopify_app.models import Customer
    from tests.integration.webhook_support import run_jobs

    live = store
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    for _ in range(3):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)
    enable_embed(live, page)
    shopper = browser.new_context(viewport={"width": 375, "height": 667}).new_page()  # a phone
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_label("Log in as a customer (email)").fill("ada@example.com")
    shopper.get_by_role("button", name="Log in").click()
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_role("button", name="Chat with us").click()
    dialog = shopper.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_contain_text("Signed in as ada@example.com")
    expect(dialog.get_by_label("Your email")).to_be_hidden()
    start = dialog.get_by_role("button", name="Start chat")
    expect(start).to_be_focused()
    start.click()
    dialog.get_by_label("Message", exact=True).fill("Where is my order?")
    dialog.get_by_label("Message", exact=True).press("Enter")
    expect(dialog.get_by_role("log")).to_contain_text("Where is my order?")
    shopper.screenshot(path=str(screenshots_dir / "chat-widget-open-phone.png"))
    (conversation,) = rows(live.app, Conversation)
    (customer,) = rows(live.app, Customer, Customer.shopify_id == ada.id)
    assert (conversation.customer_id, conversation.email) == (customer.id, "ada@example.com")
    shopper.context.close()


def test_a_chat_started_before_logging_in_becomes_the_customers(store, browser, page):
    from devstore import commerce
    from shopify_app.models import Customer
    from tests.integration.webhook_support import run_jobs

    live = store
    ada = commerce.create_customer(live.state, SHOP_A, email="ada@example.com", first_name="Ada")
    for _ in range(3):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)
    enable_embed(live, page)
    shopper = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_role("button", name="Chat with us").click()
    dialog = shopper.get_by_role("dialog", name="Chat with us")
    dialog.get_by_label("Your email").fill("ada@example.com")
    dialog.get_by_role("button", name="Start chat").click()
    dialog.get_by_label("Message", exact=True).fill("Before logging in")
    dialog.get_by_label("Message", exact=True).press("Enter")
    expect(dialog.get_by_role("log")).to_contain_text("Before logging in")
    (conversation,) = rows(live.app, Conversation)
    assert conversation.customer_id is None

    shopper.get_by_label("Log in as a customer (email)").fill("ada@example.com")
    shopper.get_by_role("button", name="Log in").click()
    shopper.goto(live.devstore_url + STORE)
    expect(dialog.get_by_role("log")).to_contain_text("Before logging in")
    (customer,) = rows(live.app, Customer, Customer.shopify_id == ada.id)
    (conversation,) = rows(live.app, Conversation)
    assert conversation.customer_id == customer.id
    dialog.get_by_label("Message", exact=True).fill("After logging in")
    dialog.get_by_label("Message", exact=True).press("Enter")
    expect(dialog.get_by_role("log").locator("li")).to_have_count(2)
    shopper.context.close()
