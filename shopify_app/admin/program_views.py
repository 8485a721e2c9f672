"""Admin pages of the referral program: Settings, Referrals (with the approval queue and
staff actions) and Advocates. Handlers parse, authorise (`@id_token_required`), call a
service and render; forms post through `static/forms.js` (fetch, signed by App Bridge)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request
from sqlalchemy import func, select

from shopify_app import jobs
from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.emails import suppression
from shopify_app.models import Advocate, BlocklistEntry, Customer, EmailMessage
from shopify_app.referrals import advocates, blocklist, queries, staff_actions
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
from shopify_app.values import money_text, normalize_email

bp = Blueprint("program", __name__)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _render_outcome(
    template: str, http_status: int, *, message: str | None, problem: str | None, **context: Any
) -> tuple[str, int]:
    """A page after a staff action: `message` (shown as a toast too) or `problem`, with the
    page's own `context`."""
    return (
        render_template(template, message=message, problem=problem, toast=message, **context),
        http_status,
    )


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
            toast="Settings saved" if saved else None,
        ),
        status,
    )


def _render_referrals(session, *, status="all", search="", message=None, problem=None):
    if status not in queries.STATUS_FILTERS:
        status = "all"
    rows, next_before = queries.list_referrals(
        session, g.shop, status=status, search=search, before_id=_int_arg("before")
    )
    return _render_outcome(
        "admin/referrals.html",
        422 if problem else 200,
        message=message,
        problem=problem,
        rows=rows,
        status=status,
        search=search,
        next_before=next_before,
        counts=queries.status_counts(session, g.shop),
        existing_uses=queries.count_existing_customer_uses(session, g.shop),
        program=get_program(session, g.shop),
        money_text=money_text,
    )


@bp.get("/referrals")
@id_token_required
def referrals():
    return _render_referrals(
        get_session(),
        status=request.args.get("status", "all"),
        search=request.args.get("q", "")[:200],
    )


@bp.get("/referrals/existing-customers")
@id_token_required
def existing_customers():
    """Existing customers who used a friend code: Shopify's checkout gave them the friend
    discount (it cannot hold "new customers only", see `discount_specs.friend_spec`); the app
    made no referral. The merchant reads who, on which order, with which code, and when."""
    session = get_session()
    rows, next_before = queries.list_existing_customer_uses(
        session, g.shop, before_id=_int_arg("before")
    )
    return render_template(
        "admin/existing_customers.html",
        rows=rows,
        next_before=next_before,
        first_page=_int_arg("before") is None,
        total=queries.count_existing_customer_uses(session, g.shop),
        program=get_program(session, g.shop),
    )


@bp.post("/referrals/<int:referral_id>/<action>")
@id_token_required
def referral_action(referral_id: int, action: str):
    session = get_session()
    referral = queries.referral_in_shop(session, g.shop, referral_id)
    if referral is None or action not in ("approve", "void", "recheck"):
        abort(404)
    reason = (request.form.get("reason") or "").strip()[:2000]
    message = problem = None
    try:
        if action == "approve":
            reward = staff_actions.staff_approve(
                session, g.shop, referral, actor=staff_actor(), reason=reason or None
            )
            message = f"Referral #{referral.id} approved; reward {reward.code} is being issued."
        elif action == "recheck":
            results = staff_actions.staff_recheck(session, g.shop, referral, actor=staff_actor())
            blocking = [r.explanation for r in results if r.blocks]
            message = f"Referral #{referral.id} re-checked: " + (
                "; ".join(blocking) if blocking else "every rule passes now."
            )
        else:
            staff_actions.staff_void(session, g.shop, referral, actor=staff_actor(), reason=reason)
            message = f"Referral #{referral.id} voided."
        session.commit()
    except staff_actions.TransitionRefused as exc:
        session.rollback()
        problem = str(exc)
    return _render_referrals(
        session, status=request.args.get("status", "all"), message=message, problem=problem
    )


def _customer_by_email(session, email: str) -> Customer | None:
    normalised = normalize_email(email)
    if normalised is None:
        return None
    return session.scalar(
        select(Customer)
        .where(Customer.shop_id == g.shop.id, Customer.email_normalized == normalised)
        .order_by(Customer.deleted_at.is_not(None), Customer.id)
        .limit(1)
    )


