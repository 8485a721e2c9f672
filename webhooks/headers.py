"""Shopify's delivery headers, under both the `X-Shopify-` and the newer `Shopify-` prefix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

REQUIRED = ("topic", "shop-domain", "webhook-id", "api-version")


def parse_timestamp(value: str | None) -> datetime | None:
    """Shopify's ISO-8601 timestamps, nanoseconds and `Z` included; None if unparseable."""
    if not value:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def shopify_header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(f"X-Shopify-{name}") or headers.get(f"Shopify-{name}")


@dataclass(frozen=True)
class DeliveryHeaders:
    topic: str
    shop_domain: str
    webhook_id: str
    api_version: str
    event_id: str | None
    triggered_at: datetime | None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> tuple[DeliveryHeaders | None, list[str]]:
        values = {name: (shopify_header(headers, name) or "").strip() for name in REQUIRED}
        missing = [f"X-Shopify-{n.title()}" for n, v in values.items() if not v]
        if missing:
            return None, missing
        return cls(
            topic=values["topic"].lower(),
            shop_domain=values["shop-domain"],
            webhook_id=values["webhook-id"][:255],
            api_version=values["api-version"][:32],
            event_id=(shopify_header(headers, "Event-Id") or None),
            triggered_at=parse_timestamp(shopify_header(headers, "Triggered-At")),
        ), []
