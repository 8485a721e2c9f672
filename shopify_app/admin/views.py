from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, g, render_template
from sqlalchemy import select

from shopify_app.auth.embedded import id_token_required
from shopify_app.db import get_session
from shopify_app.models import DataRequest, SyncRun
from shopify_app.shopify.services import shopify
from shopify_app.shops import load_shop_profile
from shopify_app.sync.importer import latest_run

bp = Blueprint("admin", __name__)


@bp.get("/")
@id_token_required
def home():
    profile = load_shop_profile(get_session(), g.shop, shopify())
    required = {s.strip() for s in current_app.config["SCOPES"].split(",") if s.strip()}
    missing_scopes = sorted(required - g.shop.scope_set)
    data_requests = (
        get_session()
        .scalars(
            select(DataRequest)
            .where(DataRequest.shop_id == g.shop.id)
            .order_by(DataRequest.requested_at.desc())
            .limit(20)
        )
        .all()
    )
    session = get_session()
    completed_reconcile = session.scalar(
        select(SyncRun)
        .where(
            SyncRun.shop_id == g.shop.id, SyncRun.kind == "reconcile", SyncRun.status == "completed"
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )
    return render_template(
        "admin/home.html",
        import_run=latest_run(session, g.shop, "import"),
        reconcile_run=completed_reconcile,
        profile=profile,
        shop=g.shop,
        missing_scopes=missing_scopes,
        data_requests=data_requests,
    )


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
