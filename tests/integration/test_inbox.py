"""The staff inbox (issue 19, item 5) over HTTP with real ID tokens: the page, the list and
thread JSON, replies and private notes, read state, saved replies, the realtime token, the
customer's hub beside the thread; shop isolation, bad input, and private notes never in what
the shopper reads."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from shopify_app.conversations import notify, service
from shopify_app.db import get_session
from shopify_app.jobs import redis_connection
from shopify_app.models import (
    Conversation,
    ConversationMessage,
    Customer,
    Referral,
    Reward,
    SavedReply,
    Shop,
    TimelineEvent,
)
from shopify_app.realtime import presence
from shopify_app.realtime.tokens import verify_realtime_token
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token, proxy_query, unsigned_token

from .test_program_pages import auth, get, referral_setup
from .webhook_support import install, one, rows


@pytest.fixture
def shops(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def start(live, domain, email, *messages, name=None, customer_email=None, archived=False):
    """A conversation of `domain` through the service, as the widget starts one; each message
    is (author, body)."""
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == domain)).one()
        customer = None
        if customer_email:
            customer = session.scalars(
                select(Customer).where(
                    Customer.shop_id == shop.id, Customer.email == customer_email
                )
            ).one()
        conversation = service.start_conversation(
            session, shop, email=email, name=name, customer=customer
        )
        for author, body in messages:
            service.post_message(
                session, shop, conversation, author=author, body=body, channel="widget"
            )
        if archived:
            conversation.archived_at = conversation.last_message_at
        session.commit()
        return conversation.id


def send(live, path, payload, shop=SHOP_A, method="POST"):
    return live.http.request(method, f"{live.app_url}{path}", json=payload, headers=auth(shop))


def shopper_tab(live, what, shop_id, conversation_id, connection="tab-1"):
    """A widget connection opens or closes, as the realtime process records it."""
    with live.app.app_context():
        connection_ = redis_connection()
        if what == "open":
            args = presence.heartbeat_args(60, [(shop_id, conversation_id, connection)])
            connection_.register_script(presence.HEARTBEAT)(keys=[presence.INDEX_KEY], args=args)
        else:
            args = [0, shop_id, conversation_id, connection]
            connection_.register_script(presence.CLOSE)(keys=[presence.INDEX_KEY], args=args)


def list_ids(page_text: str) -> list[int]:
    return [
        int(i)
        for i in re.findall(r'<li class="conversation[^"]*" id="conversation-(\d+)"', page_text)
    ]


def test_the_list_shows_unread_first_with_email_name_preview_and_where_a_reply_goes(shops):
    live = shops
    read = start(live, SHOP_A, "read@example.com", ("shopper", "Hello"), ("staff", "Hi!"))
    unread = start(
        live, SHOP_A, "Ada@Example.com", ("shopper", "Where is my reward?"), name="Ada Lovelace"
    )
    page = get(live, "/admin/conversations")
    assert page.status_code == 200
    assert list_ids(page.text) == [unread, read]
    assert "ada@example.com" in page.text and "Ada Lovelace" in page.text
    assert "Where is my reward?" in page.text
    assert "Away: a reply goes by email" in page.text
    assert 'href="/admin/conversations?' in page.text or "/admin/conversations?" in page.text
    rows_json = get(live, "/admin/conversations.json").json()["conversations"]
    assert [r["id"] for r in rows_json] == [unread, read]
    first = rows_json[0]
    assert (first["email"], first["name"], first["unread"], first["online"]) == (
        "ada@example.com",
        "Ada Lovelace",
        1,
        False,
    )
    assert first["preview"] == "Where is my reward?" and first["last_message_at"].endswith("Z")


def test_search_by_email_name_or_text_and_the_views(shops):
    live = shops
    ada = start(live, SHOP_A, "ada@example.com", ("shopper", "My parcel is late"), name="Ada")
    bob = start(live, SHOP_A, "bob@example.com", ("shopper", "Do you ship to Finland?"))
    old = start(
        live, SHOP_A, "old@example.com", ("shopper", "Thanks, parcel arrived"), archived=True
    )

    def found(**params):
        return [
            r["id"]
            for r in get(live, "/admin/conversations.json", **params).json()["conversations"]
        ]

    assert set(found()) == {ada, bob}  # archived ones only in their view or a search
    assert found(q="BOB@example") == [bob]
    assert found(q="ada") == [ada]
    assert found(q="finland") == [bob]
    assert set(found(q="parcel")) == {ada, old}
    assert found(view="archived") == [old]
    assert set(found(view="active")) == {ada, bob}
    assert found(view="inactive") == []
    assert set(found(view="unassigned")) == {ada, bob}
    assert found(view="mine") == []  # nothing is assigned yet (assignment is part 2)
    assert set(found(view="nonsense")) == {ada, bob}  # an unknown view is the default
    page = get(live, "/admin/conversations", q="zz-nobody")
    assert page.status_code == 200 and "No conversation matches “zz-nobody”." in page.text


def test_the_thread_shows_every_side_differently_and_html_as_text(shops):
    live = shops
    cid = start(
        live,
        SHOP_A,
        "ada@example.com",
        ("shopper", "<script>alert('x')</script><b>bold?</b>"),
        ("note", "Check her last order first"),
    )
    page = get(live, "/admin/conversations", c=cid)
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;b&gt;bold?&lt;/b&gt;" in page.text
    assert '<li class="message shopper"' in page.text
    assert '<li class="message note"' in page.text and "Private note" in page.text
    assert 'id="composer"' in page.text and "Add private note" in page.text
    thread = get(live, f"/admin/conversations/{cid}/messages").json()
    assert [m["author"] for m in thread["messages"]] == ["shopper", "note"]
    last = thread["messages"][-1]["id"]
    assert get(live, f"/admin/conversations/{cid}/messages", after=last).json()["messages"] == []
    after_first = get(live, f"/admin/conversations/{cid}/messages", after=last - 1).json()
    assert [m["id"] for m in after_first["messages"]] == [last]


def widget(live, method, path, *, query=None, payload=None):
    """The storefront widget's request through the app proxy, signed as Shopify signs it."""
    params = proxy_query(SHOP_A, extra=query)
    return live.http.request(method, f"{live.app_url}/proxy{path}", params=params, json=payload)


