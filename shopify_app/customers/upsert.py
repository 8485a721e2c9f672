"""Create or update a customer by email or phone (E1): what the public API's
`POST /customers` and its batch do.

The customer is found exactly as a storefront signup finds it (`customers.signups`): the
shop's Shopify customer with the address first (not deleted or erased), else the record
without a Shopify id; when there is none a record is made through the same insert-or-ignore
on the one-record-per-address indexes, so concurrent calls for one address make one record,
and when Shopify later reports a customer with the address the record becomes that customer
(`sync.signup_merge`). Shopify owns its customers' names and addresses: only records the app
made get names from the API, and a second address only when no other customer has it.
Every change is audited with the API key's name as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.models import Customer, Shop

from . import attributes, signups

SOURCE = "api"


class InvalidCustomer(ValueError):
    """The input is refused; `path` names the field, `kind` is validation_failed or
    conflict."""

    def __init__(self, path: str, message: str, kind: str = "validation_failed"):
        super().__init__(message)
        self.path = path
        self.kind = kind


@dataclass(frozen=True)
class Upserted:
    customer: Customer
    created: bool
    changed: tuple[str, ...]


def _contact(field: str, value: str | None) -> signups.Contact | None:
    if value is None:
        return None
    try:
        if field == "email":
            return signups.parse_contact(value, None)
        return signups.parse_contact(None, value)
    except signups.InvalidContact as exc:
        raise InvalidCustomer(field, str(exc)) from exc


def upsert_customer(session: Session, shop: Shop, data: dict[str, Any], *, actor: str) -> Upserted:
    """Find or make the customer `data` names by email or phone and apply its fields. The
    caller commits; raises InvalidCustomer (nothing changed)."""
    email = _contact("email", data.get("email"))
    phone = _contact("phone", data.get("phone"))
    if email is None and phone is None:
        raise InvalidCustomer("email", "Give an email address or a phone number.")
    by_email = signups.known_customer(session, shop, email) if email else None
    by_phone = signups.known_customer(session, shop, phone) if phone else None
    if by_email is not None and by_phone is not None and by_email.id != by_phone.id:
        raise InvalidCustomer(
            "phone",
            "The email address and the phone number belong to two different customers.",
            "conflict",
        )
    changes = data.get("custom_attributes") or {}
    found = by_email or by_phone
    attributes.merged(found.custom_attributes if found else None, changes)  # refuse early
    primary = email or phone
    assert primary is not None
    customer, created = (
        (found, False) if found else signups.record_for(session, shop, primary, source=SOURCE)
    )
    changed: list[str] = []

    def put(field: str, value: Any) -> None:
        if getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)

    if email and not customer.email_normalized and by_email is None:
        put("email", email.address)
        put("email_normalized", email.address)
    if phone and not customer.phone and by_phone is None:
        put("phone", phone.address)
    if customer.shopify_id is None:
        for field in ("first_name", "last_name"):
            if field in data:
                value = (data[field] or "").strip() or None
                put(field, value)
    if changes:
        put("custom_attributes", attributes.merged(customer.custom_attributes, changes) or None)
    if created or changed:
        session.flush()
        record_audit(
            session,
            shop,
            actor=actor,
            action="customer.api_created" if created else "customer.api_updated",
            subject_type="customer",
            subject_id=customer.id,
            after={"fields": sorted(set(changed) - {"email_normalized"})},
            customer_id=customer.id,
        )
    return Upserted(customer, created, tuple(changed))
