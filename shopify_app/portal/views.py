"""Portal pages: the search box, a person, a referral with its evidence and history, and
Resend of a reward email. Thin handlers over `portal.search` and `portal.details`."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from shopify_app import audit_undo, wording
from shopify_app.admin.pages import render_outcome
from shopify_app.audit import record_audit
from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.i18n import stored_text, translate_word
from shopify_app.models import Advocate, AuditEntry, Customer, Order
from shopify_app.referrals import advocates, offline_sales, staff_actions, vocabulary
from shopify_app.referrals.reward_email import NotSendable, queue_reward_email
from shopify_app.values import money_text, normalize_email

from . import audit_view, details, names
from .search import search

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.get("")
@id_token_required
def home():
    query = request.args.get("q", "")[:200]
    results = search(get_session(), g.shop, query) if query.strip() else None
    return render_template("portal/home.html", query=query, results=results)


@bp.get("/customers/<int:customer_id>")
@id_token_required
def person(customer_id: int):
    session = get_session()
    view = details.person_view(session, g.shop, customer_id)
    if view is None:
        abort(404)
    tab = "shares" if request.args.get("tab") == "shares" else "overview"
    shares = details.shares_of(session, g.shop, view.advocate) if view.advocate else []
    return render_template(
        "portal/person.html", view=view, money_text=money_text, tab=tab, shares=shares
    )


def _render_referral(session, referral_id: int, *, message=None, problem=None, status=200):
    view = details.referral_view(session, g.shop, referral_id)
    if view is None:
        abort(404)
    return (
        render_template(
            "portal/referral.html",
            view=view,
            names=_referral_names(session, view),
            wording=wording,
            money_text=money_text,
            message=message,
            problem=problem,
            request_key=secrets.token_hex(8),
            toast=message,
        ),
        status,
    )


def _referral_names(session, view: details.ReferralView) -> wording.Names:
    """The names behind the ids in the referral's evidence and history."""
    customer_ids: set[int] = set()
    advocate_ids: set[int] = {view.referral.advocate_id}
    for check in view.checks:
        for key in ("friend_customer_id", "advocate_customer_id"):
            customer_ids.add((check.evidence or {}).get(key))
    for t in view.transitions:
        kind, _sep, detail = (t.cause or "").partition(":")
        if kind == "reassigned":
            advocate_ids |= {int(x) for x in detail.split("->") if x.isdigit()}
    for c in (view.referral.attribution_evidence or {}).get("candidates", []):
        advocate_ids.add(c.get("advocate_id"))
    return names.load(session, g.shop, customer_ids=customer_ids, advocate_ids=advocate_ids)


@bp.get("/referrals/<int:referral_id>")
@id_token_required
def referral(referral_id: int):
    return _render_referral(get_session(), referral_id)


@bp.post("/referrals/<int:referral_id>/resend")
@id_token_required
def resend(referral_id: int):
    """Resend the reward email: a new delivery, logged. The form's `request_key` makes a
    double click one email."""
    session = get_session()
    view = details.referral_view(session, g.shop, referral_id)
    if view is None:
        abort(404)
    if view.reward is None:
        return _render_referral(
            session, referral_id, problem=_("There is no reward to resend."), status=422
        )
    key = "".join(c for c in request.form.get("request_key", "") if c.isalnum())[:32]
    key = key or secrets.token_hex(8)
    try:
        message, queued = queue_reward_email(
            session, g.shop, view.reward, dedupe_key=f"reward:{view.reward.id}:resend:{key}"
        )
    except NotSendable as exc:
        session.rollback()
        return _render_referral(
            session, referral_id, problem=_("Not sent: %(exc)s.", exc=exc), status=422
        )
    if queued:
        record_audit(
            session,
            g.shop,
            actor=staff_actor(),
            action="reward.email_resent",
            subject_type="reward",
            subject_id=view.reward.id,
            after={"email_id": message.id, "to": message.to_address},
            customer_id=view.advocate.customer_id,
        )
    session.commit()
    return _render_referral(
        session,
        referral_id,
        message=(
            _(
                "The reward email to %(address)s is queued to be sent again; "
                "its delivery shows below.",
                address=message.to_address,
            )
            if queued
            else _(
                "The reward email to %(address)s was already queued by this form.",
                address=message.to_address,
            )
        ),
    )


@bp.post("/referrals/<int:referral_id>/approve")
@id_token_required
def approve(referral_id: int):
    """Who should get the reward? (D4): approve a pending referral here (a flagged one after
    review, one in the manual approval queue); the reward is issued once."""
    session = get_session()
    view = details.referral_view(session, g.shop, referral_id)
    if view is None:
        abort(404)
    reason = (request.form.get("reason") or "").strip()[:2000] or None
    try:
        reward = staff_actions.staff_approve(
            session, g.shop, view.referral, actor=staff_actor(), reason=reason
        )
        session.commit()
    except staff_actions.TransitionRefused as exc:
        session.rollback()
        return _render_referral(session, referral_id, problem=str(exc), status=422)
    return _render_referral(
        session,
        referral_id,
        message=f"Referral #{referral_id} approved; the reward {reward.code} is being created.",
    )


