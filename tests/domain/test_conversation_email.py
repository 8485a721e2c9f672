"""The email loop (issue 19, item 4): a staff reply goes out once, from the conversation's
signed reply address, threaded; the shopper's answer threads back into that conversation
and nowhere else.

The reply is sent over real SMTP to the devstore's mailbox (aiosmtpd), so the headers
asserted are the ones a mail client receives."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage as Mime
from email.utils import parseaddr

import pytest
from sqlalchemy import func, select

from devstore.mailbox import Mailbox, start_smtp
from shopify_app import jobs
from shopify_app.conversations import email_replies, notify, service
from shopify_app.conversations.email_replies import (
    BadReplyToken,
    conversation_id_from_address,
    queue_reply_email,
    reply_address,
)
from shopify_app.emails import delivery
from shopify_app.inbound.mail import parse_mail, strip_quoted
from shopify_app.inbound.routing import receive_mail
from shopify_app.models import ConversationMessage, EmailMessage, StaffMember

from .. import factories

SECRET = "devstore-inbound-secret-not-for-production"
DOMAIN = "inbound.localhost"


@pytest.fixture
def quiet(monkeypatch) -> list[int]:
    """No realtime channel in a domain test: announcements are dropped, nobody is online."""
    monkeypatch.setattr(notify, "publish_message", lambda *a, **k: None)
    monkeypatch.setattr(notify, "is_online", lambda *_: False)
    queued: list[int] = []
    monkeypatch.setattr(notify, "enqueue_reply_email", queued.append)
    return queued


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = start_smtp(box)
    yield box, controller.port
    controller.stop()


@pytest.fixture
def mailbox(smtp, domain_app, monkeypatch) -> Mailbox:
    box, port = smtp
    box.clear()
    monkeypatch.setitem(domain_app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    return box


def staff(session, shop) -> StaffMember:
    row = StaffMember(
        shop_id=shop.id, user_id=factories.next_id(), first_name="Grace", last_name="Hopper"
    )
    session.add(row)
    session.flush()
    return row


def thread(session, shop, *, email="ada@example.com", locale=None):
    conversation = service.start_conversation(session, shop, email=email, locale=locale)
    first = service.post_message(
        session,
        shop,
        conversation,
        author="shopper",
        body="Where is my order?",
        channel="widget",
    )
    return conversation, first


def deliver(session, email_id: int) -> str:
    return delivery.deliver(
        session,
        email_id,
        invitation_refusal=lambda *_: None,
        compose=email_replies.compose_reply,
    )


def test_a_staff_reply_is_emailed_once_from_the_signed_reply_address_threaded(
    session, shop, quiet, mailbox, enqueued
):
    shop.name = "Kukka & Co"
    conversation, _first = thread(session, shop)
    grace = staff(session, shop)
    reply = service.post_message(
        session,
        shop,
        conversation,
        author="staff",
        body="It ships <b>tomorrow</b> & arrives Friday.",
        channel="admin",
        staff=grace,
    )
    session.commit()
    assert quiet == [reply.id]  # the service asked for the email (nobody online)

    assert email_replies.send_reply_email(reply.id) == "queued"
    session.refresh(reply)
    assert reply.email_message_id and reply.email_message_id.endswith(f"@{DOMAIN}>")
    [email] = session.scalars(select(EmailMessage).where(EmailMessage.shop_id == shop.id)).all()
    assert (email.kind, email.to_address) == ("conversation_reply", "ada@example.com")
    assert enqueued.calls(jobs.DELIVER_EMAIL) == [(email.id,)]
    assert deliver(session, email.id) == "sent"

    [mail] = mailbox.to("ada@example.com")
    name, sender = parseaddr(mail.headers["From"])
    address = reply_address(conversation.id, secret=SECRET, domain=DOMAIN)
    assert (name, sender) == ("Kukka & Co", address)
    assert parseaddr(mail.headers["Reply-To"])[1] == address
    assert mail.headers["Message-ID"] == reply.email_message_id
    assert mail.subject == "Your conversation with Kukka & Co"
    assert "It ships <b>tomorrow</b> & arrives Friday." in mail.text  # text part: as written
    assert "Grace, Kukka & Co" in mail.text
    assert "Hopper" not in mail.text  # the shopper sees a first name only


def test_the_html_part_shows_the_message_as_text(session, shop, quiet, mailbox):
    conversation, _ = thread(session, shop)
    reply = service.post_message(
        session,
        shop,
        conversation,
        author="staff",
        body='<img src=x onerror="alert(1)"> hi',
        channel="admin",
    )
    session.commit()
    queue_reply_email(session, reply.id)
    session.commit()
    email = session.scalar(select(EmailMessage).where(EmailMessage.shop_id == shop.id))
    composed = email_replies.compose_reply(session, email)
    assert composed is not None and composed.html is not None
    assert "<img" not in composed.html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; hi" in composed.html


def test_a_retried_job_and_a_retried_send_send_nothing_twice(
    session, shop, quiet, mailbox, enqueued
):
    conversation, _ = thread(session, shop)
    reply = service.post_message(
        session, shop, conversation, author="staff", body="Done.", channel="admin"
    )
    session.commit()
    assert email_replies.send_reply_email(reply.id) == "queued"
    session.refresh(reply)
    first_id = reply.email_message_id
    assert email_replies.send_reply_email(reply.id) == "already queued"  # RQ's retry
    session.refresh(reply)
    assert reply.email_message_id == first_id
    emails = session.scalars(select(EmailMessage).where(EmailMessage.shop_id == shop.id)).all()
    assert len(emails) == 1
    assert len(enqueued.calls(jobs.DELIVER_EMAIL)) == 1
    assert deliver(session, emails[0].id) == "sent"
    assert deliver(session, emails[0].id).startswith("not claimed")  # the sweeper's copy
    assert len(mailbox.to("ada@example.com")) == 1


def test_a_later_reply_answers_the_shoppers_last_mail_and_references_the_thread(
    session, shop, quiet, mailbox
):
    conversation, _ = thread(session, shop, locale="fi-FI")
    first = service.post_message(
        session, shop, conversation, author="staff", body="Hei!", channel="admin"
    )
    session.commit()
    queue_reply_email(session, first.id)
    session.commit()
    answer = service.post_message(
        session,
        shop,
        conversation,
        author="shopper",
        body="Kiitos",
        channel="email",
        email_message_id="<answer-1@mail.example>",
    )
    second = service.post_message(
        session, shop, conversation, author="staff", body="Ole hyvä", channel="admin"
    )
    session.commit()
    queue_reply_email(session, second.id)
    session.commit()
    emails = session.scalars(
        select(EmailMessage).where(EmailMessage.shop_id == shop.id).order_by(EmailMessage.id)
    ).all()
    for email in emails:
        assert deliver(session, email.id) == "sent"
    mails = mailbox.to("ada@example.com")
    assert [m.subject for m in mails] == [f"Keskustelusi: {shop.name}"] * 2  # locale fi
    assert "In-Reply-To" not in mails[0].headers  # the first mail of the thread
    assert mails[1].headers["In-Reply-To"] == answer.email_message_id
    session.refresh(first)
    assert mails[1].headers["References"].split() == [
        first.email_message_id,
        "<answer-1@mail.example>",
    ]
    assert "vastauksesi tulee samaan keskusteluun" in mails[1].text


def test_notes_and_shopper_messages_are_never_emailed(session, shop, quiet, enqueued):
    conversation, first = thread(session, shop)
    note = service.post_message(
        session, shop, conversation, author="note", body="VIP customer", channel="admin"
    )
    session.commit()
    assert queue_reply_email(session, note.id).startswith("not sent")
    assert queue_reply_email(session, first.id).startswith("not sent")
    assert queue_reply_email(session, 10**9) == "gone"
    session.commit()
    assert session.scalar(select(func.count()).select_from(EmailMessage)) == 0
    assert enqueued.calls(jobs.DELIVER_EMAIL) == []


def test_the_reply_address_is_signed_and_checked_in_constant_time():
    address = reply_address(42, secret=SECRET, domain=DOMAIN)
    local = address.partition("@")[0]
    assert local.startswith("reply+42.")
    assert conversation_id_from_address(address.upper(), secret=SECRET, domain=DOMAIN) == 42
    tampered = address.replace("reply+42.", "reply+43.")
    with pytest.raises(BadReplyToken):
        conversation_id_from_address(tampered, secret=SECRET, domain=DOMAIN)
    with pytest.raises(BadReplyToken):
        conversation_id_from_address(address, secret="another-secret", domain=DOMAIN)
    with pytest.raises(BadReplyToken):
        conversation_id_from_address(f"reply+42@{DOMAIN}", secret=SECRET, domain=DOMAIN)
    assert conversation_id_from_address(address, secret=SECRET, domain="other.example") is None
    # a rotation: addresses in mails sent before it still name their conversation
    rotated = ("the-new-inbound-secret-0123456789abcdef", SECRET)
    assert conversation_id_from_address(address, secret=rotated, domain=DOMAIN) == 42
    assert conversation_id_from_address("ada@example.com", secret=SECRET, domain=DOMAIN) is None


# --- inbound ------------------------------------------------------------------------------


def inbound(
    *,
    sender: str = "ada@example.com",
    to: str | None = None,
    body: str = "Thanks, that works!",
    message_id: str = "<answer@mail.example>",
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachment: bytes | None = None,
) -> bytes:
    mime = Mime()
    mime["From"] = f"Ada <{sender}>"
    mime["To"] = to or "someone@example.com"
    mime["Subject"] = "Re: Your conversation"
    mime["Message-ID"] = message_id
    if in_reply_to:
        mime["In-Reply-To"] = in_reply_to
    if references:
        mime["References"] = references
    for name, value in (headers or {}).items():
        mime[name] = value
    mime.set_content(
        f"{body}\n\nOn Sat, 5 Dec 2026 at 01:02, Shop <reply@x> wrote:\n> Where is my order?\n"
    )
    if attachment is not None:
        mime.add_attachment(attachment, maintype="image", subtype="png", filename="a.png")
    return mime.as_bytes()


def receive(session, raw: bytes):
    outcome = receive_mail(session, parse_mail(raw), secret=SECRET, domain=DOMAIN)
    session.commit()
    return outcome


def messages(session, conversation) -> list[ConversationMessage]:
    return list(
        session.scalars(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation.id)
            .order_by(ConversationMessage.id)
        )
    )


def count_messages(session) -> int:
    return session.scalar(select(func.count()).select_from(ConversationMessage))


def test_a_reply_to_the_reply_address_threads_into_its_conversation_quotes_stripped(
    session, shop, quiet
):
    conversation, _ = thread(session, shop)
    other, _ = thread(session, shop, email="bob@example.com")
    session.commit()
    to = reply_address(conversation.id, secret=SECRET, domain=DOMAIN)
    outcome = receive(session, inbound(to=f"Shop <{to}>"))
    assert (outcome.status, outcome.conversation_id) == ("accepted", conversation.id)
    last = messages(session, conversation)[-1]
    assert (last.author, last.channel, last.body) == ("shopper", "email", "Thanks, that works!")
    assert last.email_message_id == "<answer@mail.example>"
    assert len(messages(session, other)) == 1
    assert quiet == []  # a shopper's message is never emailed back

    again = receive(session, inbound(to=to))  # the provider's retry, or a replay
    assert (again.status, again.message_id) == ("duplicate", last.id)
    assert len(messages(session, conversation)) == 2


def test_without_a_reply_address_in_reply_to_finds_the_thread(session, shop, quiet):
    conversation, _ = thread(session, shop)
    reply = service.post_message(
        session, shop, conversation, author="staff", body="Hi", channel="admin"
    )
    session.commit()
    queue_reply_email(session, reply.id)
    session.commit()
    outcome = receive(session, inbound(in_reply_to=reply.email_message_id))
    assert (outcome.status, outcome.conversation_id) == ("accepted", conversation.id)


def test_bad_inbound_mail_is_dropped_never_attached(session, shop, quiet):
    conversation, _ = thread(session, shop)
    theirs = factories.shop(session)
    their_conversation, _ = thread(session, theirs, email="eve@example.com")
    their_reply = service.post_message(
        session, theirs, their_conversation, author="staff", body="Hi Eve", channel="admin"
    )
    session.commit()
    queue_reply_email(session, their_reply.id)
    session.commit()
    ours = reply_address(conversation.id, secret=SECRET, domain=DOMAIN)
    before = count_messages(session)
    cases = [
        (
            "a reply address with a bad signature",
            inbound(
                to=ours.replace(f"reply+{conversation.id}.", f"reply+{their_conversation.id}.")
            ),
        ),
        (
            "unknown conversation",
            inbound(to=reply_address(10**9, secret=SECRET, domain=DOMAIN), message_id="<u@x>"),
        ),
        (
            "the sender is not the conversation's email",
            inbound(to=ours, sender="mallory@example.com", message_id="<m@x>"),
        ),
        ("no reply address, In-Reply-To or References", inbound(message_id="<n@x>")),
        ("unknown conversation", inbound(in_reply_to="<never-sent@x>", message_id="<r@x>")),
        (
            "an automatic reply (Auto-Submitted / Precedence)",
            inbound(to=ours, headers={"Auto-Submitted": "auto-replied"}, message_id="<a@x>"),
        ),
    ]
    for reason, raw in cases:
        outcome = receive(session, raw)
        assert (outcome.status, outcome.reason) == ("dropped", reason), reason
    # another shop's Message-ID, from the address of this shop's shopper
    foreign = receive(
        session, inbound(in_reply_to=their_reply.email_message_id, message_id="<f@x>")
    )
    assert (foreign.status, foreign.reason) == (
        "dropped",
        "the sender is not the conversation's email",
    )
    # two conversations named at once
    both = receive(
        session,
        inbound(
            to=f"{ours}, {reply_address(their_conversation.id, secret=SECRET, domain=DOMAIN)}",
            message_id="<b@x>",
        ),
    )
    assert both.reason == "reply addresses of more than one conversation"
    assert count_messages(session) == before


def test_a_message_id_taken_by_another_conversation_is_not_a_way_in(session, shop, quiet):
    conversation, _ = thread(session, shop)
    bobs, _ = thread(session, shop, email="bob@example.com")
    bobs_reply = service.post_message(
        session, shop, bobs, author="staff", body="Hi Bob", channel="admin"
    )
    session.commit()
    queue_reply_email(session, bobs_reply.id)
    session.commit()
    outcome = receive(
        session,
        inbound(
            to=reply_address(conversation.id, secret=SECRET, domain=DOMAIN),
            message_id=bobs_reply.email_message_id,
        ),
    )
    assert (outcome.status, outcome.reason) == (
        "dropped",
        "its Message-ID belongs to another conversation",
    )
    assert len(messages(session, conversation)) == 1


def test_attachments_are_not_kept_and_an_empty_reply_is_dropped(session, shop, quiet):
    conversation, _ = thread(session, shop)
    session.commit()
    to = reply_address(conversation.id, secret=SECRET, domain=DOMAIN)
    with_file = receive(session, inbound(to=to, attachment=b"\x89PNG fake"))
    assert with_file.status == "accepted"
    body = messages(session, conversation)[-1].body
    assert body == "Thanks, that works!\n\n[1 attachment not kept: the chat takes text only]"
    empty = receive(session, inbound(to=to, body="", message_id="<e@x>"))
    assert (empty.status, empty.reason) == ("dropped", "no new text above the quoted thread")


def test_a_long_mail_is_cut_to_the_chats_limit(session, shop, quiet):
    conversation, _ = thread(session, shop)
    session.commit()
    to = reply_address(conversation.id, secret=SECRET, domain=DOMAIN)
    assert receive(session, inbound(to=to, body="word " * 3000)).status == "accepted"
    assert len(messages(session, conversation)[-1].body) == service.MAX_BODY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Sat, 5 Dec 2026, Shop <a@b> wrote:\n> old\n> older\n", "Thanks!"),
        ("Kiitos!\n\nLa 5.12.2026 klo 1.02 Kauppa <a@b> kirjoitti:\n> vanha\n", "Kiitos!"),
        ("Yes\n> quoted without attribution\n", "Yes"),
        ("Line one\n> a quote I answer\nmy answer\n", "Line one\n> a quote I answer\nmy answer"),
        ("Only text", "Only text"),
        # a line longer than any attribution reaches the library as a placeholder, kept
        ("On " * 300 + "\n\nOn Sat, Shop wrote:\n> x", ("On " * 300).strip()),
    ],
)
def test_quoted_text_is_stripped(text, expected):
    assert strip_quoted(text) == expected


def test_an_html_only_mail_is_read_as_text_without_its_blockquote():
    mime = Mime()
    mime["From"] = "ada@example.com"
    mime["To"] = "x@y"
    mime["Message-ID"] = "<h@x>"
    mime.set_content(
        "<div>See you <b>soon</b> &amp; thanks</div><blockquote>old thread</blockquote>",
        subtype="html",
    )
    assert parse_mail(mime.as_bytes()).text == "See you soon & thanks"


def test_a_reply_without_a_chat_language_is_in_the_shops_primary_language(
    session, shop, quiet, mailbox, domain_app
):
    """No language from the chat: the customer's email language, then the shop's primary
    language (`Shop.primary_locale`), in the text and the HTML alike."""
    shop.primary_locale = "fi"
    conversation, _ = thread(session, shop, email="aino@example.com")
    reply = service.post_message(
        session, shop, conversation, author="staff", body="Hei!", channel="admin"
    )
    english, _ = thread(session, shop, email="ada@example.com", locale="en-GB")
    other = service.post_message(
        session, shop, english, author="staff", body="Hello!", channel="admin"
    )
    session.commit()
    queue_reply_email(session, reply.id)
    queue_reply_email(session, other.id)
    session.commit()
    emails = session.scalars(
        select(EmailMessage).where(EmailMessage.shop_id == shop.id).order_by(EmailMessage.id)
    ).all()
    assert [e.subject for e in emails] == [
        f"Keskustelusi: {shop.name}",
        f"Your conversation with {shop.name}",
    ]
    for email in emails:
        assert deliver(session, email.id) == "sent"
    [mail] = mailbox.to("aino@example.com")
    assert mail.subject == f"Keskustelusi: {shop.name}"
    with domain_app.app_context():
        composed = email_replies.compose_reply(session, emails[0])
    assert '<html lang="fi">' in composed.html
