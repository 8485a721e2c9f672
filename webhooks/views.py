"""`POST /webhooks`: every topic, compliance topics included, arrives here.

Verify the HMAC on the raw body, validate the headers, check that the body is shaped for its
topic and names the header's shop (`trust.py`; one that is not is stored `rejected`), store
the delivery, hand it to the shop's drain after the commit, answer. Nothing else happens in
the request, and the ORM is not on this path: it is the app's hottest and Shopify gives up
after 5 seconds.
"""

from __future__ import annotations

import json
import logging

import redis
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError

from shopify_app.db import database
from shopify_app.shopify.domains import is_valid_shop_domain, sanitize_shop_domain
from shopify_app.shopify.hmac import verify_webhook_hmac
from shopify_app.shopify.services import shopify

from .drain import schedule_drain
from .headers import DeliveryHeaders, shopify_header
from .inbox import InboxWriter, shop_id_for
from .routing import has_handler
from .trust import payload_problem

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _writer() -> InboxWriter:
    writer = current_app.extensions.get("inbox_writer")
    if writer is None:
        writer = current_app.extensions["inbox_writer"] = InboxWriter(database().engine)
    return writer


def _store(domain, cache, headers, body, status, error) -> tuple[int, int | None]:
    shop_id = shop_id_for(database().engine, domain, cache)
    return shop_id, _writer().store(shop_id, headers, body, status=status, error=error)


@bp.post("/webhooks")
def receive() -> Response:
    limit = current_app.config["WEBHOOK_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return _plain(413, "payload too large")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return _plain(413, "payload too large")
    signature = shopify_header(request.headers, "Hmac-Sha256")
    if not verify_webhook_hmac(body, signature, shopify().secrets):
        return _plain(401, "invalid hmac")
    headers, problems = DeliveryHeaders.parse(request.headers)
    if headers is None:
        return _plain(400, "; ".join(problems))
    if not is_valid_shop_domain(headers.shop_domain):
        return _plain(400, "invalid shop domain")
    domain = sanitize_shop_domain(headers.shop_domain)
    status, error, answer = "pending", None, (200, "ok")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        status, error = "dead", f"malformed JSON: {exc}"
        answer = (400, "malformed JSON (stored for inspection)")
    else:
        if not has_handler(headers.topic):
            status, error, answer = "ignored", "unknown topic", (200, "ignored: unknown topic")
        elif problem := payload_problem(headers.topic, domain, payload):
            # Acknowledged like any stored delivery: Shopify's retry would only be a duplicate,
            # and a sender probing the rules learns nothing (docs/architecture.md).
            status, error = "rejected", problem
    cache = current_app.extensions.setdefault("webhook_shop_ids", {})
    # The HMAC proves Shopify sent it for a shop that has the app, even one whose merchant
    # has not opened it yet (managed install): keep it under a not-installed shop row.
    try:
        shop_id, delivery_id = _store(domain, cache, headers, body, status, error)
    except IntegrityError:
        cache.pop(domain, None)  # a cached id whose row is gone (deleted by hand): look again
        shop_id, delivery_id = _store(domain, cache, headers, body, status, error)
    if delivery_id is None:
        return _plain(200, "duplicate")
    if status == "rejected":
        log.warning("webhook %s (%s, %s) rejected: %s", delivery_id, headers.topic, domain, error)
    if status == "pending":
        try:
            schedule_drain(shop_id)
        except redis.RedisError:
            log.exception("could not schedule a drain for shop %s; the sweeper will", shop_id)
    return _plain(*answer)
