"""`POST /inbound/delivery-status` over HTTP (issue 21, D3): real DSN (RFC 3464) and ARF
(RFC 5965) bodies, signed as the inbound mail endpoint's, about emails the worker sent into
the devstore's mailbox; and the devstore's Bounce / Mark as spam buttons, which run the
whole loop."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from devstore.signing import sign_inbound_mail
from shopify_app.config import DEV_INBOUND_EMAIL_SECRET
from shopify_app.conversations import service
from shopify_app.conversations.email_replies import reply_address
from shopify_app.db import get_session
from shopify_app.emails import queue_email
from shopify_app.models import EmailMessage, EmailSuppression, Shop
from tests.conftest import SHOP_A, SHOP_B
from tests.support import app_like, close_app

from .test_program_pages import get
from .webhook_support import install, rows, run_jobs

DOMAIN = "inbound.localhost"

# A Postfix bounce, as it arrives (the third part: the original's headers).
POSTFIX_BOUNCE = """\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {sender}
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Message-ID: <20261205014500.4C1F2@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4C1F2.1733362500/mx.example.net"

This is a MIME-encapsulated message.

--4C1F2.1733362500/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{rcpt}>: host mail.example.com[203.0.113.7] said: 550 5.1.1
    <{rcpt}>: Recipient address rejected: User unknown (in reply to RCPT TO
    command)

--4C1F2.1733362500/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 4C1F2
X-Postfix-Sender: rfc822; {sender}
Arrival-Date: Sat,  5 Dec 2026 01:44:58 +0000 (UTC)

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; {diagnostic}

--4C1F2.1733362500/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: {sender}
To: {rcpt}
Subject: Your reward
Message-ID: {message_id}
X-Referrals-Email-Id: {email_id}

--4C1F2.1733362500/mx.example.net--
"""

# An ARF complaint from a mailbox provider's feedback loop (RFC 5965 § 5, the example).
ARF_COMPLAINT = """\
From: <abusedesk@example.com>
Date: Sat, 5 Dec 2026 01:50:00 +0000
Subject: FW: Your reward
To: <{sender}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Sat, 5 Dec 2026 01:40:00 +0000.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <{sender}>
Original-Rcpt-To: <{rcpt}>
Arrival-Date: Sat, 5 Dec 2026 01:40:00 +0000
Reported-Domain: example.org
Source-IP: 192.0.2.1

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: <{sender}>
Received: from mailserver.example.net (mailserver.example.net [192.0.2.1])
        by example.com with ESMTP id M63d4137594e46;
        Sat, 5 Dec 2026 01:40:00 +0000
To: <{rcpt}>
Subject: Your reward
MIME-Version: 1.0
Message-ID: {message_id}
Date: Sat, 5 Dec 2026 01:39:00 +0000
Content-Type: text/plain

Your reward code is ...

--part1_13d.2e68ed54_boundary--
"""

BOUNCE = ("failed", "5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown")
DELAY = ("delayed", "4.4.1", "421 4.4.1 Connection timed out")
DELIVERED = ("delivered", "2.0.0", "250 2.0.0 OK queued as 9A8B7")


def signed_headers(body: bytes, *, secret: str = DEV_INBOUND_EMAIL_SECRET):
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "message/rfc822",
        "X-Inbound-Timestamp": timestamp,
        "X-Inbound-Signature": sign_inbound_mail(secret, timestamp, body),
    }


def sent_email(live, shop_domain: str, to: str, key: str = "reward:1") -> EmailMessage:
    """An email of `shop_domain`'s, sent by the worker into the devstore mailbox."""
    install(live, shop_domain)
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == shop_domain)).one()
        message, _ = queue_email(
            session,
            shop,
            kind="reward",
            to=to,
            subject="Your reward",
            body="Your code is THANKS-1.",
            dedupe_key=key,
        )
        session.commit()
        email_id = message.id
    run_jobs(live.app)
    return email(live, email_id)


def email(live, email_id: int) -> EmailMessage:
    [found] = rows(live.app, EmailMessage, EmailMessage.id == email_id)
    return found


def suppressions(live, shop_domain: str) -> list[EmailSuppression]:
    with live.app.app_context():
        shop = get_session().scalars(select(Shop).where(Shop.domain == shop_domain)).one()
    return rows(live.app, EmailSuppression, EmailSuppression.shop_id == shop.id)


def dsn(message: EmailMessage, kind=BOUNCE, *, rcpt: str | None = None, message_id=None) -> bytes:
    action, status, diagnostic = kind
    rcpt = rcpt or message.to_address
    return POSTFIX_BOUNCE.format(
        sender=message.sender,
        rcpt=rcpt,
        action=action,
        status=status,
        diagnostic=diagnostic.format(rcpt=rcpt),
        message_id=message_id or message.message_id_header,
        email_id=message.id,
    ).encode()


def arf(message: EmailMessage) -> bytes:
    return ARF_COMPLAINT.format(
        sender=message.sender, rcpt=message.to_address, message_id=message.message_id_header
    ).encode()


