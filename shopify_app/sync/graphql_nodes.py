"""GraphQL Admin API nodes -> the REST-shaped payloads the upserts take.

The initial import and reconciliation read through GraphQL; webhooks carry REST JSON. One
adapter keeps a single upsert path: only fields the node has are produced, so nothing a
webhook told us is erased by a node that does not carry it.
"""

from __future__ import annotations

from typing import Any

from shopify_app.values import parse_id

CUSTOMER_FIELDS = """
  id email phone firstName lastName state tags createdAt updatedAt
  emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
  smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
"""

ORDER_FIELDS = """
  id name email currencyCode createdAt updatedAt processedAt cancelledAt cancelReason
  displayFinancialStatus displayFulfillmentStatus clientIp customerLocale discountCodes
  customAttributes { key value }
  totalPriceSet { shopMoney { amount } } subtotalPriceSet { shopMoney { amount } }
  totalDiscountsSet { shopMoney { amount } }
  customer { id }
  customerJourneySummary { firstVisit { landingPage referrerUrl } }
"""

# `Order.refunds` is a plain list in Shopify's schema (no connection); orders with more than
# this many refunds are rare, and each refund is also delivered by `refunds/create`.
REFUND_FIELDS = """
  id createdAt note totalRefundedSet { shopMoney { amount } }
"""

LINE_ITEM_FIELDS = """
  id title quantity sku product { id } variant { id } originalUnitPriceSet { shopMoney { amount } }
"""


def _amount(bag: Any) -> str | None:
    if isinstance(bag, dict):
        return (bag.get("shopMoney") or {}).get("amount")
    return None


def _lower(value: Any) -> str | None:
    return str(value).lower() if value else None


def customer_payload(node: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": parse_id(node.get("id"))}
    mapping = {
        "email": "email",
        "phone": "phone",
        "firstName": "first_name",
        "lastName": "last_name",
        "createdAt": "created_at",
        "updatedAt": "updated_at",
    }
    for key, rest in mapping.items():
        if key in node:
            payload[rest] = node[key]
    if "state" in node:
        payload["state"] = _lower(node["state"])
    if isinstance(node.get("tags"), list):
        payload["tags"] = ", ".join(node["tags"])
    for key, rest in (
        ("emailMarketingConsent", "email_marketing_consent"),
        ("smsMarketingConsent", "sms_marketing_consent"),
    ):
        consent = node.get(key)
        if isinstance(consent, dict) and consent.get("marketingState"):
            payload[rest] = {
                "state": _lower(consent["marketingState"]),
                "consent_updated_at": consent.get("consentUpdatedAt"),
            }
            if "marketingOptInLevel" in consent:
                payload[rest]["opt_in_level"] = _lower(consent["marketingOptInLevel"])
    return payload


def order_payload(node: dict[str, Any], line_items: list[dict[str, Any]] | None) -> dict[str, Any]:
    currency = node.get("currencyCode")
    payload: dict[str, Any] = {
        "id": parse_id(node.get("id")),
        "name": node.get("name"),
        "currency": currency,
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
    }
    if "email" in node:
        payload["email"] = node["email"]
    for key, rest in (("processedAt", "processed_at"), ("cancelledAt", "cancelled_at")):
        if key in node:
            payload[rest] = node[key]
    if "cancelReason" in node:
        payload["cancel_reason"] = _lower(node["cancelReason"])
    if "displayFinancialStatus" in node:
        payload["financial_status"] = _lower(node["displayFinancialStatus"])
    if "displayFulfillmentStatus" in node:
        status = _lower(node["displayFulfillmentStatus"])
        payload["fulfillment_status"] = None if status == "unfulfilled" else status
    if "clientIp" in node:
        payload["browser_ip"] = node["clientIp"]
    if node.get("customerLocale"):
        payload["customer_locale"] = node["customerLocale"]
    for key, rest in (
        ("totalPriceSet", "total_price"),
        ("subtotalPriceSet", "subtotal_price"),
        ("totalDiscountsSet", "total_discounts"),
    ):
        if key in node:
            payload[rest] = _amount(node[key])
    if isinstance(node.get("discountCodes"), list):
        codes = node["discountCodes"]
        share = _amount(node.get("totalDiscountsSet")) if len(codes) == 1 else None
        payload["discount_codes"] = [{"code": c, "amount": share, "type": None} for c in codes]
    if isinstance(node.get("customAttributes"), list):
        payload["note_attributes"] = [
            {"name": a.get("key"), "value": a.get("value")} for a in node["customAttributes"]
        ]
    if isinstance(node.get("customer"), dict) and node["customer"].get("id"):
        payload["customer"] = customer_payload(node["customer"])
    visit = (node.get("customerJourneySummary") or {}).get("firstVisit") or {}
    if visit.get("landingPage"):  # none known (an order made in the admin): keep what is stored
        payload["landing_site"] = visit["landingPage"]
        payload["referring_site"] = visit.get("referrerUrl")
    if isinstance(node.get("refunds"), list):
        payload["refunds"] = [refund_payload(r) for r in node["refunds"] if isinstance(r, dict)]
    if line_items is not None:
        payload["line_items"] = [
            {
                "id": parse_id(li.get("id")),
                "title": li.get("title"),
                "quantity": li.get("quantity"),
                "sku": li.get("sku"),
                "product_id": parse_id((li.get("product") or {}).get("id")),
                "variant_id": parse_id((li.get("variant") or {}).get("id")),
                "price": _amount(li.get("originalUnitPriceSet")),
            }
            for li in line_items
        ]
    return payload


def refund_payload(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL Refund as the REST refund `record_refund` takes: its total as one successful
    refund transaction (what `refunds/create` carries in `transactions`)."""
    return {
        "id": parse_id(node.get("id")),
        "created_at": node.get("createdAt"),
        "note": node.get("note"),
        "transactions": [
            {"kind": "refund", "status": "success", "amount": _amount(node.get("totalRefundedSet"))}
        ],
    }
