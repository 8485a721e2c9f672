"""Unsubscribing a customer from email and/or SMS marketing (E4), written back to Shopify.

A staff member asks (with a reason) on the customer's page; `request_unsubscribe` stores one
`ConsentRequest` per channel, shows the new state on the customer's row at once (ordered by
its own date, `sync.consent`, so the app's emails stop now), audits it and enqueues
`jobs.WRITE_CONSENT`. The job (`write_back`) calls Shopify's consent mutation; the request
is then `confirmed` (by the mutation's answer, or earlier by the consent webhook,
`sync.consent.confirm_requests`), or `failed` with Shopify's `userErrors`, and the row's
state goes back to what it was unless a newer consent arrived meanwhile.

Idempotent: a double click (same `request_key`) is one request, a second request while one
is pending is refused, an already unsubscribed customer is a no-op, and a retried job sends
the same change (the same date) or, once the request is settled, nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.audit import record_audit
from shopify_app.models import ConsentRequest, Customer, Shop, utcnow
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.consent import update_marketing_consent
from shopify_app.shopify.errors import ReauthorizationRequired, UserErrors
from shopify_app.shopify.services import shopify
from shopify_app.sync.consent import Consent, apply_consent
from shopify_app.timeline.events import record_event
from shopify_app.values import parse_timestamp

log = logging.getLogger(__name__)

CHANNELS = ("email", "sms")
LABELS = {"email": "email marketing", "sms": "SMS marketing"}
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
        raise UnsubscribeRefused("this customer's data was erased")
    if customer.deleted_at is not None:
        raise UnsubscribeRefused("this customer was deleted in Shopify")
    chosen = [c for c in CHANNELS if c in set(channels)]
    if not chosen:
        raise UnsubscribeRefused("choose email marketing, SMS marketing or both")
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if not reason:
        raise UnsubscribeRefused("say why (the reason is kept in the audit trail)")
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
    label = LABELS[channel]
    key = f"{request_key}:{channel}"
    if _request_by_key(session, shop, key) is not None:
        return f"Already requested: {label}."  # a double click
    if pending_request(session, shop, customer.id, channel) is not None:
        return f"Already being unsubscribed from {label}."
    state = getattr(customer, f"{channel}_marketing_state")
    if state == TARGET:
        return f"Already unsubscribed from {label}: nothing to do."
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
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:  # the same click, committed by another request a moment ago
        return f"Already requested: {label}."
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
    return f"Unsubscribed from {label}; Shopify is being updated."


def _request_by_key(session: Session, shop: Shop, key: str) -> ConsentRequest | None:
    return session.scalar(
        select(ConsentRequest).where(
            ConsentRequest.shop_id == shop.id, ConsentRequest.request_key == key
        )
    )


def pending_request(
    session: Session, shop: Shop, customer_id: int, channel: str
) -> ConsentRequest | None:
    return session.scalar(
        select(ConsentRequest).where(
            ConsentRequest.shop_id == shop.id,
            ConsentRequest.customer_id == customer_id,
            ConsentRequest.channel == channel,
            ConsentRequest.status == "pending",
        )
    )


def latest_requests(session: Session, shop: Shop, customer_id: int) -> dict[str, ConsentRequest]:
    """The latest request per channel (what the customer page shows: pending, or refused
    with Shopify's errors)."""
    latest: dict[str, ConsentRequest] = {}
    rows = session.scalars(
        select(ConsentRequest)
        .where(ConsentRequest.shop_id == shop.id, ConsentRequest.customer_id == customer_id)
        .order_by(ConsentRequest.id.desc())
        .limit(20)
    )
    for row in rows:
        latest.setdefault(row.channel, row)
    return latest


def write_back(session: Session, request_id: int) -> str:
    """The job: send the request's change to Shopify. UserErrors (and a shop that must be
    re-authorised) settle it as `failed`; network errors, 5xx and throttling raise, so RQ
    retries with the same change."""
    request = session.get(ConsentRequest, request_id)
    if request is None:
        return "gone"
    if request.status != "pending":
        return f"already {request.status}"
    shop = session.get(Shop, request.shop_id)
    customer = session.get(Customer, request.customer_id)
    if shop is None or customer is None or customer.shopify_id is None:
        return _fail(session, request, None, [{"field": None, "message": "customer not found"}])
    if not shop.is_installed:
        return _fail(session, request, customer, [{"field": None, "message": "app uninstalled"}])
    shopify_id, channel, at = customer.shopify_id, request.channel, request.consent_updated_at
    target = request.target_state
    session.commit()  # no transaction open while Shopify answers
    try:
        answer = update_marketing_consent(
            admin_api(session, shop, shopify()), shopify_id, channel, target, at
        )
    except UserErrors as exc:
        errors = [
            {"field": e.get("field"), "message": e.get("message"), "code": e.get("code")}
            for e in exc.errors
        ]
        return _fail(session, request, customer, errors)
    except ReauthorizationRequired as exc:
        return _fail(session, request, customer, [{"field": None, "message": str(exc)}])
    session.refresh(request, with_for_update=True)
    session.refresh(customer, with_for_update=True)
    if answer is not None:
        apply_consent(
            session,
            shop,
            customer,
            Consent(channel, answer.state, answer.opt_in_level, answer.updated_at or at),
            change=True,
        )
    if request.status == "pending":
        request.status = "confirmed"
        request.finished_at = utcnow()
    session.commit()
    return request.status


def _fail(
    session: Session,
    request: ConsentRequest,
    customer: Customer | None,
    errors: list[dict[str, Any]],
) -> str:
    """Settle the request as refused; the row's state goes back unless a newer consent was
    stored since (its date is no longer the request's)."""
    session.refresh(request, with_for_update=True)
    if request.status != "pending":
        return f"already {request.status}"
    request.status = "failed"
    request.finished_at = utcnow()
    request.user_errors = errors
    request.error = "; ".join(str(e.get("message")) for e in errors)[:2000]
    if customer is not None:
        session.refresh(customer, with_for_update=True)
        _restore(customer, request)
        record_event(
            session,
            shop_id=request.shop_id,
            customer_id=customer.id,
            kind=f"consent.{request.channel}.writeback_failed",
            occurred_at=request.finished_at,
            source="app",
            actor=request.actor,
            payload={"channel": request.channel, "errors": errors},
            dedupe_key=f"consent-request:{request.id}:failed",
        )
    session.commit()
    log.warning("consent request %s refused by Shopify: %s", request.id, request.error)
    return "failed"


def _restore(customer: Customer, request: ConsentRequest) -> None:
    channel = request.channel
    if getattr(customer, f"{channel}_marketing_consent_updated_at") != request.consent_updated_at:
        return  # a newer consent arrived: it stands
    previous = request.previous or {}
    setattr(customer, f"{channel}_marketing_state", previous.get("state"))
    setattr(customer, f"{channel}_marketing_opt_in_level", previous.get("opt_in_level"))
    setattr(
        customer,
        f"{channel}_marketing_consent_updated_at",
        parse_timestamp(previous.get("updated_at")),
    )
