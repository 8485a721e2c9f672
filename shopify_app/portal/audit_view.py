"""The Audit page's lines: who did what to which object, and which fields changed, in words
and names (issue 21, item 2). The stored entry stays as it is, for the export and for
engineers (the page's "Details for engineers" disclosure)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.models import ApiKey, AuditEntry, OutgoingEndpoint, Reward, Shop
from shopify_app.wording import Change, Names, Part, action_text, changes, referral_part

from . import names as name_loader


@dataclass
class AuditLine:
    entry: AuditEntry
    what: str
    subject: list[Part]
    customer: list[Part]  # the customer it concerns, when not the subject itself
    changes: list[Change]


def audit_lines(session: Session, shop: Shop, entries: list[AuditEntry]) -> list[AuditLine]:
    def ids(kind: str) -> set[int]:
        return {e.subject_id for e in entries if e.subject_type == kind and e.subject_id}

    advocate_ids = ids("advocate") | {
        v
        for e in entries
        if e.action == "referral.reassigned"
        for side in (e.before or {}, e.after or {})
        if isinstance(v := side.get("advocate_id"), int)
    }
    names = name_loader.load(
        session,
        shop,
        customer_ids=ids("customer") | {e.customer_id for e in entries if e.customer_id},
        advocate_ids=advocate_ids,
    )
    rewards = _by_id(session, shop, Reward, Reward.code, ids("reward"))
    keys = _by_id(session, shop, ApiKey, ApiKey.name, ids("api_key"))
    endpoints = _by_id(
        session, shop, OutgoingEndpoint, OutgoingEndpoint.url, ids("webhook_endpoint")
    )
    lines = []
    for e in entries:
        subject = _subject(e, names, rewards, keys, endpoints)
        about = [] if _names_customer(subject, e.customer_id) else names.customer(e.customer_id)
        lines.append(
            AuditLine(
                entry=e,
                what=action_text(e.action),
                subject=subject,
                customer=about,
                changes=changes(e.before, e.after, names),
            )
        )
    return lines


def _names_customer(subject: list[Part], customer_id: int | None) -> bool:
    """Whether the subject already is the customer (an advocate, a customer), or there is none."""
    return customer_id is None or any(
        p.endpoint == "customers.detail" and p.args.get("customer_id") == customer_id
        for p in subject
    )


def _by_id(session: Session, shop: Shop, model, column, wanted: set[int]) -> dict[int, str]:
    if not wanted:
        return {}
    return dict(
        session.execute(
            select(model.id, column).where(model.shop_id == shop.id, model.id.in_(wanted))
        ).all()
    )


def _subject(
    e: AuditEntry,
    names: Names,
    rewards: dict[int, str],
    keys: dict[int, str],
    endpoints: dict[int, str],
) -> list[Part]:
    kind, sid = e.subject_type, e.subject_id
    recorded = {**(e.before or {}), **(e.after or {})}
    if kind == "referral":
        return [referral_part(sid)]
    if kind == "customer":
        return names.customer(sid)
    if kind == "advocate":
        return names.advocate(sid)
    if kind == "program":
        return [Part(_("Program settings"), "settings.settings")]
    if kind == "bulk_job":
        return [Part(_("Customers"), "customers.index")]
    if kind == "reward":
        code = rewards.get(sid or 0)
        return [Part(_("Reward code %(code)s", code=code) if code else _("A reward"))]
    if kind == "blocklist_entry":
        value = recorded.get("value")
        return [Part(f"“{value}”" if value else _("A blocklist entry"), "blocklist.blocklist")]
    if kind == "email_suppression":
        address = recorded.get("email")
        return [Part(f"{address}" if address else _("An address"), "emails.emails")]
    if kind == "api_key":
        name = keys.get(sid or 0) or recorded.get("name")
        return [
            Part(
                _("API key “%(name)s”", name=name) if name else _("An API key"), "api_keys.api_keys"
            )
        ]
    if kind == "webhook_endpoint":
        url = endpoints.get(sid or 0) or recorded.get("url")
        return [Part(url or _("A webhook endpoint"), "outgoing_webhooks.webhooks")]
    if kind == "staff_member":
        return [Part(str(recorded.get("staff") or _("A staff member")), "settings.settings")]
    if kind == "conversation":
        return [Part(_("A conversation"), "conversations.inbox", {"c": sid})]
    return [Part(kind.replace("_", " ").capitalize())]
