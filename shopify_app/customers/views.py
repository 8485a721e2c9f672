"""The Customers page (C1), invitations (C2), exports (C3) and one customer's detail (C4).

Handlers parse, authorise (`@id_token_required`), call `listing`/`bulk`/the referral engine
and render. The list's state lives in the URL; bad parameters fall back to the default view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, g, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy import select

from shopify_app import app_url, wording
from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session, unindexed
from shopify_app.i18n import integer_text, stored_text
from shopify_app.models import Customer
from shopify_app.portal import names
from shopify_app.referrals import advocates, revenue
from shopify_app.referrals.program import shop_currency
from shopify_app.shopify.services import shopify
from shopify_app.shops import ensure_shop_timezone
from shopify_app.staff import actor_label
from shopify_app.storage import storage
from shopify_app.storefront.views import share_url
from shopify_app.sync.importer import latest_run
from shopify_app.timeline import entries, kinds, pages
from shopify_app.timeline.labels import local_time

from . import attributes, bulk, listing
from . import detail as detail_cards

bp = Blueprint("customers", __name__, url_prefix="/customers")
EXPORT_GONE = (
    "This export is no longer kept: exports expire, and one goes when a customer in it "
    "is erased. Export again."
)


def _filters_from_form() -> dict[str, Any]:
    query = listing.parse_query(request.form)
    return {k: v for k, v in query.to_json().items() if v}


def _render_list(*, message=None, problem=None, job=None, status=200):
    session = get_session()
    query = listing.parse_query(request.args)
    page = listing.list_page(session, g.shop, query)
    # One URL built, fifty reused: url_for per row is a third of the page's render time.
    template = app_url(
        "customers.detail",
        customer_id=0,
        back=urlencode(query.params(after=query.after, before=query.before)) or None,
    )
    path = url_for("customers.detail", customer_id=0)
    html = render_template(
        "customers/list.html",
        detail_prefix=escape(path[:-1]),  # /customers/
        detail_suffix=escape(template[len(path) :]),  # ?back=…&shop=…
        page=page,
        query=query,
        sorts=listing.SORTS,
        categories=listing.CATEGORIES,
        currency=shop_currency(g.shop),
        jobs=[job] if job is not None else bulk.recent_jobs(session, g.shop, limit=3),
        max_selected=bulk.MAX_SELECTED,
        search_cap=listing.SEARCH_CAP,
        skip_labels=bulk.SKIP_LABELS,
        import_run=latest_run(session, g.shop, "import") if page.total == 0 else None,
        message=message,
        problem=problem,
    )
    # After an action (POST /customers/invite), the address to show and reload is the list's.
    location = app_url("customers.index", **query.params(after=query.after, before=query.before))
    return html, status, {"X-Location": location}


@bp.get("")
@id_token_required
def index():
    return _render_list()


def _start(kind: str, scope: str):
    session = get_session()
    if scope == "all":
        params: dict = _filters_from_form()
    else:
        raw = request.form.getlist("ids")
        try:
            ids = sorted({int(i) for i in raw})
        except ValueError:
            return _render_list(problem=_("The selection was not understood."), status=422)
        if len(ids) > bulk.MAX_SELECTED:
            return _render_list(
                problem=_(
                    "Select at most %(num)s customers, or choose all matching.",
                    num=bulk.MAX_SELECTED,
                ),
                status=422,
            )
        owned = set(
            session.scalars(
                select(Customer.id).where(
                    unindexed(Customer.shop_id) == g.shop.id, Customer.id.in_(ids)
                )
            )
        )
        params = {"ids": [i for i in ids if i in owned]}
        if kind == "invite" and raw and not params["ids"]:
            return _render_list(problem=_("None of the selected customers exist."), status=422)
    try:
        job, created = bulk.start_job(
            session,
            g.shop,
            kind=kind,
            params=params,
            actor=staff_actor(),
            request_key=(request.form.get("request_key") or "")[:64],
        )
        session.commit()
    except bulk.BulkRefused as exc:
        session.rollback()
        return _render_list(problem=str(exc), status=422)
    count = integer_text(job.total)
    message = (
        _("Already started.")
        if not created
        else _("Sending invitations to %(count)s customer(s).", count=count)
        if kind == "invite"
        else _("Exporting %(count)s customer(s).", count=count)
    )
    return _render_list(message=message, job=job)


@bp.post("/invite")
@id_token_required
def invite():
    return _start("invite", request.form.get("scope") or "selected")


@bp.post("/export")
@id_token_required
def export():
    return _start("export", request.form.get("scope") or "all")


@bp.get("/jobs/<int:job_id>")
@id_token_required
def job_status(job_id: int):
    job = bulk.job_for(get_session(), g.shop, job_id)
    if job is None:
        abort(404)
    return render_template("customers/_job.html", job=job, skip_labels=bulk.SKIP_LABELS)


@bp.get("/jobs/<int:job_id>/download")
@id_token_required
def download(job_id: int):
    """The export's CSV, streamed from storage a chunk at a time."""
    session = get_session()
    job = bulk.job_for(session, g.shop, job_id)
    if job is None or job.kind != "export" or job.status != "completed":
        abort(404)
    store = storage()
    file = store.find(session, g.shop.id, bulk.export_key(job))
    if file is None:
        abort(410, EXPORT_GONE)
    return Response(
        store.read(file),
        content_type=file.content_type,
        headers={
            "Content-Disposition": (
                f'attachment; filename="customers-{g.shop.domain.split(".")[0]}-{job.id}.csv"'
            ),
            "Content-Length": str(file.size),
        },
    )