def test_reply_and_note_are_stored_once_per_client_id_and_notes_stay_private(shops):
    live = shops
    started = widget(live, "POST", "/chat/start", payload={"email": "ada@example.com"})
    assert started.status_code == 201
    cid, chat = started.json()["conversation_id"], started.json()["chat_token"]
    asked = widget(
        live, "POST", "/chat/messages", payload={"token": chat, "body": "Hello?", "client_id": "s1"}
    )
    assert asked.status_code == 201
    reply = send(live, f"/admin/conversations/{cid}/reply", {"body": "Hi Ada!", "client_id": "k1"})
    assert reply.status_code == 201
    message = reply.json()["message"]
    assert (message["author"], message["body"], message["channel"]) == ("staff", "Hi Ada!", "admin")
    again = send(live, f"/admin/conversations/{cid}/reply", {"body": "Hi Ada!", "client_id": "k1"})
    assert again.status_code == 201 and again.json()["message"]["id"] == message["id"]
    note = send(
        live, f"/admin/conversations/{cid}/note", {"body": "VIP: be kind", "client_id": "k2"}
    )
    assert note.status_code == 201 and note.json()["message"]["author"] == "note"
    stored = rows(live.app, ConversationMessage, ConversationMessage.conversation_id == cid)
    assert [m.author for m in stored] == ["shopper", "staff", "note"]
    assert stored[1].staff_member_id is not None  # staff 501, known through the token exchange
    conversation = one(live.app, Conversation, Conversation.id == cid)
    assert conversation.last_message_preview == "Hi Ada!"  # a note never becomes the preview
    staff_view = get(live, f"/admin/conversations/{cid}/messages").json()["messages"]
    assert [m["author"] for m in staff_view] == ["shopper", "staff", "note"]
    # What the shopper's widget reads: the same thread without the note.
    shopper = widget(live, "GET", "/chat/messages", query={"token": chat, "after": "0"})
    assert shopper.status_code == 200
    assert [m["author"] for m in shopper.json()["messages"]] == ["shopper", "staff"]
    assert "VIP" not in shopper.text and "note" not in shopper.text


