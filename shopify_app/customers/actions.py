"""Actions on one customer (E4, E5): unsubscribe from email and/or SMS marketing, written
back to Shopify (`unsubscribe`), and "Export data", one customer's data downloaded at once
(`data_export`). The buttons are `templates/customers/_actions.html`, included by the
customer page; after an action the customer page is rendered again with the outcome.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, abort, g, request

from shopify_app.audit import record_audit
from shopify_app.auth.embedded import id_token_required, staff_actor
from shopify_app.db import get_session
from shopify_app.models import Customer

from . import consent_requests, data_export, unsubscribe
from .views import customer_or_404, render_detail

bp = Blueprint("customer_actions", __name__, url_prefix="/customers")
FORMATS = {
    "json": ("application/json", data_export.CustomerExport.to_json),
    "zip": ("application/zip", data_export.CustomerExport.to_zip),
}


@bp.app_template_global("customer_actions")
def customer_actions(customer: Customer) -> dict[str, Any]:
    """What `_actions.html` shows beside the customer: each channel's latest write-back
    (pending, or refused with Shopify's errors) and a fresh key for the form."""
    return {
        "requests": consent_requests.latest_requests(get_session(), g.shop, customer.id),
        "request_key": secrets.token_urlsafe(18),
        "labels": unsubscribe.LABELS,
    }


@bp.post("/<int:customer_id>/unsubscribe")
@id_token_required
def unsubscribe_customer(customer_id: int):
    session = get_session()
    customer = customer_or_404(customer_id)
    try:
        outcome = unsubscribe.request_unsubscribe(
            session,
            g.shop,
            customer,
            request.form.getlist("channel"),
            actor=staff_actor(),
            reason=request.form.get("reason", ""),
            request_key=request.form.get("request_key", ""),
        )
        session.commit()
    except unsubscribe.UnsubscribeRefused as exc:
        session.rollback()
        return render_detail(customer_id, problem=f"Not unsubscribed: {exc}.", status=422)
    return render_detail(customer_id, message=outcome.message)


@bp.get("/<int:customer_id>/export.<fmt>")
@id_token_required
def export_customer(customer_id: int, fmt: str):
    """The customer's data, at once, never cached; the export is audited."""
    if fmt not in FORMATS:
        abort(404)
    session = get_session()
    try:
        export = data_export.customer_export(session, g.shop, customer_id)
    except data_export.NothingToExport as exc:
        abort(410, f"Nothing to export: {exc}.")
    if export is None:
        abort(404)
    content_type, render = FORMATS[fmt]
    body = render(export)
    record_audit(
        session,
        g.shop,
        actor=staff_actor(),
        action="customer.exported",
        subject_type="customer",
        subject_id=customer_id,
        customer_id=customer_id,
        after={"format": fmt, "bytes": len(body)},
    )
    session.commit()
    return Response(
        body,
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(fmt)}"',
            "Cache-Control": "no-store",
        },
    )
