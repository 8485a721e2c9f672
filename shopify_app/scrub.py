"""Finding and removing a person's identifying strings in stored values: the tools the
compliance handlers (`shopify_app.compliance`) use on free-form text, JSON documents and
webhook bodies. Matching ignores case; a needle is an email, a phone number, a name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from shopify_app.values import parse_id

REDACTED = "(redacted)"

# Keys of Shopify payloads (customers, orders, refunds, checkouts) that hold a person's
# data: dropped from a webhook body that mentions an erased customer, so what remains can
# still be applied (totals, statuses, ids).
PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "phone",
        "first_name",
        "last_name",
        "note",
        "note_attributes",
        "tags",
        "addresses",
        "default_address",
        "billing_address",
        "shipping_address",
        "client_details",
        "browser_ip",
        "landing_site",
        "landing_site_ref",
        "referring_site",
        "customer_locale",
    }
)


def needles_of(*values: str | None) -> set[str]:
    """The lower-cased, non-trivial strings to look for (a name shorter than three letters
    would match half the database)."""
    return {v.strip().lower() for v in values if v and len(v.strip()) >= 3}


def _pattern(needles: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(needles, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(re.escape(n) for n in ordered), re.IGNORECASE)


def mentions_text(text: str, needles: Iterable[str]) -> bool:
    lowered = text.lower()
    return any(n in lowered for n in needles)


def replace_text(value: Any, needles: Iterable[str], replacement: str = REDACTED) -> Any:
    """`value` (a string, or any JSON document) with every occurrence of a needle replaced;
    keys of JSON objects are left alone."""
    pattern = _pattern(needles)
    if pattern is None:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(replacement, item)
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def mentions(document: Any, ids: set[int], needles: set[str]) -> bool:
    """Does a JSON document carry one of these Shopify ids (as `id`, `order_id`,
    `customer_id`, anywhere) or contain one of these strings?"""
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("id", "order_id", "customer_id") and parse_id(value) in ids:
                return True
            if mentions(value, ids, needles):
                return True
        return False
    if isinstance(document, list):
        return any(mentions(v, ids, needles) for v in document)
    return isinstance(document, str) and mentions_text(document, needles)


def without_personal_data(document: Any, needles: set[str]) -> Any:
    """A webhook payload with its personal fields dropped (`PERSONAL_KEYS`, at any depth)
    and any other string that mentions a needle replaced: ids, totals, statuses and dates
    stay, so the delivery can still be applied."""
    if isinstance(document, dict):
        return {
            k: without_personal_data(v, needles)
            for k, v in document.items()
            if k not in PERSONAL_KEYS
        }
    if isinstance(document, list):
        return [without_personal_data(v, needles) for v in document]
    if isinstance(document, str) and needles:
        return replace_text(document, needles)
    return document


def encoded_forms(needle: str) -> set[str]:
    """The needle as stored: as given, and as JSON writes a non-ASCII string (`\\u00e4`)."""
    return {needle, json.dumps(needle)[1:-1].lower()}


def scrub_columns(
    session: Session,
    model: type,
    columns: Iterable[str],
    needles: set[str],
    *where,
    replacement: str = REDACTED,
) -> int:
    """Replace the needles in these text or JSON columns of the rows `where` selects (the
    caller scopes it to a shop). The database finds the rows (a case-insensitive substring
    test), Python rewrites them. Returns how many rows changed."""
    if not needles:
        return 0
    names = list(columns)
    forms = {form for n in needles for form in encoded_forms(n)}
    tests = [
        func.lower(cast(getattr(model, name), String)).contains(form, autoescape=True)
        for name in names
        for form in forms
    ]
    changed = 0
    for row in session.scalars(select(model).where(*where, or_(*tests))):
        for name in names:
            value = getattr(row, name)
            scrubbed = replace_text(value, needles, replacement)
            if scrubbed != value:
                setattr(row, name, scrubbed)
        changed += 1
    return changed
