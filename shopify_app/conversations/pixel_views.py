"""`POST /pixel/events`: the web pixel's cart events (extensions/referral-pixel), straight
from the shopper's browser (the pixel's worker), not through the app proxy.

The pixel posts `text/plain` JSON (a CORS "simple" request: no preflight), so any origin may
send it (`Access-Control-Allow-Origin: *`, no credentials). Nothing is believed without
proof: the `shop_key` must be the one the app issued for the shop it names
(`cart_events.key_matches`), and the chat `token` one the app signed for that shop
(`chat_tokens`); then every field is checked (`cart_events.parse_event`).

Answers: 201 stored, 200 a retried event already stored (its `id`), or JSON `{"error"}`:
400 not JSON, 401 a bad shop key or chat token, 404 a conversation that is gone, 413 a
body over 16 KB, 415 not text/plain or JSON, 422 a field that fails its check, 429 (with
Retry-After) a flood. The token is never logged.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from shopify_app import rate_limits
from shopify_app.db import get_session
from shopify_app.models import Shop

from . import cart_events, chat_tokens, service

bp = Blueprint("pixel", __name__)
log = logging.getLogger(__name__)

BAD_KEY = "This pixel's shop key is not valid."
INVALID_CHAT = "The chat token is not valid for this shop."


def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return _cors(response)


def _http_error(error: HTTPException) -> Response:
    retry_after = getattr(error, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _error(error.code or 500, error.description or error.name, headers)


for _code in (400, 401, 404, 405, 413, 415, 422, 429):
    bp.register_error_handler(_code, _http_error)
bp.register_error_handler(HTTPException, _http_error)


def _read_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > cart_events.MAX_BODY_BYTES:
        raise cart_events.CartEventRefused("The event is too large.", 413)
    if request.mimetype not in ("text/plain", "application/json"):
        raise cart_events.CartEventRefused("Send the event as JSON text.", 415)
    raw = request.stream.read(cart_events.MAX_BODY_BYTES + 1)
    if len(raw) > cart_events.MAX_BODY_BYTES:
        raise cart_events.CartEventRefused("The event is too large.", 413)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise cart_events.CartEventRefused("The body must be JSON.", 400) from None
    if not isinstance(data, dict):
        raise cart_events.CartEventRefused("The body must be a JSON object.", 400)
    return data


@bp.app_template_global("cart_money")
def cart_money(amount: str, currency: str) -> str:
    """A cart event's subtotal as the inbox shows it ("€98.00"), for the thread template."""
    try:
        return cart_events.money_text(Decimal(str(amount)), str(currency))
    except InvalidOperation:
        return f"{amount} {currency}"


@bp.route("/pixel/events", methods=["OPTIONS"])
def preflight() -> Response:
    return _cors(Response(status=204))


@bp.post("/pixel/events")
def ingest() -> Response:
    try:
        data = _read_body()
    except cart_events.CartEventRefused as refused:
        return _error(refused.status, refused.reason)
    session = get_session()
    key = data.get("shop_key")
    shop_id = cart_events.shop_id_of_key(key)
    shop = session.get(Shop, shop_id) if shop_id is not None else None
    if shop is None or not shop.is_installed or not cart_events.key_matches(key, shop):
        return _error(401, BAD_KEY)
    conversation_id = chat_tokens.verify_chat_token(data.get("token"), shop)
    if conversation_id is None:
        return _error(401, INVALID_CHAT)
    conversation = service.get_conversation(session, shop, conversation_id)
    if conversation is None:
        return _error(404, "This conversation no longer exists.")
    rate_limits.limit("pixel-event", f"{shop.id}:{conversation.id}")
    try:
        event = cart_events.parse_event(data)
        message, created = cart_events.record(session, shop, conversation, event)
    except cart_events.CartEventRefused as refused:
        session.rollback()
        return _error(refused.status, refused.reason)
    except service.MessageRefused as refused:
        session.rollback()
        return _error(refused.status, refused.reason)
    session.commit()
    log.info(
        "cart event %s stored as message %s (shop %s, conversation %s)",
        event.name,
        message.id,
        shop.id,
        conversation.id,
    )
    return _cors(
        Response(
            json.dumps({"message_id": message.id}),
            status=201 if created else 200,
            mimetype="application/json",
        )
    )
