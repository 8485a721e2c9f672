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

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from shopify_app.i18n import N_, amount_text, stored_text
from shopify_app.referrals.fraud import RULES


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
            return [Part(_("a customer no longer in the app"))]
        return [Part(name, "customers.detail", {"customer_id": customer_id})]

    def advocate(self, advocate_id: Any) -> list[Part]:
        if not isinstance(advocate_id, int):
            return [Part("—")]
        known = self.advocates.get(advocate_id)
        if known is None:
            return [Part(_("an advocate no longer in the app"))]
        return [Part(known[1], "customers.detail", {"customer_id": known[0]})]


def referral_part(referral_id: Any) -> Part:
    if not isinstance(referral_id, int):
        return Part("—")
    return Part(
        _("Referral #%(id)s", id=referral_id), "portal.referral", {"referral_id": referral_id}
    )


# Audit actions as "<who> <sentence> <subject>", e.g. "Approved the referral".
ACTIONS = {
    "advocate.joined": N_("Joined a customer to the referral program"),
    "customer.invited": N_("Sent a customer an invitation to join"),
    "customer.exported": N_("Exported a customer's data"),
    "customer.unsubscribed_email": N_("Unsubscribed a customer from email marketing"),
    "customer.unsubscribed_sms": N_("Unsubscribed a customer from SMS marketing"),
    "customer.api_created": N_("Created a customer through the API"),
    "customer.api_updated": N_("Updated a customer through the API"),
    "customers.invite": N_("Sent invitations to many customers"),
    "customers.export": N_("Exported a customer list"),
    "referral.approved": N_("Approved a referral"),
    "referral.voided": N_("Voided a referral"),
    "referral.rechecked": N_("Ran the fraud rules again on a referral"),
    "referral.unblocked": N_("Unblocked a referral"),
    "referral.unvoided": N_("Un-voided a referral"),
    "referral.reassigned": N_("Gave a referral to another advocate"),
    "referral.created": N_("Created a referral by hand"),
    "referral.created.forced": N_("Created a referral by hand, past the fraud rules"),
    "referral.created_offline": N_("Recorded an offline sale and its referral"),
    "referral.created_offline.forced": N_(
        "Recorded an offline sale and its referral, past the fraud rules"
    ),
    "reward.email_resent": N_("Sent a reward email again"),
    "email.suppressed": N_("Stopped all emails to an address"),
    "email.unsuppressed": N_("Allowed emails to an address again"),
    "blocklist.added": N_("Added an entry to the blocklist"),
    "blocklist.removed": N_("Removed an entry from the blocklist"),
    "program.updated": N_("Changed the referral program's settings"),
    "api_key.created": N_("Created an API key"),
    "api_key.revoked": N_("Revoked an API key"),
    "webhook_endpoint.created": N_("Added a webhook endpoint"),
    "webhook_endpoint.updated": N_("Changed a webhook endpoint"),
    "webhook_endpoint.deleted": N_("Deleted a webhook endpoint"),
    "webhook_endpoint.disabled": N_("Turned off a webhook endpoint"),
    "webhook_endpoint.enabled": N_("Turned a webhook endpoint back on"),
    "webhook_endpoint.secret_rotated": N_("Rotated a webhook endpoint's signing secret"),
    "staff.chat_permission_granted": N_("Allowed a staff member to chat with shoppers"),
    "staff.chat_permission_withdrawn": N_("Withdrew a staff member's permission to chat"),
    "conversation.assigned": N_("Assigned a conversation"),
    "conversation.unassigned": N_("Unassigned a conversation"),
    "conversation.status_changed": N_("Changed a conversation's status"),
    "conversation.archived": N_("Archived a conversation"),
    "conversation.restored": N_("Restored a conversation from the archive"),
}


def action_text(action: str) -> str:
    """`referral.approved` -> "Approved a referral"; an unknown key in words, never raw."""
    if action in ACTIONS:
        return _(ACTIONS[action])
    words = action.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


