"""Customers over the API: create or update by email or phone, the batch, get, list."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from shopify_app.customers import listing, upsert
from shopify_app.db import get_session
from shopify_app.models import Customer

from . import pagination, representations
from .blueprint import bp
from .errors import ApiError, FieldError, error_body, not_found
from .guard import api_actor, api_key_required, current_shop, json_body

DEFAULT_LIMIT = 50


def shop_customer(customer_id: int) -> Customer:
    """The key's shop's customer, or 404 (another shop's id too: never a hint it exists)."""
    customer = get_session().scalar(
        select(Customer).where(Customer.id == customer_id, Customer.shop_id == current_shop().id)
    )
    if customer is None:
        raise not_found("No such customer in this shop.")
    return customer


def _refusal(exc: upsert.Refusal, prefix: str = "") -> ApiError:
    kind = exc.kind if isinstance(exc, upsert.InvalidCustomer) else "validation_failed"
    return ApiError(kind, str(exc), [FieldError(prefix + exc.path, str(exc))])


@bp.post("/customers")
@api_key_required("write")
def upsert_customer():
    [done] = upsert.upsert_customers(
        get_session(), current_shop(), [json_body()], actor=api_actor()
    )
    if not isinstance(done, upsert.Upserted):
        raise _refusal(done)
    return representations.customer(done.customer), 201 if done.created else 200


@bp.post("/customers/batch")
@api_key_required("write")
def upsert_customers_batch():
    """Each item's result in order: its status and the customer's id (the whole customer
    is one GET away; a batch answer stays small)."""
    outcomes = upsert.upsert_customers(
        get_session(), current_shop(), json_body()["customers"], actor=api_actor()
    )
    results: list[dict[str, Any]] = []
    for index, done in enumerate(outcomes):
        if isinstance(done, upsert.Upserted):
            results.append(
                {
                    "index": index,
                    "status": "created" if done.created else "updated",
                    "id": done.customer.id,
                }
            )
        else:
            error = error_body(_refusal(done, f"customers.{index}."))["error"]
            results.append({"index": index, "status": "failed", "error": error})
    return {"data": results}


@bp.get("/customers/<int:customer_id>")
@api_key_required("read")
def get_customer(customer_id: int):
    return representations.customer(shop_customer(customer_id))


@bp.get("/customers")
@api_key_required("read")
def list_customers():
    args = request.args
    sort = args.get("sort") or listing.DEFAULT_SORT
    after = None
    if "cursor" in args:
        after = listing.decode_cursor(args["cursor"], sort.lstrip("-"))
        if after is None:
            raise ApiError(
                "invalid_request",
                "The cursor is not one this list gave (or was made for another sort).",
                [FieldError("cursor", "Malformed cursor.")],
            )
    query = listing.ListQuery(
        q=" ".join((args.get("q") or "").split())[: listing.MAX_QUERY],
        filters=listing.make_filters(
            {c.key: [v for v in args.get(c.key, "").split(",") if v] for c in listing.CATEGORIES}
        ),
        sort=sort,
        after=after,
    )
    limit = pagination.limit()
    session = get_session()
    page = listing.list_page(session, current_shop(), query, size=limit)
    ids = [c.id for c in page.customers]
    rows = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.shop_id == current_shop().id, Customer.id.in_(ids))
        )
    }
    return {
        "data": [representations.customer(rows[i]) for i in ids if i in rows],
        "next_cursor": listing.encode_cursor(page.next_cursor) if page.next_cursor else None,
    }
