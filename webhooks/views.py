"""`POST /webhooks`: every topic, compliance topics included, arrives here."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, request

from shopify_app.db import get_session
from shopify_app.shopify.domains import is_valid_shop_domain, sanitize_shop_domain
from shopify_app.shopify.hmac import verify_webhook_hmac
from shopify_app.shopify.offline_tokens import get_or_create_shop
from shopify_app.shopify.services import shopify
from workers.webhook_jobs import schedule_drain_after_commit

from .headers import DeliveryHeaders, shopify_header
from .inbox import store_delivery
from .routing import has_handler

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@bp.post("/webhooks")
def receive() -> Response:
    limit = current_app.config["WEBHOOK_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return _plain(413, "payload too large")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return _plain(413, "payload too large")
    if not verify_webhook_hmac(
        body, shopify_header(request.headers, "Hmac-Sha256"), shopify().secrets
    ):
        return _plain(401, "invalid hmac")
    headers, problems = DeliveryHeaders.parse(request.headers)
    if headers is None:
        return _plain(400, "; ".join(problems))
    if not is_valid_shop_domain(headers.shop_domain):
        return _plain(400, "invalid shop domain")
    session = get_session()
    # The HMAC proves Shopify sent it for a shop that has the app, even one whose merchant
    # has not opened it yet (managed install): keep the delivery under a not-installed row.
    shop = get_or_create_shop(session, sanitize_shop_domain(headers.shop_domain))
    try:
        json.loads(body)
    except ValueError as exc:
        store_delivery(
            session, shop.id, headers, body, status="dead", error=f"malformed JSON: {exc}"
        )
        session.commit()
        return _plain(400, "malformed JSON (stored for inspection)")
    if not has_handler(headers.topic):
        delivery_id = store_delivery(
            session, shop.id, headers, body, status="ignored", error="unknown topic"
        )
        session.commit()
        return _plain(200, "ignored: unknown topic")
    delivery_id = store_delivery(session, shop.id, headers, body)
    if delivery_id is not None:
        schedule_drain_after_commit(session, shop.id)
    session.commit()
    return _plain(200, "ok" if delivery_id is not None else "duplicate")
