"""Storefront signups (E1): a shopper without a store account gives an email or a phone
number, with marketing consent, on the app's storefront page, and becomes a customer record.

* One record per address: a signup for an address that already has a customer (from Shopify
  or an earlier signup) uses that record. Records without a Shopify id are unique per shop
  and address (partial unique indexes, migration 0015), so concurrent signups for one address
  insert-or-ignore into one row. When Shopify later reports a customer with the same email
  or phone, the record becomes that customer (`sync.signup_merge`).
* Email is double opt-in: the signup queues a confirmation email whose link names a
  `SignupConfirmation` row, sealed (AES-SIV, as unsubscribe links are), expiring after
  `CONFIRMATION_HOURS` and good once. Only the click makes the consent `subscribed`, dated;
  a new record is `pending` until then, an existing one keeps its consent. On a customer
  Shopify knows, the confirmed opt-in is written back to Shopify
  (`consent_requests.request_subscribe`; a record Shopify reports later: `sync.signup_merge`).
* SMS is recorded as given on the form (single opt-in, dated): the app sends no SMS, so a
  number cannot be confirmed. A number that belongs to a Shopify customer is therefore left
  alone (their consent is Shopify's); the request is on their timeline, not applied.
* The signup never says whether the address was known: its answer is the same either way,
  and it attaches nothing of the shopper's (no name, no account) to any record.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from shopify_app.crypto import derived_keys, seal, unseal
from shopify_app.customers.consent_requests import request_subscribe
from shopify_app.db import insert_ignore, row_values
from shopify_app.emails import queue_email, render
from shopify_app.emails.quotas import digest
from shopify_app.models import Customer, Shop, SignupConfirmation, utcnow
from shopify_app.referrals.identity import canonical_phone
from shopify_app.timeline.events import record_event
from shopify_app.values import normalize_email

Channel = Literal["email", "sms"]
Outcome = Literal["confirmed", "already", "used", "expired", "invalid"]

CONFIRMATION_HOURS = 48
KEY_PURPOSE = "referrals/signup-confirmation/v1"
TOKEN_CONTEXT = b"signup-confirmation"
TOKEN_MAX_LENGTH = 200
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
SIGNUP_ROWS = "shopify_id IS NULL"

CONSENT_TEXT = {  # recorded with the signup in the language the shopper read it in
    "email": _l("Yes, email me news and offers from %(shop)s. I can unsubscribe at any time."),
    "sms": _l(
        "Yes, text me news and offers from %(shop)s at this number. Message frequency varies; "
        "I can opt out at any time."
    ),
}


class InvalidContact(ValueError):
    """The email or phone cannot be used; the message is the reason, for the shopper."""


@dataclass(frozen=True)
class Contact:
    channel: Channel
    address: str  # a normalised email, or a phone number in E.164


@dataclass(frozen=True)
class Signup:
    customer_id: int
    created: bool  # a new record (the shopper is never told)
    confirmation_id: int | None  # the email queued, if any


def consent_text(channel: Channel, shop: Shop) -> str:
    return str(CONSENT_TEXT[channel]) % {"shop": " ".join((shop.name or shop.domain).split())}


def parse_contact(email: str | None, phone: str | None) -> Contact:
    """The one address a signup form gave, validated and normalised."""
    email, phone = (email or "").strip(), (phone or "").strip()
    if email and phone:
        raise InvalidContact(_("Enter an email address or a phone number, not both."))
    if email:
        address = normalize_email(email)
        if address is None or len(address) > 320 or not EMAIL_RE.match(address):
            raise InvalidContact(_("That is not an email address."))
        return Contact("email", address)
    if phone:
        if len(phone) > 32:
            raise InvalidContact(_("That is not a phone number."))
        number = canonical_phone(phone)
        if number is None:
            reason = (
                _("Enter the phone number with its country code, like +1 613 555 0123.")
                if not phone.startswith(("+", "00"))
                else _("That is not a phone number.")
            )
            raise InvalidContact(reason)
        return Contact("sms", number)
    raise InvalidContact(_("Enter an email address or a phone number."))


def address_key(shop: Shop, contact: Contact) -> str:
    """What the per-address rate limit counts: a keyed digest, never the address."""
    return f"{shop.id}:{contact.channel}:{digest(contact.address)}"


def _column(contact: Contact):
    return Customer.email_normalized if contact.channel == "email" else Customer.phone


def _known(shop: Shop, contact: Contact) -> Select:
    """Customers with the address that a signup may use: a Shopify customer first (not deleted
    or erased), else the signup record."""
    return (
        select(Customer)
        .where(
            Customer.shop_id == shop.id,
            _column(contact) == contact.address,
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
        )
        .order_by(Customer.shopify_id.is_(None), Customer.id)
        .limit(1)
        .with_for_update()
    )


def known_customer(session: Session, shop: Shop, contact: Contact) -> Customer | None:
    """The customer a signup (or the public API) for this address uses, locked."""
    return session.scalar(_known(shop, contact))


def record_for(
    session: Session, shop: Shop, contact: Contact, *, source: str = "storefront"
) -> tuple[Customer, bool]:
    """The customer with this address, locked; a new record (from `source`) when there is
    none (one row even when concurrent signups race: the loser's insert is ignored and it
    reads the winner's). The public API makes its customers through here too."""
    existing = session.scalar(_known(shop, contact))
    if existing is not None:
        return existing, False
    draft = Customer(shop_id=shop.id, source=source, tags="")
    if contact.channel == "email":
        draft.email = contact.address
        draft.email_normalized = contact.address
    else:
        draft.phone = contact.address
    column = "email_normalized" if contact.channel == "email" else "phone"
    new_id = insert_ignore(
        session, Customer, row_values(draft), ["shop_id", column], where=SIGNUP_ROWS
    )
    customer = session.scalar(_known(shop, contact))
    assert customer is not None
    return customer, new_id is not None


def sign_up(
    session: Session,
    shop: Shop,
    contact: Contact,
    *,
    confirm_url: str,
) -> Signup:
    """Record a storefront signup; the caller commits. `confirm_url` is where the store serves
    the confirmation page (the token is added as `?token=`)."""
    customer, created = record_for(session, shop, contact)
    now = utcnow()
    text = consent_text(contact.channel, shop)
    if contact.channel == "sms":
        applied = customer.shopify_id is None
        if applied and customer.sms_marketing_state != "subscribed":
            _set_consent(session, shop, customer, "sms", "subscribed", "single_opt_in", now)
        _signup_event(session, shop, customer, "sms", now, text, applied=applied)
        return Signup(customer.id, created, None)
    if customer.email_marketing_state == "subscribed":
        _signup_event(session, shop, customer, "email", now, text, applied=False)
        return Signup(customer.id, created, None)
    if created:
        _set_consent(session, shop, customer, "email", "pending", "confirmed_opt_in", now)
    confirmation = SignupConfirmation(
        shop_id=shop.id,
        customer_id=customer.id,
        address_digest=digest(contact.address),
        nonce=secrets.token_hex(16),
        created_at=now,
        expires_at=now + timedelta(hours=CONFIRMATION_HOURS),
    )
    session.add(confirmation)
    session.flush()
    _signup_event(session, shop, customer, "email", now, text, applied=True, key=confirmation.id)
    subject, body = render(
        "signup_confirmation",
        shop_name=" ".join((shop.name or shop.domain).split()),
        link=f"{confirm_url}?token={confirmation_token(confirmation)}",
        hours=CONFIRMATION_HOURS,
        consent=text,
    )
    queue_email(
        session,
        shop,
        kind="signup_confirmation",
        to=contact.address,
        subject=subject,
        body=body,
        dedupe_key=f"signup:{confirmation.id}",
        customer_id=customer.id,
    )
    return Signup(customer.id, created, confirmation.id)


def _set_consent(
    session: Session,
    shop: Shop,
    customer: Customer,
    channel: Channel,
    state: str,
    level: str,
    at: datetime,
) -> None:
    """Store a consent the shopper gave on the storefront, and its change on the timeline."""
    previous = getattr(customer, f"{channel}_marketing_state")
    setattr(customer, f"{channel}_marketing_state", state)
    setattr(customer, f"{channel}_marketing_opt_in_level", level)
    setattr(customer, f"{channel}_marketing_consent_updated_at", at)
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind=f"consent.{channel}",
        occurred_at=at,
        source="app",
        payload={
            "channel": channel,
            "from": previous,
            "to": state,
            "opt_in_level": level,
            "via": "storefront",
        },
        dedupe_key=f"record:{customer.id}:consent:{channel}:{state}:{at.isoformat()}",
    )


