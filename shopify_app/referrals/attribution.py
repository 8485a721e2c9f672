"""Which advocate an order belongs to (B5), in priority order: a manual assignment, the
advocate's code used as the order's discount code, a cart/note attribute carrying the code,
the landing site's `ref` parameter. The first that names a known advocate wins; the others
are kept as evidence (a disputed attribution shows them side by side)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .codes import normalise_code

PRIORITY = ("manual", "discount_code", "note_attribute", "landing_site")
NOTE_ATTRIBUTE_NAMES = frozenset({"referral_code", "referral", "ref", "referrer"})


@dataclass(frozen=True)
class Candidate:
    method: str
    code: str
    advocate_id: int | None


@dataclass(frozen=True)
class Attribution:
    advocate_id: int
    method: str
    code: str
    candidates: list[Candidate] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "code": self.code,
            "candidates": [
                {"method": c.method, "code": c.code, "advocate_id": c.advocate_id}
                for c in self.candidates
            ],
        }


def referral_signals(order: Any) -> list[tuple[str, str]]:
    """Every (method, code) an order carries, in priority order (manual comes from staff)."""
    signals: list[tuple[str, str]] = []
    for entry in order.discount_codes or []:
        if code := normalise_code(entry.get("code")):
            signals.append(("discount_code", code))
    for attribute in order.note_attributes or []:
        name = str(attribute.get("name") or "").strip().lower()
        if name in NOTE_ATTRIBUTE_NAMES and (code := normalise_code(attribute.get("value"))):
            signals.append(("note_attribute", code))
    if order.landing_site:
        query = parse_qs(urlsplit(order.landing_site).query)
        for value in query.get("ref", [])[:1]:
            if code := normalise_code(value):
                signals.append(("landing_site", code))
    return signals


def attribute(
    order: Any,
    advocate_for_code: Callable[[str], int | None],
    *,
    manual_advocate_id: int | None = None,
) -> Attribution | None:
    """The winning attribution for `order`, or None when nothing names a known advocate."""
    candidates = [
        Candidate(method, code, advocate_for_code(code)) for method, code in referral_signals(order)
    ]
    if manual_advocate_id is not None:
        return Attribution(manual_advocate_id, "manual", "", candidates)
    for candidate in candidates:
        if candidate.advocate_id is not None:
            return Attribution(candidate.advocate_id, candidate.method, candidate.code, candidates)
    return None
