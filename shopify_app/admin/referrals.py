"""The Referrals page: filters and search, the approval queue, the staff actions (approve,
void, recheck), and the report of existing customers who used a friend code."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request

from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.referrals import queries, staff_actions
from shopify_app.referrals.program import get_program
from shopify_app.values import money_text

from .pages import int_arg, render_outcome

bp = Blueprint("referrals", __name__)


def _render_referrals(session, *, status="all", search="", message=None, problem=None):
    if status not in queries.STATUS_FILTERS:
        status = "all"
    rows, next_before = queries.list_referrals(
        session, g.shop, status=status, search=search, before_id=int_arg("before")
    )
    return render_outcome(
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
        session, g.shop, before_id=int_arg("before")
    )
    return render_template(
        "admin/existing_customers.html",
        rows=rows,
        next_before=next_before,
        first_page=int_arg("before") is None,
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