@bp.post("/referrals/<int:referral_id>/void")
@id_token_required
def void(referral_id: int):
    """Void the referral here, with a reason; an unused reward is deactivated."""
    session = get_session()
    view = details.referral_view(session, g.shop, referral_id)
    if view is None:
        abort(404)
    try:
        staff_actions.staff_void(
            session,
            g.shop,
            view.referral,
            actor=staff_actor(),
            reason=(request.form.get("reason") or "")[:2000],
        )
        session.commit()
    except staff_actions.TransitionRefused as exc:
        session.rollback()
        return _render_referral(session, referral_id, problem=str(exc), status=422)
    return _render_referral(session, referral_id, message=f"Referral #{referral_id} voided.")


@bp.get("/audit")
@id_token_required
def audit():
    """Every staff and system action, newest first, filterable by who, what and when."""
    return _render_audit(get_session())


@bp.post("/audit/<int:entry_id>/undo")
@id_token_required
def undo_audit_entry(entry_id: int):
    """Undo from the audit (D8): the entry's undo, with a reason, audited itself."""
    session = get_session()
    try:
        _own, done = audit_undo.undo(
            session,
            g.shop,
            entry_id,
            actor=staff_actor(),
            reason=(request.form.get("reason") or "")[:2000],
        )
        session.commit()
    except audit_undo.UndoRefused as exc:
        session.rollback()
        exists = session.scalar(
            select(AuditEntry.id).where(AuditEntry.shop_id == g.shop.id, AuditEntry.id == entry_id)
        )
        if exists is None:
            abort(404)
        return _render_audit(session, problem=_("Not undone: %(exc)s", exc=exc), status=422)
    return _render_audit(session, message=_("Undone: %(done)s", done=done))


def _render_audit(session, *, message=None, problem=None, status=200):
    actor = request.args.get("actor", "")[:255]
    action = request.args.get("action", "")[:64]
    since = parse_day(request.args.get("from"))
    until = parse_day(request.args.get("to"))
    query = select(AuditEntry).where(AuditEntry.shop_id == g.shop.id)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until + timedelta(days=1))
    before = request.args.get("before", "")
    if before.isdigit():
        query = query.where(AuditEntry.id < int(before))
    entries = session.scalars(query.order_by(AuditEntry.id.desc()).limit(101)).all()
    more = len(entries) > 100
    entries = entries[:100]
    facets = session.execute(
        select(AuditEntry.actor, AuditEntry.action)
        .where(AuditEntry.shop_id == g.shop.id)
        .distinct()
        .limit(500)
    ).all()
    return render_outcome(
        "portal/audit.html",
        status,
        message=message,
        problem=problem,
        undo_options=audit_undo.undo_options(session, g.shop, list(entries)),
        entries=entries,
        lines=audit_view.audit_lines(session, g.shop, list(entries)),
        actors=sorted({a for a, _ in facets}),
        actions=sorted({b for _a, b in facets}),
        actor=actor,
        action=action,
        since=request.args.get("from", "") if since else "",
        until=request.args.get("to", "") if until else "",
        next_before=entries[-1].id if more else None,
    )


