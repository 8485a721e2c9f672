"""Staff notifications (issue 20, F7) in Chromium: a staff member on the Customers page (not
the inbox) in the devstore's admin frame, a shopper writing from the storefront widget in
another window, a real `referrals realtime` process.

1. The shopper writes: the admin's menu shows "Conversations (1)" and a toast "New message
   from Mia: …" appears live; its Open action shows the conversation, and reading it
   clears the count.
2. On the inbox with that conversation open, the next message shows in the thread with no
   toast, over the page's one realtime stream.
3. Settings: desktop notifications are asked for only on the button's click; with the page
   hidden, a new message creates a Notification; clicking it opens the conversation.
4. Without App Bridge's toast, the page's own toast (role=status) links to the
   conversation.
`window.Notification` is stubbed by an init script that records each one (a cross-origin
frame may not show real ones). Screenshots: tests/e2e/screenshots/staff-notify-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from shopify_app.conversations import service
from shopify_app.db import get_session
from shopify_app.models import Conversation, Shop
from tests.conftest import SHOP_A
from tests.e2e.conversations_support import enable_embed
from tests.integration.webhook_support import install, rows

pytestmark = pytest.mark.xdist_group("realtime")

STORE = f"/shops/{SHOP_A}/"
LIVE = 30000
FIRST = "Is the teapot in the photo the one you ship, with the bamboo handle and the lid?"

# Records every Notification and EventSource the app's frame makes; permission starts
# "default" and becomes "granted" when asked (as a browser asks its user).
STUBS = """
(() => {
  window.__asked = 0;
  window.__notes = [];
  class RecordedNotification {
    constructor(title, options) {
      this.title = title;
      this.body = (options || {}).body;
      this.tag = (options || {}).tag;
      this.onclick = null;
      window.__notes.push(this);
    }
    close() {}
  }
  RecordedNotification.permission = 'default';
  RecordedNotification.requestPermission = () => {
    window.__asked += 1;
    RecordedNotification.permission = 'granted';
    return Promise.resolve('granted');
  };
  window.Notification = RecordedNotification;
  window.__streams = 0;
  const Native = window.EventSource;
  if (Native) {
    window.EventSource = function (url, init) {
      window.__streams += 1;
      return new Native(url, init);
    };
    window.EventSource.prototype = Native.prototype;
  }
})();
"""


def add_cart_event(live) -> None:
    """A storefront cart event in the conversation, stored and announced as the cart's
    endpoint does (author "system", kind "cart")."""
    with live.app.app_context():
        session = get_session()
        (conversation,) = session.scalars(select(Conversation)).all()
        shop = session.get(Shop, conversation.shop_id)
        service.post_message(
            session,
            shop,
            conversation,
            author="system",
            body="Added Teapot to the cart (subtotal 49.00 EUR)",
            channel="widget",
            kind="cart",
            payload={
                "event": "added",
                "product_title": "Teapot",
                "quantity": 1,
                "currency": "EUR",
                "subtotal": "49.00",
                "lines": [{"title": "Teapot", "quantity": 1}],
                "occurred_at": "2026-12-05T03:00:00Z",
            },
        )
        session.commit()


def app_frame(page):
    return next(f for f in page.frames if f.name == "app-iframe")


def wait_for_stream(page, app):
    expect(app.locator("#staff-notify")).to_have_attribute("data-state", "open", timeout=LIVE)


def test_unread_badge_toast_and_desktop_notification_on_any_app_page(
    live, browser, page, realtime, screenshots_dir
):
    def snap(name: str, p=None) -> None:
        (p or page).screenshot(path=str(screenshots_dir / f"staff-notify-{name}.png"))

    install(live, SHOP_A)
    enable_embed(live, page)
    page.context.grant_permissions(["notifications"])
    page.context.add_init_script(STUBS)
    admin = live.admin_url("alpha-shop")

    # The staff member works on the Customers page; the stream of notify.js is live there.
    page.goto(admin + "/customers")
    app = page.frame_locator("#app-frame")
    wait_for_stream(page, app)
    nav = page.locator("#app-nav")
    expect(nav.get_by_text("Conversations", exact=True)).to_be_visible()

    # The shopper writes from the storefront's widget, in another window.
    shopper_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shopper = shopper_context.new_page()
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_role("button", name="Chat with us").click()
    widget = shopper.get_by_role("dialog", name="Chat with us")
    widget.get_by_label("Your email").fill("mia.shopper@example.com")
    widget.get_by_label("Your name (optional)").fill("Mia")
    widget.get_by_role("button", name="Start chat").click()
    message = widget.get_by_label("Message", exact=True)
    message.fill(FIRST)
    message.press("Enter")
    expect(widget.get_by_role("log")).to_contain_text(FIRST)
    (conversation,) = rows(live.app, Conversation)

    # 1. The count in the menu and a toast, live, on the Customers page.
    expect(nav.get_by_text("Conversations (1)", exact=True)).to_be_visible(timeout=LIVE)
    toast = page.locator("#toast")
    expect(toast).to_contain_text("New message from Mia: Is the teapot in the photo", timeout=LIVE)
    expect(toast).to_contain_text("…")
    snap("1-customers-badge-and-toast")
    assert app_frame(page).evaluate("window.__notes.length") == 0  # the page is visible
    toast.get_by_role("button", name="Open").click()
    expect(app.locator("#thread-heading")).to_have_text("Mia", timeout=LIVE)
    expect(app.locator("#messages .message.shopper")).to_contain_text(FIRST)
    # Opening it reads it: the count goes, live.
    expect(nav.get_by_text("Conversations", exact=True)).to_be_visible(timeout=LIVE)
    snap("2-opened-from-the-toast")

    # 2. On the inbox with this conversation open: the thread shows the next message, no
    # toast, and the page has one stream (notify.js's, which the inbox follows).
    wait_for_stream(page, app)
    expect(toast).not_to_be_visible(timeout=LIVE)
    message.fill("Also: does it come with a strainer?")
    message.press("Enter")
    expect(app.locator("#messages .message.shopper").last).to_contain_text(
        "does it come with a strainer?", timeout=LIVE
    )
    expect(app.locator("#live-state")).to_contain_text("Live")
    expect(toast).not_to_be_visible()
    assert app_frame(page).evaluate("window.__streams") == 1
    # A staff reply never toasts either.
    app.locator("#reply-body").fill("Yes, a bamboo strainer is included.")
    app.locator("#reply-body").press("Enter")
    expect(widget.get_by_role("log")).to_contain_text("bamboo strainer is included", timeout=LIVE)
    expect(toast).to_have_text("Reply sent")  # the inbox's own toast, no "New message"

    # 3. Settings: the browser is asked only on the button's click.
    page.goto(admin + "/settings")
    wait_for_stream(page, app)
    card = app.locator("#notifications-card")
    card.scroll_into_view_if_needed()
    expect(app.locator("#desktop-notify-state")).to_have_text(
        "Desktop notifications are off in this browser."
    )
    assert app_frame(page).evaluate("window.__asked") == 0
    snap("3-settings-card")
    card.get_by_role("button", name="Turn on desktop notifications").click()
    expect(app.locator("#desktop-notify-state")).to_contain_text(
        "Desktop notifications are on in this browser"
    )
    expect(card.get_by_role("button", name="Turn on desktop notifications")).to_be_hidden()
    assert app_frame(page).evaluate("window.__asked") == 1
    # The delay of the assignee's email: a bad value is refused with the reason, then saved.
    delay = card.get_by_label(
        "Email the assigned staff member about a message unread for this many minutes"
    )
    delay.fill("99999")
    card.get_by_role("button", name="Save notification settings").click()
    expect(card.get_by_role("alert")).to_have_text(
        "Not saved: The delay can be at most 10,080 minutes (a week)."
    )
    expect(delay).to_have_attribute("aria-invalid", "true")
    delay.fill("25")
    card.get_by_role("button", name="Save notification settings").click()
    expect(app.locator("#notify-settings-result")).to_have_text(
        "Saved: the assignee is emailed about a message unread for 25 minutes."
    )
    snap("4-desktop-notifications-on")

    # The app goes to a background tab; the shopper writes: a desktop notification.
    app_frame(page).evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true})"
    )
    message.fill("Hello? I would like to order two.")
    message.press("Enter")
    expect(nav.get_by_text("Conversations (1)", exact=True)).to_be_visible(timeout=LIVE)
    frame = app_frame(page)
    frame.wait_for_function("window.__notes.length === 1", timeout=LIVE)
    note = frame.evaluate("({title: __notes[0].title, body: __notes[0].body, tag: __notes[0].tag})")
    assert note == {
        "title": "New message from Mia",
        "body": "Hello? I would like to order two.",
        "tag": f"conversation-{conversation.id}",
    }
    frame.evaluate("window.__notes[0].onclick()")
    expect(app.locator("#thread-heading")).to_have_text("Mia", timeout=LIVE)
    expect(app.locator("#messages .message.shopper").last).to_contain_text("order two")
    shopper_context.close()


# Hides App Bridge's toast from the app (as if Shopify's script had not loaded it): every
# other part of App Bridge (ID tokens) stays.
NO_APP_BRIDGE_TOAST = """
(() => {
  let kept;
  Object.defineProperty(window, 'shopify', {
    configurable: true,
    get() { return kept; },
    set(value) { kept = Object.assign({}, value, {toast: undefined}); },
  });
})();
"""


def test_without_app_bridges_toast_the_page_shows_its_own(
    live, browser, page, realtime, screenshots_dir
):
    install(live, SHOP_A)
    enable_embed(live, page)
    page.context.add_init_script(NO_APP_BRIDGE_TOAST)
    page.goto(live.admin_url("alpha-shop") + "/customers")
    app = page.frame_locator("#app-frame")
    wait_for_stream(page, app)

    shopper_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shopper = shopper_context.new_page()
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_role("button", name="Chat with us").click()
    widget = shopper.get_by_role("dialog", name="Chat with us")
    widget.get_by_label("Your email").fill("mia.shopper@example.com")
    widget.get_by_label("Your name (optional)").fill("Mia <b>Bold</b>")
    widget.get_by_role("button", name="Start chat").click()
    message = widget.get_by_label("Message", exact=True)
    message.fill("<img src=x onerror=alert(1)> Is the teapot in stock?")
    message.press("Enter")

    region = app.get_by_role("status").filter(has_text="New message from")
    expect(region).to_be_visible(timeout=LIVE)
    link = region.get_by_role("link")
    expect(link).to_have_text(
        "New message from Mia <b>Bold</b>: <img src=x onerror=alert(1)> Is the teapot in stock?"
    )
    assert app.locator("#staff-toasts img, #staff-toasts b").count() == 0  # text, not HTML
    expect(page.locator("#toast")).not_to_be_visible()
    expect(page.locator("#app-nav").get_by_text("Conversations (1)", exact=True)).to_be_visible(
        timeout=LIVE
    )
    page.screenshot(path=str(screenshots_dir / "staff-notify-5-page-toast.png"))
    # A cart event never toasts: after one, the shopper's next message is the only new toast.
    region.get_by_role("button", name="Dismiss").click()
    expect(app.locator("#staff-toasts .staff-toast")).to_have_count(0)
    add_cart_event(live)
    message.fill("Also, two cups please.")
    message.press("Enter")
    expect(app.locator("#staff-toasts .staff-toast")).to_have_count(1, timeout=LIVE)
    link = app.locator("#staff-toasts .staff-toast a")
    expect(link).to_have_text("New message from Mia <b>Bold</b>: Also, two cups please.")
    link.click()
    expect(app.locator("#thread-heading")).to_have_text("Mia <b>Bold</b>", timeout=LIVE)
    shopper_context.close()


@pytest.mark.parametrize(
    ("stub", "says"),
    [
        (
            "window.Notification = class { static permission = 'denied';"
            " static requestPermission() { return Promise.resolve('denied'); } };",
            "The browser does not allow notifications here",
        ),
        ("delete window.Notification;", "This browser cannot show desktop notifications"),
    ],
    ids=["denied", "unsupported"],
)
def test_desktop_notifications_denied_or_unsupported_are_said_in_words(live, page, stub, says):
    install(live, SHOP_A)
    page.context.add_init_script(stub)
    page.goto(live.admin_url("alpha-shop") + "/settings")
    app = page.frame_locator("#app-frame")
    expect(app.locator("#desktop-notify-state")).to_contain_text(says, timeout=LIVE)
    expect(app.get_by_role("button", name="Turn on desktop notifications")).to_be_hidden()
