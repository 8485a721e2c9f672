"""What a merchant reads instead of the engine's internal forms (issue 21, item 2).

The audit trail, the fraud evidence and the referral history are stored with keys an engineer
reads (`advocate.joined`, `reassigned:1->2`, `{"hits": [{"entry_id": 1, ...}]}`); the pages
show sentences and formatted values built here, with names and links for the ids. The
internal form stays in the rows (the export, the API and a "Details for engineers"
disclosure show it).

A formatted value is a list of `Part`s, plain text or a link the template builds with
`app_url(part.endpoint, **part.args)` (templates/_wording.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shopify_app.referrals.fraud import RULES
from shopify_app.values import money_text


@dataclass(frozen=True)
class Part:
    text: str
    endpoint: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Names:
    """The names a page needs for the ids in its rows, loaded by `portal.names.load`."""

    customers: dict[int, str] = field(default_factory=dict)  # customer id -> display name
    advocates: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> (customer, name)
    currency: str = "USD"

    def customer(self, customer_id: Any) -> list[Part]:
        if not isinstance(customer_id, int):
            return [Part("—")]
        name = self.customers.get(customer_id)
        if name is None:
            return [Part("a customer no longer in the app")]
        return [Part(name, "customers.detail", {"customer_id": customer_id})]

    def advocate(self, advocate_id: Any) -> list[Part]:
        if not isinstance(advocate_id, int):
            return [Part("—")]
        known = self.advocates.get(advocate_id)
        if known is None:
            return [Part("an advocate no longer in the app")]
        return [Part(known[1], "customers.detail", {"customer_id": known[0]})]


def referral_part(referral_id: Any) -> Part:
    if not isinstance(referral_id, int):
        return Part("—")
    return Part(f"Referral #{referral_id}", "portal.referral", {"referral_id": referral_id})


# Audit actions as "<who> <sentence> <subject>", e.g. "Approved the referral".
ACTIONS = {
    "advocate.joined": "Joined a customer to the referral program",
    "customer.invited": "Sent a customer an invitation to join",
    "customer.exported": "Exported a customer's data",
    "customer.unsubscribed_email": "Unsubscribed a customer from email marketing",
    "customer.unsubscribed_sms": "Unsubscribed a customer from SMS marketing",
    "customer.api_created": "Created a customer through the API",
    "customer.api_updated": "Updated a customer through the API",
    "customers.invite": "Sent invitations to many customers",
    "customers.export": "Exported a customer list",
    "referral.approved": "Approved a referral",
    "referral.voided": "Voided a referral",
    "referral.rechecked": "Ran the fraud rules again on a referral",
    "referral.unblocked": "Unblocked a referral",
    "referral.unvoided": "Un-voided a referral",
    "referral.reassigned": "Gave a referral to another advocate",
    "referral.created": "Created a referral by hand",
    "referral.created.forced": "Created a referral by hand, past the fraud rules",
    "referral.created_offline": "Recorded an offline sale and its referral",
    "referral.created_offline.forced": (
        "Recorded an offline sale and its referral, past the fraud rules"
    ),
    "reward.email_resent": "Sent a reward email again",
    "email.suppressed": "Stopped all emails to an address",
    "email.unsuppressed": "Allowed emails to an address again",
    "blocklist.added": "Added an entry to the blocklist",
    "blocklist.removed": "Removed an entry from the blocklist",
    "program.updated": "Changed the referral program's settings",
    "api_key.created": "Created an API key",
    "api_key.revoked": "Revoked an API key",
    "webhook_endpoint.created": "Added a webhook endpoint",
    "webhook_endpoint.updated": "Changed a webhook endpoint",
    "webhook_endpoint.deleted": "Deleted a webhook endpoint",
    "webhook_endpoint.disabled": "Turned off a webhook endpoint",
    "webhook_endpoint.enabled": "Turned a webhook endpoint back on",
    "webhook_endpoint.secret_rotated": "Rotated a webhook endpoint's signing secret",
    "staff.chat_permission_granted": "Allowed a staff member to chat with shoppers",
    "staff.chat_permission_withdrawn": "Withdrew a staff member's permission to chat",
    "conversation.assigned": "Assigned a conversation",
    "conversation.unassigned": "Unassigned a conversation",
    "conversation.status_changed": "Changed a conversation's status",
    "conversation.archived": "Archived a conversation",
    "conversation.restored": "Restored a conversation from the archive",
}


def action_text(action: str) -> str:
    """`referral.approved` -> "Approved a referral"; an unknown key in words, never raw."""
    if action in ACTIONS:
        return ACTIONS[action]
    words = action.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


# Field names of audit before/after and of fraud evidence, as a merchant names them.
FIELDS = {
    "status": "Status",
    "assigned_to": "Assigned to",
    "advocate_id": "Advocate",
    "enabled": "Program on",
    "friend_kind": "Friend discount type",
    "friend_value": "Friend discount",
    "friend_min_subtotal_minor": "Friend minimum order",
    "friend_once_per_customer": "Friend code once per customer",
    "friend_new_customers_only": "New customers only",
    "reward_kind": "Reward type",
    "reward_value": "Reward",
    "reward_expiry_days": "Reward expires after (days)",
    "reward_trigger": "Reward when",
    "reward_trigger_days": "Days after payment",
    "conversion_event": "Conversion event",
    "approval_mode": "Approval",
    "approval_delay_hours": "Approval delay (hours)",
    "cap_per_day": "Referrals per advocate per day",
    "cap_total": "Referrals per advocate in total",
    "email_id": "Email",
    "to": "Sent to",
    "format": "Format",
    "bytes": "Size (bytes)",
    "filter": "Customers",
    "customers": "Number of customers",
    "kind": "Kind",
    "value": "Value",
    "note": "Note",
    "friend_customer_id": "Friend",
    "advocate_customer_id": "Advocate",
    "friend_email": "Friend's email",
    "friend_normalised": "Friend's email, normalised",
    "advocate_email": "Advocate's email",
    "advocate_normalised": "Advocate's email, normalised",
    "friend_phone": "Friend's phone",
    "friend_e164": "Friend's phone, normalised",
    "advocate_phone": "Advocate's phone",
    "advocate_e164": "Advocate's phone, normalised",
    "friend_address": "Friend's shipping address",
    "advocate_addresses": "Advocate's addresses",
    "friend_ip": "Friend's IP address",
    "friend_user_agent": "Friend's browser",
    "advocate_devices": "Advocate's devices",
    "new_customers_only": "New customers only",
    "prior_orders": "Friend's earlier orders",
    "prior_orders_by_email": "Earlier orders with the friend's email",
    "other_referrals": "Other referrals of the friend",
    "reverse_referral": "The friend referred the advocate",
    "hits": "Blocklist matches",
    "referrals_today": "Advocate's referrals today",
    "referrals_total": "Advocate's referrals in total",
    "email": "Email",
    "reason": "Reason",
    "source": "Source",
    "name": "Name",
    "scopes": "Access",
    "prefix": "Key begins with",
    "url": "URL",
    "event_types": "Events",
    "previous_secret_valid_until": "Previous secret valid until",
    "shopify_id": "Shopify customer",
    "via": "How",
    "code": "Referral code",
}
JOINED_VIA = {
    "storefront": "On the storefront",
    "invitation": "From an invitation",
    "staff": "Added by staff",
    "api": "Through the API",
}
CHOICE_FIELDS = ("friend_kind", "reward_kind", "approval_mode", "reward_trigger")
CHOICES = {
    "percentage": "Percentage",
    "fixed_amount": "Fixed amount",
    "auto": "Automatic",
    "manual": "Manual",
    "paid": "The order is paid",
    "fulfilled": "The order is fulfilled",
    "days_after_paid": "Some days after payment",
    "event": "A conversion event",
}


def field_label(key: str) -> str:
    if key in FIELDS:
        return FIELDS[key]
    words = key.removesuffix("_minor").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def value_parts(key: str, value: Any, names: Names) -> list[Part]:
    """One value, formatted for a merchant: booleans as Yes/No, nothing as "—", lists as
    comma-separated items, ids as names with links, money in the shop's currency."""
    if value is None or value == "":
        return [Part("—")]
    if key in ("friend_customer_id", "advocate_customer_id"):
        return names.customer(value)
    if key == "advocate_id":
        return names.advocate(value)
    if key == "email_id":
        return [Part("the reward email")]
    if key == "filter" and isinstance(value, dict):
        return [Part(_filter_text(value))]
    if key == "hits" and isinstance(value, list):
        items = [
            f"{h.get('matched')} matches the {h.get('kind')} entry {h.get('pattern')}"
            for h in value
            if isinstance(h, dict)
        ]
        return [Part("; ".join(items) if items else "—")]
    if key == "other_referrals" and isinstance(value, list):
        return _joined(
            [
                [referral_part(r.get("referral_id")), *_status_of(r)]
                for r in value
                if isinstance(r, dict)
            ]
        )
    if key == "reverse_referral" and isinstance(value, dict):
        return [referral_part(value.get("referral_id")), *_status_of(value)]
    if key == "advocate_devices" and isinstance(value, list):
        items = [" · ".join(str(x) for x in d if x) for d in value if isinstance(d, list | tuple)]
        return [Part("; ".join(items) if items else "—")]
    if key.endswith("_minor") and isinstance(value, int):
        return [Part(f"{money_text(value, names.currency)} {names.currency}")]
    if key in CHOICE_FIELDS and isinstance(value, str):
        return [Part(CHOICES.get(value, value.replace("_", " ")))]
    if key == "via" and isinstance(value, str):
        return [Part(JOINED_VIA.get(value, value.replace("_", " ")))]
    if key == "status" and isinstance(value, str):
        return [Part(value.replace("_", " ").capitalize())]
    return [Part(plain_value(value))]


