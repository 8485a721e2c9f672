"""Conversations and the compliance topics (issue 19, item 6): a customer's chats are in the
`customers/data_request` answer and the single-customer export, go with `customers/redact`
(linked to them, or started with their email) and with `shop/redact`; the erasure scan
over them is in test_erasure.py."""

from __future__ import annotations

import json

from sqlalchemy import select

from shopify_app.conversations import service
from shopify_app.db import get_session
from shopify_app.models import (
    Conversation,
    ConversationMessage,
    Customer,
    DataRequest,
    SavedReply,
    Shop,
    TimelineEvent,
)
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token, proxy_query

from .webhook_support import deliver, install, one, rows, run_jobs, shop_id

ADA_EMAIL = "ada.lovelace+1001@example.com"  # payloads.customer's


def seed(live, shop):
    install(live, shop)
    deliver(live, shop, "customers/create", payloads.customer())
    run_jobs(live.app)


def chat(live, shop, text, *, customer=None, email=None):
    params = proxy_query(shop, customer)
    started = live.http.post(
        f"{live.app_url}/proxy/chat/start", params=params, json={"email": email} if email else {}
    )
    assert started.status_code == 201, started.text
    sent = live.http.post(
        f"{live.app_url}/proxy/chat/messages",
        params=params,
        json={"token": started.json()["chat_token"], "body": text},
    )
    assert sent.status_code == 201, sent.text
    return started.json()["conversation_id"]


def note(live, shop, conversation_id, text):
    with live.app.app_context():
        session = get_session()
        shop_row = session.scalar(select(Shop).where(Shop.domain == shop))
        conversation = service.get_conversation(session, shop_row, conversation_id)
        service.post_message(
            session, shop_row, conversation, author="note", body=text, channel="admin"
        )
        service.save_reply(session, shop_row, title="Hello", body="Hi there")
        session.commit()


def test_a_data_request_lists_her_conversations_with_every_message(live):
    seed(live, SHOP_A)
    linked = chat(live, SHOP_A, "Logged in question", customer=1001)
    by_email = chat(live, SHOP_A, "Anonymous question", email=ADA_EMAIL.upper())
    chat(live, SHOP_A, "Not hers", email="someone@example.com")
    note(live, SHOP_A, linked, "Asked about shipping")
    deliver(live, SHOP_A, "customers/data_request", payloads.customers_data_request(SHOP_A))
    run_jobs(live.app)
    content = one(live.app, DataRequest).content
    conversations = content["conversations"]
    assert [c["id"] for c in conversations] == [linked, by_email]
    assert [[(m["author"], m["body"]) for m in c["messages"]] for c in conversations] == [
        [("shopper", "Logged in question"), ("note", "Asked about shipping")],
        [("shopper", "Anonymous question")],
    ]
    kinds = [e["kind"] for e in content["timeline"]]
    assert "conversation.message_received" in kinds and "conversation.note_added" in kinds


def test_a_data_request_for_someone_known_only_from_a_chat_lists_it(live):
    install(live, SHOP_A)
    chat(live, SHOP_A, "Hello?", email=ADA_EMAIL)
    deliver(live, SHOP_A, "customers/data_request", payloads.customers_data_request(SHOP_A))
    run_jobs(live.app)
    content = one(live.app, DataRequest).content
    assert content["customer"] is None
    assert [m["body"] for m in content["conversations"][0]["messages"]] == ["Hello?"]
    assert "conversations" in content["note"]


def test_the_single_customer_export_has_her_conversations(live):
    seed(live, SHOP_A)
    chat(live, SHOP_A, "Where is my parcel?", customer=1001)
    customer_id = one(live.app, Customer).id
    answer = live.http.get(
        f"{live.app_url}/customers/{customer_id}/export.json",
        params={"shop": SHOP_A},
        headers={"Authorization": f"Bearer {id_token(SHOP_A)}"},
    )
    assert answer.status_code == 200, answer.text[:300]
    document = json.loads(answer.content)
    [conversation] = document["conversations"]
    assert [m["body"] for m in conversation["messages"]] == ["Where is my parcel?"]


def test_customers_redact_erases_her_conversations_by_id_and_by_email(live):
    seed(live, SHOP_A)
    seed(live, SHOP_B)
    linked = chat(live, SHOP_A, "Logged in", customer=1001)
    chat(live, SHOP_A, "From another device", email=ADA_EMAIL)
    other = chat(live, SHOP_A, "Someone else", email="someone@example.com")
    note(live, SHOP_A, linked, "VIP")
    elsewhere = chat(live, SHOP_B, "Same person, other shop", email=ADA_EMAIL)
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    assert [c.id for c in rows(live.app, Conversation)] == [other, elsewhere]
    assert {m.conversation_id for m in rows(live.app, ConversationMessage)} == {other, elsewhere}
    customer = one(
        live.app,
        Customer,
        Customer.shop_id == shop_id(live.app, SHOP_A),
        Customer.redacted_at.is_not(None),
    )
    for event in rows(live.app, TimelineEvent, TimelineEvent.customer_id == customer.id):
        assert "excerpt" not in event.payload
    assert len(rows(live.app, SavedReply)) == 1  # the shop's own words stay


def test_shop_redact_erases_the_shops_conversations_only(live):
    seed(live, SHOP_A)
    seed(live, SHOP_B)
    for shop in (SHOP_A, SHOP_B):
        note(live, shop, chat(live, shop, "hi", customer=1001), "note")
    deliver(live, SHOP_A, "shop/redact", payloads.shop_redact(SHOP_A))
    run_jobs(live.app)
    a, b = shop_id(live.app, SHOP_A), shop_id(live.app, SHOP_B)
    for model in (Conversation, ConversationMessage, SavedReply):
        assert rows(live.app, model, model.shop_id == a) == [], model.__name__
        assert rows(live.app, model, model.shop_id == b) != [], model.__name__
