"""The Emails page: the delivery log (every email the app sent or tried to send) and the
shop's suppression list, which staff add to and remove from."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_babel import gettext as _
from sqlalchemy import select

from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.emails import suppression
from shopify_app.models import EmailMessage

from .pages import int_arg, render_outcome

bp = Blueprint("emails", __name__)


@bp.get("/emails")
@id_token_required
def emails():
    """The delivery log: every email the app sent or tried to send, newest first; and the
    suppression list."""
    return _render_emails(get_session())


def _render_emails(session, *, message=None, problem=None, form=None, status=200):
    state = request.args.get("status", "")
    query = (
        select(EmailMessage)
        .where(EmailMessage.shop_id == g.shop.id)
        .order_by(EmailMessage.id.desc())
        .limit(101)
    )
    if state in ("queued", "sent", "failed", "suppressed"):
        query = query.where(EmailMessage.status == state)
    elif state in ("delivered", "bounced", "complained"):
        query = query.where(EmailMessage.delivery_status == state)
    before = int_arg("before")
    if before is not None:
        query = query.where(EmailMessage.id < before)
    messages = session.scalars(query).all()
    more = len(messages) > 100
    messages = messages[:100]
    entries, total, next_suppressed = suppression.listing(
        session, g.shop, before_id=int_arg("suppressed_before")
    )
    return render_outcome(
        "admin/emails.html",
        status,
        message=message,
        problem=problem,
        form=form or {},
        messages=messages,
        status=state,
        next_before=messages[-1].id if more else None,
        suppressions=entries,
        suppressions_total=total,
        next_suppressed=next_suppressed,
        reasons=suppression.REASONS,
    )


@bp.post("/emails/suppressions")
@id_token_required
def add_suppression():
    """Staff put an address on the suppression list (a customer asked by phone, ...)."""
    session = get_session()
    email = (request.form.get("email") or "").strip()[:320]
    note = (request.form.get("note") or "").strip()[:2000] or None
    try:
        entry, added = suppression.suppress(
            session, g.shop, email, reason="staff", source="staff", actor=staff_actor(), note=note
        )
        session.commit()
    except suppression.NotAnAddress:
        session.rollback()
        problem = _("%(email)s is not an email address.", email=email or _("(empty)"))
        return _render_emails(session, problem=problem, form=request.form, status=422)
    message = (
        _("%(email)s is now on the suppression list.", email=entry.email)
        if added
        else _("%(email)s was already on the suppression list.", email=entry.email)
    )
    return _render_emails(session, message=message)


@bp.post("/emails/suppressions/<int:entry_id>/remove")
@id_token_required
def remove_suppression(entry_id: int):
    session = get_session()
    entry = suppression.remove(session, g.shop, entry_id, actor=staff_actor())
    session.commit()
    message = (
        _("%(email)s may get shares and invitations again.", email=entry.email)
        if entry
        else _("Already removed.")
    )
    return _render_emails(session, message=message)
