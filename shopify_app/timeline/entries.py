"""A timeline page made readable: each event's sentence and what opens under it (the
order's lines and totals, the email's subject and delivery log, the rules' evidence, the
staff action's before/after and its undo, a third party's properties).

The details of a page are read in one statement per kind of row, whatever the page holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shopify_app.db import unindexed
from shopify_app.i18n import N_
from shopify_app.models import (
    AuditEntry,
    EmailMessage,
    FraudCheck,
    Order,
    Referral,
    Shop,
    TimelineEvent,
)
from shopify_app.referrals import staff_actions

from .kinds import BY_KEY, SOURCES
from .labels import describe

# What undoes a staff action or a system decision, while the referral is still in the state
# it left: the portal's un-void and un-block (each asks for a reason, audited).
UNDO = {"voided": "unvoid", "blocked": "unblock"}


@dataclass
class Entry:
    event: TimelineEvent
    title: str
    source_label: str
    family_label: str
    order: Order | None = None
    email: EmailMessage | None = None
    referral: Referral | None = None
    checks: list[FraudCheck] = field(default_factory=list)
    audit: AuditEntry | None = None
    undo: str | None = None  # "unvoid" | "unblock", on the referral's portal page


def _offered(session: Session, shop: Shop, referral: Referral, undo: str) -> str | None:
    """`undo` when it would succeed now (a void of a refunded order cannot be undone)."""
    refusal = (
        staff_actions.unvoid_refusal(session, shop, referral)
        if undo == "unvoid"
        else staff_actions.unblock_refusal(referral)
    )
    return undo if refusal is None else None


def _ids(events: list[TimelineEvent], key: str) -> set[int]:
    return {v for e in events if isinstance(v := (e.payload or {}).get(key), int) and v > 0}


def _audit_id(event: TimelineEvent) -> int | None:
    if event.family != "staff" or not event.dedupe_key:
        return None
    prefix, _, rest = event.dedupe_key.partition(":")
    return int(rest) if prefix == "audit" and rest.isdigit() else None


def entries_for(
    session: Session,
    shop: Shop,
    events: list[TimelineEvent],
    *,
    name_of: Callable[[str | None], str] | None = None,
) -> list[Entry]:
    """The page's events with their sentences and details; `name_of` turns an actor
    (`staff:501`) into the staff member's name."""
    order_ids = {
        v
        for e in events
        if e.family == "order" and isinstance(v := (e.payload or {}).get("order_id"), int)
    }
    orders = {}
    if order_ids:
        orders = {
            o.shopify_id: o
            for o in session.scalars(
                select(Order)
                .where(Order.shop_id == shop.id, Order.shopify_id.in_(order_ids))
                .options(selectinload(Order.line_items))
            )
        }
    email_ids = _ids([e for e in events if e.family in ("email", "program")], "email_id")
    emails = {}
    if email_ids:
        emails = {
            m.id: m
            for m in session.scalars(
                select(EmailMessage).where(
                    unindexed(EmailMessage.shop_id) == shop.id, EmailMessage.id.in_(email_ids)
                )
            )
        }
    referral_ids = _ids([e for e in events if e.family == "referral"], "referral_id")
    referrals: dict[int, Referral] = {}
    checks: dict[int, list[FraudCheck]] = {}
    if referral_ids:
        referrals = {
            r.id: r
            for r in session.scalars(
                select(Referral).where(
                    unindexed(Referral.shop_id) == shop.id, Referral.id.in_(referral_ids)
                )
            )
        }
        for check in session.scalars(
            select(FraudCheck)
            .where(FraudCheck.shop_id == shop.id, FraudCheck.referral_id.in_(referral_ids))
            .order_by(FraudCheck.referral_id, FraudCheck.evaluation.desc(), FraudCheck.id)
        ):
            latest = checks.setdefault(check.referral_id, [])
            if not latest or latest[0].evaluation == check.evaluation:
                latest.append(check)
    audit_ids = {i for e in events if (i := _audit_id(e)) is not None}
    audits = {}
    if audit_ids:
        audits = {
            a.id: a
            for a in session.scalars(
                select(AuditEntry).where(
                    unindexed(AuditEntry.shop_id) == shop.id, AuditEntry.id.in_(audit_ids)
                )
            )
        }
    entries = []
    for event in events:
        payload: dict[str, Any] = event.payload or {}
        family = BY_KEY.get(event.family)
        staff_name = (
            name_of(event.actor) if name_of and event.family in ("staff", "conversation") else None
        )
        email = emails.get(payload.get("email_id"))
        shared_to = email.to_address if email is not None and event.family == "program" else None
        entry = Entry(
            event=event,
            title=describe(event, staff_name=staff_name, shared_to=shared_to),
            source_label=(
                event.source_name
                if event.source == "api" and event.source_name
                else SOURCES.get(event.source, event.source)
            ),
            family_label=family.label if family else N_("Other"),
        )
        if event.family == "order":
            entry.order = orders.get(payload.get("order_id"))
        if event.family in ("email", "program"):
            entry.email = email
        if event.family == "referral":
            entry.referral = referrals.get(payload.get("referral_id"))
            entry.checks = checks.get(payload.get("referral_id"), [])
            step = event.kind.partition(".")[2]
            if entry.referral is not None and entry.referral.status == step and step in UNDO:
                entry.undo = _offered(session, shop, entry.referral, UNDO[step])
        audit_id = _audit_id(event)
        if audit_id is not None:
            entry.audit = audits.get(audit_id)
            subject = (entry.audit.subject_type, entry.audit.subject_id) if entry.audit else None
            if subject and subject[0] == "referral" and entry.audit.action == "referral.voided":
                referral = session.get(Referral, subject[1])
                if referral is not None and referral.status == "voided":
                    entry.undo = _offered(session, shop, referral, "unvoid")
                    entry.referral = referral
        entries.append(entry)
    return entries
