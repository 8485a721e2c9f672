"""Conversations (issue 19): starting, posting from each side, idempotent sends, the staff's
list, read state, saved replies, the timeline, the chat token, and what is announced once
the transaction commits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import pytest

from shopify_app.conversations import chat_tokens, notify, service
from shopify_app.models import StaffMember

from .. import factories
from ..helpers import API_SECRET
from . import queries


@dataclass
class Realtime:
    """What reached the realtime channel (Redis is live-tested; here the announcement's
    content and timing are what counts) and who is online."""

    messages: list[tuple[dict[str, Any], int, int, bool]] = field(default_factory=list)
    to_shopper: list[dict[str, Any] | None] = field(default_factory=list)
    online: set[int] = field(default_factory=set)


@pytest.fixture
def realtime(monkeypatch) -> Realtime:
    seen = Realtime()

    def publish_message(message, *, shop_id, conversation_id, to_shopper, shopper_json=None):
        seen.messages.append((message, shop_id, conversation_id, to_shopper))
        seen.to_shopper.append(shopper_json if to_shopper else None)

    monkeypatch.setattr(notify, "publish_message", publish_message)
    monkeypatch.setattr(notify, "is_online", lambda _shop, conv: conv in seen.online)
    return seen


def staff_member(session, shop, **overrides) -> StaffMember:
    values = {
        "shop_id": shop.id,
        "user_id": factories.next_id(),
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@staff.example",
    }
    row = StaffMember(**{**values, **overrides})
    session.add(row)
    session.flush()
    return row


def test_start_reuses_the_open_conversation_for_an_email_and_lowercases_it(session, shop):
    first = service.start_conversation(session, shop, email=" Ada@Example.COM ", name="Ada")
    again = service.start_conversation(session, shop, email="ada@example.com", locale="fi")
    assert again.id == first.id
    assert first.email == "ada@example.com"
    assert (again.name, again.locale) == ("Ada", "fi")
    first.archived_at = first.last_message_at
    session.flush()
    fresh = service.start_conversation(session, shop, email="ada@example.com")
    assert fresh.id != first.id


def test_start_refuses_a_bad_email_and_takes_a_logged_in_customers_own(session, shop):
    for bad in ("", "not-an-email", "a@b", None, 5, "x" * 400 + "@example.com"):
        with pytest.raises(service.MessageRefused) as refused:
            service.start_conversation(session, shop, email=bad)
        assert refused.value.status == 422
    ada = factories.customer(session, shop, email="Ada.L@Example.com")
    conversation = service.start_conversation(session, shop, email=None, customer=ada)
    assert (conversation.email, conversation.customer_id) == ("ada.l@example.com", ada.id)


def test_a_customers_thread_is_reused_for_them_only(session, shop):
    ada = factories.customer(session, shop, email="shared@example.com")
    bob = factories.customer(session, shop, email="bob@example.com")
    adas = service.start_conversation(session, shop, email="shared@example.com", customer=ada)
    again = service.start_conversation(session, shop, email="shared@example.com", customer=ada)
    bobs = service.start_conversation(session, shop, email="shared@example.com", customer=bob)
    anonymous = service.start_conversation(session, shop, email="shared@example.com")
    assert again.id == adas.id
    assert bobs.id != adas.id and bobs.customer_id == bob.id
    assert anonymous.id not in (adas.id, bobs.id) and anonymous.customer_id is None


def test_an_anonymous_start_without_reuse_never_opens_an_existing_thread(session, shop):
    first = service.start_conversation(session, shop, email="ada@example.com")
    second = service.start_conversation(session, shop, email="ada@example.com", reuse=False)
    assert second.id != first.id
    ada = factories.customer(session, shop, email="ada@example.com")
    theirs = service.start_conversation(session, shop, email=None, customer=ada, reuse=False)
    assert theirs.id not in (first.id, second.id)  # an anonymous thread is not given to them
    assert service.start_conversation(session, shop, email=None, customer=ada).id == theirs.id


def test_another_shops_customer_cannot_be_linked(session, shop):
    other = factories.shop(session)
    stranger = factories.customer(session, other)
    with pytest.raises(ValueError):
        service.start_conversation(session, shop, email="a@example.com", customer=stranger)


def test_a_shopper_message_updates_the_list_and_is_announced_after_commit(
    session, shop, realtime, enqueued
):
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    message = service.post_message(
        session,
        shop,
        conversation,
        author="shopper",
        body="  Where is\r\nmy order?  ",
        channel="widget",
        client_id="c-1",
    )
    assert message.body == "Where is\nmy order?"
    assert conversation.last_message_preview == "Where is my order?"
    assert conversation.unread_for_staff == 1
    assert realtime.messages == []  # nothing before the commit
    session.commit()
    [(payload, shop_id, conversation_id, to_shopper)] = realtime.messages
    assert (shop_id, conversation_id, to_shopper) == (shop.id, conversation.id, True)
    assert payload["body"] == "Where is\nmy order?" and payload["author"] == "shopper"
    assert payload["created_at"].endswith("Z")
    assert enqueued.names() == []  # only staff replies are emailed


def test_a_rolled_back_message_announces_nothing(session, shop, realtime):
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    session.commit()
    service.post_message(session, shop, conversation, author="shopper", body="hi", channel="widget")
    session.rollback()
    assert realtime.messages == []


def test_the_same_client_id_or_message_id_is_one_message(session, shop, realtime):
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    one = service.post_message(
        session, shop, conversation, author="shopper", body="hi", channel="widget", client_id="k"
    )
    two = service.post_message(
        session, shop, conversation, author="shopper", body="hi", channel="widget", client_id="k"
    )
    mailed = service.post_message(
        session,
        shop,
        conversation,
        author="shopper",
        body="by mail",
        channel="email",
        email_message_id="<m1@mail.example>",
    )
    again = service.post_message(
        session,
        shop,
        conversation,
        author="shopper",
        body="by mail",
        channel="email",
        email_message_id="<m1@mail.example>",
    )
    assert one.id == two.id and mailed.id == again.id
    assert conversation.unread_for_staff == 2
    assert len(service.messages_after(session, shop, conversation, include_notes=True)) == 2


def test_empty_and_over_long_bodies_are_refused_with_their_status(session, shop):
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    for body, status in (("", 422), ("   \n ", 422), (None, 422), ("x" * 5001, 413)):
        with pytest.raises(service.MessageRefused) as refused:
            service.post_message(
                session, shop, conversation, author="shopper", body=body, channel="widget"
            )
        assert refused.value.status == status and refused.value.reason
    exactly = service.post_message(
        session, shop, conversation, author="shopper", body="y" * 5000, channel="widget"
    )
    assert len(exactly.body) == service.MAX_BODY


def test_another_shops_conversation_is_refused(session, shop):
    other = factories.shop(session)
    theirs = service.start_conversation(session, other, email="ada@example.com")
    with pytest.raises(service.MessageRefused) as refused:
        service.post_message(session, shop, theirs, author="staff", body="hi", channel="admin")
    assert refused.value.status == 404
    assert service.get_conversation(session, shop, theirs.id) is None
    assert service.get_conversation(session, other, theirs.id) is theirs
    assert service.get_conversation(session, shop, "1 or 1=1") is None


def test_a_staff_reply_to_an_away_shopper_is_emailed_once_and_to_an_online_one_not(
    session, shop, realtime, enqueued
):
    grace = staff_member(session, shop)
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    service.post_message(session, shop, conversation, author="shopper", body="hi", channel="widget")
    away = service.post_message(
        session, shop, conversation, author="staff", body="Hello!", channel="admin", staff=grace
    )
    assert conversation.unread_for_staff == 0
    session.commit()
    assert enqueued.calls(notify.SEND_REPLY_EMAIL) == [(away.id,)]
    assert realtime.to_shopper[-1]["staff_name"] == "Grace"  # first name only to the shopper
    assert realtime.messages[-1][0]["staff_name"] == "Grace Hopper"  # to staff
    realtime.online.add(conversation.id)
    service.post_message(
        session,
        shop,
        conversation,
        author="staff",
        body="Still there?",
        channel="admin",
        staff=grace,
    )
    session.commit()
    assert enqueued.calls(notify.SEND_REPLY_EMAIL) == [(away.id,)]


def test_a_private_note_never_reaches_the_shopper(session, shop, realtime, enqueued):
    grace = staff_member(session, shop)
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    service.post_message(session, shop, conversation, author="shopper", body="hi", channel="widget")
    note = service.post_message(
        session,
        shop,
        conversation,
        author="note",
        body="VIP, be nice",
        channel="admin",
        staff=grace,
    )
    session.commit()
    assert realtime.messages[-1][0]["id"] == note.id
    assert realtime.messages[-1][3] is False  # not to the shopper's channel
    assert realtime.messages[-1][0]["staff_name"] == "Grace Hopper"
    assert enqueued.names() == []
    assert conversation.last_message_preview == "hi"
    shopper_sees = service.messages_after(session, shop, conversation, include_notes=False)
    assert [m.body for m in shopper_sees] == ["hi"]
    staff_sees = service.messages_after(session, shop, conversation, include_notes=True)
    assert [m.body for m in staff_sees] == ["hi", "VIP, be nice"]
    assert service.messages_after(
        session, shop, conversation, shopper_sees[0].id, include_notes=True
    ) == [note]


def test_a_shopper_message_brings_an_archived_conversation_back(session, shop, realtime):
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    conversation.archived_at = conversation.last_message_at
    service.post_message(session, shop, conversation, author="shopper", body="hi", channel="email")
    assert conversation.archived_at is None and conversation.status == "active"


def test_messages_are_on_the_linked_customers_timeline_with_readable_sentences(
    session, shop, realtime
):
    from shopify_app.timeline import labels

    ada = factories.customer(session, shop, email="ada@example.com")
    grace = staff_member(session, shop)
    anonymous = service.start_conversation(session, shop, email="ada@example.com")
    service.post_message(
        session, shop, anonymous, author="shopper", body="Before login", channel="widget"
    )
    assert queries.events(session, shop) == []
    assert service.link_customer(session, shop, anonymous, ada) is True
    linked = anonymous
    service.post_message(
        session, shop, linked, author="staff", body="Hi Ada", channel="admin", staff=grace
    )
    service.post_message(
        session, shop, linked, author="note", body="asked twice", channel="admin", staff=grace
    )
    events = queries.events(session, shop)
    assert [e.kind for e in events] == [
        "conversation.message_received",
        "conversation.reply_sent",
        "conversation.note_added",
    ]
    assert {e.source for e in events} == {"conversation"}
    assert {e.family for e in events} == {"conversation"}
    assert all(e.customer_id == ada.id for e in events)
    sentences = [labels.describe(e, staff_name="Grace Hopper") for e in events]
    assert sentences == [
        "Wrote to the store in the store's chat: “Before login”",
        "Grace Hopper replied in the conversation: “Hi Ada”",
        "Grace Hopper added a private note to the conversation: “asked twice”",
    ]
    # linking again writes nothing twice; another customer cannot take the thread
    assert service.link_customer(session, shop, linked, ada) is True
    assert service.link_customer(session, shop, linked, factories.customer(session, shop)) is False
    assert len(queries.events(session, shop)) == 3
    assert linked.customer_id == ada.id


def test_the_list_puts_unread_first_then_newest_and_filters(session, shop, realtime):
    grace = staff_member(session, shop)
    older = service.start_conversation(session, shop, email="older@example.com", name="Olga")
    newer = service.start_conversation(session, shop, email="newer@example.com")
    archived = service.start_conversation(session, shop, email="gone@example.com")
    service.post_message(
        session, shop, older, author="shopper", body="refund please", channel="widget"
    )
    service.post_message(session, shop, newer, author="shopper", body="hello", channel="widget")
    service.post_message(
        session, shop, archived, author="shopper", body="old refund", channel="widget"
    )
    archived.archived_at = archived.last_message_at
    older.last_message_at -= timedelta(hours=1)
    service.mark_read(session, shop, newer)
    newer.assigned_staff_id = grace.id
    newer.status = "inactive"
    session.flush()

    def ids(**kw):
        return [c.id for c in service.list_conversations(session, shop, **kw)]

    assert ids() == [older.id, newer.id]
    assert ids(view="archived") == [archived.id]
    assert ids(view="mine", staff=grace) == [newer.id]
    assert ids(view="mine") == []
    assert ids(view="unassigned") == [older.id]
    assert ids(view="inactive") == [newer.id]
    assert ids(view="active") == [older.id]
    assert ids(q="REFUND") == [archived.id, older.id]  # a search includes archived ones
    assert ids(q="olga") == [older.id]
    assert ids(q="newer@") == [newer.id]
    assert ids(q="%") == []  # wildcards are text
    assert ids(view="nonsense") == [older.id, newer.id]
    assert ids(before=newer.last_message_at) == [older.id]
    assert service.list_conversations(session, factories.shop(session)) == []


def test_saved_replies_belong_to_their_shop(session, shop):
    other = factories.shop(session)
    reply = service.save_reply(session, shop, title=" Shipping ", body="3-5 days")
    assert service.list_saved_replies(session, shop) == [reply]
    assert service.list_saved_replies(session, other) == []
    with pytest.raises(LookupError):
        service.save_reply(session, other, title="x", body="y", reply_id=reply.id)
    assert service.delete_saved_reply(session, other, reply.id) is False
    changed = service.save_reply(session, shop, title="Shipping", body="2 days", reply_id=reply.id)
    assert changed.body == "2 days" and changed.title == "Shipping"
    with pytest.raises(service.MessageRefused):
        service.save_reply(session, shop, title="", body="x")
    assert service.delete_saved_reply(session, shop, reply.id) is True
    assert service.list_saved_replies(session, shop) == []


def test_a_chat_token_names_its_conversation_for_its_shop_only(session, shop):
    other = factories.shop(session)
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    token = chat_tokens.issue_chat_token(shop, conversation)
    assert chat_tokens.verify_chat_token(token, shop) == conversation.id
    assert chat_tokens.verify_chat_token(token, other) is None
    stale = chat_tokens.issue_chat_token(
        shop, conversation, now=time.time() - chat_tokens.CHAT_TOKEN_DAYS * 86400 - 5
    )
    assert chat_tokens.verify_chat_token(stale, shop) is None
    forged = jwt.encode(
        {
            "aud": "chat",
            "shop": shop.id,
            "sub": str(conversation.id),
            "iat": 1,
            "exp": int(time.time()) + 60,
        },
        "not-the-secret-but-long-enough-for-hs256",
        algorithm="HS256",
    )
    assert chat_tokens.verify_chat_token(forged, shop) is None
    unsigned = jwt.encode(
        {
            "aud": "chat",
            "shop": shop.id,
            "sub": str(conversation.id),
            "iat": 1,
            "exp": int(time.time()) + 60,
        },
        None,
        algorithm="none",
    )
    assert chat_tokens.verify_chat_token(unsigned, shop) is None
    other_purpose = jwt.encode(
        {
            "aud": "shopper",
            "shop": shop.id,
            "sub": str(conversation.id),
            "iat": 1,
            "exp": int(time.time()) + 60,
        },
        API_SECRET,
        algorithm="HS256",
    )
    assert chat_tokens.verify_chat_token(other_purpose, shop) is None
    for junk in ("", None, "a.b.c", 42, "x" * 5000):
        assert chat_tokens.verify_chat_token(junk, shop) is None


def test_a_concurrent_duplicate_send_finds_the_first_message(session, shop, realtime, monkeypatch):
    """Two requests with one client id race: the second's lookup misses the first's row,
    its insert meets the unique index, and it answers the first message."""
    conversation = service.start_conversation(session, shop, email="ada@example.com")
    first = service.post_message(
        session, shop, conversation, author="shopper", body="hi", channel="widget", client_id="r"
    )
    looked_up = service._existing
    misses = iter([True])

    def racing(*args):
        return None if next(misses, False) else looked_up(*args)

    monkeypatch.setattr(service, "_existing", racing)
    second = service.post_message(
        session, shop, conversation, author="shopper", body="hi", channel="widget", client_id="r"
    )
    assert second.id == first.id
    assert conversation.unread_for_staff == 1
    session.commit()
    assert len(service.messages_after(session, shop, conversation, include_notes=True)) == 1


def owed_here(session, unseen_after, messages) -> list[int]:
    """The sweeper's answer for this test's messages only (it looks at every shop, and other
    tests on this worker may have left replies of their own)."""
    ours = {m.id for m in messages}
    return [i for i in service.reply_emails_owed(session, unseen_after=unseen_after) if i in ours]


def test_an_owed_reply_email_is_stored_with_the_reply_and_found_again_if_lost(
    session, shop, realtime
):
    from datetime import timedelta

    from shopify_app.models import utcnow

    later = timedelta(hours=1)  # not yet the unseen-reply rule (test_conversation_unseen.py)
    grace = staff_member(session, shop)
    away = service.start_conversation(session, shop, email="away@example.com")
    here = service.start_conversation(session, shop, email="here@example.com")
    realtime.online.add(here.id)
    owed = service.post_message(
        session, shop, away, author="staff", body="Hi", channel="admin", staff=grace
    )
    seen = service.post_message(
        session, shop, here, author="staff", body="Hi", channel="admin", staff=grace
    )
    note = service.post_message(session, shop, away, author="note", body="n", channel="admin")
    shopper = service.post_message(
        session, shop, away, author="shopper", body="?", channel="widget"
    )
    assert (owed.email_due, seen.email_due, note.email_due, shopper.email_due) == (
        True,
        False,
        False,
        False,
    )
    session.commit()
    assert (
        owed_here(session, later, (owed, seen, note, shopper)) == []
    )  # its job has had no chance yet
    for message in (owed, seen, note, shopper):
        message.created_at = utcnow() - timedelta(minutes=5)
    session.flush()
    assert owed_here(session, later, (owed, seen, note, shopper)) == [owed.id]
    owed.email_message_id = "<sent@mail.example>"  # what the job sets when it queues it
    session.flush()
    assert owed_here(session, later, (owed, seen, note, shopper)) == []
    owed.email_message_id = None
    owed.created_at = utcnow() - timedelta(days=3)  # too late to help
    session.flush()
    assert owed_here(session, later, (owed, seen, note, shopper)) == []
