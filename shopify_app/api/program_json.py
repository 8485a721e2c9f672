"""The referral program's records (`referrals.records`, `referrals.conversions`) as the JSON
the spec files `advocates.yaml`, `referrals.yaml`, `rewards.yaml` and `conversions.yaml`
describe: times UTC with `Z`, money as `{"amount", "currency"}`."""

from __future__ import annotations

from typing import Any

from shopify_app.referrals.conversions import ConversionResult
from shopify_app.referrals.records import (
    AdvocateRecord,
    ManualReferral,
    Money,
    ReferralRecord,
    RewardRecord,
)
from shopify_app.storefront.views import share_url

from . import representations
from .representations import timestamp


def money(value: Money) -> dict[str, str]:
    return representations.money(value.minor, value.currency)


def advocate(record: AdvocateRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "customer_id": record.customer_id,
        "email": record.email,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "code": record.code,
        "share_url": share_url(record.code),
        "joined_at": timestamp(record.joined_at),
        "joined_via": record.joined_via,
        "friend_code_status": record.friend_code_status,
        "successful_referrals": record.successful_referrals,
    }


def referral(record: ReferralRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "status": record.status,
        "status_reason": record.status_reason,
        "advocate_id": record.advocate_id,
        "friend_customer_id": record.friend_customer_id,
        "order_id": record.order_id,
        "order_name": record.order_name,
        "conversion_id": record.conversion_id,
        "attribution": record.attribution,
        "total": money(record.total),
        "needs_manual_approval": record.needs_manual_approval,
        "program_version": record.program_version,
        "reward_id": record.reward_id,
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(record.updated_at),
        "completed_at": timestamp(record.completed_at),
    }


def manual_referral(made: ManualReferral) -> dict[str, Any]:
    return {
        "referral": referral(made.referral) if made.referral is not None else None,
        "checks": [
            {
                "rule": c.rule_id,
                "version": c.version,
                "outcome": c.outcome,
                "explanation": c.explanation,
            }
            for c in made.checks
        ],
    }


def reward(record: RewardRecord) -> dict[str, Any]:
    percentage = record.kind == "percentage"
    return {
        "id": record.id,
        "referral_id": record.referral_id,
        "advocate_id": record.advocate_id,
        "code": record.code,
        "kind": record.kind,
        "percentage": record.value if percentage else None,
        "amount": None if percentage else money(Money(record.value, record.currency)),
        "status": record.status,
        "issued_at": timestamp(record.issued_at),
        "expires_at": timestamp(record.expires_at),
        "used_at": timestamp(record.used_at),
        "used_order_id": record.used_order_id,
        "voided_at": timestamp(record.voided_at),
        "void_reason": record.void_reason,
        "created_at": timestamp(record.created_at),
    }


def conversion(result: ConversionResult) -> dict[str, Any]:
    return {
        "id": result.conversion_id,
        "customer_id": result.customer_id,
        "type": result.event_type,
        "event_id": result.event_id,
        "occurred_at": timestamp(result.occurred_at),
        "duplicate": result.duplicate,
        "outcome": result.outcome,
        "reason": result.reason,
        "referral_id": result.referral_id,
        "referral_status": result.referral_status,
        "reward_id": result.reward_id,
    }