def parse_day(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value or "", "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@bp.post("/referrals/<int:referral_id>/reassign")
@id_token_required
def reassign(referral_id: int):
    """Who should get the reward? (D4): give the referral to another advocate, with a reason;
    the reward follows."""
    session = get_session()
    view = details.referral_view(session, g.shop, referral_id)
    if view is None:
        abort(404)
    target = (request.form.get("advocate") or "").strip()[:320]
    advocate = _advocate_by_code_or_email(session, target)
    if advocate is None:
        return _render_referral(
            session,
            referral_id,
            problem=_("No advocate with the code or email %(target)s.", target=repr(target)),
            status=422,
        )
    try:
        reward = staff_actions.staff_reassign(
            session,
            g.shop,
            view.referral,
            advocate,
            actor=staff_actor(),
            reason=request.form.get("reason", ""),
        )
        session.commit()
    except staff_actions.TransitionRefused as exc:
        session.rollback()
        return _render_referral(session, referral_id, problem=str(exc), status=422)
    status = view.referral.status
    message = _(
        "Referral #%(id)s now belongs to %(code)s; the fraud rules ran again.",
        id=referral_id,
        code=advocate.code,
    )
    if reward:
        message += _(" Their reward %(code)s is being created.", code=reward.code)
    elif status == "blocked":
        message += _(
            " A rule blocks it now: %(reason)s", reason=stored_text(view.referral.status_reason)
        )
    elif view.referral.flagged_at is not None:
        message += _(" It is held for review.")
    return _render_referral(session, referral_id, message=message)


def _advocate_by_code_or_email(session, target: str) -> Advocate | None:
    advocate = advocates.advocate_by_code(session, g.shop, target)
    if advocate is not None:
        return advocate
    email = normalize_email(target)
    if email is None:
        return None
    return session.scalar(
        select(Advocate)
        .join(Customer, Customer.id == Advocate.customer_id)
        .where(Advocate.shop_id == g.shop.id, Customer.email_normalized == email)
    )


@bp.post("/referrals/new")
@id_token_required
def create_referral():
    """Create a referral for an advocate (D7): Check shows which rules would block; Create
    makes it (Force passes a block, with the reason, audited); then the result is shown."""
    session = get_session()
    form = request.form
    advocate = _advocate_by_code_or_email(session, (form.get("advocate") or "").strip()[:320])
    number = (form.get("order") or "").strip()[:32]
    name = number if number.startswith("#") else f"#{number}"
    order = session.scalar(select(Order).where(Order.shop_id == g.shop.id, Order.name == name))
    problem = None
    if advocate is None:
        problem = _("No advocate with that code or email.")
    elif order is None:
        problem = _("No order %(name)s has been synced from Shopify.", name=name)
    if problem:
        return _render_create(session, form, problem=problem, status=422)
    check_only = form.get("action") == "check"
    try:
        referral, results = staff_actions.staff_create(
            session,
            g.shop,
            advocate,
            order,
            actor=staff_actor(),
            reason=form.get("reason") or ("(check)" if check_only else ""),
            force=form.get("force") == "on",
            dry_run=check_only,
        )
        session.commit()
    except staff_actions.TransitionRefused as exc:
        session.rollback()
        return _render_create(session, form, problem=str(exc), status=422)
    if referral is None:
        return _render_create(session, form, results=results)
    return _render_referral(
        session, referral.id, message=f"Referral #{referral.id} created: {referral.status}."
    )


@bp.post("/referrals/offline")
@id_token_required
def create_offline_referral():
    """A referral for an offline sale (D7): the advocate, the friend (a customer of the
    shop), the typed subtotal and the reason; checked by every rule and audited."""
    session = get_session()
    form = request.form
    advocate = _advocate_by_code_or_email(session, (form.get("advocate") or "").strip()[:320])
    email = normalize_email((form.get("friend") or "")[:320])
    friend = (
        session.scalar(
            select(Customer)
            .where(Customer.shop_id == g.shop.id, Customer.email_normalized == email)
            .order_by(Customer.id)
            .limit(1)
        )
        if email
        else None
    )
    problem = None
    if advocate is None:
        problem = _("No advocate with that code or email.")
    elif friend is None:
        problem = _(
            "No customer with the friend's email. Add the friend as a customer in Shopify "
            "first; the app picks them up within a minute."
        )
    if problem is None:
        try:
            referral = offline_sales.create_offline_referral(
                session,
                g.shop,
                advocate,
                friend,
                subtotal=(form.get("subtotal") or "")[:32],
                reason=(form.get("reason") or "")[:2000],
                actor=staff_actor(),
                request_key=form.get("request_key") or "",
                force=form.get("force") == "on",
            )
            session.commit()
        except offline_sales.TransitionRefused as exc:
            session.rollback()
            problem = str(exc)
    if problem is not None:
        return (
            render_template(
                "portal/create.html", form=None, offline=form, problem=problem, results=None
            ),
            422,
        )
    return _render_referral(
        session,
        referral.id,
        message=_(
            "Referral #%(id)s created for the offline sale: %(status)s.",
            id=referral.id,
            status=translate_word(vocabulary.referral_status(referral)).lower(),
        ),
    )


def _render_create(session, form, *, problem=None, results=None, status=200):
    return (
        render_template("portal/create.html", form=form, problem=problem, results=results),
        status,
    )


@bp.post("/referrals/<int:referral_id>/<undo>")
@id_token_required
def undo(referral_id: int, undo: str):
    """Un-block and un-void (H5), each with a reason, audited."""
    actions = {"unblock": staff_actions.staff_unblock, "unvoid": staff_actions.staff_unvoid}
    session = get_session()
    view = details.referral_view(session, g.shop, referral_id)
    if view is None or undo not in actions:
        abort(404)
    try:
        actions[undo](
            session,
            g.shop,
            view.referral,
            actor=staff_actor(),
            reason=request.form.get("reason", ""),
        )
        session.commit()
    except staff_actions.TransitionRefused as exc:
        session.rollback()
        return _render_referral(session, referral_id, problem=str(exc), status=422)
    status = view.referral.status
    return _render_referral(
        session, referral_id, message=f"Referral #{referral_id} is {status} again."
    )