# Field names of audit before/after and of fraud evidence, as a merchant names them.
FIELDS = {
    "status": N_("Status"),
    "assigned_to": N_("Assigned to"),
    "advocate_id": N_("Advocate"),
    "enabled": N_("Program on"),
    "friend_kind": N_("Friend discount type"),
    "friend_value": N_("Friend discount"),
    "friend_min_subtotal_minor": N_("Friend minimum order"),
    "friend_once_per_customer": N_("Friend code once per customer"),
    "friend_new_customers_only": N_("New customers only"),
    "reward_kind": N_("Reward type"),
    "reward_value": N_("Reward"),
    "reward_expiry_days": N_("Reward expires after (days)"),
    "reward_trigger": N_("Reward when"),
    "reward_trigger_days": N_("Days after payment"),
    "conversion_event": N_("Conversion event"),
    "approval_mode": N_("Approval"),
    "approval_delay_hours": N_("Approval delay (hours)"),
    "cap_per_day": N_("Referrals per advocate per day"),
    "cap_total": N_("Referrals per advocate in total"),
    "email_id": N_("Email"),
    "to": N_("Sent to"),
    "format": N_("Format"),
    "bytes": N_("Size (bytes)"),
    "filter": N_("Customers"),
    "customers": N_("Number of customers"),
    "kind": N_("Kind"),
    "value": N_("Value"),
    "note": N_("Note"),
    "friend_customer_id": N_("Friend"),
    "advocate_customer_id": N_("Advocate"),
    "friend_email": N_("Friend's email"),
    "friend_normalised": N_("Friend's email, normalised"),
    "advocate_email": N_("Advocate's email"),
    "advocate_normalised": N_("Advocate's email, normalised"),
    "friend_phone": N_("Friend's phone"),
    "friend_e164": N_("Friend's phone, normalised"),
    "advocate_phone": N_("Advocate's phone"),
    "advocate_e164": N_("Advocate's phone, normalised"),
    "friend_address": N_("Friend's shipping address"),
    "advocate_addresses": N_("Advocate's addresses"),
    "friend_ip": N_("Friend's IP address"),
    "friend_user_agent": N_("Friend's browser"),
    "advocate_devices": N_("Advocate's devices"),
    "new_customers_only": N_("New customers only"),
    "prior_orders": N_("Friend's earlier orders"),
    "prior_orders_by_email": N_("Earlier orders with the friend's email"),
    "other_referrals": N_("Other referrals of the friend"),
    "reverse_referral": N_("The friend referred the advocate"),
    "hits": N_("Blocklist matches"),
    "referrals_today": N_("Advocate's referrals today"),
    "referrals_total": N_("Advocate's referrals in total"),
    "email": N_("Email"),
    "reason": N_("Reason"),
    "source": N_("Source"),
    "name": N_("Name"),
    "scopes": N_("Access"),
    "prefix": N_("Key begins with"),
    "url": N_("URL"),
    "event_types": N_("Events"),
    "previous_secret_valid_until": N_("Previous secret valid until"),
    "shopify_id": N_("Shopify customer"),
    "via": N_("How"),
    "code": N_("Referral code"),
    "advocate_ips": N_("Advocate's IP addresses"),
    "similarity": N_("Similarity"),
}
JOINED_VIA = {
    "storefront": N_("On the storefront"),
    "invitation": N_("From an invitation"),
    "staff": N_("Added by staff"),
    "api": N_("Through the API"),
}
CHOICE_FIELDS = ("friend_kind", "reward_kind", "approval_mode", "reward_trigger")
CHOICES = {
    "percentage": N_("Percentage"),
    "fixed_amount": N_("Fixed amount"),
    "auto": N_("Automatic"),
    "manual": N_("Manual"),
    "paid": N_("The order is paid"),
    "fulfilled": N_("The order is fulfilled"),
    "days_after_paid": N_("Some days after payment"),
    "event": N_("A conversion event"),
}


