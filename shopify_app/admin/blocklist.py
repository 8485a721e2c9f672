"""The Blocklist page: emails, phones and IPs whose orders make no referral (the fraud rule
`blocklist`)."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_babel import gettext as _
from sqlalchemy import select

from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.models import BlocklistEntry
from shopify_app.referrals import blocklist

from .pages import render_outcome

bp = Blueprint("blocklist", __name__)


def _render_blocklist(session, *, message=None, problem=None, form=None, status=200, results=None):
    entries = session.scalars(
        select(BlocklistEntry)
        .where(BlocklistEntry.shop_id == g.shop.id)
        .order_by(BlocklistEntry.kind, BlocklistEntry.value)
    ).all()
    return render_outcome(
        "admin/blocklist.html",
        status,
        message=message,
        problem=problem,
        form=form or {},
        entries=entries,
        results=results,
    )


@bp.get("/blocklist", endpoint="blocklist")
@id_token_required
def blocklist_page():
    return _render_blocklist(get_session())


@bp.post("/blocklist")
@id_token_required
def add_blocklist_entry():
    session = get_session()
    kind = request.form.get("kind", "")
    value = (request.form.get("value") or "")[:320]
    note = (request.form.get("note") or "").strip()[:2000] or None
    try:
        entry = blocklist.add_entry(session, g.shop, kind, value, note=note, actor=staff_actor())
        session.commit()
    except blocklist.InvalidEntry as exc:
        session.rollback()
        return _render_blocklist(session, problem=str(exc), form=request.form, status=422)
    return _render_blocklist(
        session, message=_("%(value)s is on the blocklist.", value=entry.value)
    )


@bp.post("/blocklist/<int:entry_id>/remove")
@id_token_required
def remove_blocklist_entry(entry_id: int):
    session = get_session()
    entry = blocklist.remove_entry(session, g.shop, entry_id, actor=staff_actor())
    session.commit()
    message = (
        _("%(value)s was removed from the blocklist.", value=entry.value)
        if entry
        else _("Already removed.")
    )
    return _render_blocklist(session, message=message)


@bp.post("/blocklist/bulk")
@id_token_required
def add_blocklist_entries():
    """Paste a list (D6): every line is added or says why not."""
    session = get_session()
    kind = request.form.get("kind") or None
    note = (request.form.get("note") or "").strip()[:2000] or None
    try:
        results = blocklist.add_many(
            session,
            g.shop,
            (request.form.get("values") or "")[:200_000],
            kind=None if kind == "detect" else kind,
            note=note,
            actor=staff_actor(),
        )
        session.commit()
    except blocklist.InvalidEntry as exc:
        session.rollback()
        return _render_blocklist(session, problem=str(exc), form=request.form, status=422)
    if not results:
        return _render_blocklist(
            session, problem=_("Paste at least one value."), form=request.form, status=422
        )
    counts = {o: sum(r.outcome == o for r in results) for o in ("added", "already", "invalid")}
    message = _(
        "%(added)s added, %(already)s already on the blocklist, %(invalid)s not valid.",
        **counts,
    )
    return _render_blocklist(session, message=message, results=results)