def plain_value(value: Any) -> str:
    """A value without a known meaning, still never a Python or JSON literal."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float | Decimal):
        return f"{value}"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "; ".join(plain_value(v) for v in value) if value else "—"
    if isinstance(value, dict):
        if not value:
            return "—"
        return "; ".join(f"{field_label(str(k))}: {plain_value(v)}" for k, v in value.items())
    return str(value)


def _status_of(row: dict[str, Any]) -> list[Part]:
    status = row.get("status")
    return [Part(f" ({str(status).replace('_', ' ')})")] if status else []


def _joined(groups: list[list[Part]]) -> list[Part]:
    if not groups:
        return [Part("—")]
    out: list[Part] = []
    for n, group in enumerate(groups):
        if n:
            out.append(Part("; "))
        out.extend(group)
    return out


def _filter_text(described: dict[str, Any]) -> str:
    if described.get("selected") is not None:
        return f"{described['selected']} selected customers"
    shown = {k: v for k, v in described.items() if v not in (None, "", [], {})}
    return "All matching: " + plain_value(shown) if shown else "All customers"


@dataclass(frozen=True)
class Change:
    label: str
    before: list[Part] | None  # None: the field was not there before (added)
    after: list[Part] | None  # None: removed


def changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None, names: Names
) -> list[Change]:
    """An audit entry's before -> after as one line per field that changed (or was set)."""
    before, after = before or {}, after or {}
    rows = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new:
            continue
        rows.append(
            Change(
                field_label(key),
                None if old is _MISSING else value_parts(key, old, names),
                None if new is _MISSING else value_parts(key, new, names),
            )
        )
    return rows


