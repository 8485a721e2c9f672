"""The web pixel's cart events (F2) at `POST /pixel/events`: a real chat (started through the
signed app proxy) and its chat token, the shop key the app issued, and every way in which a
sender might lie: another shop's key or token, a made-up key, a replayed event, an oversized
or malformed body, a flood. A stored event is a staff-only "cart" message: never in the
shopper's messages, not unread, the conversation not moved or un-archived."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from shopify_app.conversations import cart_events
from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, Shop
from shopify_app.realtime import publish
from tests.conftest import SHOP_A, SHOP_B

from .test_chat_proxy import chat, start
from .test_program_pages import get
from .webhook_support import install, one, rows


@pytest.fixture
def store(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def key_of(live, domain=SHOP_A) -> str:
    with live.app.app_context():
        shop = get_session().query(Shop).filter_by(domain=domain).one()
        return cart_events.shop_key(shop)


def event(live, token, *, shop=SHOP_A, **overrides):
    body = {
        "shop_key": key_of(live, shop),
        "token": token,
        "id": "sh-0f1e2d3c-aaaa-bbbb-cccc-000000000001",
        "name": "product_added_to_cart",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "title": "Teapot",
        "quantity": 2,
        "currency": "EUR",
        "subtotal": "98.00",
        "lines": [{"title": "Teapot", "quantity": 2}],
    }
    body.update(overrides)
    return body


def post(live, body, *, content_type="text/plain"):
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return live.http.post(
        f"{live.app_url}/pixel/events",
        content=raw,
        headers={"Content-Type": content_type, "Origin": "https://alpha-shop.example"},
    )


def cart_messages(live):
    return rows(live.app, ConversationMessage, ConversationMessage.kind == "cart")


def test_an_added_product_is_a_staff_only_cart_message(store, caplog):
    started = start(store)
    token, cid = started["chat_token"], started["conversation_id"]
    before = one(store.app, Conversation)
    caplog.set_level(logging.DEBUG)
    answer = post(store, event(store, token))
    assert answer.status_code == 201, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert token not in caplog.text
    message = one(store.app, ConversationMessage, ConversationMessage.kind == "cart")
    assert message.author == "system" and message.conversation_id == cid
    assert message.body == "Added Teapot to the cart (2 items, €98.00)"
    assert message.payload["event"] == "added"
    assert message.payload["product_title"] == "Teapot"
    assert message.payload["subtotal"] == "98.00" and message.payload["currency"] == "EUR"
    assert message.payload["lines"] == [{"title": "Teapot", "quantity": 2}]
    assert message.payload["quantity"] == 2
    after = one(store.app, Conversation)
    assert after.unread_for_staff == 0
    assert after.last_message_at == before.last_message_at
    assert after.last_message_preview == before.last_message_preview

    # the shopper's endpoints never show it
    shopper = chat(store, "GET", "messages", query={"token": token}).json()["messages"]
    assert all(m["kind"] != "cart" for m in shopper)
    seen = chat(store, "POST", "seen", json={"token": token, "message_id": message.id})
    assert seen.status_code == 404
    # staff do see it, with its payload
    staff = get(store, f"/admin/conversations/{cid}/messages").json()["messages"]
    assert [m["kind"] for m in staff] == ["cart"]
    assert staff[0]["payload"]["product_title"] == "Teapot"


def test_the_announcement_goes_to_staff_only(store, monkeypatch):
    calls = []
    monkeypatch.setattr(publish, "publish_message", lambda *a, **kw: calls.append(kw))
    token = start(store)["chat_token"]
    assert post(store, event(store, token)).status_code == 201
    assert calls and calls[-1]["to_shopper"] is False and calls[-1]["shopper_json"] is None


def test_a_long_title_is_left_out_and_a_retried_event_is_one_message(store):
    token = start(store)["chat_token"]
    title = "First flush Darjeeling gift set with two cups"
    assert len(title) >= 41  # the devstore gift set (45 characters)
    body = event(
        store,
        token,
        title=title,
        quantity=1,
        subtotal="137.90",
        lines=[{"title": "Teapot", "quantity": 2}, {"title": title, "quantity": 1}],
    )
    first = post(store, body)
    assert first.status_code == 201
    again = post(store, body)
    assert again.status_code == 200 and again.json() == first.json()
    message = one(store.app, ConversationMessage, ConversationMessage.kind == "cart")
    assert message.payload["product_title"] is None
    assert message.body == "Added a product to the cart (3 items, €137.90)"
    assert message.payload["lines"][1]["title"] == title[:39] + "…"


def test_an_archived_conversation_stays_archived(store):
    started = start(store)
    with store.app.app_context():
        session = get_session()
        conversation = session.get(Conversation, started["conversation_id"])
        conversation.archived_at = datetime.now(UTC)
        session.commit()
    assert post(store, event(store, started["chat_token"])).status_code == 201
    assert one(store.app, Conversation).archived_at is not None


def test_keys_and_tokens_of_other_shops_are_refused(store):
    token_a = start(store)["chat_token"]
    token_b = start(store, shop=SHOP_B)["chat_token"]
    # B's token with A's key, A's token with B's key
    assert post(store, event(store, token_b)).status_code == 401
    assert post(store, event(store, token_a, shop=SHOP_B)).status_code == 401
    # a key made up for A (right shop id, wrong MAC), a key of nobody, no key
    shop_id = key_of(store).split(".")[0]
    for key in (f"{shop_id}.{'0' * 32}", "999999.abc", "", None, 12, "x" * 500):
        answer = post(store, event(store, token_a, shop_key=key))
        assert answer.status_code == 401, key
        assert answer.json() == {"error": "This pixel's shop key is not valid."}
    # a token that is not the app's
    assert post(store, event(store, token_a + "x")).status_code == 401
    assert post(store, event(store, None)).status_code == 401
    assert cart_messages(store) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"name": "checkout_completed"}, "name must be one of"),
        ({"quantity": "2"}, "quantity must be a whole number"),
        ({"quantity": 1000}, "quantity must be from 0 to 999"),
        ({"quantity": -1}, "quantity must be from 0 to 999"),
        ({"quantity": True}, "quantity must be a whole number"),
        ({"quantity": 0}, "1 or more"),
        ({"subtotal": 98.0}, "subtotal must be a decimal"),
        ({"subtotal": "98.001"}, "subtotal must be a decimal"),
        ({"subtotal": "-1.00"}, "subtotal must be a decimal"),
        ({"subtotal": "1e5"}, "subtotal must be a decimal"),
        ({"currency": "euro"}, "currency must be a three-letter code"),
        ({"id": "x" * 61}, "id must be"),
        ({"id": "<script>"}, "id must be"),
        ({"title": 7}, "title must be text"),
        ({"title": "t" * 256}, "title is longer than 255"),
        ({"lines": {"Teapot": 2}}, "lines must be a list"),
        ({"lines": [{"title": "T", "quantity": 1}] * 101}, "lines must be a list"),
        ({"lines": [{"title": "T", "quantity": "1"}]}, "A line's quantity must be"),
        ({"lines": [{"title": "T", "quantity": 1, "price": 3}]}, "Each line must be"),
        ({"timestamp": "yesterday"}, "timestamp must be"),
        ({"timestamp": "2020-01-01T00:00:00Z"}, "too far from now"),
        ({"timestamp": "2026-12-05T04:00:00"}, "time zone"),
        ({"extra": 1}, "Unknown field"),
    ],
)
def test_every_field_is_checked_422(store, change, reason):
    token = start(store)["chat_token"]
    answer = post(store, event(store, token, **change))
    assert answer.status_code == 422, answer.text
    assert reason in answer.json()["error"]
    assert cart_messages(store) == []


def test_bad_bodies(store):
    token = start(store)["chat_token"]
    assert post(store, "not json").status_code == 400
    assert post(store, "[1, 2]").status_code == 400
    assert post(store, b"\xff\xfe").status_code == 400
    assert post(store, event(store, token), content_type="application/xml").status_code == 415
    huge = event(store, token, lines=[{"title": "T" * 200, "quantity": 1}] * 90)
    answer = post(store, huge)
    assert answer.status_code == 413 and answer.json()["error"] == "The event is too large."
    preflight = store.http.options(f"{store.app_url}/pixel/events")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert cart_messages(store) == []


def test_a_flood_from_one_conversation_is_limited_429(store):
    token = start(store)["chat_token"]
    budget = int(store.app.config["RATE_LIMIT_PIXEL_EVENT"].split(" ")[0])
    answers = [
        post(store, event(store, token, id=f"sh-flood-{n}")).status_code for n in range(budget + 1)
    ]
    assert answers == [201] * budget + [429]
    refused = post(store, event(store, token, id="sh-flood-late"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "error" in refused.json()


def test_a_removed_and_a_viewed_event(store):
    token = start(store)["chat_token"]
    removed = event(
        store,
        token,
        id="sh-removed",
        name="product_removed_from_cart",
        quantity=1,
        subtotal="49.00",
        lines=[{"title": "Teapot", "quantity": 1}],
    )
    assert post(store, removed).status_code == 201
    viewed = event(store, token, id="sh-viewed", name="cart_viewed", title=None, quantity=0)
    assert post(store, viewed).status_code == 201
    bodies = sorted(m.body for m in cart_messages(store))
    assert bodies == [
        "Removed Teapot from the cart (1 item, €49.00)",
        "Viewed the cart (2 items, €98.00)",
    ]


def test_the_inbox_thread_shows_the_cart_line(store):
    started = start(store)
    token, cid = started["chat_token"], started["conversation_id"]
    title = "First flush Darjeeling gift set with two cups"
    post(store, event(store, token))
    post(
        store,
        event(
            store,
            token,
            id="sh-long",
            title=title,
            quantity=1,
            subtotal="137.90",
            lines=[{"title": "Teapot", "quantity": 2}, {"title": title, "quantity": 1}],
        ),
    )
    page = get(store, "/admin/conversations", c=str(cid)).text
    assert page.count('class="message system kind-cart"') == 2
    assert "<strong>Added Teapot to the cart</strong>" in page
    assert "<strong>Added a product to the cart</strong>" in page
    assert "Subtotal €137.90" in page
    assert f"Teapot × 2, {cart_events.line_title(title)} × 1" in page
    assert title not in page


def test_the_same_cart_viewed_again_is_not_a_new_line(store):
    token = start(store)["chat_token"]
    viewed = dict(name="cart_viewed", title=None, quantity=0)
    assert post(store, event(store, token, id="sh-v1", **viewed)).status_code == 201
    assert post(store, event(store, token, id="sh-v2", **viewed)).status_code == 200
    changed = event(store, token, id="sh-v3", subtotal="49.00", **viewed)
    changed["lines"] = [{"title": "Teapot", "quantity": 1}]
    assert post(store, changed).status_code == 201
    assert len(cart_messages(store)) == 2
