"""Create or update customers by email or phone (E1): what the public API's
`POST /customers` (one) and `POST /customers/batch` (up to 100) do.

A customer is found exactly as a storefront signup finds it (`customers.signups._known`):
the shop's Shopify customer with the address first (not deleted or erased), else the record
without a Shopify id. When there is none a record is made (source "api") by an
insert-or-ignore on the one-record-per-address indexes (migration 0015), so concurrent calls
for one address make one record, and when Shopify later reports a customer with the address
the record becomes that customer (`sync.signup_merge`). Shopify owns its customers' names
and addresses: only records the app made get names from the API, and a second address is
added only when no other customer has it. Every change is audited with the API key's name.

A batch is planned whole before anything is written (every item's address, conflict and
attribute bound checked in order, later items seeing what earlier ones do), then written
with a few statements for all its items: one lookup of every address, one INSERT of the new
records, one UPDATE per shape of change, one INSERT of the audit entries and one of their
timeline events. An item that breaks a rule fails alone and writes nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shopify_app.audit import record_audits
from shopify_app.db import row_values
from shopify_app.models import Customer, Shop, utcnow
from shopify_app.outgoing import payloads as outgoing_payloads
from shopify_app.outgoing.events import emit

from . import attributes, signups

SOURCE = "api"
FIELDS = ("email", "phone", "first_name", "last_name", "custom_attributes")


class InvalidCustomer(ValueError):
    """The input is refused; `path` names the field, `kind` is validation_failed or
    conflict."""

    def __init__(self, path: str, message: str, kind: str = "validation_failed"):
        super().__init__(message)
        self.path = path
        self.kind = kind


Refusal = InvalidCustomer | attributes.InvalidAttributes


@dataclass(frozen=True)
class Upserted:
    customer: Customer
    created: bool
    changed: tuple[str, ...]


@dataclass(eq=False)
class _Target:
    """A customer the batch writes: an existing one (locked) or one it makes."""

    customer: Customer | None
    state: dict[str, Any]  # FIELDS as the batch leaves them so far
    shopify: bool = False
    created_by: int | None = None  # the item that makes it
    original: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Step:
    index: int
    target: _Target
    changed: list[str]


def _contact(name: str, value: str | None) -> signups.Contact | None:
    if value is None:
        return None
    try:
        if name == "email":
            return signups.parse_contact(value, None)
        return signups.parse_contact(None, value)
    except signups.InvalidContact as exc:
        raise InvalidCustomer(name, str(exc)) from exc


def _state(customer: Customer) -> dict[str, Any]:
    return {
        "email": customer.email_normalized,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "custom_attributes": dict(customer.custom_attributes or {}),
    }


def _known_many(
    session: Session, shop: Shop, emails: set[str], phones: set[str]
) -> tuple[dict[str, Customer], dict[str, Customer]]:
    """{email: customer}, {phone: customer}: for each address the customer a signup would
    use (`signups._known`: a Shopify customer first, then the oldest), all locked in id
    order."""
    probes = []
    if emails:
        probes.append(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.email_normalized.in_(sorted(emails))
            )
        )
    if phones:
        probes.append(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.phone.in_(sorted(phones))
            )
        )
    if not probes:
        return {}, {}
    # Two statements: the ids first (index probes), then the rows locked by primary key. As
    # one (`id IN (subquery) FOR UPDATE`) PostgreSQL ran the subquery once per customer row.
    ids = sorted(set(session.scalars(probes[0] if len(probes) == 1 else union_all(*probes))))
    if not ids:
        return {}, {}
    found = session.scalars(
        select(Customer)
        .where(
            Customer.id.in_(ids),
            Customer.shop_id == shop.id,
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
        )
        .order_by(Customer.id)
        .with_for_update()
    ).all()
    preferred = sorted(found, key=lambda c: (c.shopify_id is None, c.id))
    by_email: dict[str, Customer] = {}
    by_phone: dict[str, Customer] = {}
    for customer in preferred:
        if customer.email_normalized in emails:
            by_email.setdefault(customer.email_normalized, customer)
        if customer.phone in phones:
            by_phone.setdefault(customer.phone, customer)
    return by_email, by_phone


def _plan(
    session: Session, shop: Shop, items: list[dict[str, Any]], results: list[Any]
) -> list[_Step]:
    contacts: dict[int, tuple[signups.Contact | None, signups.Contact | None]] = {}
    for index, data in enumerate(items):
        try:
            email = _contact("email", data.get("email"))
            phone = _contact("phone", data.get("phone"))
            if email is None and phone is None:
                raise InvalidCustomer("email", "Give an email address or a phone number.")
            contacts[index] = (email, phone)
        except InvalidCustomer as exc:
            results[index] = exc
    by_email, by_phone = _known_many(
        session,
        shop,
        {e.address for e, _ in contacts.values() if e},
        {p.address for _, p in contacts.values() if p},
    )
    targets: dict[int, _Target] = {}

    def target_of(customer: Customer) -> _Target:
        if customer.id not in targets:
            state = _state(customer)
            targets[customer.id] = _Target(
                customer, state, customer.shopify_id is not None, original=dict(state)
            )
        return targets[customer.id]

    email_index = {a: target_of(c) for a, c in by_email.items()}
    phone_index = {a: target_of(c) for a, c in by_phone.items()}
    steps = []
    for index, (email, phone) in contacts.items():
        data = items[index]
        with_email = email_index.get(email.address) if email else None
        with_phone = phone_index.get(phone.address) if phone else None
        if with_email is not None and with_phone is not None and with_email is not with_phone:
            results[index] = InvalidCustomer(
                "phone",
                "The email address and the phone number belong to two different customers.",
                "conflict",
            )
            continue
        target = with_email or with_phone
        new = target is None
        if target is None:
            state = {f: None for f in FIELDS} | {"custom_attributes": {}}
            target = _Target(None, state, created_by=index)
        after = dict(target.state)
        try:
            if data.get("custom_attributes"):
                after["custom_attributes"] = attributes.merged(
                    target.state["custom_attributes"], data["custom_attributes"]
                )
        except attributes.InvalidAttributes as exc:
            results[index] = exc
            continue
        if email and after["email"] is None and with_email is None:
            after["email"] = email.address
            email_index[email.address] = target
        if phone and after["phone"] is None and with_phone is None:
            after["phone"] = phone.address
            phone_index[phone.address] = target
        if not target.shopify:
            for name in ("first_name", "last_name"):
                if name in data:
                    after[name] = (data[name] or "").strip() or None
        changed = [f for f in FIELDS if after[f] != target.state[f]]
        target.state = after
        steps.append(_Step(index, target, [] if new else changed))
    return steps


def _insert_new(session: Session, shop: Shop, new: list[_Target]) -> list[_Target]:
    """Insert the batch's new records in one statement; the targets whose insert was
    ignored (a concurrent call made the address's record first)."""
    drafts = []
    # One order for every batch: two batches making the same new addresses wait on each
    # other's rows in the same order instead of deadlocking.
    new = sorted(new, key=lambda t: (t.state["email"] or "", t.state["phone"] or ""))
    for target in new:
        state = target.state
        draft = Customer(
            shop_id=shop.id,
            source=SOURCE,
            tags="",
            email=state["email"],
            email_normalized=state["email"],
            phone=state["phone"],
            first_name=state["first_name"],
            last_name=state["last_name"],
            custom_attributes=state["custom_attributes"] or None,
        )
        drafts.append(row_values(draft))
    result = session.execute(_insert_statement(session.get_bind().dialect.name), drafts)
    made = {(row.email_normalized, row.phone): row.id for row in result}
    loaded = {
        c.id: c
        for c in session.scalars(
            select(Customer)
            .where(Customer.id.in_(made.values()))
            .execution_options(populate_existing=True)
        )
    }
    lost = []
    for target in new:
        new_id = made.get((target.state["email"], target.state["phone"]))
        if new_id is None:
            lost.append(target)
        else:
            target.customer = loaded[new_id]
    return lost


@functools.cache
def _insert_statement(dialect: str):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING, run with a list of rows (SQLAlchemy's
    "insertmanyvalues": one compiled statement, a few round trips for a whole batch). No
    conflict target: a record that lost a race on either address index is skipped."""
    table = Customer.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.email_normalized, table.c.phone)
    )


def _adopt_lost(session: Session, shop: Shop, target: _Target) -> None:
    """A new record whose insert lost a race: the winner's record takes the changes."""
    state = target.state
    primary = (
        signups.Contact("email", state["email"])
        if state["email"]
        else signups.Contact("sms", state["phone"])
    )
    customer, _created = signups.record_for(session, shop, primary, source=SOURCE)
    target.customer = customer
    target.created_by = None
    target.shopify = customer.shopify_id is not None
    target.original = _state(customer)
    for name in FIELDS:
        if name in ("first_name", "last_name") and target.shopify:
            continue
        if name == "custom_attributes":
            value = attributes.merged(customer.custom_attributes, state[name]) or None
        elif name in ("email", "phone") and getattr(customer, name) is not None:
            continue
        else:
            value = state[name]
        _put(customer, name, value)


def _put(customer: Customer, name: str, value: Any) -> None:
    if name == "email":
        if customer.email_normalized != value:
            customer.email = value
            customer.email_normalized = value
    elif name == "custom_attributes":
        if (customer.custom_attributes or {}) != (value or {}):
            customer.custom_attributes = value or None
    elif getattr(customer, name) != value:
        setattr(customer, name, value)


def upsert_customers(
    session: Session, shop: Shop, items: list[dict[str, Any]], *, actor: str
) -> list[Upserted | Refusal]:
    """Each item's outcome, in order: `Upserted`, or the refusal (nothing of that item
    written). The caller commits."""
    results: list[Any] = [None] * len(items)
    steps = _plan(session, shop, items, results)
    unique: list[_Target] = list({id(s.target): s.target for s in steps}.values())
    new = [t for t in unique if t.customer is None]
    lost = _insert_new(session, shop, new) if new else []
    for target in lost:
        _adopt_lost(session, shop, target)
    for target in unique:
        if target.customer is not None and target not in new:
            for name in FIELDS:
                if target.state[name] != target.original.get(name, target.state[name]):
                    _put(target.customer, name, target.state[name])
    session.flush()
    audits = []
    for step in steps:
        target = step.target
        assert target.customer is not None
        created = target.created_by == step.index
        if created or step.changed:
            audits.append(
                {
                    "actor": actor,
                    "action": "customer.api_created" if created else "customer.api_updated",
                    "subject_type": "customer",
                    "subject_id": target.customer.id,
                    "customer_id": target.customer.id,
                    "after": {"fields": step.changed} if not created else None,
                }
            )
        results[step.index] = Upserted(target.customer, created, tuple(step.changed))
    record_audits(session, shop, audits)
    now = utcnow().isoformat()
    for step in steps:
        customer = step.target.customer
        if step.changed and step.target.created_by != step.index and customer is not None:
            emit(
                session,
                shop,
                "customer.updated",
                {"customer": outgoing_payloads.customer(customer), "changed": step.changed},
                key=f"customer.updated:api:{customer.id}:{now}:{step.index}",
            )
    return results


def upsert_customer(session: Session, shop: Shop, data: dict[str, Any], *, actor: str) -> Upserted:
    """One item of `upsert_customers`; raises its refusal. The caller commits."""
    [result] = upsert_customers(session, shop, [data], actor=actor)
    if isinstance(result, Upserted):
        return result
    raise result
