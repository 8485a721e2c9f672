"""Sources and families: what the timeline's filters select.

Every event belongs to one family, stored with it (`timeline_events.family`) and derived from
its kind when it is written. A family belongs to one source, so a source filter is a set of
families and every filtered page reads whole index ranges
(`ix_timeline_events_customer_family_time`).
"""

from __future__ import annotations

from dataclasses import dataclass

from shopify_app.i18n import N_


@dataclass(frozen=True)
class Family:
    key: str
    source: str
    label: str


SOURCES: dict[str, str] = {
    "shopify": "Shopify",
    "app": N_("This app"),
    "api": N_("Third parties"),
    "conversation": N_("Conversations"),
}

FAMILIES: tuple[Family, ...] = (
    Family("order", "shopify", N_("Orders")),
    Family("account", "shopify", N_("Account")),
    Family("consent", "shopify", N_("Marketing consent")),
    Family("program", "app", N_("Program")),
    Family("referral", "app", N_("Referrals")),
    Family("reward", "app", N_("Rewards")),
    Family("email", "app", N_("Emails")),
    Family("staff", "app", N_("Staff actions")),
    Family("api", "api", N_("Third-party events")),
    Family("conversation", "conversation", N_("Conversations")),
)
BY_KEY = {f.key: f for f in FAMILIES}

_PREFIX_FAMILY = {
    "order": "order",
    "customer": "account",
    "privacy": "account",
    "consent": "consent",
    "program": "program",
    "referral": "referral",
    "reward": "reward",
    "email": "email",
    "staff": "staff",
    "app": "staff",
    "conversation": "conversation",
}


def other_family(source: str) -> str:
    """The family of a kind no filter names, per source (shown when no kind is chosen)."""
    return f"other_{source}"[:16]


def family_of(source: str, kind: str) -> str:
    if source == "api":
        return "api"
    family = _PREFIX_FAMILY.get(kind.split(".", 1)[0])
    if family is None or BY_KEY[family].source != source:
        return other_family(source)
    return family


def families_for(sources: set[str], kinds: set[str]) -> list[str] | None:
    """The families a filter reads, None for all of them (no filter). Unknown values are
    ignored; a filter that excludes everything reads no family ([])."""
    sources = {s for s in sources if s in SOURCES}
    kinds = {k for k in kinds if k in BY_KEY}
    if not sources and not kinds:
        return None
    chosen = [f.key for f in FAMILIES if (not sources or f.source in sources)]
    if kinds:
        return [k for k in chosen if k in kinds]
    return chosen + [other_family(s) for s in SOURCES if s in sources]