def customer_or_404(customer_id: int) -> Customer:
    """The shop's customer, or 404 (another shop's customer is not found either)."""
    customer = get_session().scalar(
        select(Customer).where(Customer.id == customer_id, Customer.shop_id == g.shop.id)
    )
    if customer is None:
        abort(404)
    return customer


def _names_in(session, shown) -> wording.Names:
    """The names behind the ids in the timeline's fraud evidence and audit changes."""
    customer_ids, advocate_ids = set(), set()
    for entry in shown:
        for check in entry.checks:
            for key in ("friend_customer_id", "advocate_customer_id"):
                customer_ids.add((check.evidence or {}).get(key))
        if entry.audit is not None:
            for side in (entry.audit.before or {}, entry.audit.after or {}):
                advocate_ids.add(side.get("advocate_id"))
    return names.load(session, g.shop, customer_ids=customer_ids, advocate_ids=advocate_ids)


def render_detail(customer_id: int, *, message=None, problem=None, status=200):
    session = get_session()
    view = detail_cards.customer_detail(session, g.shop, customer_id)
    if view is None:
        abort(404)
    zone = ensure_shop_timezone(session, g.shop, shopify())
    timeline_query = pages.parse_query(request.args)
    timeline = pages.timeline_page(session, g.shop, customer_id, timeline_query)
    shown = entries.entries_for(session, g.shop, timeline.events, name_of=actor_label)
    html = render_template(
        "customers/detail.html",
        orders=detail_cards.order_summary(session, g.shop, customer_id),
        timeline=timeline,
        entries=shown,
        names=_names_in(session, shown),
        wording=wording,
        timeline_sources=kinds.SOURCES,
        timeline_families=kinds.FAMILIES,
        zone=zone,
        local_time=lambda moment: local_time(moment, zone),
        local_day=lambda moment: local_time(moment, zone).partition(",")[0],
        customer=view.customer,
        advocate=view.advocate,
        stats=revenue.stats_of(view.customer),
        custom_attributes=attributes.shown(view.customer.custom_attributes),
        referrals=view.referrals,
        friends=view.friends,
        rewards=view.rewards,
        activity_limit=detail_cards.ACTIVITY_LIMIT,
        referral_link=share_url(view.advocate.code) if view.advocate else None,
        invitations=view.invitations,
        invite_refusal=(
            None if view.advocate else advocates.invitation_refusal(session, g.shop, view.customer)
        ),
        currency=shop_currency(g.shop),
        back=request.args.get("back") or "",
        message=message,
        problem=problem,
    )
    return html, status, {"X-Location": app_url("customers.detail", customer_id=customer_id)}


@bp.get("/<int:customer_id>")
@id_token_required
def detail(customer_id: int):
    return render_detail(customer_id)


@bp.post("/<int:customer_id>/join")
@id_token_required
def join(customer_id: int):
    session = get_session()
    customer = customer_or_404(customer_id)
    try:
        message = advocates.staff_join(session, g.shop, customer, actor=staff_actor())
        session.commit()
    except advocates.JoinRefused as exc:
        session.rollback()
        return render_detail(
            customer.id, problem=_("Not joined: %(reason)s.", reason=exc), status=422
        )
    return render_detail(customer.id, message=message)


@bp.post("/<int:customer_id>/invite")
@id_token_required
def invite_one(customer_id: int):
    session = get_session()
    customer = customer_or_404(customer_id)
    try:
        message = advocates.staff_invite(session, g.shop, customer, actor=staff_actor())
        session.commit()
    except advocates.InvitationRefused as exc:
        session.rollback()
        return render_detail(
            customer.id,
            problem=_("Not invited: %(reason)s.", reason=stored_text(str(exc))),
            status=422,
        )
    return render_detail(customer.id, message=message)