def _render_advocates(session, *, message=None, problem=None, email="", status=200):
    rows, next_before = queries.list_advocates(session, g.shop, before_id=_int_arg("before"))
    return _render_outcome(
        "admin/advocates.html",
        status,
        message=message,
        problem=problem,
        rows=rows,
        next_before=next_before,
        email=email,
        shop=g.shop,
    )


@bp.get("/advocates", endpoint="advocates")
@id_token_required
def advocates_page():
    return _render_advocates(get_session())


@bp.post("/advocates")
@id_token_required
def add_advocate():
    """Staff joins a customer to the program, found by email."""
    session = get_session()
    email = (request.form.get("email") or "").strip()[:320]
    normalised = normalize_email(email)
    if normalised is None:
        return _render_advocates(
            session, problem="Enter the customer's email address.", email=email, status=422
        )
    customer = _customer_by_email(session, email)
    if customer is None:
        return _render_advocates(
            session,
            problem=f"No customer with the email {email} has been synced from Shopify.",
            email=email,
            status=422,
        )
    try:
        message = advocates.staff_join(session, g.shop, customer, actor=staff_actor())
        session.commit()
    except advocates.JoinRefused as exc:
        session.rollback()
        return _render_advocates(session, problem=f"{email}: {exc}.", email=email, status=422)
    return _render_advocates(session, message=message)


@bp.post("/advocates/invite")
@id_token_required
def invite_customer():
    """Staff sends the referral invitation email to a customer found by email."""
    session = get_session()
    email = (request.form.get("email") or "").strip()[:320]
    customer = _customer_by_email(session, email)
    if customer is None:
        return _render_advocates(
            session, problem=f"No customer with the email {email or '(empty)'}.", status=422
        )
    try:
        message = advocates.staff_invite(session, g.shop, customer, actor=staff_actor())
        session.commit()
    except advocates.InvitationRefused as exc:
        session.rollback()
        return _render_advocates(session, problem=f"{email}: {exc}.", status=422)
    return _render_advocates(session, message=message)


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
    before = _int_arg("before")
    if before is not None:
        query = query.where(EmailMessage.id < before)
    messages = session.scalars(query).all()
    more = len(messages) > 100
    messages = messages[:100]
    entries, total, next_suppressed = suppression.listing(
        session, g.shop, before_id=_int_arg("suppressed_before")
    )
    return _render_outcome(
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
        problem = f"{email or '(empty)'} is not an email address."
        return _render_emails(session, problem=problem, form=request.form, status=422)
    done = "is now on" if added else "was already on"
    return _render_emails(session, message=f"{entry.email} {done} the suppression list.")


@bp.post("/emails/suppressions/<int:entry_id>/remove")
@id_token_required
def remove_suppression(entry_id: int):
    session = get_session()
    entry = suppression.remove(session, g.shop, entry_id, actor=staff_actor())
    session.commit()
    message = (
        f"{entry.email} may get shares and invitations again." if entry else "Already removed."
    )
    return _render_emails(session, message=message)


def _render_blocklist(session, *, message=None, problem=None, form=None, status=200):
    entries = session.scalars(
        select(BlocklistEntry)
        .where(BlocklistEntry.shop_id == g.shop.id)
        .order_by(BlocklistEntry.kind, BlocklistEntry.value)
    ).all()
    return _render_outcome(
        "admin/blocklist.html",
        status,
        message=message,
        problem=problem,
        form=form or {},
        entries=entries,
    )


@bp.get("/blocklist")
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
    return _render_blocklist(session, message=f"{entry.value} is on the blocklist.")


@bp.post("/blocklist/<int:entry_id>/remove")
@id_token_required
def remove_blocklist_entry(entry_id: int):
    session = get_session()
    entry = blocklist.remove_entry(session, g.shop, entry_id, actor=staff_actor())
    session.commit()
    message = f"{entry.value} was removed from the blocklist." if entry else "Already removed."
    return _render_blocklist(session, message=message)
