"""The referral program's resources under `/api/v1`: advocates (join, get, list), referrals
(list, get, create by hand, approve, void), rewards (list, get) and conversion events.

Thin: the guard (`api_key_required`) has already authenticated, rate-limited, checked the
scope and validated the request against the spec; each view reads its arguments, calls one
service of `referrals.records` or `referrals.conversions` (which keep the admin's and the
portal's rules) and returns JSON. Another shop's id is a 404, a refusal a 422 with the
reason; the guard commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import request
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Customer
from shopify_app.referrals import conversions, records
from shopify_app.values import parse_timestamp

from . import pagination
from . import program_json as as_json
from .blueprint import bp
from .errors import ApiError, FieldError, not_found
from .guard import api_actor, api_key_required, current_shop, json_body


def page_args() -> tuple[int, int | None]:
    """(limit, the id the request's cursor continues below)."""
    return pagination.limit(), pagination.after_id()


def page(data: list[dict[str, Any]], before_id: int | None) -> dict[str, Any]:
    return {"data": data, "next_cursor": pagination.encode([before_id]) if before_id else None}


def _refused(exc: Exception, path: str | None = None) -> ApiError:
    message = str(exc)
    return ApiError("validation_failed", message, [FieldError(path, message)] if path else [])


@contextmanager
def _answers(path: str | Callable[[Exception], str | None] | None = None) -> Iterator[None]:
    """A service's `NotFound` as 404 and `Refused` as 422 with the field `path` names."""
    try:
        yield
    except records.NotFound as exc:
        raise not_found(str(exc)) from exc
    except records.Refused as exc:
        raise _refused(exc, path(exc) if callable(path) else path) from exc


def _filtered_page(fetch: Callable[..., Any], as_dict: Callable[[Any], dict[str, Any]]):
    """A page of referrals or rewards, by `status` and `advocate_id`."""
    limit, before_id = page_args()
    rows, more = fetch(
        get_session(),
        current_shop(),
        status=request.args.get("status"),
        advocate_id=_int_arg("advocate_id"),
        before_id=before_id,
        limit=limit,
    )
    return page([as_dict(r) for r in rows], more)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    return int(value) if value is not None else None  # the spec has checked it is one


# --- advocates -------------------------------------------------------------------------


@bp.get("/advocates")
@api_key_required("read")
def list_advocates():
    limit, before_id = page_args()
    rows, more = records.list_advocates(
        get_session(), current_shop(), before_id=before_id, limit=limit
    )
    return page([as_json.advocate(r) for r in rows], more)


@bp.post("/advocates")
@api_key_required("write")
def join_advocate():
    body = json_body()
    with _answers("email" if "email" in body else "customer_id"):
        advocate, created = records.join_advocate(
            get_session(),
            current_shop(),
            customer_id=body.get("customer_id"),
            email=body.get("email"),
            actor=api_actor(),
        )
    return as_json.advocate(advocate), 201 if created else 200


@bp.get("/advocates/<int:advocate_id>")
@api_key_required("read")
def get_advocate(advocate_id: int):
    with _answers():
        return as_json.advocate(records.get_advocate(get_session(), current_shop(), advocate_id))


# --- referrals -------------------------------------------------------------------------


@bp.get("/referrals")
@api_key_required("read")
def list_referrals():
    return _filtered_page(records.list_referrals, as_json.referral)


@bp.get("/referrals/<int:referral_id>")
@api_key_required("read")
def get_referral(referral_id: int):
    with _answers():
        return as_json.referral(records.get_referral(get_session(), current_shop(), referral_id))


@bp.post("/referrals")
@api_key_required("write")
def create_referral():
    body = json_body()
    if ("order_id" in body) == ("order_name" in body):
        raise _refused(ValueError("Give order_id or order_name (one of them)."), "order_id")
    dry_run = bool(body.get("dry_run"))
    with _answers():
        made = records.create_referral(
            get_session(),
            current_shop(),
            advocate_id=body["advocate_id"],
            order_id=body.get("order_id"),
            order_name=body.get("order_name"),
            reason=body.get("reason") or "",
            force=bool(body.get("force")),
            dry_run=dry_run,
            actor=api_actor(),
        )
    return as_json.manual_referral(made), 200 if dry_run else 201


@bp.post("/referrals/<int:referral_id>/approve")
@api_key_required("write")
def approve_referral(referral_id: int):
    body = json_body() or {}
    with _answers():
        record = records.approve_referral(
            get_session(),
            current_shop(),
            referral_id,
            actor=api_actor(),
            reason=(body.get("reason") or "").strip() or None,
        )
    return as_json.referral(record)


@bp.post("/referrals/<int:referral_id>/void")
@api_key_required("write")
def void_referral(referral_id: int):
    body = json_body()
    with _answers(lambda exc: "reason" if "Say why" in str(exc) else None):
        record = records.void_referral(
            get_session(), current_shop(), referral_id, actor=api_actor(), reason=body["reason"]
        )
    return as_json.referral(record)


# --- rewards ---------------------------------------------------------------------------


@bp.get("/rewards")
@api_key_required("read")
def list_rewards():
    return _filtered_page(records.list_rewards, as_json.reward)


@bp.get("/rewards/<int:reward_id>")
@api_key_required("read")
def get_reward(reward_id: int):
    with _answers():
        return as_json.reward(records.get_reward(get_session(), current_shop(), reward_id))


# --- conversions -----------------------------------------------------------------------


@bp.post("/conversions")
@api_key_required("write")
def record_conversion():
    body: dict[str, Any] = json_body()
    session, shop = get_session(), current_shop()
    customer = session.scalar(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id == body["customer_id"])
    )
    if customer is None:
        raise not_found(f"No customer {body['customer_id']}.")
    occurred_at = None
    if "occurred_at" in body:
        occurred_at = parse_timestamp(body["occurred_at"])
        if occurred_at is None:
            raise _refused(ValueError("The time is not an ISO 8601 date-time."), "occurred_at")
    try:
        result = conversions.record_conversion(
            session,
            shop,
            customer,
            body["type"],
            occurred_at,
            body.get("properties") or {},
            event_id=body["event_id"],
            source_name=body.get("source") or "API",
            actor=api_actor(),
        )
    except conversions.ConversionRefused as exc:
        raise _refused(exc) from exc
    return as_json.conversion(result), 200 if result.duplicate else 201


@bp.get("/conversions/<int:conversion_id>")
@api_key_required("read")
def get_conversion(conversion_id: int):
    session, shop = get_session(), current_shop()
    conversion = conversions.conversion_in_shop(session, shop, conversion_id)
    if conversion is None:
        raise not_found(f"No conversion {conversion_id}.")
    return as_json.conversion(conversions.result_of(session, shop, conversion))
