"""`POST /inbound/email` over HTTP (issue 19, item 4 and its "Bad input"), and the whole
email loop: a staff reply emailed by the worker into the devstore's mailbox, answered from
the mailbox's Reply form, back in the same conversation."""

from __future__ import annotations

import logging
import time
from email.message import EmailMessage as Mime
from email.utils import parseaddr

import pytest
from sqlalchemy import select

from devstore.signing import sign_inbound_mail
from shopify_app.config import DEV_INBOUND_EMAIL_SECRET
from shopify_app.conversations import service
from shopify_app.conversations.email_replies import reply_address
from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, Shop
from tests.conftest import SHOP_A, SHOP_B
from tests.support import app_like, close_app

from .webhook_support import install, rows, run_jobs

DOMAIN = "inbound.localhost"


def signed_headers(body: bytes, *, secret: str = DEV_INBOUND_EMAIL_SECRET, at: float | None = None):
    timestamp = str(int(at if at is not None else time.time()))
    return {
        "Content-Type": "message/rfc822",
        "X-Inbound-Timestamp": timestamp,
        "X-Inbound-Signature": sign_inbound_mail(secret, timestamp, body),
    }


def mail(
    *,
    to: str,
    sender: str = "ada@example.com",
    text: str = "Thanks, see you Friday.",
    message_id: str = "<ada-1@mail.example>",
) -> bytes:
    mime = Mime()
    mime["From"] = f"Ada <{sender}>"
    mime["To"] = to
    mime["Subject"] = "Re: Your conversation"
    mime["Message-ID"] = message_id
    mime.set_content(f"{text}\n\nOn Fri, 4 Dec 2026, Shop wrote:\n> Your order ships.\n")
    return mime.as_bytes()


def start_chat(live, shop_domain: str, email: str = "ada@example.com") -> int:
    install(live, shop_domain)
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == shop_domain)).one()
        conversation = service.start_conversation(session, shop, email=email)
        service.post_message(
            session, shop, conversation, author="shopper", body="Where is it?", channel="widget"
        )
        session.commit()
        return conversation.id


def thread(live, conversation_id: int) -> list[ConversationMessage]:
    return rows(
        live.app, ConversationMessage, ConversationMessage.conversation_id == conversation_id
    )


def inbound(live, body: bytes, headers: dict[str, str]):
    return live.http.post(f"{live.app_url}/inbound/email", content=body, headers=headers)


def address(conversation_id: int) -> str:
    return reply_address(conversation_id, secret=DEV_INBOUND_EMAIL_SECRET, domain=DOMAIN)


def test_a_signed_reply_threads_into_its_conversation_and_a_replay_is_one_message(live):
    conversation_id = start_chat(live, SHOP_A)
    body = mail(to=f"Shop <{address(conversation_id)}>")
    response = inbound(live, body, signed_headers(body))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["status"] == "accepted" and answer["conversation_id"] == conversation_id
    last = thread(live, conversation_id)[-1]
    assert (last.id, last.author, last.channel) == (answer["message_id"], "shopper", "email")
    assert last.body == "Thanks, see you Friday."  # the quoted thread is not kept
    assert last.email_message_id == "<ada-1@mail.example>"

    again = inbound(live, body, signed_headers(body))  # the provider retries, or a replay
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(thread(live, conversation_id)) == 2


def test_unsigned_tampered_and_stale_requests_are_refused(live, caplog):
    conversation_id = start_chat(live, SHOP_A)
    body = mail(to=address(conversation_id))
    good = signed_headers(body)
    cases = {
        "unsigned": {"Content-Type": "message/rfc822"},
        "another secret": signed_headers(body, secret="not-the-inbound-secret-at-all-000"),
        "stale": signed_headers(body, at=time.time() - 301),
        "from the future": signed_headers(body, at=time.time() + 301),
        "signature of another body": signed_headers(body + b" "),
        "timestamp swapped": {**good, "X-Inbound-Timestamp": str(int(time.time()) - 1)},
    }
    caplog.set_level(logging.WARNING, logger="shopify_app.inbound.views")
    for name, headers in cases.items():
        response = inbound(live, body, headers)
        assert response.status_code == 401, name
    assert len(thread(live, conversation_id)) == 1
    assert "inbound mail refused: stale timestamp" in caplog.text


