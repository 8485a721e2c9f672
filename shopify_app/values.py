"""Parsing Shopify's JSON values: ids, timestamps, money."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# ISO 4217 currencies whose minor unit is not 1/100.
_ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "UYI",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
_THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}


def parse_timestamp(value: Any) -> datetime | None:
    """Shopify's ISO-8601 timestamps (offsets, `Z`, nanoseconds); None if absent or unparseable."""
    if not value or not isinstance(value, str):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_id(value: Any) -> int | None:
    """A numeric id, from a number, a numeric string or a GID (`gid://shopify/Order/123`)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        tail = value.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None
    return None


@functools.lru_cache(maxsize=256)
def minor_units(currency: str | None) -> int:
    code = (currency or "").upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def to_minor(amount: Any, currency: str | None) -> int:
    """Shopify's decimal string ("19.90") as integer minor units of `currency` (1990)."""
    if amount in (None, ""):
        return 0
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not a money amount: {amount!r}") from exc
    return int((value * (10 ** minor_units(currency))).to_integral_value())


def normalize_email(email: Any) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None
    return email.strip().lower()


def clean_str(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


def is_stale(incoming: datetime | None, stored: datetime | None) -> bool:
    """True when a delivery's `updated_at` is older than what we already have."""
    return incoming is not None and stored is not None and incoming < stored


def money_text(minor: int | None, currency: str | None) -> str:
    """Minor units as the decimal Shopify takes and a merchant types (1990 EUR -> "19.90")."""
    if minor is None:
        return ""
    digits = minor_units(currency)
    if not digits:
        return str(int(minor))
    whole, part = divmod(abs(int(minor)), 10**digits)  # integers: no Decimal per cell
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{digits}d}"


def iso_utc(moment: datetime | None) -> str | None:
    """A time as the public API and the outgoing webhooks carry it: UTC ISO 8601 with `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money_json(minor: int | None, currency: str | None) -> dict[str, str] | None:
    """Money as the public API and the outgoing webhooks carry it: `{"amount": "12.50",
    "currency": "EUR"}` (None without an amount or a currency)."""
    if minor is None or not currency:
        return None
    return {"amount": money_text(minor, currency), "currency": currency}


_LOCALE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")


def customer_locale(value: Any) -> str | None:
    """An order's `customer_locale` ("fi", "fi-FI", "en-US") when it is a language tag; None
    for anything else (a payload field is untrusted text)."""
    if not isinstance(value, str) or len(value) > 35:
        return None
    value = value.strip()
    return value if _LOCALE_TAG.fullmatch(value) else None
