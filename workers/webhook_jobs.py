"""Job entry points for the webhook inbox; the work itself is in `webhooks/`.

`process_delivery` and `drain_inbox` may be waiting in Redis across a deploy: their dotted
paths (`jobs.PROCESS_DELIVERY`, `jobs.DRAIN_INBOX`) stay as they are.
"""

from __future__ import annotations

from shopify_app.db import get_session
from webhooks import drain, processing, sweep


def process_delivery(delivery_id: int) -> str:
    """Apply one delivery (a replay); see `webhooks.processing.process_delivery`."""
    return processing.process_delivery(get_session(), delivery_id)


def drain_inbox(shop_id: int, slot: int = 0) -> dict[str, int]:
    """Apply the shop's pending deliveries; see `webhooks.drain.drain_shop`."""
    return drain.drain_shop(get_session(), shop_id, slot)


def sweep_inbox(limit: int = 1000) -> int:
    """Periodic: schedule drains for rows never processed; see `webhooks.sweep`."""
    return sweep.sweep_inbox(get_session(), limit)
