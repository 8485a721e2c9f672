"""The Settings page: the program's terms; a change to what the friend code holds brings
every advocate's code in Shopify up to date (a job). Also who can chat with shoppers: the
account owner grants the chat permission to staff who have opened the app
(`conversations/staff_chat.py`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from shopify_app import app_url, jobs, wording
from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.conversations import service as conversations
from shopify_app.conversations import staff_chat
from shopify_app.conversations.admin_views import current_staff
from shopify_app.db import get_session
from shopify_app.i18n import DEFAULT_LOCALE, current_locale
from shopify_app.models import Advocate
from shopify_app.referrals.program import (
    FRIEND_CODE_FIELDS,
    get_program,
    parse_settings,
    settings_of,
    shop_currency,
    update_program,
)
from shopify_app.shopify.services import shopify
from shopify_app.shops import ensure_shop_currency
from shopify_app.values import money_text

bp = Blueprint("settings", __name__)


def _settings_form_values(program, currency: str) -> dict[str, str]:
    values = settings_of(program)
    form = {k: ("" if v is None else str(v)) for k, v in values.items()}
    for prefix in ("friend", "reward"):
        if values[f"{prefix}_kind"] == "fixed_amount":
            form[f"{prefix}_value"] = money_text(values[f"{prefix}_value"], currency)
    form["friend_min_subtotal"] = money_text(values["friend_min_subtotal_minor"], currency)
    for key in ("enabled", "friend_once_per_customer", "friend_new_customers_only"):
        form[key] = "on" if values[key] else ""
    return form


def _saved_text(saved: list[str]) -> str:
    """The changed fields: their names in English (as before), their labels in another
    language."""
    if current_locale() == DEFAULT_LOCALE:
        return ", ".join(name.replace("_", " ") for name in saved)
    return ", ".join(wording.field_label(name) for name in saved)


@bp.route("/settings", methods=["GET", "POST"])
@id_token_required
def settings():
    session = get_session()
    ensure_shop_currency(session, g.shop, shopify())
    program = get_program(session, g.shop)
    currency = shop_currency(g.shop)
    errors: dict[str, str] = {}
    saved: list[str] | None = None
    status = 200
    if request.method == "POST":
        form = parse_settings(request.form, currency)
        if form.valid:
            program, saved = update_program(session, g.shop, form.values, actor=staff_actor())
            if any(f in FRIEND_CODE_FIELDS for f in saved):
                jobs.enqueue_after_commit(session, jobs.UPDATE_FRIEND_CODES, g.shop.id)
            session.commit()
            values = _settings_form_values(program, currency)
        else:
            errors, status = form.errors, 422
            values = dict(request.form)
    else:
        session.commit()
        values = _settings_form_values(program, currency)
    return render_settings(
        session,
        program=program,
        values=values,
        errors=errors,
        saved=saved,
        status=status,
        toast=_("Settings saved") if saved else None,
    )


def render_settings(session, *, status: int = 200, **shown: Any):
    """The Settings page with the program form (as stored unless `shown` says otherwise)
    and the chat staff card."""
    if "program" not in shown:
        shown["program"] = get_program(session, g.shop)
        shown["values"] = _settings_form_values(shown["program"], shop_currency(g.shop))
    shown.setdefault("errors", {})
    shown.setdefault("saved", None)
    advocate_count = session.scalar(
        select(func.count()).select_from(Advocate).where(Advocate.shop_id == g.shop.id)
    )
    me = current_staff(session)
    # X-Location: a post to /settings/chat-staff answers with the Settings page's address.
    return (
        render_template(
            "admin/settings.html",
            currency=shop_currency(g.shop),
            advocate_count=advocate_count,
            chat_staff=staff_chat.shop_staff(session, g.shop),
            may_chat=conversations.may_chat,
            me=me,
            owner_edits=me is not None and me.account_owner,
            saved_text=_saved_text(shown.get("saved") or []),
            **shown,
        ),
        status,
        {"X-Location": app_url("settings.settings")},
    )


@bp.post("/settings/chat-staff")
@id_token_required
def chat_staff():
    """The account owner's choice of who can chat: every listed staff member's checkbox
    (`listed` names them, `chat` the ticked ones). Anyone else is refused (403)."""
    session = get_session()
    me = current_staff(session)
    if me is None or not me.account_owner:
        return render_settings(
            session,
            status=403,
            chat_error=_("Only the shop owner can change who can chat with shoppers."),
        )
    ticked = set(request.form.getlist("chat"))
    changed: list[str] = []
    try:
        for staff_id in dict.fromkeys(request.form.getlist("listed")):
            allowed = staff_id in ticked
            if staff_chat.set_chat_permission(session, g.shop, me, staff_id, allowed):
                member = staff_chat.staff_of(session, g.shop, staff_id)
                name = member.name if member else staff_id
                changed.append(
                    _("%(name)s: may chat", name=name)
                    if allowed
                    else _("%(name)s: may no longer chat", name=name)
                )
    except conversations.MessageRefused as exc:
        session.rollback()
        return render_settings(session, status=exc.status, chat_error=exc.reason)
    session.commit()
    return render_settings(
        session,
        chat_saved=changed,
        toast=_("Chat permissions saved") if changed else None,
    )
