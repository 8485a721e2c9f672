"""Reading delivery status notifications (RFC 3464 DSN, RFC 5965 ARF) and saying what they
mean in the shared vocabulary (issue 21, D3)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from devstore.mailbox import ReceivedMail, build_report
from shopify_app.inbound.dsn import is_report, parse_report, status_words
from shopify_app.referrals.vocabulary import email_badge, email_detail, email_status
from tests.integration.test_delivery_status import ARF_COMPLAINT, BOUNCE, DELAY, POSTFIX_BOUNCE

SENT = "<1f2e3d4c5b6a79881f2e3d4c5b6a7988@shop.example>"


def postfix(kind) -> bytes:
    action, status, diagnostic = kind
    return POSTFIX_BOUNCE.format(
        sender="rewards@shop.example",
        rcpt="ada@example.com",
        action=action,
        status=status,
        diagnostic=diagnostic.format(rcpt="ada@example.com"),
        message_id=SENT,
        email_id=7,
    ).encode()


def test_a_postfix_bounce():
    report = parse_report(postfix(BOUNCE))
    assert report is not None
    assert (report.outcome, report.original_message_id, report.recipients) == (
        "bounced",
        SENT,
        ("ada@example.com",),
    )
    assert report.status_code == "5.1.1" and report.permanent
    assert report.diagnostic.startswith("550 5.1.1 <ada@example.com>")  # "smtp;" dropped
    assert report.in_words().startswith("The address does not exist (5.1.1; the server said:")


def test_a_delay_is_transient_and_a_4xx_failure_is_not_permanent():
    delayed = parse_report(postfix(DELAY))
    assert delayed.outcome == "delayed" and not delayed.permanent
    soft = parse_report(postfix(("failed", "4.2.2", "452 4.2.2 Mailbox full")))
    assert soft.outcome == "bounced" and not soft.permanent
    assert soft.in_words().startswith("The mailbox is full (4.2.2;")


def test_an_arf_complaint():
    raw = ARF_COMPLAINT.format(
        sender="rewards@shop.example", rcpt="ada@example.com", message_id=SENT
    )
    report = parse_report(raw.encode())
    assert (report.outcome, report.original_message_id, report.recipients) == (
        "complained",
        SENT,
        ("ada@example.com",),
    )
    assert report.permanent


def test_original_message_id_field_without_a_third_part():
    raw = (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: rewards@shop.example\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\nOriginal-Message-ID: {SENT}\r\n\r\n"
        "Final-Recipient: rfc822; ada@example.com\r\nAction: failed\r\nStatus: 5.2.1\r\n\r\n"
        "--b--\r\n"
    ).encode()
    report = parse_report(raw)
    assert (report.original_message_id, report.outcome, report.status_code) == (
        SENT,
        "bounced",
        "5.2.1",
    )
    assert report.in_words() == "The mailbox is disabled (5.2.1)."


@pytest.mark.parametrize("kind", ["bounce", "delay", "delivered", "complaint"])
def test_the_devstores_reports_read_back(kind):
    original = ReceivedMail(
        mail_from="rewards@shop.example",
        recipients=["ada@example.com"],
        subject="Your reward",
        text="...",
        headers={"From": "rewards@shop.example", "To": "ada@example.com", "Message-ID": SENT},
    )
    raw = build_report(original, kind).as_bytes()
    assert is_report(raw)
    report = parse_report(raw)
    expected = {"bounce": "bounced", "delay": "delayed", "delivered": "delivered"}
    assert report.outcome == expected.get(kind, "complained")
    assert report.original_message_id == SENT and report.recipients == ("ada@example.com",)


def test_a_plain_mail_is_no_report():
    raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
    assert not is_report(raw) and parse_report(raw) is None


def test_status_words_for_unknown_codes_stay_sentences():
    assert status_words("5.9.99") == "the recipient's mail server refused it"
    assert status_words("5.7.1") == "the recipient's mail server refused it by its policy"


def email(status, delivery_status=None, detail=None, error=None):
    return SimpleNamespace(
        status=status, delivery_status=delivery_status, delivery_detail=detail, error=error
    )


def test_one_vocabulary_for_an_emails_state():
    assert email_status(email("sent")) == "Sent"
    assert email_status(email("sent", "delivered")) == "Delivered"
    bounced = email("sent", "bounced", "The address does not exist (5.1.1).")
    assert (email_status(bounced), email_badge(bounced)) == ("Bounced", "failed")
    assert email_detail(bounced) == "The address does not exist (5.1.1)."
    assert email_status(email("sent", "complained")) == "Complained"
    assert email_status(email("failed", error="SMTPRecipientsRefused")) == "Not delivered"
    assert email_status("queued") == "Queued"  # a state key still reads
    assert email_badge(email("sent", "delivered")) == "completed"
