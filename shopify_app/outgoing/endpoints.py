"""The merchant's endpoints: register (the secret is shown once), rotate the secret (the old
one keeps signing for a grace period), enable, disable, delete. Every function takes the
shop, and another shop's endpoint is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.models import OutgoingEndpoint, Shop, utcnow
from shopify_app.values import normalize_email

from . import addresses, signing
from .event_types import EVENT_TYPES
from .secrets_store import cipher

ROTATION_GRACE = timedelta(hours=24)
MAX_ENDPOINTS_PER_SHOP = 20


class EndpointRefused(ValueError):
    """The endpoint cannot be saved or changed; the message says why."""


@dataclass(frozen=True)
class WithSecret:
    """An endpoint and its secret in plain text: shown to the merchant this once."""

    endpoint: OutgoingEndpoint
    secret: str


def allow_local() -> bool:
    return bool(current_app.config.get("OUTGOING_WEBHOOKS_ALLOW_LOCAL"))


def get_endpoint(session: Session, shop: Shop, endpoint_id: int) -> OutgoingEndpoint | None:
    return session.scalar(
        select(OutgoingEndpoint).where(
            OutgoingEndpoint.shop_id == shop.id, OutgoingEndpoint.id == endpoint_id
        )
    )


def list_endpoints(session: Session, shop: Shop) -> list[OutgoingEndpoint]:
    return list(
        session.scalars(
            select(OutgoingEndpoint)
            .where(OutgoingEndpoint.shop_id == shop.id)
            .order_by(OutgoingEndpoint.id)
        )
    )


def clean_event_types(chosen: list[str]) -> list[str]:
    types = [t for t in EVENT_TYPES if t in set(chosen)]
    unknown = sorted(set(chosen) - set(EVENT_TYPES))
    if unknown:
        raise EndpointRefused(_("unknown event type: %(types)s", types=", ".join(unknown)[:200]))
    if not types:
        raise EndpointRefused(_("choose at least one event type"))
    return types


def register(
    session: Session,
    shop: Shop,
    *,
    url: str,
    event_types: list[str],
    alert_email: str,
    description: str | None,
    actor: str,
) -> WithSecret:
    """A new endpoint, enabled, with a new secret. The URL is checked (addresses.check)."""
    types = clean_event_types(event_types)
    email = normalize_email(alert_email)
    if not email:
        raise EndpointRefused(_("enter the email address to alert when the endpoint fails"))
    try:
        target = addresses.check(url, allow_local=allow_local())
    except addresses.UnsafeURL as exc:
        raise EndpointRefused(str(exc)) from exc
    if len(list_endpoints(session, shop)) >= MAX_ENDPOINTS_PER_SHOP:
        raise EndpointRefused(
            _("a shop may have at most %(max)s endpoints", max=MAX_ENDPOINTS_PER_SHOP)
        )
    secret = signing.new_secret()
    endpoint = OutgoingEndpoint(
        shop_id=shop.id,
        url=target.url,
        description=" ".join((description or "").split())[:255] or None,
        event_types=types,
        alert_email=email,
        secret_enc=cipher().encrypt(secret),
        enabled=True,
        consecutive_failures=0,
    )
    session.add(endpoint)
    session.flush()
    record_audit(
        session,
        shop,
        actor=actor,
        action="webhook_endpoint.created",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        after={"url": endpoint.url, "event_types": types},
    )
    return WithSecret(endpoint, secret)


def update_event_types(
    session: Session, shop: Shop, endpoint: OutgoingEndpoint, event_types: list[str], *, actor: str
) -> None:
    types = clean_event_types(event_types)
    before = list(endpoint.event_types)
    endpoint.event_types = types
    record_audit(
        session,
        shop,
        actor=actor,
        action="webhook_endpoint.updated",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        before={"event_types": before},
        after={"event_types": types},
    )


def rotate_secret(
    session: Session, shop: Shop, endpoint: OutgoingEndpoint, *, actor: str
) -> WithSecret:
    """A new secret; the current one keeps signing (beside it) for `ROTATION_GRACE`, so the
    receiver can switch without missing a delivery. A rotation during a grace drops the
    oldest secret."""
    secret = signing.new_secret()
    endpoint.previous_secret_enc = endpoint.secret_enc
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_GRACE
    endpoint.secret_enc = cipher().encrypt(secret)
    record_audit(
        session,
        shop,
        actor=actor,
        action="webhook_endpoint.secret_rotated",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        after={"previous_secret_valid_until": endpoint.previous_secret_expires_at.isoformat()},
    )
    return WithSecret(endpoint, secret)


def enable(session: Session, shop: Shop, endpoint: OutgoingEndpoint, *, actor: str) -> None:
    """On again, with a clean health record; its waiting deliveries go out now."""
    if endpoint.enabled:
        return
    try:
        addresses.check(endpoint.url, allow_local=allow_local())
    except addresses.UnsafeURL as exc:
        raise EndpointRefused(str(exc)) from exc
    endpoint.enabled = True
    endpoint.disabled_reason = None
    endpoint.disabled_at = None
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    endpoint.retry_at = None
    record_audit(
        session,
        shop,
        actor=actor,
        action="webhook_endpoint.enabled",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
    )


def disable(
    session: Session, shop: Shop, endpoint: OutgoingEndpoint, *, actor: str, reason: str
) -> bool:
    """Off: no new deliveries are made for it and none is sent. Returns whether it changed."""
    if not endpoint.enabled:
        return False
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:2000]
    endpoint.disabled_at = utcnow()
    record_audit(
        session,
        shop,
        actor=actor,
        action="webhook_endpoint.disabled",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        reason=reason,
    )
    return True


def delete(session: Session, shop: Shop, endpoint: OutgoingEndpoint, *, actor: str) -> None:
    """Gone, with its delivery log (the events stay for the other endpoints)."""
    record_audit(
        session,
        shop,
        actor=actor,
        action="webhook_endpoint.deleted",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        before={"url": endpoint.url, "event_types": list(endpoint.event_types)},
    )
    session.delete(endpoint)
    session.flush()
