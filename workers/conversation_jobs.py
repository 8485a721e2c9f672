"""Conversation jobs: the periodic sweep that re-enqueues reply emails whose job was lost
(the job itself is `shopify_app.conversations.email_replies.send_reply_email`)."""

from __future__ import annotations

from shopify_app.conversations import notify, service
from shopify_app.db import get_session


def sweep_reply_emails() -> int:
    """Periodic: enqueue the reply-email job again for each staff reply still owed its
    email. The job is idempotent (one email per reply), so a duplicate is harmless.
    Returns how many were enqueued."""
    owed = service.reply_emails_owed(get_session())
    for message_id in owed:
        notify.enqueue_reply_email(message_id)
    return len(owed)