def test_bad_replies_are_refused_with_a_clear_message_and_change_nothing(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello?"))
    too_long = send(live, f"/admin/conversations/{cid}/reply", {"body": "x" * 5001})
    assert too_long.status_code == 413
    assert too_long.json()["error"] == "The reply is 5,001 characters long; the most is 5,000."
    at_cap = send(live, f"/admin/conversations/{cid}/note", {"body": "y" * 5000})
    assert at_cap.status_code == 201
    empty = send(live, f"/admin/conversations/{cid}/reply", {"body": "  \n "})
    assert empty.status_code == 422 and empty.json()["error"] == "Write a message first."
    for payload in ({}, {"body": 5}, ["body"], {"body": "ok", "client_id": "z" * 65}):
        bad = send(live, f"/admin/conversations/{cid}/reply", payload)
        assert bad.status_code == 400 and bad.json()["error"], payload
    form = live.http.post(
        f"{live.app_url}/admin/conversations/{cid}/reply", data={"body": "hi"}, headers=auth()
    )
    assert form.status_code == 400
    stored = rows(live.app, ConversationMessage, ConversationMessage.conversation_id == cid)
    assert [m.author for m in stored] == ["shopper", "note"]


def test_another_shops_conversation_and_saved_reply_are_not_found(shops):
    live = shops
    theirs = start(live, SHOP_B, "bea@example.com", ("shopper", "Beta secret"))
    with live.app.app_context():
        session = get_session()
        beta = session.scalars(select(Shop).where(Shop.domain == SHOP_B)).one()
        saved = service.save_reply(session, beta, title="Beta", body="Beta's text")
        session.commit()
        saved_id = saved.id
    assert get(live, "/admin/conversations", c=theirs).status_code == 404
    assert get(live, "/admin/conversations", c="x1").status_code == 404
    not_found = get(live, f"/admin/conversations/{theirs}/messages")
    assert not_found.status_code == 404
    assert not_found.json() == {"error": "No such conversation in this shop."}
    for action in ("reply", "note"):
        refused = send(live, f"/admin/conversations/{theirs}/{action}", {"body": "hi"})
        assert refused.status_code == 404 and refused.json()["error"]
    for action in ("read", "typing"):
        assert send(live, f"/admin/conversations/{theirs}/{action}", {}).status_code == 404
    assert send(live, f"/admin/saved-replies/{saved_id}", None, method="DELETE").status_code == 404
    assert "Beta secret" not in get(live, "/admin/conversations", q="beta").text
    assert get(live, "/admin/conversations.json", q="bea").json()["conversations"] == []
    assert get(live, "/admin/saved-replies").json()["saved_replies"] == []
    assert len(rows(live.app, ConversationMessage)) == 1 and len(rows(live.app, SavedReply)) == 1
    # Beta's own staff see it.
    assert get(live, "/admin/conversations", shop=SHOP_B, c=theirs).status_code == 200


def test_every_route_needs_a_valid_id_token(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello?"))
    routes = [
        ("GET", "/admin/conversations.json"),
        ("GET", f"/admin/conversations/{cid}/messages"),
        ("POST", f"/admin/conversations/{cid}/reply"),
        ("POST", f"/admin/conversations/{cid}/note"),
        ("POST", f"/admin/conversations/{cid}/read"),
        ("POST", f"/admin/conversations/{cid}/typing"),
        ("GET", "/admin/saved-replies"),
        ("POST", "/admin/saved-replies"),
        ("POST", "/admin/realtime-token"),
    ]
    bad_tokens = [
        id_token(SHOP_A, secret="not-the-app-secret-0123456789abcdef"),
        id_token(SHOP_A, exp_in=-120),
        id_token(SHOP_A, api_key="another-app"),
        unsigned_token(SHOP_A),
    ]
    body = {"body": "forged", "title": "forged"}
    for method, path in routes:
        for token in bad_tokens:
            answer = live.http.request(
                method,
                f"{live.app_url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 401, (method, path)
        # A cross-site form post carries no token (no cookie stands in for one).
        plain = live.http.request(method, f"{live.app_url}{path}", data=body)
        assert plain.status_code in (302, 400), (method, path)
    page = live.http.get(f"{live.app_url}/admin/conversations")
    assert page.status_code == 400 and "conversation" not in page.text.lower()
    assert [m.author for m in rows(live.app, ConversationMessage)] == ["shopper"]
    assert rows(live.app, SavedReply) == []


def test_opening_a_conversation_marks_it_read(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "One"), ("shopper", "Two"))
    assert one(live.app, Conversation).unread_for_staff == 2
    assert send(live, f"/admin/conversations/{cid}/read", {}).status_code == 204
    assert one(live.app, Conversation).unread_for_staff == 0
    page = get(live, "/admin/conversations")
    assert 'class="unread-count"' not in page.text


def test_saved_replies_are_created_listed_and_deleted(shops):
    live = shops
    made = send(live, "/admin/saved-replies", {"title": "Shipping", "body": "We ship in 2 days."})
    assert made.status_code == 201
    reply = made.json()["saved_reply"]
    assert (reply["title"], reply["body"]) == ("Shipping", "We ship in 2 days.")
    assert get(live, "/admin/saved-replies").json()["saved_replies"] == [reply]
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "When?"))
    page = get(live, "/admin/conversations", c=cid)
    assert "Shipping" in page.text and 'data-body="We ship in 2 days."' in page.text
    for payload, status in (
        ({"title": " ", "body": "x"}, 422),
        ({"title": "t", "body": ""}, 422),
        ({"title": "t" * 256, "body": "x"}, 413),
        ({"title": "t", "body": "x" * 5001}, 413),
        ({"title": "t"}, 400),
    ):
        assert send(live, "/admin/saved-replies", payload).status_code == status, payload
    path = f"/admin/saved-replies/{reply['id']}"
    assert send(live, path, None, method="DELETE").status_code == 204
    assert send(live, path, None, method="DELETE").status_code == 404
    assert rows(live.app, SavedReply) == []


