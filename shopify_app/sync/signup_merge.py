"""A storefront signup record (`customers.signups`: no Shopify id) becomes the Shopify
customer with the same email or phone when Shopify reports one, never a second row.

* Shopify reports a customer the app has no row for: the signup record is adopted (it gets
  the Shopify id and keeps its own id, so its timeline and emails stay where they are).
* The app already has a row for the Shopify customer (a consent delivery created it first,
  or a signup raced the customer's creation): the signup record is folded into it: every row
  that points at the signup record moves to the Shopify customer, its consent is kept where
  it is newer, and the signup record is deleted.

Either way the consents are ordered by their own dates (`sync.consent`), and the customer's
timeline says "matched to the Shopify customer". An email opt-in the shopper confirmed on
the storefront that is still the customer's newest consent is then sent to Shopify
(`share_opt_in`), so the store's own marketing reaches them too.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, delete, func, select, union_all, update
from sqlalchemy.orm import Session

from shopify_app.customers.attributes import MAX_ATTRIBUTES
from shopify_app.customers.consent_requests import request_subscribe
from shopify_app.models import Advocate, Base, Customer, Shop, utcnow
from shopify_app.referrals.identity import canonical_phone
from shopify_app.timeline.events import record_event
from shopify_app.values import normalize_email

CHANNELS = ("email", "sms")
# The B9 numbers (`referrals.revenue`): sums over disjoint rows, so a fold adds them.
STATS = (
    "successful_referrals",
    "total_referees",
    "referral_revenue_minor",
    "referrer_revenue_minor",
    "referee_revenue_minor",
)
log = logging.getLogger(__name__)


def addresses_of(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(normalised email, E.164 phone) of a Shopify customer payload."""
    return normalize_email(payload.get("email")), canonical_phone(payload.get("phone"))


def signup_records(
    session: Session, shop: Shop, email: str | None, phone: str | None
) -> list[Customer]:
    """The shop's signup records (no Shopify id) with this email or phone, locked, oldest
    first (two at most: one per address)."""
    if not email and not phone:
        return []
    query = _signup_records_query(bool(email), bool(phone))
    params = {"shop_id": shop.id, "email": email, "phone": phone}
    return list(session.scalars(query, {k: v for k, v in params.items() if v}))


@functools.cache
def _signup_records_query(by_email: bool, by_phone: bool) -> Select:
    """Built once per shape (this runs for every customer Shopify reports). One index probe
    per address: an OR of the two would read every signup record of the shop through the
    (shop_id, shopify_id) index on SQLite."""
    probes = [
        select(Customer.id).where(
            Customer.shop_id == bindparam("shop_id"),
            Customer.shopify_id.is_(None),
            column == bindparam(name),
        )
        for column, name, wanted in (
            (Customer.email_normalized, "email", by_email),
            (Customer.phone, "phone", by_phone),
        )
        if wanted
    ]
    ids = probes[0] if len(probes) == 1 else union_all(*probes)
    return select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id).with_for_update()


def confirmed_opt_in(record: Customer) -> datetime | None:
    """The date of the record's email opt-in confirmed by the double opt-in's link."""
    if (
        record.email_marketing_state == "subscribed"
        and record.email_marketing_opt_in_level == "confirmed_opt_in"
    ):
        return record.email_marketing_consent_updated_at
    return None


def share_opt_in(session: Session, shop: Shop, customer: Customer, opt_ins: list[datetime]) -> None:
    """After a merge and the payload's consents: when a merged record's confirmed opt-in
    is still the customer's email consent (Shopify's was older), write it to Shopify."""
    at = customer.email_marketing_consent_updated_at
    if (
        at is not None
        and at in opt_ins
        and customer.email_marketing_state == "subscribed"
        and customer.email_marketing_opt_in_level == "confirmed_opt_in"
    ):
        request_subscribe(
            session,
            shop,
            customer,
            at=at,
            actor="system",
            reason="The shopper confirmed a storefront signup before Shopify had the customer",
            request_key=f"signup-merge:{customer.id}:{at.isoformat()}",
        )


