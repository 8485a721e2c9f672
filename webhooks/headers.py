"""Shopify's delivery headers, under both the `X-Shopify-` and the newer `Shopify-` prefix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from shopify_app.values import parse_timestamp

REQUIRED = ("topic", "shop-domain", "webhook-id", "api-version")
TOPIC_RE = re.compile(r"^[a-z_]{1,48}/[a-z_]{1,48}$")


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
        problems = [f"missing X-Shopify-{n.title()}" for n, v in values.items() if not v]
        event_id = (shopify_header(headers, "Event-Id") or "").strip() or None
        if values["topic"] and not TOPIC_RE.match(values["topic"].lower()):
            problems.append("malformed X-Shopify-Topic")
        if len(values["webhook-id"]) > 255 or (event_id and len(event_id) > 255):
            problems.append("overlong X-Shopify-Webhook-Id or X-Shopify-Event-Id")
        if len(values["api-version"]) > 32:
            problems.append("overlong X-Shopify-API-Version")
        if problems:
            return None, problems
        return cls(
            topic=values["topic"].lower(),
            shop_domain=values["shop-domain"],
            webhook_id=values["webhook-id"],
            api_version=values["api-version"],
            event_id=event_id,
            triggered_at=parse_timestamp(shopify_header(headers, "Triggered-At")),
        ), []
