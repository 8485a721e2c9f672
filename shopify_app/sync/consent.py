"""Marketing consent, kept current with its own date.

Since API 2025-01 customer webhooks carry no consent; Shopify sends each change on its own
topic, `customers_email_marketing_consent/update` (email) and
`customers_marketing_consent/update` (SMS). Consent also comes as a snapshot inside a
customer read through GraphQL (import, reconciliation) or an older-version payload.

Whatever the path, a consent is ordered by its `consent_updated_at` (the delivery's time when
Shopify sends none): one older than the stored one never overwrites it, so a late or reordered
delivery cannot turn an unsubscribe back into a subscription. Each change is one timeline
event (keyed by channel, state and date, so a duplicate or the same change read again by
reconciliation is not a second one). A consent delivery that arrives after a newer one still
puts its change on the timeline, at its own date, without touching the stored state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from shopify_app.models import ConsentRequest, Customer, Shop, utcnow
from shopify_app.outgoing import payloads
from shopify_app.outgoing.events import emit
from shopify_app.timeline.events import record_event
from shopify_app.values import clean_str, parse_timestamp
from shopify_app.values import iso_utc as iso

CHANNELS = ("email", "sms")
PAYLOAD_KEYS = {"email": "email_marketing_consent", "sms": "sms_marketing_consent"}
STATES = {
    "email": {"subscribed", "not_subscribed", "unsubscribed", "pending", "redacted", "invalid"},
    "sms": {"subscribed", "not_subscribed", "unsubscribed", "pending", "redacted"},
}


@dataclass(frozen=True)
class Consent:
    channel: str
    state: str
    opt_in_level: str | None
    updated_at: datetime | None
    has_opt_in_level: bool = True


class MalformedConsent(ValueError):
    """A consent object Shopify would never send: no state, or one it does not have."""


def parse_consent(channel: str, value: Any, fallback_at: datetime | None) -> Consent | None:
    """The consent object of a payload (`{"state", "opt_in_level", "consent_updated_at"}`),
    None when it carries no state (Shopify sends `state: null` for a customer never asked)."""
    if not isinstance(value, dict):
        raise MalformedConsent(f"{PAYLOAD_KEYS[channel]} is not an object")
    raw = value.get("state")
    if raw is None:
        return None
    state = str(raw).strip().lower()
    if state not in STATES[channel]:
        raise MalformedConsent(f"{PAYLOAD_KEYS[channel]} has an unknown state {raw!r:.40}")
    level = value.get("opt_in_level")
    return Consent(
        channel=channel,
        state=state,
        opt_in_level=clean_str(str(level).lower(), 24) if level else None,
        updated_at=parse_timestamp(value.get("consent_updated_at")) or fallback_at,
        has_opt_in_level="opt_in_level" in value,
    )


def snapshot_consents(payload: dict[str, Any], fallback_at: datetime | None) -> list[Consent]:
    """The consents a customer payload carries (none on API 2025-01+ webhooks; absent is
    "unknown", never "not subscribed"). A malformed one is left out: the rest of the customer
    still applies."""
    found = []
    for channel in CHANNELS:
        if PAYLOAD_KEYS[channel] in payload:
            try:
                consent = parse_consent(channel, payload[PAYLOAD_KEYS[channel]], fallback_at)
            except MalformedConsent:
                continue
            if consent is not None:
                found.append(consent)
    return found


def store_consent(customer: Customer, consent: Consent) -> None:
    channel = consent.channel
    setattr(customer, f"{channel}_marketing_state", consent.state)
    if consent.has_opt_in_level:
        setattr(customer, f"{channel}_marketing_opt_in_level", consent.opt_in_level)
    if consent.updated_at is not None:
        setattr(customer, f"{channel}_marketing_consent_updated_at", consent.updated_at)


def apply_consent(
    session: Session,
    shop: Shop,
    customer: Customer,
    consent: Consent,
    *,
    change: bool,
    created: bool = False,
) -> bool:
    """Store `consent` unless a newer one is stored; returns whether it was stored.

    `created`: the row was just inserted with this consent (`store_consent` as it was
    prepared). `change` says the consent is a change Shopify announced (the consent topics):
    then even a late one is a fact for the timeline. A snapshot (a customer read or payload)
    is put on the timeline only when it differs from what was stored."""
    channel = consent.channel
    stored_state = None if created else getattr(customer, f"{channel}_marketing_state")
    stored_at = None if created else getattr(customer, f"{channel}_marketing_consent_updated_at")
    newer = stored_at is None or consent.updated_at is None or consent.updated_at >= stored_at
    if newer:
        if not created:
            store_consent(customer, consent)
        first_default = stored_state is None and consent.state == "not_subscribed"
        if consent.state != stored_state and not first_default:
            _event(session, shop, customer, consent, previous=stored_state)
            if consent.state == "unsubscribed" and not created:
                _emit_unsubscribed(session, shop, customer, consent, previous=stored_state)
    elif change and consent.state != stored_state:
        _event(session, shop, customer, consent, previous=None, late=True)
    if change and newer and consent.state in ("unsubscribed", "subscribed") and not created:
        confirm_requests(session, shop, customer, consent)
    return newer


def confirm_requests(session: Session, shop: Shop, customer: Customer, consent: Consent) -> None:
    """Shopify announced the state a request (`customers.consent_requests`) asked for: the
    request is confirmed (its job, if still to run, then has nothing to send)."""
    session.execute(
        update(ConsentRequest)
        .where(
            ConsentRequest.shop_id == shop.id,
            ConsentRequest.customer_id == customer.id,
            ConsentRequest.channel == consent.channel,
            ConsentRequest.status == "pending",
            ConsentRequest.target_state == consent.state,
        )
        .values(status="confirmed", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _event(
    session: Session,
    shop: Shop,
    customer: Customer,
    consent: Consent,
    *,
    previous: str | None,
    late: bool = False,
) -> None:
    at = consent.updated_at
    payload: dict[str, Any] = {
        "channel": consent.channel,
        "from": previous,
        "to": consent.state,
        "opt_in_level": consent.opt_in_level,
    }
    if late:
        payload["superseded"] = True  # a newer consent was already stored
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind=f"consent.{consent.channel}",
        occurred_at=at,
        source="shopify",
        payload=payload,
        dedupe_key=(
            f"customer:{customer.shopify_id}:consent:{consent.channel}:{consent.state}:"
            f"{at.isoformat() if at else 'undated'}"
        ),
    )


def _emit_unsubscribed(
    session: Session, shop: Shop, customer: Customer, consent: Consent, *, previous: str | None
) -> None:
    """`customer.unsubscribed`, whoever unsubscribed them (staff on the customer page,
    `customers.unsubscribe`, or the customer in Shopify); keyed like the timeline event, so
    the same change seen again (its webhook, reconciliation) is one event."""
    at = consent.updated_at
    emit(
        session,
        shop,
        "customer.unsubscribed",
        {
            "customer": payloads.customer_ref(customer),
            "channel": consent.channel,
            "previous_state": previous,
            "at": iso(at),
        },
        key=(
            f"customer.unsubscribed:{customer.id}:{consent.channel}:"
            f"{at.isoformat() if at else 'undated'}"
        ),
    )
