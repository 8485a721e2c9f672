"""Unsubscribing a customer from email and/or SMS marketing (E4), written back to Shopify.

A staff member asks (with a reason) on the customer's page; `request_unsubscribe` stores one
`ConsentRequest` per channel, shows the new state on the customer's row at once (ordered by
its own date, `sync.consent`, so the app's emails stop now), audits it and enqueues
`jobs.WRITE_CONSENT` (`consent_requests.write_back`: confirmed, or failed with Shopify's
`userErrors` and the row's state back to what it was unless a newer consent arrived).

Idempotent: a double click (same `request_key`) is one request, a second request while one
is pending is refused, an already unsubscribed customer is a no-op, and a retried job sends
the same change (the same date) or, once the request is settled, nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.audit import record_audit
from shopify_app.i18n import N_
from shopify_app.models import ConsentRequest, Customer, Shop, utcnow
from shopify_app.sync.consent import Consent, apply_consent

from .consent_requests import add_request, pending_request, request_by_key

CHANNELS = ("email", "sms")
LABELS = {"email": N_("email marketing"), "sms": N_("SMS marketing")}
TARGET = "unsubscribed"
MAX_REASON = 500


class UnsubscribeRefused(ValueError):
    """Nothing was requested; the message says why."""


@dataclass
class UnsubscribeOutcome:
    requested: list[ConsentRequest] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return " ".join(self.messages)


def request_unsubscribe(
    session: Session,
    shop: Shop,
    customer: Customer,
    channels: list[str],
    *,
    actor: str,
    reason: str,
    request_key: str,
) -> UnsubscribeOutcome:
    """Unsubscribe `customer` from each of `channels` now and write it back to Shopify by a
    job (after the caller commits). Raises UnsubscribeRefused (erased or deleted customer,
    no channel, no reason)."""
    if customer.redacted_at is not None:
        raise UnsubscribeRefused(_("this customer's data was erased"))
    if customer.deleted_at is not None:
        raise UnsubscribeRefused(_("this customer was deleted in Shopify"))
    chosen = [c for c in CHANNELS if c in set(channels)]
    if not chosen:
        raise UnsubscribeRefused(_("choose email marketing, SMS marketing or both"))
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if not reason:
        raise UnsubscribeRefused(_("say why (the reason is kept in the audit trail)"))
    request_key = (request_key or "")[:48] or f"{actor}:{utcnow().isoformat()}"
    session.flush()
    session.refresh(customer, with_for_update=True)  # two staff at once: one after the other
    outcome = UnsubscribeOutcome()
    for channel in chosen:
        outcome.messages.append(
            _request_channel(session, shop, customer, channel, actor, reason, request_key, outcome)
        )
    return outcome


def _request_channel(
    session: Session,
    shop: Shop,
    customer: Customer,
    channel: str,
    actor: str,
    reason: str,
    request_key: str,
    outcome: UnsubscribeOutcome,
) -> str:
    label = _(LABELS[channel])
    key = f"{request_key}:{channel}"
    if request_by_key(session, shop, key) is not None:
        return _("Already requested: %(label)s.", label=label)  # a double click
    if pending_request(session, shop, customer.id, channel) is not None:
        return _("Already being unsubscribed from %(label)s.", label=label)
    state = getattr(customer, f"{channel}_marketing_state")
    if state == TARGET:
        return _("Already unsubscribed from %(label)s: nothing to do.", label=label)
    previous_at = getattr(customer, f"{channel}_marketing_consent_updated_at")
    at = utcnow()
    if previous_at is not None and at <= previous_at:  # Shopify's clock ahead of ours
        at = previous_at + timedelta(milliseconds=1)
    request = ConsentRequest(
        shop_id=shop.id,
        customer_id=customer.id,
        channel=channel,
        target_state=TARGET,
        previous={
            "state": state,
            "opt_in_level": getattr(customer, f"{channel}_marketing_opt_in_level"),
            "updated_at": previous_at.isoformat() if previous_at else None,
        },
        status="pending",
        request_key=key,
        actor=actor,
        reason=reason,
        consent_updated_at=at,
    )
    if not add_request(session, request):  # the same click, committed a moment ago
        return _("Already requested: %(label)s.", label=label)
    apply_consent(
        session,
        shop,
        customer,
        Consent(channel, TARGET, None, at, has_opt_in_level=False),
        change=False,  # the app's own change: `change=True` would confirm it already
    )
    record_audit(
        session,
        shop,
        actor=actor,
        action=f"customer.unsubscribed_{channel}",
        subject_type="customer",
        subject_id=customer.id,
        customer_id=customer.id,
        before={f"{channel}_marketing": state},
        after={f"{channel}_marketing": TARGET},
        reason=reason,
    )
    if customer.shopify_id is None:  # a record the app made (storefront sign-up): no write-back
        request.status = "confirmed"
        request.finished_at = at
    else:
        jobs.enqueue_after_commit(
            session, jobs.WRITE_CONSENT, request.id, job_id=f"consent-request-{request.id}"
        )
    outcome.requested.append(request)
    return _("Unsubscribed from %(label)s; Shopify is being updated.", label=label)
