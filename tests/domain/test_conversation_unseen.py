"""A staff reply the shopper's widget never reported seen is emailed after a delay (issue 19):
seen → no email; unseen past the delay → one email, once; seen after the email → nothing
more; an offline shopper's reply (emailed at once) never twice; notes never; the seen mark
only moves forward and only for the shop's own conversation and messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shopify_app.conversations import chat_tokens, notify, service
from shopify_app.conversations.email_replies import queue_reply_email
from shopify_app.models import ConversationMessage, EmailMessage, StaffMember, utcnow

from .. import factories

DELAY = timedelta(minutes=5)


@pytest.fixture
def online(monkeypatch) -> set[int]:
    """The conversations whose shopper counts as online (presence); nothing is published."""
    here: set[int] = set()
    monkeypatch.setattr(notify, "publish_message", lambda *a, **k: None)
    monkeypatch.setattr(notify, "is_online", lambda _shop, conv: conv in here)
    monkeypatch.setattr(notify, "enqueue_reply_email", lambda _id: None)
    return here


def reply(session, shop, conversation, body="We are on it", author="staff"):
    member = StaffMember(shop_id=shop.id, user_id=factories.next_id(), first_name="Grace")
    session.add(member)
    session.flush()
    return service.post_message(
        session, shop, conversation, author=author, body=body, channel="admin", staff=member
    )


def age(session, message, minutes: float) -> None:
    message.created_at = utcnow() - timedelta(minutes=minutes)
    session.commit()


def owed(session, shop) -> list[int]:
    """The sweeper's answer for the shops this test made (the sweeper looks at every shop;
    a shop made earlier on this worker has a smaller id)."""
    ids = service.reply_emails_owed(session, unseen_after=DELAY)
    ours = set(
        session.scalars(
            select(ConversationMessage.id).where(
                ConversationMessage.id.in_(ids), ConversationMessage.shop_id >= shop.id
            )
        )
    )
    return [i for i in ids if i in ours]


def emails(session) -> int:
    return session.scalar(select(func.count()).select_from(EmailMessage))


def online_thread(session, shop, online, email="ada@example.com"):
    conversation = service.start_conversation(session, shop, email=email)
    service.post_message(
        session, shop, conversation, author="shopper", body="Hello?", channel="widget"
    )
    online.add(conversation.id)
    return conversation


def test_a_reply_the_shopper_saw_is_not_emailed(session, shop, online):
    conversation = online_thread(session, shop, online)
    answer = reply(session, shop, conversation)
    assert answer.email_due is False
    assert service.mark_seen(session, shop, conversation, answer.id) is True
    session.commit()
    age(session, answer, 60)
    assert owed(session, shop) == []
    assert queue_reply_email(session, answer.id).startswith("not sent")
    session.commit()
    assert emails(session) == 0


def test_an_unseen_reply_is_emailed_once_after_the_delay_and_not_again_once_seen(
    session, shop, online
):
    conversation = online_thread(session, shop, online)
    answer = reply(session, shop, conversation)
    note = reply(session, shop, conversation, body="VIP", author="note")
    session.commit()
    age(session, answer, 4)
    age(session, note, 10)
    assert owed(session, shop) == []  # not yet: they may be reading it
    age(session, answer, 6)
    assert owed(session, shop) == [answer.id]  # never the note
    assert queue_reply_email(session, answer.id) == "queued"
    session.commit()
    assert owed(session, shop) == []
    assert queue_reply_email(session, answer.id) == "already queued"  # a duplicate job
    session.commit()
    assert emails(session) == 1
    # Seen after the email went: nothing more.
    assert service.mark_seen(session, shop, conversation, answer.id) is True
    session.commit()
    assert owed(session, shop) == []
    assert queue_reply_email(session, answer.id) == "already queued"
    session.commit()
    assert emails(session) == 1


def test_an_offline_shoppers_reply_is_emailed_at_once_and_never_twice(session, shop, online):
    conversation = service.start_conversation(session, shop, email="away@example.com")
    answer = reply(session, shop, conversation)
    assert answer.email_due is True  # the immediate path
    session.commit()
    assert queue_reply_email(session, answer.id) == "queued"
    session.commit()
    age(session, answer, 60)  # long unseen: the unseen rule must not email it again
    assert owed(session, shop) == []
    assert emails(session) == 1


def test_seeing_a_later_message_covers_the_earlier_replies(session, shop, online):
    conversation = online_thread(session, shop, online)
    first = reply(session, shop, conversation, "One")
    second = reply(session, shop, conversation, "Two")
    later = reply(session, shop, conversation, "Three")
    assert service.mark_seen(session, shop, conversation, second.id) is True
    session.commit()
    for message in (first, second, later):
        age(session, message, 10)
    assert owed(session, shop) == [later.id]


def test_an_older_message_id_never_moves_seen_backwards(session, shop, online):
    conversation = online_thread(session, shop, online)
    first = reply(session, shop, conversation, "One")
    second = reply(session, shop, conversation, "Two")
    assert service.mark_seen(session, shop, conversation, second.id) is True
    assert service.mark_seen(session, shop, conversation, first.id) is True  # a late report
    session.commit()
    session.refresh(conversation)
    assert conversation.shopper_seen_message_id == second.id
    assert conversation.shopper_seen_at is not None


def test_seen_is_only_for_the_shops_own_conversation_and_its_messages(session, shop, online):
    other = factories.shop(session)
    mine = online_thread(session, shop, online)
    theirs = online_thread(session, other, online, email="bob@example.com")
    their_reply = reply(session, other, theirs)
    my_note = reply(session, shop, mine, body="private", author="note")
    my_reply = reply(session, shop, mine)
    session.commit()
    # Their chat token does not open this shop's endpoint (the proxy answers 401).
    assert chat_tokens.verify_chat_token(chat_tokens.issue_chat_token(other, theirs), shop) is None
    with pytest.raises(service.MessageRefused) as refused:
        service.mark_seen(session, shop, theirs, their_reply.id)
    assert refused.value.status == 404
    # Another thread's message, a note, nonsense: not this chat's to mark.
    for bad in (their_reply.id, my_note.id, 10**12, "1 or 1=1", None, True, -1, 2**70):
        assert service.mark_seen(session, shop, mine, bad) is False
    session.commit()
    session.refresh(mine)
    session.refresh(theirs)
    assert mine.shopper_seen_message_id is None
    assert theirs.shopper_seen_message_id is None
    age(session, their_reply, 10)
    age(session, my_reply, 10)
    assert owed(session, shop) == [their_reply.id, my_reply.id]


def test_an_offline_reply_whose_job_was_lost_but_then_seen_is_not_emailed(session, shop, online):
    conversation = service.start_conversation(session, shop, email="away@example.com")
    answer = reply(session, shop, conversation)
    assert answer.email_due is True
    session.commit()
    age(session, answer, 3)
    assert owed(session, shop) == [answer.id]  # its job was lost: enqueued again
    online.add(conversation.id)  # they came back and read it in the chat
    assert service.mark_seen(session, shop, conversation, answer.id) is True
    session.commit()
    assert owed(session, shop) == []
    assert queue_reply_email(session, answer.id).startswith("not sent")
    session.commit()
    assert emails(session) == 0