def _signup_event(
    session: Session,
    shop: Shop,
    customer: Customer,
    channel: Channel,
    at: datetime,
    text: str,
    *,
    applied: bool,
    key: int | None = None,
) -> None:
    """ "Signed up on the storefront", with the consent text the shopper ticked. `applied`
    False: the record already had that consent, or the number is a Shopify customer's."""
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind="storefront.signup",
        occurred_at=at,
        source="app",
        payload={"channel": channel, "consent_text": text, "applied": applied},
        dedupe_key=f"signup:{customer.id}:{channel}:{key or at.isoformat()}",
    )


# -- the confirmation link ------------------------------------------------------------------


def _keys() -> tuple[bytes, ...]:
    return derived_keys(current_app.config["ENCRYPTION_KEY"], KEY_PURPOSE, 64)


def confirmation_token(confirmation: SignupConfirmation) -> str:
    """The shop, the row and its random nonce, sealed: unguessable, unalterable, and naming
    the shop it was made for."""
    plain = f"{confirmation.shop_id}\n{confirmation.id}\n{confirmation.nonce}"
    return seal(_keys(), plain, TOKEN_CONTEXT)


def read_confirmation_token(token: str) -> tuple[int, int, str] | None:
    """(shop id, confirmation id, nonce) of a token this app sealed; None otherwise."""
    plain = unseal(_keys(), token, TOKEN_CONTEXT, TOKEN_MAX_LENGTH)
    if plain is None:
        return None
    parts = plain.split("\n")
    if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]), int(parts[1]), parts[2]
    return None
    return None


