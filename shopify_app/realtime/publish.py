"""Notify the realtime processes: called after the commit that stored what they announce.

Two Redis channels per shop: `rt:{shop_id}:conv:{conversation_id}` (that conversation's
shopper) and `rt:{shop_id}:staff` (every staff stream of the shop). A payload is the JSON
envelope {"event": ..., "data": {...}}; the realtime process forwards it as the SSE event of
that name. The channel only notifies: a publish that fails or reaches nobody loses nothing,
since clients catch up from the stored messages, so failures are logged, not raised.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis as redis_lib

log = logging.getLogger(__name__)

EVENTS = frozenset({"message", "typing", "presence", "conversation"})
# Authors whose messages the shopper may see (a "note" is a private staff note).
SHOPPER_VISIBLE_AUTHORS = frozenset({"shopper", "staff", "system"})


def shopper_channel(shop_id: int, conversation_id: int) -> str:
    return f"rt:{int(shop_id)}:conv:{int(conversation_id)}"


def staff_channel(shop_id: int) -> str:
    return f"rt:{int(shop_id)}:staff"


def envelope(event: str, data: dict[str, Any]) -> str:
    if event not in EVENTS:
        raise ValueError(f"unknown realtime event {event!r}: one of {sorted(EVENTS)}")
    return json.dumps({"event": event, "data": data}, separators=(",", ":"), default=str)


def publish_message(
    redis: redis_lib.Redis,
    message_json: dict[str, Any],
    *,
    shop_id: int,
    conversation_id: int,
    to_shopper: bool,
    shopper_json: dict[str, Any] | None = None,
) -> None:
    """Announce a stored message: to the shop's staff always, to the conversation's shopper
    when `to_shopper` and the message is not a note. `shopper_json` is the shopper's view of
    the message (message_json(for_shopper=True)) when it differs from the staff's."""
    staff_payload = envelope("message", message_json)
    targets = [(staff_channel(shop_id), staff_payload)]
    for_shopper = shopper_json if shopper_json is not None else message_json
    if (
        to_shopper
        and message_json.get("author") in SHOPPER_VISIBLE_AUTHORS
        and for_shopper.get("author") in SHOPPER_VISIBLE_AUTHORS
    ):
        shopper_payload = envelope("message", for_shopper)
        targets.append((shopper_channel(shop_id, conversation_id), shopper_payload))
    _publish(redis, targets)


def publish_event(
    redis: redis_lib.Redis,
    *,
    shop_id: int,
    conversation_id: int,
    event: str,
    data: dict[str, Any],
    to_shopper: bool,
    to_staff: bool,
) -> None:
    """Announce a "typing", "presence" or "conversation" event (`data` gains the
    conversation's id)."""
    if event == "message":
        raise ValueError("messages go through publish_message (it keeps notes from shoppers)")
    payload = envelope(event, {**data, "conversation_id": int(conversation_id)})
    targets = []
    if to_staff:
        targets.append((staff_channel(shop_id), payload))
    if to_shopper:
        targets.append((shopper_channel(shop_id, conversation_id), payload))
    _publish(redis, targets)


def _publish(redis: redis_lib.Redis, targets: list[tuple[str, str]]) -> None:
    if not targets:
        return
    try:
        if len(targets) == 1:
            redis.publish(*targets[0])
            return
        pipe = redis.pipeline(transaction=False)
        for channel, payload in targets:
            pipe.publish(channel, payload)
        pipe.execute()
    except redis_lib.RedisError:
        log.warning("realtime publish failed (clients catch up from the stored messages)")
