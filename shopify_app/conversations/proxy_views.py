"""The storefront chat widget's JSON endpoints, behind Shopify's app proxy
(`https://{shop}/apps/referrals/chat/...` -> `/proxy/chat/...`).

Every request is verified as the proxy pages verify theirs (Shopify's signature, at most an
hour old, an installed shop: `storefront.proxy_signature`). The proxy drops cookies, so the
widget proves which conversation is its own with the chat token `/chat/start` gave it
(`chat_tokens`), sent in the JSON body of a POST and as `token=` on a GET. A conversation
linked to a customer answers only while that customer is the one logged in.

Errors are JSON `{"error": sentence}`: 401 unsigned/stale request or token, 403 an image or
file (only staff send images) or a message of another kind than text, 415 an upload instead
of JSON, 404 a conversation that is gone, 413 a body over `service.MAX_BODY`, 422 bad input,
429 (with Retry-After) a flood.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from shopify_app import rate_limits
from shopify_app.db import get_session
from shopify_app.models import Conversation, Customer, Shop, utcnow
from shopify_app.request_limits import is_upload
from shopify_app.storefront.proxy_signature import verified_shop_and_customer

from . import chat_tokens, notify, service

bp = Blueprint("chat_proxy", __name__)

ATTACHMENT_FIELDS = (
    "image",
    "images",
    "image_url",
    "file_id",
    "attachment",
    "attachments",
    "file",
    "files",
)
DATA_URI = re.compile(r"(?i)\bdata:[a-z0-9.+-]+/[a-z0-9.+-]+[;,]")
NO_IMAGES = "Only the shop's staff can send images."
NOT_TEXT = "Only text can be sent in this chat."
EXPIRED_CHAT = "This chat has expired; start a new one."


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(error: HTTPException) -> Response:
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return _error(error.code or 500, error.description or error.name, headers)


# Code by code: an app-wide handler for a code (the rate limiter's 429 page) is found before
# a blueprint's handler for all HTTP errors.
for _code in (400, 401, 403, 404, 405, 413, 415, 422, 429):
    bp.register_error_handler(_code, _http_error)
bp.register_error_handler(HTTPException, _http_error)


def _body() -> dict[str, Any]:
    """The POST's JSON object. The shopper cannot send images or files, whatever the
    client, and nothing is stored for any attempt: a form with files (multipart) or a
    file-like field is refused (403), raw bytes or an image as the body (415), both before
    a byte of the body is read (`request_limits` lets uploads through to here unread); so is
    a message of another kind than text or one carrying a payload (403)."""
    if request.mimetype == "multipart/form-data":
        abort(403, NO_IMAGES)
    if is_upload(request.mimetype):
        abort(415, NO_IMAGES)
    if any(request.form.get(k) for k in ATTACHMENT_FIELDS):
        abort(403, NO_IMAGES)
    if request.mimetype != "application/json":
        abort(415, "Send JSON.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "The body must be a JSON object.")
    kind, payload = data.get("kind"), data.get("payload")
    inner = payload if isinstance(payload, dict) else {}
    if kind == "image" or any(data.get(k) or inner.get(k) for k in ATTACHMENT_FIELDS):
        abort(403, NO_IMAGES)
    if kind not in (None, "text") or payload is not None:
        abort(403, NOT_TEXT)
    return data


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _realtime(shop: Shop, conversation: Conversation) -> dict[str, str]:
    return {
        "realtime_token": notify.shopper_realtime_token(shop.id, conversation.id),
        "realtime_url": notify.realtime_url(),
    }


def _may_read(conversation: Conversation, customer: Customer | None) -> bool:
    """A thread linked to a customer is theirs alone: a browser where someone else (or no
    one) is logged in now cannot read it with a token left in its storage."""
    return conversation.customer_id is None or (
        customer is not None and customer.id == conversation.customer_id
    )


def _conversation(shop: Shop, customer: Customer | None, token: Any) -> Conversation:
    conversation_id = chat_tokens.verify_chat_token(token, shop)
    if conversation_id is None:
        abort(401, EXPIRED_CHAT)
    conversation = service.get_conversation(get_session(), shop, conversation_id)
    if conversation is None:
        abort(404, "This conversation no longer exists; start a new one.")
    if not _may_read(conversation, customer):
        abort(401, EXPIRED_CHAT)
    return conversation


def _shopper_messages(shop: Shop, conversation: Conversation, after: Any = 0) -> list[dict]:
    after_id = int(after) if isinstance(after, str) and after.isdigit() else 0
    messages = service.messages_after(
        get_session(), shop, conversation, min(after_id, 2**62), include_notes=False
    )
    return [service.message_json(m, for_shopper=True) for m in messages]


@bp.post("/proxy/chat/start")
def start():
    """Start (or, for the logged-in customer, resume) a conversation. A widget that already
    holds a token sends it: its thread is kept, and linked to the customer who has since
    logged in."""
    shop, customer, _logged_in = verified_shop_and_customer()
    data = _body()
    session = get_session()
    conversation = None
    held = chat_tokens.verify_chat_token(data.get("token"), shop)
    if held is not None:
        conversation = service.get_conversation(session, shop, held)
        if conversation is not None and customer is not None:
            if not service.link_customer(session, shop, conversation, customer):
                conversation = None
        elif conversation is not None and not _may_read(conversation, customer):
            conversation = None
    if conversation is None:
        rate_limits.limit("chat-start")
        email = data.get("email")
        try:
            conversation = service.start_conversation(
                session,
                shop,
                email=email if isinstance(email, str) else None,
                name=data.get("name"),
                customer=customer,
                locale=data.get("locale"),
                reuse=False,
            )
        except service.MessageRefused as refused:
            session.rollback()
            return _error(refused.status, refused.reason)
    session.commit()
    return _json(
        {
            "conversation_id": conversation.id,
            "chat_token": chat_tokens.issue_chat_token(shop, conversation),
            **_realtime(shop, conversation),
            "messages": _shopper_messages(shop, conversation),
        },
        201,
    )


@bp.get("/proxy/chat/messages")
def messages():
    """What the widget missed: the messages after `after` (notes never)."""
    shop, customer, _logged_in = verified_shop_and_customer()
    conversation = _conversation(shop, customer, request.args.get("token"))
    found = _shopper_messages(shop, conversation, request.args.get("after", "0"))
    conversation.shopper_seen_at = utcnow()
    get_session().commit()
    return _json({"messages": found, **_realtime(shop, conversation)})


@bp.post("/proxy/chat/messages")
def send():
    shop, customer, _logged_in = verified_shop_and_customer()
    data = _body()
    conversation = _conversation(shop, customer, data.get("token"))
    body = data.get("body")
    if isinstance(body, str) and DATA_URI.search(body):
        return _error(403, NO_IMAGES)
    rate_limits.limit("chat-message", f"{shop.id}:{conversation.id}")
    client_id = data.get("client_id")
    session = get_session()
    try:
        message = service.post_message(
            session,
            shop,
            conversation,
            author="shopper",
            body=body,
            channel="widget",
            client_id=client_id if isinstance(client_id, str) else None,
        )
    except service.MessageRefused as refused:
        session.rollback()
        return _error(refused.status, refused.reason)
    # Written from the open chat: everything before it was on their screen.
    service.mark_seen(session, shop, conversation, message.id)
    session.commit()
    return _json({"message": service.message_json(message, for_shopper=True)}, 201)


@bp.post("/proxy/chat/seen")
def seen():
    """The widget had the chat open, on a visible page, up to `message_id`: a staff reply up
    to there is not emailed (`service.reply_emails_owed`). 404 for a message not in this
    conversation."""
    shop, customer, _logged_in = verified_shop_and_customer()
    data = _body()
    conversation = _conversation(shop, customer, data.get("token"))
    session = get_session()
    if not service.mark_seen(session, shop, conversation, data.get("message_id")):
        session.rollback()
        return _error(404, "No such message in this chat.")
    session.commit()
    return Response(status=204)


@bp.post("/proxy/chat/typing")
def typing():
    shop, customer, _logged_in = verified_shop_and_customer()
    conversation = _conversation(shop, customer, _body().get("token"))
    notify.publish_event(
        shop_id=shop.id,
        conversation_id=conversation.id,
        event="typing",
        data={"conversation_id": conversation.id, "author": "shopper"},
        to_shopper=False,
        to_staff=True,
    )
    return Response(status=204)


@bp.post("/proxy/chat/realtime-token")
def realtime_token():
    """A fresh short-lived token for the realtime connection (they last minutes)."""
    shop, customer, _logged_in = verified_shop_and_customer()
    conversation = _conversation(shop, customer, _body().get("token"))
    return _json(_realtime(shop, conversation))
