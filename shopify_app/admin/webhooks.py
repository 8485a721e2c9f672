"""Settings › Webhooks: the shop's outgoing webhook endpoints (register, see the signing
secret once, rotate it, enable, disable, delete, send a test event) and the delivery log
with replay. The work is in `shopify_app.outgoing`."""

from __future__ import annotations

from flask import Blueprint, abort, g, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.i18n import N_, stored
from shopify_app.models import StaffMember, utcnow
from shopify_app.outgoing import endpoints, events, log
from shopify_app.outgoing.endpoints import EndpointRefused
from shopify_app.outgoing.event_types import EVENT_TYPES

from .pages import int_arg, render_outcome

DISABLED_BY_STAFF = stored(N_("Disabled by staff."))
bp = Blueprint("outgoing_webhooks", __name__, url_prefix="/settings/webhooks")


@bp.after_request
def _never_cached(response):
    """These pages show a secret once: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _staff_email(session: Session) -> str:
    """The signed-in staff member's address, to suggest as the alert address."""
    user_id = str(g.get("staff_user_id") or "")
    if not user_id.isdigit():
        return ""
    email = session.scalar(
        select(StaffMember.email).where(
            StaffMember.shop_id == g.shop.id, StaffMember.user_id == int(user_id)
        )
    )
    return email or ""


def _render(
    session: Session,
    *,
    message: str | None = None,
    problem: str | None = None,
    form=None,
    secret: endpoints.WithSecret | None = None,
    status: int = 200,
):
    endpoint_filter = int_arg("endpoint_id")
    state = request.args.get("status") or None
    deliveries, next_before = log.page(
        session, g.shop, endpoint_id=endpoint_filter, before=int_arg("before"), status=state
    )
    form = form or {}
    return render_outcome(
        "admin/webhooks.html",
        status,
        message=message,
        problem=problem,
        form=form,
        chosen=set(form.getlist("event_types")) if hasattr(form, "getlist") else set(),
        alert_email=form.get("alert_email") if form else _staff_email(session),
        secret=secret,
        endpoints=endpoints.list_endpoints(session, g.shop),
        event_types=EVENT_TYPES,
        deliveries=deliveries,
        next_before=next_before,
        endpoint_filter=endpoint_filter,
        state=state,
        now=utcnow(),
    )


def _endpoint_or_404(session: Session, endpoint_id: int):
    endpoint = endpoints.get_endpoint(session, g.shop, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.get("", endpoint="webhooks")
@id_token_required
def webhooks_page():
    return _render(get_session())


@bp.post("")
@id_token_required
def register_endpoint():
    session = get_session()
    try:
        created = endpoints.register(
            session,
            g.shop,
            url=(request.form.get("url") or "")[:2100],
            event_types=request.form.getlist("event_types"),
            alert_email=(request.form.get("alert_email") or "")[:320],
            description=request.form.get("description"),
            actor=staff_actor(),
        )
        session.commit()
    except EndpointRefused as exc:
        session.rollback()
        return _render(session, problem=str(exc), form=request.form, status=422)
    return _render(
        session, message=_("%(url)s will receive events.", url=created.endpoint.url), secret=created
    )


@bp.post("/<int:endpoint_id>/rotate")
@id_token_required
def rotate_secret(endpoint_id: int):
    session = get_session()
    endpoint = _endpoint_or_404(session, endpoint_id)
    rotated = endpoints.rotate_secret(session, g.shop, endpoint, actor=staff_actor())
    session.commit()
    return _render(
        session,
        message=_("A new signing secret was made; the previous one also signs for 24 hours."),
        secret=rotated,
    )


@bp.post("/<int:endpoint_id>/enable")
@id_token_required
def enable_endpoint(endpoint_id: int):
    session = get_session()
    endpoint = _endpoint_or_404(session, endpoint_id)
    try:
        endpoints.enable(session, g.shop, endpoint, actor=staff_actor())
    except EndpointRefused as exc:
        session.rollback()
        return _render(session, problem=str(exc), status=422)
    events.schedule_endpoint(session, endpoint.id)  # what waited goes out now
    session.commit()
    return _render(session, message=_("%(url)s is enabled.", url=endpoint.url))


@bp.post("/<int:endpoint_id>/disable")
@id_token_required
def disable_endpoint(endpoint_id: int):
    session = get_session()
    endpoint = _endpoint_or_404(session, endpoint_id)
    endpoints.disable(session, g.shop, endpoint, actor=staff_actor(), reason=DISABLED_BY_STAFF)
    session.commit()
    return _render(
        session, message=_("%(url)s is disabled: nothing is sent to it.", url=endpoint.url)
    )


@bp.post("/<int:endpoint_id>/delete")
@id_token_required
def delete_endpoint(endpoint_id: int):
    session = get_session()
    endpoint = _endpoint_or_404(session, endpoint_id)
    url = endpoint.url
    endpoints.delete(session, g.shop, endpoint, actor=staff_actor())
    session.commit()
    return _render(session, message=_("%(url)s was deleted, with its delivery log.", url=url))


@bp.post("/<int:endpoint_id>/test")
@id_token_required
def send_test_event(endpoint_id: int):
    session = get_session()
    endpoint = _endpoint_or_404(session, endpoint_id)
    try:
        delivery = events.send_test(session, g.shop, endpoint)
    except ValueError as exc:
        session.rollback()
        return _render(session, problem=str(exc), status=422)
    session.commit()
    return _render(session, message=f"Test event sent (delivery #{delivery.id}).")


@bp.post("/deliveries/<int:delivery_id>/replay")
@id_token_required
def replay_delivery(delivery_id: int):
    session = get_session()
    original = log.get_delivery(session, g.shop, delivery_id)
    if original is None:
        abort(404)
    try:
        delivery = events.replay(session, g.shop, original)
    except ValueError as exc:
        session.rollback()
        return _render(session, problem=str(exc), status=422)
    session.commit()
    return _render(session, message=f"Delivery #{original.id} replayed as #{delivery.id}.")