def field_label(key: str) -> str:
    if key in FIELDS:
        return _(FIELDS[key])
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
        return [Part(_("the reward email"))]
    if key == "filter" and isinstance(value, dict):
        return [Part(_filter_text(value))]
    if key == "hits" and isinstance(value, list):
        items = [
            _(
                "%(matched)s matches the %(kind)s entry %(pattern)s",
                matched=h.get("matched"),
                kind=h.get("kind"),
                pattern=h.get("pattern"),
            )
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
        return [Part(amount_text(value, names.currency))]
    if key in CHOICE_FIELDS and isinstance(value, str):
        return [Part(_(CHOICES[value]) if value in CHOICES else value.replace("_", " "))]
    if key == "via" and isinstance(value, str):
        return [Part(_(JOINED_VIA[value]) if value in JOINED_VIA else value.replace("_", " "))]
    if key == "status" and isinstance(value, str):
        return [Part(_(value.replace("_", " ").capitalize()))]
    if key == "similarity" and isinstance(value, str):
        return [Part(stored_text(value))]
    return [Part(plain_value(value))]


def plain_value(value: Any) -> str:
    """A value without a known meaning, still never a Python or JSON literal."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
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
    return [Part(f" ({_(str(status).replace('_', ' ').capitalize()).lower()})")] if status else []


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
        return _("%(count)s selected customers", count=described["selected"])
    shown = {k: v for k, v in described.items() if v not in (None, "", [], {})}
    return _("All matching: %(filter)s", filter=plain_value(shown)) if shown else _("All customers")


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
    title = RULE_TITLES.get(rule_id)
    return _(title) if title else field_label(rule_id.replace(".", "_"))


def evidence(evidence: dict[str, Any], names: Names) -> list[tuple[str, list[Part]]]:
    return [(field_label(k), value_parts(k, v, names)) for k, v in (evidence or {}).items()]


ATTRIBUTION = {
    "discount_code": N_("the friend used the advocate's discount code"),
    "link": N_("the friend came through the advocate's referral link"),
    "note_attribute": N_("the order carried the advocate's referral code"),
    "landing_site": N_("the friend landed on the store through the referral link"),
    "conversion": N_("a conversion event named the advocate"),
    "manual": N_("a staff member created it by hand"),
}
CAUSES = {
    "approved:automatic": N_("Approved automatically"),
    "approved:staff": N_("Approved by staff"),
    "staff": N_("Voided by staff"),
    "order_cancelled": N_("The order was cancelled"),
    "order_refunded": N_("The order was refunded"),
    "forced": N_("Created by hand, past the fraud rules"),
    "unblocked": N_("Unblocked by staff"),
    "unvoided": N_("Un-voided by staff"),
}


def cause_parts(cause: str | None, names: Names) -> list[Part]:
    """A history line's cause (`attributed:discount_code`, `reassigned:1->2`, a fraud rule
    id) as a sentence, with the advocates' names."""
    cause = cause or ""
    kind, _sep, detail = cause.partition(":")
    if kind == "attributed":
        how = _(ATTRIBUTION[detail]) if detail in ATTRIBUTION else detail.replace("_", " ")
        return [Part(_("Referral made: %(how)s", how=how))]
    if kind == "reassigned":
        old, _sep, new = detail.partition("->")
        if old.isdigit() and new.isdigit():
            return _sentence(
                _("Given to %(new)s instead of %(old)s"),
                new=names.advocate(int(new)),
                old=names.advocate(int(old)),
            )
        return [Part(_("Given to another advocate"))]
    if cause in CAUSES:
        return [Part(_(CAUSES[cause]))]
    if kind == "rule":
        return [Part(_("Blocked by the fraud rule “%(rule)s”", rule=rule_title(detail)))]
    if cause == "currency":
        return [Part(_("Blocked: the order is not in the program's currency"))]
    words = cause.replace(":", " ").replace("_", " ").replace(".", " ").strip()
    return [Part(words[:1].upper() + words[1:])] if words else []


def _sentence(message: str, **parts: list[Part]) -> list[Part]:
    """A translated sentence whose `%(name)s` placeholders are formatted values (links)."""
    out: list[Part] = []
    pos = 0
    for found in re.finditer(r"%\((\w+)\)s", message):
        if found.start() > pos:
            out.append(Part(message[pos : found.start()]))
        out.extend(parts[found.group(1)])
        pos = found.end()
    if pos < len(message):
        out.append(Part(message[pos:]))
    return out