def post(live, body: bytes, headers=None, path="/inbound/delivery-status"):
    return live.http.post(
        f"{live.app_url}{path}", content=body, headers=headers or signed_headers(body)
    )


def test_a_sent_email_keeps_its_message_id_and_sender(live):
    message = sent_email(live, SHOP_A, "ada@example.com")
    [received] = live.devstore.extensions["devstore_mailbox"].to("ada@example.com")
    assert message.status == "sent"
    assert received.headers["Message-ID"] == message.message_id_header
    assert message.sender == received.headers["From"] == live.app.config["MAIL_FROM"]


def test_a_hard_bounce_reads_bounced_with_its_diagnostic_and_suppresses_once(live, caplog):
    message = sent_email(live, SHOP_A, "ada@example.com")
    body = dsn(message)
    caplog.set_level(logging.INFO, logger="shopify_app.inbound.views")
    response = post(live, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == {
        "status": "recorded",
        "reason": "bounced",
        "outcome": "bounced",
        "email_id": message.id,
        "suppressed": True,
    }
    bounced = email(live, message.id)
    assert (bounced.status, bounced.delivery_status) == ("sent", "bounced")
    assert bounced.delivery_detail.startswith("The address does not exist (5.1.1;")
    assert "User unknown" in bounced.delivery_detail
    [entry] = suppressions(live, SHOP_A)
    assert (entry.email, entry.reason, entry.source) == ("ada@example.com", "bounced", "bounce")

    again = post(live, body)  # the provider retries: nothing changes twice
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(suppressions(live, SHOP_A)) == 1
    assert email(live, message.id).delivery_reported_at == bounced.delivery_reported_at
    assert "ada@example.com" not in caplog.text  # the log names no address


def test_a_delayed_report_leaves_the_email_sent_and_a_delivered_one_says_delivered(live):
    message = sent_email(live, SHOP_A, "ada@example.com")
    delayed = post(live, dsn(message, DELAY))
    assert delayed.status_code == 200 and delayed.json()["status"] == "unchanged"
    assert email(live, message.id).delivery_status is None
    assert suppressions(live, SHOP_A) == []

    delivered = post(live, dsn(message, DELIVERED))
    assert delivered.json()["status"] == "recorded"
    assert email(live, message.id).delivery_status == "delivered"
    assert suppressions(live, SHOP_A) == []


def test_a_complaint_reads_complained_suppresses_and_a_late_delivered_does_not_undo_it(live):
    message = sent_email(live, SHOP_A, "ada@example.com")
    response = post(live, arf(message))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "complained"
    assert email(live, message.id).delivery_status == "complained"
    [entry] = suppressions(live, SHOP_A)
    assert (entry.reason, entry.source) == ("complained", "complaint")
    late = post(live, dsn(message, DELIVERED))
    assert late.json()["status"] == "unchanged"
    assert email(live, message.id).delivery_status == "complained"


def test_unsigned_or_wrongly_signed_reports_are_refused(live):
    message = sent_email(live, SHOP_A, "ada@example.com")
    body = dsn(message)
    for headers in (
        {"Content-Type": "message/rfc822"},
        signed_headers(body, secret="not-the-inbound-secret-at-all-000"),
        signed_headers(body + b" "),
    ):
        assert post(live, body, headers).status_code == 401
    assert (
        post(live, body, {**signed_headers(body), "Content-Type": "text/plain"}).status_code == 415
    )
    assert email(live, message.id).delivery_status is None
    assert suppressions(live, SHOP_A) == []


def test_unknown_and_mismatched_reports_are_dropped_and_logged(live, caplog):
    ours = sent_email(live, SHOP_A, "ada@example.com")
    caplog.set_level(logging.WARNING, logger="shopify_app.inbound.views")
    cases = [
        (
            dsn(ours, message_id="<guessed@referrals.local>"),
            "no email of the app has this Message-ID",
        ),
        (dsn(ours, rcpt="eve@example.com"), "the report is about another recipient"),
        (
            b"From: x@example.com\r\nSubject: hi\r\n\r\nnot a report\r\n",
            "not a delivery status notification",
        ),
    ]
    for body, reason in cases:
        response = post(live, body)
        assert response.status_code == 202, reason
        assert response.json()["status"] == "dropped" and response.json()["reason"] == reason
        assert reason in caplog.text
    assert email(live, ours.id).delivery_status is None
    assert suppressions(live, SHOP_A) == []


def _chat_reply_email(live, shop_domain: str, shopper: str) -> tuple[int, EmailMessage]:
    """A staff reply in a chat, emailed from the conversation's reply address."""
    install(live, shop_domain)
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == shop_domain)).one()
        conversation = service.start_conversation(session, shop, email=shopper)
        service.post_message(
            session, shop, conversation, author="shopper", body="Hello?", channel="widget"
        )
        service.post_message(
            session, shop, conversation, author="staff", body="Hi!", channel="admin"
        )
        session.commit()
        conversation_id, shop_id = conversation.id, shop.id
    run_jobs(live.app)
    [message] = rows(
        live.app,
        EmailMessage,
        EmailMessage.shop_id == shop_id,
        EmailMessage.kind == "conversation_reply",
    )
    return conversation_id, message


