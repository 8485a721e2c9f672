"""The storefront chat's JSON endpoints behind the app proxy (issue 19): signed as Shopify's
proxy signs, the widget's chat token, messages both ways (stored first, announced on Redis
after the commit), the logged-in customer, and every bad input: unsigned or stale requests
and tokens 401, images 403, long bodies 413, floods 429, another shop's conversation."""

from __future__ import annotations

import json

import pytest
from rq import Queue

from devstore import commerce
from shopify_app.conversations import chat_tokens, notify, service
from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, Shop, StaffMember, TimelineEvent
from shopify_app.realtime import publish, tokens
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import proxy_query
from tests.support import wait_until

from .test_program_pages import get
from .webhook_support import install, one, rows, run_jobs


def settle(live, rounds=3):
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


@pytest.fixture
def store(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def chat(live, method, action, *, shop=SHOP_A, customer=None, query=None, **kwargs):
    """A request the widget makes through the storefront: Shopify adds its signed query."""
    params = proxy_query(shop, customer, extra=query)
    return live.http.request(method, f"{live.app_url}/proxy/chat/{action}", params=params, **kwargs)


def start(live, shop=SHOP_A, customer=None, **body):
    body = {"email": "shopper@example.com", **body} if customer is None else body
    answer = chat(live, "POST", "start", shop=shop, customer=customer, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def send(live, token, body, *, shop=SHOP_A, customer=None, client_id=None, **extra):
    payload = {"token": token, "body": body, "client_id": client_id, **extra}
    return chat(live, "POST", "messages", shop=shop, customer=customer, json=payload)


def shop_row(live, domain=SHOP_A) -> Shop:
    return one(live.app, Shop, Shop.domain == domain)


def staff_reply(live, conversation_id, body, author="staff"):
    """What the admin inbox does when staff reply (its own views are i19-inbox's)."""
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        member = session.query(StaffMember).filter_by(shop_id=shop.id, user_id=4242).first()
        if member is None:
            member = StaffMember(
                shop_id=shop.id, user_id=4242, first_name="Grace", last_name="Hopper"
            )
            session.add(member)
            session.flush()
        conversation = service.get_conversation(session, shop, conversation_id)
        message = service.post_message(
            session, shop, conversation, author=author, body=body, channel="admin", staff=member
        )
        session.commit()
        return message.id


class Channel:
    """A Redis subscriber, as the realtime process is."""

    def __init__(self, live, name):
        self.pubsub = live.app.extensions["redis"].connection().pubsub()
        self.pubsub.subscribe(name)
        wait_until(lambda: self.pubsub.get_message(timeout=0.1), 5, "subscribed")
        self.seen: list[dict] = []

    def next(self, what):
        def arrived():
            found = self.pubsub.get_message(timeout=0.1)
            if found and found["type"] == "message":
                self.seen.append(json.loads(found["data"]))
                return self.seen[-1]
            return None

        return wait_until(arrived, 10, what)

    def close(self):
        self.pubsub.close()


def test_a_shopper_starts_a_chat_and_gets_a_chat_token_and_a_realtime_token(store):
    started = start(store, name="Sam", locale="fi")
    shop = shop_row(store)
    assert started["messages"] == []
    assert started["realtime_url"] == store.app.config["REALTIME_URL"]
    claims = tokens.verify_realtime_token(
        tokens.realtime_secret(store.app.config), started["realtime_token"], "shopper"
    )
    assert (claims.shop_id, claims.conversation_id) == (shop.id, started["conversation_id"])
    conversation = one(store.app, Conversation)
    assert (conversation.email, conversation.name, conversation.locale) == (
        "shopper@example.com",
        "Sam",
        "fi",
    )
    assert conversation.customer_id is None
    with store.app.app_context():
        assert chat_tokens.verify_chat_token(started["chat_token"], shop) == conversation.id
    refreshed = chat(store, "POST", "realtime-token", json={"token": started["chat_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["realtime_token"]


def test_messages_both_ways_stored_then_announced(store):
    started = start(store)
    token, conversation_id = started["chat_token"], started["conversation_id"]
    shop = shop_row(store)
    staff_side = Channel(store, publish.staff_channel(shop.id))
    shopper_side = Channel(store, publish.shopper_channel(shop.id, conversation_id))
    try:
        sent = send(store, token, "<b>Where</b> is my order?", client_id="m-1")
        assert sent.status_code == 201, sent.text
        message = sent.json()["message"]
        assert message["body"] == "<b>Where</b> is my order?"  # text, as written
        assert message["author"] == "shopper" and message["created_at"].endswith("Z")
        announced = staff_side.next("the shopper's message on the staff channel")
        assert announced["event"] == "message" and announced["data"]["id"] == message["id"]

        echoed = shopper_side.next("the shopper's own message (their other tabs)")
        assert echoed["data"]["id"] == message["id"]
        reply_id = staff_reply(store, conversation_id, "It ships today.")
        to_shopper = shopper_side.next("the staff reply on the shopper's channel")
        assert to_shopper["data"]["id"] == reply_id
        assert to_shopper["data"]["staff_name"] == "Grace"  # first name only
        note_id = staff_reply(store, conversation_id, "VIP customer", author="note")
        assert staff_side.next("the reply to staff")["data"]["id"] == reply_id
        assert staff_side.next("the note to staff")["data"]["id"] == note_id
        assert shopper_side.pubsub.get_message(timeout=0.2) is None  # the note: never
    finally:
        staff_side.close()
        shopper_side.close()

    caught_up = chat(store, "GET", "messages", query={"token": token, "after": "0"}).json()
    assert [m["id"] for m in caught_up["messages"]] == [message["id"], reply_id]
    assert caught_up["realtime_token"] and caught_up["realtime_url"]
    after = chat(store, "GET", "messages", query={"token": token, "after": str(message["id"])})
    assert [m["body"] for m in after.json()["messages"]] == ["It ships today."]
    assert one(store.app, Conversation).shopper_seen_at is not None


def test_a_reply_to_a_shopper_who_is_not_online_is_queued_for_email(store):
    started = start(store)
    reply_id = staff_reply(store, started["conversation_id"], "We are back!")
    queued = Queue("default", connection=store.app.extensions["redis"].connection()).jobs
    assert [(j.func_name, j.args) for j in queued] == [(notify.SEND_REPLY_EMAIL, (reply_id,))]


def test_a_retried_send_is_one_message(store):
    token = start(store)["chat_token"]
    first = send(store, token, "hello", client_id="same")
    again = send(store, token, "hello", client_id="same")
    assert first.json()["message"]["id"] == again.json()["message"]["id"]
    assert len(rows(store.app, ConversationMessage)) == 1
    assert one(store.app, Conversation).unread_for_staff == 1


def test_typing_reaches_staff_only(store):
    started = start(store)
    shop = shop_row(store)
    staff_side = Channel(store, publish.staff_channel(shop.id))
    try:
        typed = chat(store, "POST", "typing", json={"token": started["chat_token"]})
        assert typed.status_code == 204
        event = staff_side.next("typing on the staff channel")
        assert event["event"] == "typing"
        assert event["data"]["conversation_id"] == started["conversation_id"]
    finally:
        staff_side.close()


def test_the_logged_in_customer_is_linked_and_their_messages_are_on_their_timeline(store):
    ada = commerce.create_customer(store.state, SHOP_A, email="Ada@Example.com", first_name="Ada")
    settle(store)
    started = start(store, customer=ada.id)  # no email: hers
    conversation = one(store.app, Conversation)
    assert conversation.email == "ada@example.com" and conversation.customer_id is not None
    assert send(store, started["chat_token"], "Hi", customer=ada.id).status_code == 201
    [event] = rows(store.app, TimelineEvent, TimelineEvent.kind.like("conversation.%"))
    assert event.customer_id == conversation.customer_id
    assert event.kind == "conversation.message_received"
    # She comes back: the same thread, with its messages.
    again = start(store, customer=ada.id)
    assert again["conversation_id"] == started["conversation_id"]
    assert [m["body"] for m in again["messages"]] == ["Hi"]
    # Staff read it on her timeline, HTML as text.
    assert send(store, started["chat_token"], "<b>bold</b> ask", customer=ada.id).status_code == 201
    staff_reply(store, started["conversation_id"], "Answered")
    page = get(store, f"/customers/{conversation.customer_id}")
    assert page.status_code == 200
    assert "Wrote to the store in the store&#39;s chat" in page.text
    assert "&lt;b&gt;bold&lt;/b&gt; ask" in page.text and "<b>bold</b>" not in page.text
    assert "Grace Hopper replied in the conversation" in page.text


def test_a_linked_thread_answers_only_its_customer(store):
    ada = commerce.create_customer(store.state, SHOP_A, email="ada@example.com")
    bob = commerce.create_customer(store.state, SHOP_A, email="bob@example.com")
    settle(store)
    token = start(store, customer=ada.id)["chat_token"]
    query = {"token": token}
    mine = chat(store, "GET", "messages", customer=ada.id, query=query)
    assert mine.status_code == 200, mine.text
    for someone_else in (bob.id, None):
        answer = chat(store, "GET", "messages", customer=someone_else, query=query)
        assert answer.status_code == 401, answer.text
        assert send(store, token, "me?", customer=someone_else).status_code == 401


def test_a_token_held_before_logging_in_keeps_its_thread_and_links_it(store):
    ada = commerce.create_customer(store.state, SHOP_A, email="ada@example.com")
    settle(store)
    anonymous = start(store, email="ada@example.com")
    send(store, anonymous["chat_token"], "before login")
    linked = start(store, customer=ada.id, token=anonymous["chat_token"])
    assert linked["conversation_id"] == anonymous["conversation_id"]
    assert one(store.app, Conversation).customer_id is not None
    [event] = rows(store.app, TimelineEvent, TimelineEvent.kind.like("conversation.%"))
    assert event.payload["excerpt"] == "before login"


def test_typing_someones_email_does_not_open_their_thread(store):
    victim = start(store, email="victim@example.com")
    send(store, victim["chat_token"], "my address is 1 Secret Lane")
    staff_reply(store, victim["conversation_id"], "Your parcel code is 1234")
    impostor = start(store, email="victim@example.com")
    assert impostor["conversation_id"] != victim["conversation_id"]
    assert impostor["messages"] == []
    caught_up = chat(store, "GET", "messages", query={"token": impostor["chat_token"]})
    assert caught_up.json()["messages"] == [], caught_up.text


def test_unsigned_forged_and_stale_requests_are_refused_401(store):
    token = start(store)["chat_token"]
    url = f"{store.app_url}/proxy/chat/messages"
    unsigned = store.http.get(url, params={"shop": SHOP_A, "token": token})
    assert unsigned.status_code == 401
    assert unsigned.headers["Content-Type"].startswith("application/json")
    assert unsigned.json()["error"]
    forged = proxy_query(SHOP_A)
    forged["shop"] = SHOP_B
    assert store.http.get(url, params={**forged, "token": token}).status_code == 401
    stale = proxy_query(SHOP_A, timestamp=1_000_000_000)
    assert store.http.get(url, params={**stale, "token": token}).status_code == 401
    added = store.http.get(url, params={**proxy_query(SHOP_A), "token": token})
    assert added.status_code == 401  # a parameter added after Shopify signed


def test_unsigned_stale_and_other_shops_chat_tokens_are_refused_401(store):
    token = start(store)["chat_token"]
    shop = shop_row(store)
    conversation = one(store.app, Conversation)
    with store.app.app_context():
        stale = chat_tokens.issue_chat_token(shop, conversation, now=1_000_000_000)
    for bad in ("", "garbage", token + "x", stale):
        assert chat(store, "GET", "messages", query={"token": bad}).status_code == 401
        assert send(store, bad, "hi").status_code == 401
        assert chat(store, "POST", "typing", json={"token": bad}).status_code == 401
        assert chat(store, "POST", "realtime-token", json={"token": bad}).status_code == 401
    # SHOP_A's token at SHOP_B's storefront names nothing there.
    assert chat(store, "GET", "messages", shop=SHOP_B, query={"token": token}).status_code == 401
    assert send(store, token, "hi", shop=SHOP_B).status_code == 401
    assert rows(store.app, ConversationMessage) == []


def test_another_shops_conversation_is_not_found(store):
    """A token signed for SHOP_B naming SHOP_A's conversation id finds nothing at SHOP_B."""
    token = start(store)["chat_token"]
    conversation = one(store.app, Conversation)
    other = shop_row(store, SHOP_B)
    with store.app.app_context():
        forged_for_b = chat_tokens.issue_chat_token(
            other, Conversation(id=conversation.id, shop_id=other.id)
        )
    answer = chat(store, "GET", "messages", shop=SHOP_B, query={"token": forged_for_b})
    assert answer.status_code == 404, answer.text
    assert send(store, forged_for_b, "hi", shop=SHOP_B).status_code == 404
    assert send(store, token, "still mine").status_code == 201


def test_images_and_files_are_refused_403(store):
    token = start(store)["chat_token"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    multipart = chat(
        store,
        "POST",
        "messages",
        data={"token": token, "body": "look"},
        files={"image": ("cat.png", png, "image/png")},
    )
    assert multipart.status_code == 403
    for field in ("image", "attachment", "file"):
        answer = send(store, token, "look", **{field: "https://example.com/cat.png"})
        assert answer.status_code == 403, field
    data_uri = send(store, token, "data:image/png;base64,iVBORw0KGgo=")
    assert data_uri.status_code == 403
    inline = send(store, token, "see this: DATA:image/svg+xml,<svg></svg>")
    assert inline.status_code == 403
    assert rows(store.app, ConversationMessage) == []
    assert send(store, token, "what is metadata: anyway?").status_code == 201


def test_bodies_are_capped_and_empty_ones_refused(store):
    token = start(store)["chat_token"]
    too_long = send(store, token, "x" * (service.MAX_BODY + 1))
    assert too_long.status_code == 413 and too_long.json()["error"]
    assert send(store, token, "   ").status_code == 422
    assert send(store, token, None).status_code == 422
    assert send(store, token, "y" * service.MAX_BODY).status_code == 201
    assert (
        chat(
            store, "POST", "messages", content=b"[1]", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    bad_email = chat(store, "POST", "start", json={"email": "not an email"})
    assert bad_email.status_code == 422


def test_a_flood_from_one_shopper_is_limited_429(store):
    token = start(store)["chat_token"]
    budget = int(store.app.config["RATE_LIMIT_CHAT_MESSAGE"].split(" ")[0])
    answers = [send(store, token, f"spam {n}").status_code for n in range(budget + 1)]
    assert answers == [201] * budget + [429]
    refused = send(store, token, "again")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]
    assert len(rows(store.app, ConversationMessage)) == budget


def test_a_reply_email_whose_job_was_lost_is_enqueued_again_by_the_sweeper(store):
    from datetime import timedelta

    from shopify_app.models import utcnow
    from workers.conversation_jobs import sweep_reply_emails

    started = start(store)
    reply_id = staff_reply(store, started["conversation_id"], "We are back!")
    queue = Queue("default", connection=store.app.extensions["redis"].connection())
    queue.empty()  # Redis lost it
    with store.app.app_context():
        assert sweep_reply_emails() == 0  # too early: its job may still be on its way
        session = get_session()
        session.get(ConversationMessage, reply_id).created_at = utcnow() - timedelta(minutes=3)
        session.commit()
        assert sweep_reply_emails() == 1
    assert [(j.func_name, j.args) for j in queue.jobs] == [(notify.SEND_REPLY_EMAIL, (reply_id,))]


def seen(live, token, message_id, *, shop=SHOP_A, customer=None):
    body = {"token": token, "message_id": message_id}
    return chat(live, "POST", "seen", shop=shop, customer=customer, json=body)


def seen_up_to(live, conversation_id):
    return one(live.app, Conversation, Conversation.id == conversation_id).shopper_seen_message_id


def test_the_widget_reports_what_the_shopper_saw_and_an_unseen_reply_is_emailed_once(store):
    from datetime import timedelta

    from shopify_app.models import utcnow
    from workers.conversation_jobs import sweep_reply_emails

    started = start(store)
    token, conversation_id = started["chat_token"], started["conversation_id"]
    queue = Queue("default", connection=store.app.extensions["redis"].connection())
    queue.empty()
    # The shopper counts as online (a widget open in a background tab): no email at once.
    with store.app.app_context():
        from shopify_app.jobs import redis_connection
        from shopify_app.realtime import presence

        args = presence.heartbeat_args(60, [(shop_row(store).id, conversation_id, "tab-1")])
        redis_connection().register_script(presence.HEARTBEAT)(keys=[presence.INDEX_KEY], args=args)
    first = staff_reply(store, conversation_id, "Seen on screen")
    second = staff_reply(store, conversation_id, "Never seen")
    assert queue.jobs == []  # online: nothing emailed at once
    answer = seen(store, token, first)
    assert answer.status_code == 204, answer.text
    assert seen_up_to(store, conversation_id) == first
    with store.app.app_context():
        session = get_session()
        for message_id in (first, second):
            session.get(ConversationMessage, message_id).created_at = utcnow() - timedelta(
                minutes=store.app.config["CONVERSATION_UNSEEN_EMAIL_MINUTES"] + 1
            )
        session.commit()
        assert sweep_reply_emails() == 1
    assert [(j.func_name, j.args) for j in queue.jobs] == [(notify.SEND_REPLY_EMAIL, (second,))]


def test_seen_refuses_unsigned_stale_tokens_and_other_shops_conversations(store):
    started = start(store)
    token, conversation_id = started["chat_token"], started["conversation_id"]
    reply_id = staff_reply(store, conversation_id, "Hello")
    url = f"{store.app_url}/proxy/chat/seen"
    unsigned = store.http.post(url, params={"shop": SHOP_A}, json={"token": token, "message_id": 1})
    assert unsigned.status_code == 401
    stale_request = proxy_query(SHOP_A, timestamp=1_000_000_000)
    body = {"token": token, "message_id": reply_id}
    assert store.http.post(url, params=stale_request, json=body).status_code == 401
    with store.app.app_context():
        shop = shop_row(store)
        stale = chat_tokens.issue_chat_token(shop, one(store.app, Conversation), now=1_000_000_000)
    for bad in ("", "garbage", token + "x", stale):
        assert seen(store, bad, reply_id).status_code == 401
    assert seen(store, token, reply_id, shop=SHOP_B).status_code == 401  # A's token at B
    # A token signed for SHOP_B naming SHOP_A's conversation id: nothing there.
    other = shop_row(store, SHOP_B)
    with store.app.app_context():
        forged_for_b = chat_tokens.issue_chat_token(
            other, Conversation(id=conversation_id, shop_id=other.id)
        )
    assert seen(store, forged_for_b, reply_id, shop=SHOP_B).status_code == 404
    # Another conversation's message, a note, nonsense: 404, and nothing moves.
    elsewhere = start(store, email="someone@example.com")
    theirs = staff_reply(store, elsewhere["conversation_id"], "Not yours")
    note = staff_reply(store, conversation_id, "private", author="note")
    for bad in (theirs, note, 10**12, "x", None):
        assert seen(store, token, bad).status_code == 404
    assert seen_up_to(store, conversation_id) is None
    later = staff_reply(store, conversation_id, "And another thing")
    assert seen(store, token, later).status_code == 204
    assert seen(store, token, reply_id).status_code == 204  # a late report: no step back
    assert seen_up_to(store, conversation_id) == later
