"""The Advocates page: the program's advocates; staff join a customer or send them the
invitation, the customer found by email."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_babel import gettext as _
from sqlalchemy import select

from shopify_app import wording
from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.models import Customer
from shopify_app.referrals import advocates, queries
from shopify_app.storefront.views import share_url
from shopify_app.values import normalize_email

from .pages import int_arg, render_outcome

bp = Blueprint("advocates", __name__)


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
    rows, next_before = queries.list_advocates(session, g.shop, before_id=int_arg("before"))
    return render_outcome(
        "admin/advocates.html",
        status,
        message=message,
        problem=problem,
        rows=rows,
        next_before=next_before,
        email=email,
        shop=g.shop,
        share_url=share_url,
        joined_how=wording.JOINED_VIA,
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
            session, problem=_("Enter the customer's email address."), email=email, status=422
        )
    customer = _customer_by_email(session, email)
    if customer is None:
        return _render_advocates(
            session,
            problem=_(
                "No customer with the email %(email)s has been synced from Shopify.", email=email
            ),
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
            session,
            problem=_("No customer with the email %(email)s.", email=email or _("(empty)")),
            status=422,
        )
    try:
        message = advocates.staff_invite(session, g.shop, customer, actor=staff_actor())
        session.commit()
    except advocates.InvitationRefused as exc:
        session.rollback()
        return _render_advocates(session, problem=f"{email}: {exc}.", status=422)
    return _render_advocates(session, message=message)
