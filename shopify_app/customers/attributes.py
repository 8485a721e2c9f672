"""Custom attributes (G8): a third party's own data about a customer, set through the public
API and shown in the customer hub.

A value is text (at most `MAX_TEXT` characters), a number, true/false, or a date written
`YYYY-MM-DD` (text of that form that is a real date is kept, shown and compared as a date).
At most `MAX_ATTRIBUTES` per customer in `MAX_BYTES` of JSON. Changes merge into what the
customer has; a null removes an attribute.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

MAX_ATTRIBUTES = 50
MAX_TEXT = 500
MAX_BYTES = 8192
MAX_NUMBER = 10**15
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidAttributes(ValueError):
    """The change is refused; `path` names the attribute at fault."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Shown:
    """An attribute as the hub shows it."""

    name: str
    kind: str  # text | number | boolean | date
    text: str


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and DATE_RE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return "date"
        except ValueError:
            return "text"
    return "text"


def _check(name: Any, value: Any) -> None:
    path = f"custom_attributes.{name}"
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidAttributes(
            path, "A name is a letter, then letters, digits or _, at most 64 characters."
        )
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise InvalidAttributes(path, f"A number must be finite and at most {MAX_NUMBER}.")
        return
    if not isinstance(value, str):
        raise InvalidAttributes(path, "A value is text, a number, true/false or a date.")
    if len(value) > MAX_TEXT:
        raise InvalidAttributes(path, f"A text value is at most {MAX_TEXT} characters.")


def merged(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """`current` with `changes` applied (null removes), checked; raises InvalidAttributes."""
    result = dict(current or {})
    for name, value in changes.items():
        _check(name, value)
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    if len(result) > MAX_ATTRIBUTES:
        raise InvalidAttributes(
            "custom_attributes", f"A customer has at most {MAX_ATTRIBUTES} custom attributes."
        )
    size = len(json.dumps(result, ensure_ascii=False).encode())
    if size > MAX_BYTES:
        raise InvalidAttributes(
            "custom_attributes", f"The custom attributes take {size} bytes; at most {MAX_BYTES}."
        )
    return result


def shown(attributes: dict[str, Any] | None) -> list[Shown]:
    """The attributes for the hub, by name."""
    out = []
    for name, value in sorted((attributes or {}).items()):
        kind = kind_of(value)
        if kind == "boolean":
            text = "Yes" if value else "No"
        elif kind == "number" and isinstance(value, float) and value.is_integer():
            text = str(int(value))
        else:
            text = str(value)
        out.append(Shown(name, kind, text))
    return out
