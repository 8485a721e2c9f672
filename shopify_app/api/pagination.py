"""Cursor pagination for the API's lists: `?limit=&cursor=` -> `{"data", "next_cursor"}`.

Lists ordered by id use `id_page`: the cursor is the last id of a page, opaque to clients
(URL-safe base64 of a small JSON array, so a list can later carry a sort value too). A cursor
the API did not give is 400 `invalid_request`, never a silent first page.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask import request

from .errors import ApiError, FieldError

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_CURSOR = 700


def limit() -> int:
    """The request's `limit`: 1 to 100 (the document says so too; this holds whatever
    reaches the view)."""
    try:
        asked = int(request.args.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        asked = DEFAULT_LIMIT
    return max(1, min(asked, MAX_LIMIT))


def encode(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def malformed() -> ApiError:
    return ApiError(
        "invalid_request",
        "The cursor is not one this list gave.",
        [FieldError("cursor", "Malformed cursor.")],
    )


def decode(text: str) -> list[Any]:
    """What `encode` made; raises 400 for anything else."""
    if not text or len(text) > MAX_CURSOR:
        raise malformed()
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise malformed() from exc
    if not isinstance(values, list):
        raise malformed()
    return values


def after_id() -> int | None:
    """The id the request's cursor continues after (newest first: ids below it), or None."""
    text = request.args.get("cursor")
    if text is None:
        return None
    values = decode(text)
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise malformed()
    return values[0]


def id_page(rows: list[Any], size: int) -> tuple[list[Any], str | None]:
    """(the page, next_cursor) from up to `size + 1` rows read newest first by id."""
    page = rows[:size]
    more = len(rows) > size
    return page, encode([page[-1].id]) if more and page else None
