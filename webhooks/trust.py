"""What a delivery's body must say before its topic may act.

Shopify's HMAC covers the body only; the topic, the shop and the webhook id are headers, and
whoever holds one signed body can send it again with any headers. Signed bodies are not rare:
every delivery is one, and Shopify signs app-proxy and app-load queries with the same secret.
So a body acts only as the topic it is shaped for, and only for the shop it names where
Shopify's payload names one:

* compliance topics carry `shop_domain` and `shop_id`, `app/uninstalled` (the Shop resource)
  `myshopify_domain` and `id`: the domain must be the `X-Shopify-Shop-Domain` shop, and the id
  the shop's Shopify id when the app knows it (`shops.shopify_id`, from the Admin API);
* resources carry `admin_graphql_api_id`: its type must be the topic's (an order body is no
  customer), and `id`, where present, the same resource;
* a compliance body is not another compliance topic's (a `customers/redact` body, which names
  its shop too, never erases the whole shop).

`payload_problem` is pure: the intake runs it on the body it has parsed anyway (without the
shop's Shopify id, which it does not read), the drain runs it again with the id before every
handler, so a replay is checked like a first delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (payload, header shop domain, the shop's Shopify id or None) -> why it is refused, or None
Rule = Callable[[dict[str, Any], str, int | None], str | None]

COMPLIANCE_KEYS = ("customer", "orders_to_redact", "orders_requested", "data_request")


def _number(value: Any) -> int | None:
    """A positive integer id as Shopify's JSON carries it (a number; a digit string too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def _names_shop(
    domain_key: str,
    id_key: str,
    *,
    objects: tuple[str, ...] = (),
    absent: tuple[str, ...] = (),
) -> Rule:
    """The payload names the header's shop by domain (and by Shopify id where it is known),
    carries the `objects` its topic needs, and none of the `absent` keys of other topics."""

    def rule(payload: dict[str, Any], domain: str, shopify_id: int | None) -> str | None:
        named = payload.get(domain_key)
        if not isinstance(named, str) or named.strip().lower() != domain:
            return f"{domain_key} is not the X-Shopify-Shop-Domain shop"
        payload_id = _number(payload.get(id_key))
        if payload_id is None:
            return f"no {id_key}"
        if shopify_id is not None and payload_id != shopify_id:
            return f"{id_key} is not the shop's Shopify id"
        for key in objects:
            if not isinstance(payload.get(key), dict):
                return f"no {key} object"
        for key in absent:
            if key in payload:
                return f"carries {key}: a body of another compliance topic"
        return None

    return rule


def _resource(*kinds: str, numbers: tuple[str, ...] = ()) -> Rule:
    """The payload is a resource of one of `kinds` (by its GID), with the `numbers` ids."""
    prefixes = tuple(f"gid://shopify/{kind}/" for kind in kinds)
    what = " or ".join(f"{prefix}<id>" for prefix in prefixes)

    def rule(payload: dict[str, Any], domain: str, shopify_id: int | None) -> str | None:
        gid = payload.get("admin_graphql_api_id")
        if not isinstance(gid, str) or not gid.startswith(prefixes):
            return f"admin_graphql_api_id is not {what}"
        tail = gid.rsplit("/", 1)[1]
        if not tail.isdigit():
            return f"admin_graphql_api_id is not {what}"
        if "id" in payload and _number(payload["id"]) != int(tail):
            return "id is not the admin_graphql_api_id's"
        for key in numbers:
            if _number(payload.get(key)) is None:
                return f"no {key}"
        return None

    return rule


def _consent(id_key: str, consent_key: str) -> Rule:
    """Marketing-consent topics (shopify-platform.md § 11.4): a customer id and the state."""

    def rule(payload: dict[str, Any], domain: str, shopify_id: int | None) -> str | None:
        if _number(payload.get(id_key)) is None:
            return f"no {id_key}"
        if not isinstance(payload.get(consent_key), dict):
            return f"no {consent_key} object"
        return None

    return rule


def _scopes(payload: dict[str, Any], domain: str, shopify_id: int | None) -> str | None:
    current = payload.get("current")
    if not isinstance(current, list) or not all(isinstance(s, str) for s in current):
        return "no current scope list"
    if not isinstance(payload.get("previous"), list):
        return "no previous scope list"
    return None


_ORDER = _resource("Order")
_CUSTOMER = _resource("Customer")
_DISCOUNT = _resource("DiscountCodeNode", "DiscountAutomaticNode")

RULES: dict[str, Rule] = {
    "orders/create": _ORDER,
    "orders/updated": _ORDER,
    "orders/paid": _ORDER,
    "orders/cancelled": _ORDER,
    "orders/fulfilled": _ORDER,
    "refunds/create": _resource("Refund", numbers=("order_id",)),
    "customers/create": _CUSTOMER,
    "customers/update": _CUSTOMER,
    "customers/delete": _CUSTOMER,
    "discounts/create": _DISCOUNT,
    "discounts/update": _DISCOUNT,
    "discounts/delete": _DISCOUNT,
    "bulk_operations/finish": _resource("BulkOperation"),
    "customers_email_marketing_consent/update": _consent("customer_id", "email_marketing_consent"),
    "customers_marketing_consent/update": _consent("id", "sms_marketing_consent"),
    "app/uninstalled": _names_shop("myshopify_domain", "id"),
    "app/scopes_update": _scopes,
    "shop/redact": _names_shop("shop_domain", "shop_id", absent=COMPLIANCE_KEYS),
    "customers/redact": _names_shop(
        "shop_domain",
        "shop_id",
        objects=("customer",),
        absent=("orders_requested", "data_request"),
    ),
    "customers/data_request": _names_shop(
        "shop_domain", "shop_id", objects=("customer",), absent=("orders_to_redact",)
    ),
}


def payload_problem(
    topic: str, shop_domain: str, payload: Any, shopify_id: int | None = None
) -> str | None:
    """Why this body may not act as `topic` for `shop_domain`, or None when it may.

    `shopify_id` is the shop's id at Shopify when the app knows it; without it only the
    domain can be compared. A topic without a rule is refused: a new topic needs one.
    """
    if not isinstance(payload, dict):
        return "payload is not a JSON object"
    rule = RULES.get(topic)
    if rule is None:
        return f"no trust rule for topic {topic}"
    problem = rule(payload, shop_domain, shopify_id)
    return f"payload does not match {topic}: {problem}" if problem else None
