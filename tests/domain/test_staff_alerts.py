"""Staff notifications (issue 20, F7) in the domain: the unread count of the navigation
(scoped by shop, archived left out) and the email to a conversation's assignee about a
shopper message unread past the shop's delay: the delay respected, once per unread streak,
never after staff read or replied, never for an unassigned conversation, an assignee without
an address or another shop's staff member, off at 0, a new streak after a read emailed again,
and the settings' validation. Concurrent sweeps: tests/integration/test_staff_notifications.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shopify_app import jobs
from shopify_app.conversations import notify, service, staff_alerts
from shopify_app.models import ConversationMessage, EmailMessage, StaffMember, utcnow

from .. import factories
from ..helpers import API_KEY


@pytest.fixture(autouse=True)
def quiet(monkeypatch) -> list[tuple]:
    """Nothing reaches Redis: announcements are recorded, every shopper counts as offline."""
    published: list[tuple] = []
    monkeypatch.setattr(notify, "publish_message", lambda *a, **k: published.append(("m", k)))
    monkeypatch.setattr(notify, "publish_event", lambda **k: published.append(("e", k)))
    monkeypatch.setattr(notify, "is_online", lambda _shop, _conv: False)
    monkeypatch.setattr(notify, "enqueue_reply_email", lambda _id: None)
    return published


def staff(
    session, shop, email: str | None = "grace@example.com", first_name="Grace", may_chat=True
):
    member = StaffMember(
        shop_id=shop.id,
        user_id=factories.next_id(),
        first_name=first_name,
        email=email,
        chat_permission=may_chat,
    )
    session.add(member)
    session.flush()
    return member


def thread(session, shop, *bodies, assignee=None, name="Mia", email="mia@example.com"):
    conversation = service.start_conversation(session, shop, email=email, name=name, reuse=False)
    conversation.assigned_staff_id = assignee.id if assignee is not None else None
    for body in bodies:
        shopper_says(session, shop, conversation, body)
    session.commit()
    return conversation


def shopper_says(session, shop, conversation, body, minutes_ago: float = 0):
    message = service.post_message(
        session, shop, conversation, author="shopper", body=body, channel="widget"
    )
    message.created_at = utcnow() - timedelta(minutes=minutes_ago)
    session.commit()
    session.refresh(conversation)
    return message


def age(session, conversation, minutes: float) -> None:
    """Every message of the conversation `minutes` older."""
    for message in session.scalars(
        select(ConversationMessage).where(ConversationMessage.conversation_id == conversation.id)
    ):
        message.created_at = message.created_at - timedelta(minutes=minutes)
    session.commit()


def unread_emails(session, shop) -> list[EmailMessage]:
    return list(
        session.scalars(
            select(EmailMessage)
            .where(EmailMessage.shop_id == shop.id, EmailMessage.kind == "conversation_unread")
            .order_by(EmailMessage.id)
        )
    )


def sweep(session) -> None:
    staff_alerts.sweep_unread_emails(session)


# ---- the count in the navigation -------------------------------------------------------


def test_the_count_is_the_shops_unread_conversations_without_archived_ones(session, shop):
    other = factories.shop(session)
    thread(session, shop, "Is the teapot in stock?")
    thread(session, shop, "And the cups?", "Hello?")  # two messages: one conversation
    archived = thread(session, shop, "Old question")
    archived.archived_at = utcnow()
    read = thread(session, shop, "Read already")
    service.mark_read(session, shop, read)
    replied = thread(session, shop, "Answered")
    service.post_message(
        session,
        shop,
        replied,
        author="staff",
        body="Yes",
        channel="admin",
        staff=staff(session, shop),
    )
    thread(session, other, "Another shop's")
    thread(session, other, "Another shop's too")
    thread(session, other, "And a third")
    session.commit()
    assert staff_alerts.unread_count(session, shop) == 2
    assert staff_alerts.unread_count(session, other) == 3
    assert staff_alerts.nav_unread_count(session, None) is None


def test_a_cart_event_is_not_unread(session, shop):
    conversation = thread(session, shop)
    service.post_message(
        session,
        shop,
        conversation,
        author="system",
        body="Added Teapot to the cart",
        channel="widget",
        kind="cart",
        payload={
            "event": "added",
            "product_title": "Teapot",
            "quantity": 1,
            "currency": "EUR",
            "subtotal": "49.00",
            "lines": [{"title": "Teapot", "quantity": 1}],
            "occurred_at": utcnow().isoformat(),
        },
    )
    session.commit()
    assert staff_alerts.unread_count(session, shop) == 0


def test_reading_announces_the_change_to_staff_pages_once(session, shop, quiet):
    conversation = thread(session, shop, "Hello?")
    quiet.clear()
    service.mark_read(session, shop, conversation)
    session.commit()
    assert quiet == [
        (
            "e",
            {
                "shop_id": shop.id,
                "conversation_id": conversation.id,
                "event": "conversation",
                "data": {"unread": 0},
                "to_shopper": False,
                "to_staff": True,
            },
        )
    ]
    service.mark_read(session, shop, conversation)  # already read: nothing to announce
    session.commit()
    assert len(quiet) == 1


def test_the_staff_event_names_the_shopper(session, shop, quiet):
    conversation = thread(session, shop, name=None, email="noname@example.com")
    quiet.clear()
    shopper_says(session, shop, conversation, "Is the teapot in stock?")
    [(_, announced)] = [p for p in quiet if p[0] == "m"]
    assert announced["shopper_json"]["author"] == "shopper"
    assert "shopper" not in announced["shopper_json"]  # the shopper's own view is unchanged


# ---- the assignee's email --------------------------------------------------------------


def test_the_assignee_is_emailed_once_after_the_delay(session, shop, enqueued):
    grace = staff(session, shop)
    conversation = thread(session, shop, assignee=grace)
    shopper_says(session, shop, conversation, "Is the teapot in stock?", minutes_ago=9)
    sweep(session)
    assert unread_emails(session, shop) == []  # 9 minutes: not yet (the default is 10)
    age(session, conversation, 2)
    sweep(session)
    sweep(session)
    [email] = unread_emails(session, shop)
    assert email.to_address == "grace@example.com"
    assert email.subject == "Unread chat message from Mia"
    assert "Is the teapot in stock?" in email.body_text
    assert "Mia (mia@example.com) wrote in the chat of" in email.body_text
    assert "11 minutes ago" in email.body_text
    handle = shop.domain.removesuffix(".myshopify.com")
    url = f"/store/{handle}/apps/{API_KEY}/admin/conversations?c={conversation.id}"
    assert url in email.body_text
    assert enqueued.calls(jobs.DELIVER_EMAIL) == [(email.id,)]
    session.refresh(conversation)
    assert conversation.assignee_notified_message_id == conversation.unread_since_message_id


def test_more_messages_in_the_same_streak_are_one_email_a_new_streak_another(session, shop):
    grace = staff(session, shop)
    conversation = thread(session, shop, assignee=grace)
    first = shopper_says(session, shop, conversation, "Hello?", minutes_ago=30)
    shopper_says(session, shop, conversation, "Anyone there?", minutes_ago=20)
    session.refresh(conversation)
    assert conversation.unread_since_message_id == first.id
    sweep(session)
    shopper_says(session, shop, conversation, "Still waiting", minutes_ago=15)
    sweep(session)
    [email] = unread_emails(session, shop)
    assert "Hello?" in email.body_text and "Anyone there?" in email.body_text
    service.mark_read(session, shop, conversation)
    session.commit()
    assert conversation.unread_since_message_id is None
    again = shopper_says(session, shop, conversation, "One more thing", minutes_ago=12)
    session.refresh(conversation)
    assert conversation.unread_since_message_id == again.id
    sweep(session)
    emails = unread_emails(session, shop)
    assert len(emails) == 2 and "One more thing" in emails[1].body_text
    assert "Hello?" not in emails[1].body_text  # only the new streak is quoted


def test_no_email_once_staff_read_or_replied(session, shop):
    grace = staff(session, shop)
    read = thread(session, shop, assignee=grace)
    shopper_says(session, shop, read, "Read me", minutes_ago=30)
    service.mark_read(session, shop, read)
    replied = thread(session, shop, assignee=grace, email="bo@example.com")
    shopper_says(session, shop, replied, "Reply to me", minutes_ago=30)
    service.post_message(
        session, shop, replied, author="staff", body="Done", channel="admin", staff=grace
    )
    noted = thread(session, shop, assignee=grace, email="cy@example.com")
    shopper_says(session, shop, noted, "A note is not an answer", minutes_ago=30)
    service.post_message(
        session, shop, noted, author="note", body="Ask Bob", channel="admin", staff=grace
    )
    session.commit()
    sweep(session)
    [email] = unread_emails(session, shop)
    assert "A note is not an answer" in email.body_text


def test_no_email_without_someone_to_send_it_to(session, shop):
    """Unassigned: nobody to email (the nav count and the toast tell every staff member).
    An assignee without an address, or a staff member of another shop, get none either."""
    other = factories.shop(session)
    stranger = staff(session, other, email="stranger@example.com")
    nameless = staff(session, shop, email=None)
    for assignee, address in (
        (None, "a@example.com"),
        (nameless, "b@example.com"),
        (stranger, "c@example.com"),
    ):
        conversation = thread(session, shop, assignee=assignee, email=address)
        shopper_says(session, shop, conversation, "Hello?", minutes_ago=30)
    sweep(session)
    assert unread_emails(session, shop) == [] and unread_emails(session, other) == []


def test_each_shop_its_own_delay_and_zero_is_off(session, shop):
    quick = factories.shop(session, unread_email_minutes=1)
    off = factories.shop(session, unread_email_minutes=0)
    for where in (shop, quick, off):
        conversation = thread(session, where, assignee=staff(session, where))
        shopper_says(session, where, conversation, "Hello?", minutes_ago=5)
    sweep(session)
    assert len(unread_emails(session, quick)) == 1
    assert unread_emails(session, shop) == []  # 10 minutes by default
    assert unread_emails(session, off) == []


def test_old_streaks_are_not_emailed_about(session, shop):
    conversation = thread(session, shop, assignee=staff(session, shop))
    shopper_says(session, shop, conversation, "Hello?", minutes_ago=3 * 24 * 60)
    sweep(session)
    assert unread_emails(session, shop) == []


def test_a_claimed_streak_is_not_claimed_again_and_a_stale_one_not_at_all(session, shop):
    grace = staff(session, shop)
    conversation = thread(session, shop, assignee=grace)
    shopper_says(session, shop, conversation, "Hello?", minutes_ago=30)
    [due] = [d for d in staff_alerts.emails_due(session) if d.shop_id == shop.id]
    assert staff_alerts.claim(session, due) is True
    assert staff_alerts.claim(session, due) is False  # a second sweep with the same answer
    session.rollback()
    # Read between the sweep's query and its claim: nothing is sent.
    service.mark_read(session, shop, conversation)
    session.commit()
    assert staff_alerts.email_assignee(session, due) is False
    # Reassigned meanwhile: the new assignee's streak is the next sweep's.
    shopper_says(session, shop, conversation, "Again", minutes_ago=30)
    [due] = [d for d in staff_alerts.emails_due(session) if d.shop_id == shop.id]
    conversation.assigned_staff_id = staff(session, shop, email="ida@example.com").id
    session.commit()
    assert staff_alerts.email_assignee(session, due) is False
    sweep(session)
    assert [e.to_address for e in unread_emails(session, shop)] == ["ida@example.com"]


# ---- the setting -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["0", "10", " 45 ", 10080, 0])
def test_good_delays_are_stored(session, shop, raw):
    assert staff_alerts.set_unread_email_minutes(session, shop, raw) == int(str(raw).strip())
    assert shop.unread_email_minutes == int(str(raw).strip())


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "whole number of minutes"),
        ("ten", "whole number of minutes"),
        ("-5", "whole number of minutes"),
        ("2.5", "whole number of minutes"),
        (None, "whole number of minutes"),
        (True, "whole number of minutes"),
        ([10], "whole number of minutes"),
        ("10081", "at most 10,080 minutes"),
        ("99999999999999999999", "at most 10,080 minutes"),
    ],
)
def test_bad_delays_are_refused_with_the_reason(session, shop, raw, says):
    with pytest.raises(staff_alerts.SettingRefused, match=says):
        staff_alerts.set_unread_email_minutes(session, shop, raw)
    assert shop.unread_email_minutes == 10


def test_an_assignee_who_lost_the_chat_permission_is_not_emailed(session, shop):
    shop.unread_email_minutes = 10
    member = staff(session, shop, may_chat=False)
    conversation = thread(session, shop, "Is the teapot in stock?", assignee=member)
    age(session, conversation, 11)
    sweep(session)
    assert unread_emails(session, shop) == []
    member.chat_permission = True
    session.commit()
    sweep(session)
    assert len(unread_emails(session, shop)) == 1