def test_a_bounce_to_a_chat_reply_address_through_inbound_email_is_recorded(live):
    conversation_id, message = _chat_reply_email(live, SHOP_A, "ada@example.com")
    address = reply_address(conversation_id, secret=DEV_INBOUND_EMAIL_SECRET, domain=DOMAIN)
    assert message.sender.endswith(f"<{address}>")
    response = post(live, dsn(message), path="/inbound/email")
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "bounced"
    assert email(live, message.id).delivery_status == "bounced"


def test_another_shops_email_is_never_touched(live):
    ours_id, _ours = _chat_reply_email(live, SHOP_A, "ada@example.com")
    theirs = sent_email(live, SHOP_B, "eve@example.com", key="reward:b")
    # Shop B's email's Message-ID, bounced to shop A's conversation reply address.
    body = dsn(theirs).replace(
        theirs.sender.encode(),
        reply_address(ours_id, secret=DEV_INBOUND_EMAIL_SECRET, domain=DOMAIN).encode(),
    )
    response = post(live, body, path="/inbound/email")
    assert response.status_code == 202
    assert response.json()["reason"] == "no email of the app has this Message-ID"
    # Shop B's Message-ID with shop A's recipient, straight to the endpoint.
    crossed = post(live, dsn(theirs, rcpt="ada@example.com"))
    assert crossed.status_code == 202
    assert email(live, theirs.id).delivery_status is None
    assert suppressions(live, SHOP_A) == [] and suppressions(live, SHOP_B) == []


def test_the_devstore_mailbox_bounce_and_spam_buttons_run_the_loop(live):
    first = sent_email(live, SHOP_A, "ada@example.com", key="reward:1")
    second = sent_email(live, SHOP_A, "bob@example.com", key="reward:2")
    mailbox = live.devstore.extensions["devstore_mailbox"]
    [to_ada] = mailbox.to("ada@example.com")
    [to_bob] = mailbox.to("bob@example.com")
    page = live.http.get(f"{live.devstore_url}/mailbox")
    assert f'action="/mailbox/{to_ada.id}/report"' in page.text
    sent = live.http.post(
        f"{live.devstore_url}/mailbox/{to_ada.id}/report", data={"kind": "bounce"}
    )
    assert sent.status_code == 302
    live.http.post(f"{live.devstore_url}/mailbox/{to_bob.id}/report", data={"kind": "complaint"})
    assert email(live, first.id).delivery_status == "bounced"
    assert email(live, second.id).delivery_status == "complained"
    kept = [m for m in mailbox.messages if m.direction == "sent"]
    assert [m.delivery for m in kept] == ["200 recorded: bounced", "200 recorded: complained"]
    assert {s.email for s in suppressions(live, SHOP_A)} == {"ada@example.com", "bob@example.com"}
    assert (
        live.http.post(
            f"{live.devstore_url}/mailbox/nope/report", data={"kind": "bounce"}
        ).status_code
        == 404
    )


def test_the_emails_page_filters_and_words_the_reported_states(live):
    bounced = sent_email(live, SHOP_A, "ada@example.com", key="reward:1")
    delivered = sent_email(live, SHOP_A, "bob@example.com", key="reward:2")
    post(live, dsn(bounced))
    post(live, dsn(delivered, DELIVERED))
    page = get(live, "/emails", status="bounced")
    assert page.status_code == 200
    assert f'id="email-{bounced.id}"' in page.text and f'id="email-{delivered.id}"' not in page.text
    row = page.text[page.text.index(f'id="email-{bounced.id}"') :]
    assert '<span class="badge failed">Bounced</span>' in row
    assert "The address does not exist (5.1.1;" in row
    assert f"from {bounced.sender}".replace("<", "&lt;").replace(">", "&gt;") in row
    shown = get(live, "/emails", status="delivered").text
    assert (
        f'id="email-{delivered.id}"' in shown and '<span class="badge completed">Delivered' in shown
    )
    # Another shop's staff see none of it.
    install(live, SHOP_B)
    assert f'id="email-{bounced.id}"' not in get(live, "/emails", shop=SHOP_B).text


def test_during_a_rotation_the_previous_secret_still_signs(live):
    message = sent_email(live, SHOP_A, "ada@example.com")
    rotated = app_like(
        live.app,
        INBOUND_EMAIL_SECRET="the-new-inbound-secret-0123456789abcdef",
        INBOUND_EMAIL_SECRET_OLD=DEV_INBOUND_EMAIL_SECRET,
    )
    try:
        client = rotated.test_client()
        body = dsn(message, DELIVERED)
        old = client.post("/inbound/delivery-status", data=body, headers=signed_headers(body))
        assert old.status_code == 200 and old.json["status"] == "recorded"
        stranger = signed_headers(body, secret="not-the-inbound-secret-at-all-000")
        assert (
            client.post("/inbound/delivery-status", data=body, headers=stranger).status_code == 401
        )
    finally:
        close_app(rotated)
    assert email(live, message.id).delivery_status == "delivered"