def test_the_realtime_token_is_for_this_shops_staff_only(shops):
    live = shops
    answer = send(live, "/admin/realtime-token", {})
    assert answer.status_code == 200
    grant = answer.json()
    assert grant["url"] == live.app.config["REALTIME_URL"].rstrip("/")
    with live.app.app_context():
        secret = notify.realtime_secret()
    claims = verify_realtime_token(secret, grant["token"], "staff")
    assert claims is not None and claims.shop_id == one(live.app, Shop, Shop.domain == SHOP_A).id
    assert verify_realtime_token(secret, grant["token"], "shopper") is None


def test_presence_shows_online_and_then_where_the_reply_goes(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hi"))
    other = start(live, SHOP_A, "bob@example.com", ("shopper", "Hey"))
    shop_id = one(live.app, Shop, Shop.domain == SHOP_A).id
    shopper_tab(live, "open", shop_id, cid)
    page = get(live, "/admin/conversations", c=cid)
    assert f'data-presence-for="{cid}">Online</span>' in page.text
    assert f'data-presence-for="{other}">Away: a reply goes by email' in page.text
    assert "Online: your reply appears in their chat." in page.text
    rows_json = {
        r["id"]: r["online"] for r in get(live, "/admin/conversations.json").json()["conversations"]
    }
    assert rows_json == {cid: True, other: False}
    shopper_tab(live, "close", shop_id, cid)
    page = get(live, "/admin/conversations", c=cid)
    assert (
        "Not in the store now: your reply will be emailed to ada@example.com, the address "
        "given at the start of the chat."
    ) in page.text


def test_the_customers_hub_sits_beside_the_thread_with_the_support_actions(shops):
    live = shops
    ada, advocate, _order = referral_setup(live)
    cid = start(
        live,
        SHOP_A,
        "ada.l@gmail.com",
        ("shopper", "Where is my reward?"),
        customer_email="ada.l@gmail.com",
    )
    customer = one(live.app, Customer, Customer.email == "ada.l@gmail.com")
    reward = one(live.app, Reward)
    completed = one(live.app, Referral, Referral.status == "completed")
    page = get(live, "/admin/conversations", c=cid)
    assert page.status_code == 200
    hub = page.text[page.text.index('id="customer-hub"') :]
    assert "Ada" in hub and advocate.code in hub
    assert 'id="hub-orders"' in hub and 'id="email-consent"' in hub and 'id="hub-program"' in hub
    assert reward.code in hub and "Completed" in hub
    assert f'action="/portal/referrals/{completed.id}/resend?' in hub
    assert "Resend reward email" in hub
    assert f'href="/portal/customers/{customer.id}?' in hub and "Open in Support" in hub
    assert f'href="shopify://admin/customers/{ada.id}"' in hub and "View in Shopify" in hub
    # Resend, through the portal's own action (same endpoint, same guard).
    resent = live.http.post(
        f"{live.app_url}/portal/referrals/{completed.id}/resend",
        data={"request_key": "inbox1"},
        headers=auth(),
    )
    assert resent.status_code == 200
    assert "The reward email to ada.l@gmail.com is queued to be sent again" in resent.text
    # The conversation is on Ada's timeline.
    events = rows(live.app, TimelineEvent, TimelineEvent.customer_id == customer.id)
    assert "conversation.message_received" in [e.kind for e in events]


def test_a_conversation_without_a_customer_offers_find_in_support(shops):
    live = shops
    cid = start(live, SHOP_A, "stranger@example.com", ("shopper", "Hi"))
    page = get(live, "/admin/conversations", c=cid)
    assert "No customer record is linked to this conversation." in page.text
    assert 'id="find-in-support" href="/portal?q=stranger@example.com&amp;shop=' in page.text


def test_the_inbox_is_in_the_apps_navigation(shops):
    live = shops
    home = live.http.get(
        f"{live.app_url}/", params={"shop": SHOP_A, "embedded": "1", "id_token": id_token(SHOP_A)}
    )
    assert re.search(
        r'<s-link href="/admin/conversations\?[^"]*"[^>]*>Conversations</s-link>', home.text
    )


def test_staff_typing_reaches_the_shopper_under_the_first_name_the_replies_carry(shops):
    """The widget says "Ada is typing…" and then shows Ada's reply, not the shop's name
    and then a person's."""
    live = shops
    cid = start(live, SHOP_A, "mia@example.com", ("shopper", "Hello?"))
    shop_id = one(live.app, Shop, Shop.domain == SHOP_A).id
    with live.app.app_context():
        listener = redis_connection().pubsub(ignore_subscribe_messages=True)
    listener.subscribe(f"rt:{shop_id}:conv:{cid}")
    try:
        assert send(live, f"/admin/conversations/{cid}/typing", {}).status_code == 204
        heard = None
        for _ in range(50):  # the subscribe confirmation reads as None first
            heard = listener.get_message(timeout=1)
            if heard is not None:
                break
    finally:
        listener.close()
    assert heard is not None
    typing = json.loads(heard["data"])
    reply = send(live, f"/admin/conversations/{cid}/reply", {"body": "Hi!", "client_id": "t1"})
    with live.app.app_context():
        stored = get_session().get(ConversationMessage, reply.json()["message"]["id"])
        shown = service.message_json(stored, for_shopper=True)
    assert typing["event"] == "typing"
    assert typing["data"]["author"] == "staff"
    assert typing["data"]["staff_name"] == shown["staff_name"] is not None
