"""The chat backend with the realtime process running (`referrals realtime`): the tokens
the widget's endpoints issue open its streams, messages and typing reach the other side,
and a staff reply goes by email exactly when the shopper has no widget open."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from rq import Queue

from shopify_app.config import load_config
from shopify_app.conversations import notify
from shopify_app.realtime import presence
from shopify_app.realtime.tokens import realtime_secret
from tests.conftest import SHOP_A
from tests.helpers import API_SECRET
from tests.support import wait_until

from .realtime_support import Realtime, SSEClient
from .test_chat_proxy import chat, shop_row, staff_reply, start
from .webhook_support import install


@pytest.fixture(scope="module")
def realtime(redis_url, tmp_path_factory):
    server = Realtime(redis_url, tmp_path_factory.mktemp("chat-realtime"))
    server.env["SHOPIFY_API_SECRET"] = API_SECRET  # the app's: one secret in every process
    server.secret = realtime_secret(load_config(server.env))
    server.start()
    yield server
    server.stop()


def queued_replies(live) -> list[tuple]:
    connection = live.app.extensions["redis"].connection()
    return [
        j.args
        for j in Queue("default", connection=connection).jobs
        if j.func_name == notify.SEND_REPLY_EMAIL
    ]


def online(live, shop_id, conversation_id) -> bool:
    connection = live.app.extensions["redis"].connection()
    return presence.is_online(connection, shop_id, conversation_id)


def test_live_both_ways_and_email_only_while_away(live, realtime):
    install(live, SHOP_A)
    shop = shop_row(live)
    started = start(live)
    conversation_id = started["conversation_id"]
    staff = SSEClient(realtime.url, f"/events/staff?token={quote(realtime.staff_token(shop.id))}")
    shopper = SSEClient(realtime.url, f"/events/shopper?token={quote(started['realtime_token'])}")
    try:
        assert (staff.status, shopper.status) == (200, 200)
        staff.wait_ready()
        shopper.wait_ready()
        wait_until(lambda: online(live, shop.id, conversation_id), 10, "the shopper online")

        sent = chat(
            live,
            "POST",
            "messages",
            json={"token": started["chat_token"], "body": "Hello?", "client_id": "a"},
        )
        assert sent.status_code == 201
        got = staff.next(lambda e: e.event == "message")
        assert got.data["body"] == "Hello?" and got.data["conversation_id"] == conversation_id
        assert (
            chat(live, "POST", "typing", json={"token": started["chat_token"]}).status_code == 204
        )
        assert staff.next(lambda e: e.event == "typing").data["conversation_id"] == conversation_id

        live_reply = staff_reply(live, conversation_id, "Hi! Here now.")
        heard = shopper.next(lambda e: e.event == "message" and e.data["id"] == live_reply)
        assert heard.data["staff_name"] == "Grace"
        assert queued_replies(live) == []  # online: the widget shows it, no email
        note = staff_reply(live, conversation_id, "internal only", author="note")
        assert staff.next(lambda e: e.event == "message" and e.data["id"] == note)
    finally:
        shopper.close()
    try:
        wait_until(lambda: not online(live, shop.id, conversation_id), 15, "the shopper offline")
        away_reply = staff_reply(live, conversation_id, "Sorry, we missed you.")
        assert queued_replies(live) == [(away_reply,)]
    finally:
        staff.close()
    assert all(e.data.get("id") != note for e in shopper.seen if e.event == "message")
