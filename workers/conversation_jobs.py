"""Conversation jobs: the periodic sweep that enqueues the reply emails owed (a job that was
lost, or a reply the shopper's widget never reported seen; the job itself is
`shopify_app.conversations.email_replies.send_reply_email`)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from shopify_app.conversations import notify, service, staff_alerts
from shopify_app.db import get_session


def sweep_reply_emails() -> int:
    """Periodic: enqueue the reply-email job for each staff reply still owed its email
    (`service.reply_emails_owed`). The job is idempotent (one email per reply), so a
    duplicate is harmless. Returns how many were enqueued."""
    minutes = current_app.config["CONVERSATION_UNSEEN_EMAIL_MINUTES"]
    owed = service.reply_emails_owed(get_session(), unseen_after=timedelta(minutes=minutes))
    for message_id in owed:
        notify.enqueue_reply_email(message_id)
    return len(owed)


def sweep_unread_emails() -> int:
    """Periodic: email each conversation's assignee about a shopper message unread past the
    shop's delay, once per unread streak (`staff_alerts.sweep_unread_emails`). Returns how
    many emails were queued."""
    return staff_alerts.sweep_unread_emails(get_session())