def pending_confirmation(
    session: Session, shop: Shop, token: str
) -> tuple[SignupConfirmation | None, Outcome | None]:
    """The confirmation a link names for this shop, or why it cannot be used ("invalid",
    "used", "expired"). Read only: the page shows a button; `confirm` acts."""
    found = read_confirmation_token(token)
    if found is None or found[0] != shop.id:
        return None, "invalid"
    row = session.scalar(
        select(SignupConfirmation).where(
            SignupConfirmation.id == found[1], SignupConfirmation.shop_id == shop.id
        )
    )
    if row is None or not secrets.compare_digest(row.nonce, found[2]):
        return None, "invalid"
    if row.used_at is not None:
        return row, "used"
    if row.expires_at <= utcnow():
        return row, "expired"
    return row, None


def confirm(session: Session, shop: Shop, token: str) -> Outcome:
    """The click in the confirmation email: the record's email consent becomes `subscribed`
    (confirmed opt-in, dated now). The link works once, until it expires, only for the
    shop it was made for and while the record still has the address. The caller commits."""
    row, refused = pending_confirmation(session, shop, token)
    if refused is not None or row is None:
        return refused or "invalid"
    customer = session.scalar(
        select(Customer)
        .where(Customer.id == row.customer_id, Customer.shop_id == shop.id)
        .with_for_update()
    )
    if (
        customer is None
        or customer.redacted_at is not None
        or customer.deleted_at is not None
        or not customer.email_normalized
        or not secrets.compare_digest(digest(customer.email_normalized), row.address_digest)
    ):
        return "invalid"
    now = utcnow()
    used = session.execute(
        update(SignupConfirmation)
        .where(SignupConfirmation.id == row.id, SignupConfirmation.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return "used"
    if customer.email_marketing_state == "subscribed":
        return "already"
    _set_consent(session, shop, customer, "email", "subscribed", "confirmed_opt_in", now)
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind="storefront.signup_confirmed",
        occurred_at=now,
        source="app",
        payload={"channel": "email"},
        dedupe_key=f"signup-confirmation:{row.id}:used",
    )
    request_subscribe(
        session,
        shop,
        customer,
        at=now,
        actor="system",
        reason="The shopper confirmed a storefront signup",
        request_key=f"signup-confirmation:{row.id}",
    )
    return "confirmed"
