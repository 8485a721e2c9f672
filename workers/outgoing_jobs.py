"""Outgoing webhook jobs: one endpoint's deliveries, and the periodic sweep (retries that
came due, deliveries given up on); the work is in `shopify_app.outgoing.delivery`. Their
dotted paths are job names (`shopify_app.jobs`)."""

from __future__ import annotations

from shopify_app.db import get_session
from shopify_app.outgoing import delivery


def deliver_endpoint(endpoint_id: int) -> str:
    """Send the endpoint's due deliveries (nothing if another job holds its lease)."""
    return delivery.drain(get_session(), endpoint_id)


def sweep_outgoing() -> dict[str, int]:
    """Start drains for retries that came due; fail deliveries older than about a day."""
    return delivery.sweep(get_session())
