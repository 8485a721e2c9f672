"""Rows as the API shows them: UTC times with `Z`, money as a string with its currency."""

from __future__ import annotations

from typing import Any

from shopify_app.models import Customer, TimelineEvent
from shopify_app.values import iso_utc as timestamp
from shopify_app.values import money_text


def money(minor: int, currency: str) -> dict[str, str]:
    """`{"amount": "12.50", "currency": "EUR"}` from minor units."""
    return {"amount": money_text(minor, currency), "currency": currency}


def customer(row: Customer) -> dict[str, Any]:
    return {
        "id": row.id,
        "shopify_id": row.shopify_id,
        "email": row.email,
        "phone": row.phone,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "source": row.source,
        "shopify_status": row.shopify_status.lower(),
        "program_joined": bool(row.program_joined),
        "email_marketing": row.email_marketing,
        "sms_marketing": row.sms_marketing,
        "successful_referrals": row.successful_referrals or 0,
        "customer_since": timestamp(row.customer_since),
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "deleted": row.deleted_at is not None,
        "erased": row.redacted_at is not None,
        "custom_attributes": row.custom_attributes or {},
    }


def event(row: TimelineEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "type": row.kind,
        "source": row.source_name,
        "occurred_at": timestamp(row.occurred_at),
        "recorded_at": timestamp(row.recorded_at),
        "properties": (row.payload or {}).get("properties") or {},
    }