def matched_by(customer: Customer, email: str | None, phone: str | None) -> str:
    return "email" if email and customer.email_normalized == email else "phone"


def adopt(session: Session, shop: Shop, record: Customer, shopify_id: int, *, by: str) -> Customer:
    """The signup record becomes Shopify customer `shopify_id` (the caller then applies the
    payload's fields and consents to it)."""
    record.shopify_id = shopify_id
    session.flush()
    _matched_event(session, shop, record, shopify_id, by)
    return record


def fold_into(
    session: Session, shop: Shop, customer: Customer, record: Customer, *, by: str
) -> bool:
    """Move everything of signup `record` to the Shopify `customer` and delete the record.
    False when both are advocates (one customer has one advocate row, and which code to keep
    is staff's call): nothing moves, and both timelines say so, naming the other record."""
    advocates = session.scalar(
        select(func.count())
        .select_from(Advocate)
        .where(Advocate.shop_id == shop.id, Advocate.customer_id.in_([customer.id, record.id]))
    )
    if advocates == 2:
        log.warning(
            "signup record %s not merged into customer %s: both are advocates",
            record.id,
            customer.id,
        )
        for mine, other in ((customer, record), (record, customer)):
            record_event(
                session,
                shop_id=shop.id,
                customer_id=mine.id,
                kind="customer.match_held",
                occurred_at=utcnow(),
                source="app",
                payload={"other_customer": other.id, "matched_by": by, "why": "both_advocates"},
                dedupe_key=f"customer:{customer.id}:match-held:{record.id}:on:{mine.id}",
            )
        return False
    for table, column in _references():
        session.execute(
            update(table).where(table.c[column] == record.id).values({column: customer.id})
        )
    for channel in CHANNELS:
        theirs = getattr(record, f"{channel}_marketing_consent_updated_at")
        ours = getattr(customer, f"{channel}_marketing_consent_updated_at")
        if theirs is not None and (ours is None or theirs > ours):
            for field in ("state", "opt_in_level", "consent_updated_at"):
                name = f"{channel}_marketing_{field}"
                setattr(customer, name, getattr(record, name))
    customer.source = customer.source or record.source
    customer.custom_attributes = _merged_attributes(customer, record)
    if record.program_joined:  # staff joined the signup record: its advocate row moved
        customer.program_joined = True
    for number in STATS:
        setattr(customer, number, getattr(customer, number) + getattr(record, number))
    session.execute(delete(Customer).where(Customer.id == record.id))
    session.expunge(record)
    assert customer.shopify_id is not None
    _matched_event(session, shop, customer, customer.shopify_id, by, folded=record.id)
    return True


def _merged_attributes(customer: Customer, record: Customer) -> dict[str, Any] | None:
    """The record's custom attributes (set through the public API) join the customer's; on a
    name both have, the customer's value stays. Never past the bound: what does not fit is
    left out (the customer's own come first)."""
    merged = dict(customer.custom_attributes or {})
    for name, value in (record.custom_attributes or {}).items():
        if name not in merged and len(merged) < MAX_ATTRIBUTES:
            merged[name] = value
    return merged or None


def _references() -> list[tuple[Table, str]]:
    """Every (table, column) that points at `customers.id`."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "customers" and fk.column.name == "id":
                found.append((table, fk.parent.name))
    return found


def _matched_event(
    session: Session,
    shop: Shop,
    customer: Customer,
    shopify_id: int,
    by: str,
    folded: int | None = None,
) -> None:
    payload: dict[str, Any] = {"shopify_id": shopify_id, "matched_by": by}
    if folded is not None:
        payload["merged_record"] = folded
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind="customer.matched",
        occurred_at=utcnow(),
        source="app",
        payload=payload,
        dedupe_key=f"customer:{shopify_id}:matched:{folded or customer.id}",
    )
