"""What a conversation tells the world outside the database once a change is committed:
the realtime channel (`shopify_app.realtime`: publish, presence, tokens) and the reply-email
job. The one place the conversation code reaches them, imported when first used, so a
domain module or a worker that never notifies does not load them.

Each call is best effort: the stored messages are the truth and every client catches up
from them (`after=<last id>`), so a Redis outage is logged, never raised into a commit.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import current_app

from shopify_app import jobs

log = logging.getLogger(__name__)

# The job that emails a staff reply to a shopper who is not online (i19-email's module;
# enqueued by name so this package does not import it).
SEND_REPLY_EMAIL = "shopify_app.conversations.email_replies.send_reply_email"


def realtime_secret() -> str:
    """The key realtime tokens are signed with, the same in the web, worker and realtime
    processes (`realtime.tokens.realtime_secret`)."""
    from shopify_app.realtime.tokens import realtime_secret as configured

    return configured(current_app.config)


def realtime_url() -> str:
    return current_app.config["REALTIME_URL"]


def shopper_realtime_token(shop_id: int, conversation_id: int) -> str:
    from shopify_app.realtime.tokens import issue_realtime_token

    return issue_realtime_token(
        realtime_secret(), shop_id=shop_id, audience="shopper", conversation_id=conversation_id
    )


def publish_message(
    message: dict[str, Any],
    *,
    shop_id: int,
    conversation_id: int,
    to_shopper: bool,
    shopper_json: dict[str, Any] | None = None,
) -> None:
    """`message` as staff read it to the shop's staff; `shopper_json` (the shopper's view)
    to the conversation's shopper when `to_shopper` (never a note)."""
    from shopify_app.realtime import publish

    try:
        publish.publish_message(
            jobs.redis_connection(),
            message,
            shop_id=shop_id,
            conversation_id=conversation_id,
            to_shopper=to_shopper,
            shopper_json=shopper_json,
        )
    except redis.RedisError as exc:
        log.warning("message %s stored, not announced (Redis): %s", message.get("id"), exc)


def publish_event(
    *,
    shop_id: int,
    conversation_id: int,
    event: str,
    data: dict[str, Any],
    to_shopper: bool,
    to_staff: bool,
) -> None:
    from shopify_app.realtime import publish

    try:
        publish.publish_event(
            jobs.redis_connection(),
            shop_id=shop_id,
            conversation_id=conversation_id,
            event=event,
            data=data,
            to_shopper=to_shopper,
            to_staff=to_staff,
        )
    except redis.RedisError as exc:
        log.warning("%s event not announced (Redis): %s", event, exc)


def is_online(shop_id: int, conversation_id: int) -> bool:
    """Whether the shopper has the store open; False when presence cannot be read (the
    reply then goes by email too, rather than nowhere)."""
    from shopify_app.realtime import presence

    try:
        return presence.is_online(jobs.redis_connection(), shop_id, conversation_id)
    except redis.RedisError as exc:
        log.warning("presence unknown (Redis), the reply goes by email: %s", exc)
        return False


def enqueue_reply_email(message_id: int) -> None:
    """Queue the reply email, once per message (the job id is the message's)."""
    try:
        jobs.get_queue().enqueue_call(
            SEND_REPLY_EMAIL,
            args=(message_id,),
            job_id=f"conversation-reply-{message_id}",
            retry=jobs.DEFAULT_RETRY,
        )
    except redis.RedisError as exc:
        log.error("reply %s stored, its email not queued (Redis): %s", message_id, exc)
