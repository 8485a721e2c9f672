"""The Settings page: the program's terms; a change to what the friend code holds brings
every advocate's code in Shopify up to date (a job)."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from shopify_app import jobs, wording
from shopify_app.auth.embedded import id_token_required, staff_actor
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
    advocate_count = session.scalar(
        select(func.count()).select_from(Advocate).where(Advocate.shop_id == g.shop.id)
    )
    return (
        render_template(
            "admin/settings.html",
            program=program,
            values=values,
            errors=errors,
            saved=saved,
            currency=currency,
            advocate_count=advocate_count,
            toast=_("Settings saved") if saved else None,
            saved_text=_saved_text(saved or []),
        ),
        status,
    )