_MISSING = object()

RULE_TITLES = {rule.rule_id: rule.title for rule in RULES}


def rule_title(rule_id: str) -> str:
    return RULE_TITLES.get(rule_id) or field_label(rule_id.replace(".", "_"))


def evidence(evidence: dict[str, Any], names: Names) -> list[tuple[str, list[Part]]]:
    return [(field_label(k), value_parts(k, v, names)) for k, v in (evidence or {}).items()]


ATTRIBUTION = {
    "discount_code": "the friend used the advocate's discount code",
    "link": "the friend came through the advocate's referral link",
    "note_attribute": "the order carried the advocate's referral code",
    "landing_site": "the friend landed on the store through the referral link",
    "conversion": "a conversion event named the advocate",
    "manual": "a staff member created it by hand",
}
CAUSES = {
    "approved:automatic": "Approved automatically",
    "approved:staff": "Approved by staff",
    "staff": "Voided by staff",
    "order_cancelled": "The order was cancelled",
    "order_refunded": "The order was refunded",
    "forced": "Created by hand, past the fraud rules",
    "unblocked": "Unblocked by staff",
    "unvoided": "Un-voided by staff",
}


def cause_parts(cause: str | None, names: Names) -> list[Part]:
    """A history line's cause (`attributed:discount_code`, `reassigned:1->2`, a fraud rule
    id) as a sentence, with the advocates' names."""
    cause = cause or ""
    kind, _, detail = cause.partition(":")
    if kind == "attributed":
        how = ATTRIBUTION.get(detail, detail.replace("_", " "))
        return [Part(f"Referral made: {how}")]
    if kind == "reassigned":
        old, _, new = detail.partition("->")
        if old.isdigit() and new.isdigit():
            return [
                Part("Given to "),
                *names.advocate(int(new)),
                Part(" instead of "),
                *names.advocate(int(old)),
            ]
        return [Part("Given to another advocate")]
    if cause in CAUSES:
        return [Part(CAUSES[cause])]
    if kind == "rule":
        return [Part(f"Blocked by the fraud rule “{rule_title(detail)}”")]
    if cause == "currency":
        return [Part("Blocked: the order is not in the program's currency")]
    words = cause.replace(":", " ").replace("_", " ").replace(".", " ").strip()
    return [Part(words[:1].upper() + words[1:])] if words else []
