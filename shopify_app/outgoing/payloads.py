"""The `data` of each event type: stable shapes, documented in docs/api.md ("Outgoing
webhooks"). Fields are only ever added. Ids are the app's (the public API's); Shopify's ids
are named `shopify_id`. Times are UTC ISO 8601 with `Z`, money `{"amount", "currency"}`."""

from __future__ import annotations

from typing import Any

from shopify_app.models import Advocate, Customer, Referral, ReferralTransition, Reward
from shopify_app.values import iso_utc as iso
from shopify_app.values import money_json as money


def customer_ref(customer: Customer | None) -> dict[str, Any] | None:
    """Who a customer is, in every event that names one."""
    if customer is None:
        return None
    return {
        "id": customer.id,
        "shopify_id": customer.shopify_id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
    }


def customer(row: Customer) -> dict[str, Any]:
    """The customer as `customer.updated` carries them."""
    return {
        **(customer_ref(row) or {}),
        "phone": row.phone,
        "state": row.account_state,
        "tags": [t.strip() for t in (row.tags or "").split(",") if t.strip()],
        "email_marketing": row.email_marketing_state,
        "sms_marketing": row.sms_marketing_state,
        "program_joined": bool(row.program_joined),
        "updated_at": iso(row.shopify_updated_at),
    }


def advocate(row: Advocate, person: Customer | None) -> dict[str, Any]:
    return {
        "advocate": {
            "id": row.id,
            "code": row.code,
            "joined_at": iso(row.joined_at),
            "joined_via": row.joined_via,
        },
        "customer": customer_ref(person),
    }


def referral(row: Referral, advocate_row: Advocate | None, step: ReferralTransition) -> dict:
    return {
        "referral": {
            "id": row.id,
            "status": row.status,
            "status_reason": row.status_reason,
            "attribution": row.attribution,
            "advocate_id": row.advocate_id,
            "advocate_code": advocate_row.code if advocate_row else None,
            "advocate_customer_id": advocate_row.customer_id if advocate_row else None,
            "friend_customer_id": row.friend_customer_id,
            "order": {
                "shopify_id": row.order_shopify_id,
                "total": money(row.order_total_minor, row.currency),
            },
            "created_at": iso(row.created_at),
            "completed_at": iso(row.completed_at),
        },
        "transition": {
            "from": step.from_status,
            "to": step.to_status,
            "cause": step.cause,
            "actor": step.actor,
            "reason": step.reason,
            "at": iso(step.at),
        },
    }


def reward(row: Reward) -> dict[str, Any]:
    value: Any = (
        {"percent": row.value} if row.kind == "percentage" else money(row.value, row.currency)
    )
    return {
        "reward": {
            "id": row.id,
            "referral_id": row.referral_id,
            "advocate_id": row.advocate_id,
            "code": row.code,
            "kind": row.kind,
            "value": value,
            "status": row.status,
            "expires_at": iso(row.expires_at),
            "issued_at": iso(row.issued_at),
            "used_at": iso(row.used_at),
            "used_order_shopify_id": row.used_order_shopify_id,
            "voided_at": iso(row.voided_at),
            "void_reason": row.void_reason,
        }
    }
