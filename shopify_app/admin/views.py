from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from shopify_app.auth.embedded import id_token_required
from shopify_app.db import get_session
from shopify_app.i18n import day_text, number_text
from shopify_app.models import DataRequest
from shopify_app.referrals.program import shop_currency
from shopify_app.shopify.services import shopify
from shopify_app.shops import load_shop_profile, valid_timezone
from shopify_app.sync.importer import latest_run

from . import charts, dashboard

bp = Blueprint("admin", __name__)


@bp.get("/")
@id_token_required
def home():
    session = get_session()
    profile = load_shop_profile(session, g.shop, shopify())
    zone = ZoneInfo(valid_timezone(g.shop.iana_timezone) or "UTC")
    period = dashboard.parse_period(request.args, zone)
    currency = shop_currency(g.shop)
    metrics = dashboard.compute(session, g.shop, period, currency)
    data_requests = session.scalars(
        select(DataRequest)
        .where(DataRequest.shop_id == g.shop.id)
        .order_by(DataRequest.requested_at.desc())
        .limit(20)
    ).all()
    import_run = latest_run(session, g.shop, "import")
    return render_template(
        "admin/home.html",
        import_run=import_run,
        import_progress=dashboard.import_progress(import_run),
        reconcile_runs=dashboard.reconcile_runs(session, g.shop),
        program_enabled=dashboard.program_enabled(session, g.shop),
        metrics=metrics,
        totals=metrics.totals(),
        charts=_charts(metrics),
        period=period,
        presets=dashboard.PRESETS,
        profile=profile,
        shop=g.shop,
        missing=dashboard.missing_permissions(current_app.config["SCOPES"], g.shop.scope_set),
        data_requests=data_requests,
    )


def _charts(metrics: dashboard.Metrics) -> list[dict[str, object]]:
    """One chart per metric with its title, total and accessible description."""
    days = metrics.period.days
    span = _("%(first)s to %(last)s", first=day_text(days[0]), last=day_text(days[-1]))

    def money(value: float) -> str:
        return number_text(int(value), metrics.currency)

    out = []
    for key, title, values, fmt in (
        ("referrals", _("Referrals"), metrics.referrals, None),
        ("completed", _("Completed referrals"), metrics.completed, None),
        (
            "revenue",
            _("Referral revenue (%(currency)s)", currency=metrics.currency),
            metrics.revenue_minor,
            money,
        ),
        ("clicks", _("Link clicks"), metrics.clicks, None),
        ("shares", _("Shares"), metrics.shares, None),
    ):
        fmt = fmt or charts.whole_number
        total = sum(values)
        best = max(range(len(values)), key=lambda i: values[i]) if total else None
        description = (
            _(
                "%(title)s per day, %(span)s: %(total)s in all; the most, %(best)s, on %(day)s.",
                title=title,
                span=span,
                total=fmt(total),
                best=fmt(values[best]),
                day=day_text(days[best]),
            )
            if best is not None
            else _(
                "%(title)s per day, %(span)s: %(total)s in all.",
                title=title,
                span=span,
                total=fmt(total),
            )
        )
        out.append(
            {
                "key": key,
                "title": title,
                "total": fmt(total),
                "svg": charts.bar_chart(
                    key,
                    days,
                    values,
                    title=_("%(title)s per day", title=title),
                    description=description,
                    fmt=fmt,
                ),
            }
        )
    return out


@bp.get("/import/progress")
@id_token_required
def import_progress():
    """The import's progress for the Home page's poll (a fetch, so App Bridge's token)."""
    body = dashboard.import_progress(latest_run(get_session(), g.shop, "import"))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/privacy/data-requests/<int:request_id>")
@id_token_required
def download_data_request(request_id: int):
    """The customer's data Shopify asked for (customers/data_request), for the merchant."""
    request = get_session().scalar(
        select(DataRequest).where(DataRequest.id == request_id, DataRequest.shop_id == g.shop.id)
    )
    if request is None:
        abort(404)
    body = json.dumps(
        {
            "shop": g.shop.domain,
            "requested_at": request.requested_at.isoformat(),
            "shopify_data_request_id": request.shopify_request_id,
            "customer_shopify_id": request.customer_shopify_id,
            **request.content,
        },
        indent=2,
        ensure_ascii=False,
    )
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="data-request-{request.id}.json"'},
    )
