"""Marketing consent changes the app makes, written back to Shopify (`ConsentRequest`).

Two kinds: a staff member's unsubscribe (E4, `customers.unsubscribe`) and a shopper's
confirmed storefront signup (E1, `customers.signups`) on a customer Shopify knows. Each is
one row per channel, written with the customer's new state and sent by the job
`jobs.WRITE_CONSENT` (`write_back`) through Shopify's consent mutations, then `confirmed`
(by the answer, or earlier by the consent webhook, `sync.consent.confirm_requests`) or
`failed` with Shopify's `userErrors`. A refused unsubscribe puts the row's state back
(unless a newer consent arrived); a refused subscribe keeps the shopper's confirmed opt-in
in the app (they gave it, by a link only their inbox had) and says so on the timeline.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.models import ConsentRequest, Customer, Shop, utcnow
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.consent import update_marketing_consent
from shopify_app.shopify.errors import ReauthorizationRequired, UserErrors
from shopify_app.shopify.services import shopify
from shopify_app.sync.consent import Consent, apply_consent
from shopify_app.timeline.events import record_event
from shopify_app.values import parse_timestamp

log = logging.getLogger(__name__)

# The opt-in level sent with a subscribe: email only ever after the double opt-in's click.
SUBSCRIBED_LEVEL = {"email": "confirmed_opt_in", "sms": "single_opt_in"}


def request_by_key(session: Session, shop: Shop, key: str) -> ConsentRequest | None:
    return session.scalar(
        select(ConsentRequest).where(
            ConsentRequest.shop_id == shop.id, ConsentRequest.request_key == key
        )
    )


def add_request(session: Session, request: ConsentRequest) -> bool:
    """Store a new request; False when its `request_key` was committed a moment ago by a
    concurrent request (the same click, the same confirmation)."""
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:
        return False
    return True


def request_subscribe(
    session: Session,
    shop: Shop,
    customer: Customer,
    *,
    at: datetime,
    actor: str,
    reason: str,
    request_key: str,
) -> ConsentRequest | None:
    """Tell Shopify that this customer, whose row already says email `subscribed` as of
    `at` (a confirmed storefront signup), subscribed. Nothing when Shopify has no such
    customer, a request is pending, or this key was already requested."""
    if customer.shopify_id is None or customer.redacted_at is not None:
        return None
    if request_by_key(session, shop, request_key) is not None:
        return None
    if pending_request(session, shop, customer.id, "email") is not None:
        return None
    request = ConsentRequest(
        shop_id=shop.id,
        customer_id=customer.id,
        channel="email",
        target_state="subscribed",
        previous={},
        status="pending",
        request_key=request_key[:64],
        actor=actor,
        reason=reason,
        consent_updated_at=at,
    )
    if not add_request(session, request):
        return None
    jobs.enqueue_after_commit(
        session, jobs.WRITE_CONSENT, request.id, job_id=f"consent-request-{request.id}"
    )
    return request


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
    level = SUBSCRIBED_LEVEL[channel] if target == "subscribed" else None
    session.commit()  # no transaction open while Shopify answers
    try:
        answer = update_marketing_consent(
            admin_api(session, shop, shopify()),
            shopify_id,
            channel,
            target,
            at,
            opt_in_level=level,
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
        if request.previous:  # an unsubscribe goes back; a shopper's confirmed opt-in stays
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