def test_a_body_that_is_not_a_mail_or_too_large_is_refused(live):
    conversation_id = start_chat(live, SHOP_A)
    body = mail(to=address(conversation_id))
    as_json = {**signed_headers(body), "Content-Type": "application/json"}
    assert inbound(live, body, as_json).status_code == 415
    small = app_like(live.app, INBOUND_EMAIL_MAX_BYTES=65_536)
    try:
        big = body + b"x" * 65_536
        response = small.test_client().post("/inbound/email", data=big, headers=signed_headers(big))
        assert response.status_code == 413
    finally:
        close_app(small)
    assert len(thread(live, conversation_id)) == 1


def test_mail_for_no_thread_or_from_another_sender_is_dropped_and_logged(live, caplog):
    ours = start_chat(live, SHOP_A)
    theirs = start_chat(live, SHOP_B, email="eve@example.com")
    caplog.set_level(logging.WARNING, logger="shopify_app.inbound.views")
    tampered = address(ours).replace(f"reply+{ours}.", f"reply+{theirs}.")
    cases = [
        (mail(to=tampered, message_id="<t@x>"), "a reply address with a bad signature"),
        (mail(to=address(10**9), message_id="<u@x>"), "unknown conversation"),
        # Ada writes into Eve's thread (another shop's) with its real reply address.
        (
            mail(to=address(theirs), message_id="<e@x>"),
            "the sender is not the conversation's email",
        ),
        (
            mail(to="support@example.com", message_id="<n@x>"),
            "no reply address, In-Reply-To or References",
        ),
    ]
    for body, reason in cases:
        response = inbound(live, body, signed_headers(body))
        assert response.status_code == 202, reason
        assert response.json() == {
            "status": "dropped",
            "reason": reason,
            "conversation_id": None,
            "message_id": None,
            "attachments_kept": 0,
        }
        assert f"dropped: {reason}" in caplog.text
    assert len(thread(live, ours)) == 1 and len(thread(live, theirs)) == 1
    assert "ada@example.com" not in caplog.text  # the log names no address


def test_the_devstore_mailbox_reply_round_trip(live):
    """Staff reply -> worker -> SMTP -> devstore mailbox -> Reply -> signed inbound POST ->
    the shopper's message in the same conversation."""
    conversation_id = start_chat(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        conversation = session.get(Conversation, conversation_id)
        shop = session.get(Shop, conversation.shop_id)
        reply = service.post_message(
            session, shop, conversation, author="staff", body="It ships today.", channel="admin"
        )
        session.commit()
        reply_id = reply.id
    run_jobs(live.app)  # send_reply_email, then deliver_email
    mailbox = live.devstore.extensions["devstore_mailbox"]
    [received] = mailbox.to("ada@example.com")
    assert parseaddr(received.headers["From"])[1] == address(conversation_id)
    assert "It ships today." in received.text
    [staff_reply] = [m for m in thread(live, conversation_id) if m.id == reply_id]
    assert received.headers["Message-ID"] == staff_reply.email_message_id

    page = live.http.get(f"{live.devstore_url}/mailbox")
    assert f'action="/mailbox/{received.id}/reply"' in page.text
    sent = live.http.post(
        f"{live.devstore_url}/mailbox/{received.id}/reply",
        data={"body": "Great, thank you!"},
    )
    assert sent.status_code == 302
    last = thread(live, conversation_id)[-1]
    assert (last.author, last.channel, last.body) == ("shopper", "email", "Great, thank you!")
    [kept] = [m for m in mailbox.messages if m.direction == "sent"]
    assert kept.delivery == "201 accepted: attached"
    assert kept.headers["In-Reply-To"] == staff_reply.email_message_id
    assert "> It ships today." in kept.text  # the original quoted, as a mail client does
    shown = live.http.get(f"{live.devstore_url}/mailbox?replied={kept.id}")
    assert "Delivered to the app: 201 accepted: attached" in shown.text


@pytest.mark.parametrize("path", ["/mailbox/nope/reply"])
def test_the_mailbox_reply_needs_a_received_message_and_text(live, path):
    assert live.http.post(f"{live.devstore_url}{path}", data={"body": "x"}).status_code == 404
