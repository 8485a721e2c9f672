"""`POST /inbound/email`: the mail provider forwards a shopper's mail here as raw MIME
(docs/operations.md, "Inbound email").

401 unless signed (signature.py); 413 over INBOUND_EMAIL_MAX_BYTES; 415 unless the body is
`message/rfc822`. A signed mail always gets a 2xx, so the provider does not retry it:
201 attached to its conversation, 200 a replay of one already attached (deduplicated by
its Message-ID), 202 dropped, with the reason in the JSON and in the log.

`POST /inbound/delivery-status` takes a delivery status notification (a DSN or an ARF
complaint) the same way, signed the same way; a report that arrives at a chat reply
address through `/inbound/email` is handled by it too (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import logging
import time

from flask import Blueprint, Response, current_app, jsonify, request

from shopify_app.conversations.email_replies import (
    BadReplyToken,
    conversation_id_from_address,
    inbound_secrets,
)
from shopify_app.db import get_session
from shopify_app.models import Conversation

from .delivery_status import record_report
from .dsn import is_report, parse_report
from .mail import InboundMail, parse_mail
from .routing import receive_mail
from .signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, refusal

log = logging.getLogger(__name__)
bp = Blueprint("inbound", __name__)

STATUS_CODES = {"accepted": 201, "duplicate": 200, "dropped": 202}
REPORT_STATUS_CODES = {"recorded": 200, "duplicate": 200, "unchanged": 200, "dropped": 202}


def _signed_body() -> tuple[bytes, tuple[str, ...]] | tuple[Response, int]:
    """The raw body of a request the mail provider signed, with the secrets it may be
    signed with; or the refusal (413 / 401 / 415). Shared by both inbound endpoints."""
    limit = current_app.config["INBOUND_EMAIL_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return jsonify(error="The mail is larger than the inbound limit."), 413
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return jsonify(error="The mail is larger than the inbound limit."), 413
    keys = inbound_secrets(current_app.config)
    why = refusal(
        keys,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        now=time.time(),
    )
    if why is not None:
        log.warning("inbound mail refused: %s", why)
        return jsonify(error=f"Not a signed inbound mail ({why})."), 401
    if request.mimetype != "message/rfc822":
        return jsonify(error="Send the raw mail as message/rfc822."), 415
    return body, keys


def _digest(message_id: str) -> str:
    # A Message-ID may quote an address: the log names its digest only.
    return hashlib.sha256(message_id.encode()).hexdigest()[:12]


@bp.post("/inbound/email")
def inbound_email():
    signed = _signed_body()
    if isinstance(signed[0], Response):
        return signed
    body, keys = signed
    domain = current_app.config["INBOUND_EMAIL_DOMAIN"]
    mail = parse_mail(body)
    if is_report(body):
        # A bounce or complaint about a chat reply comes back to the reply address (the
        # envelope sender): the conversation it names limits the search to its shop.
        return _delivery_report(body, shop_id=_reply_address_shop(mail, keys, domain))
    session = get_session()
    outcome = receive_mail(session, mail, secret=keys, domain=domain)
    session.commit()
    mail_ref = _digest(mail.message_id)
    if outcome.status == "dropped":
        log.warning("inbound mail %s dropped: %s", mail_ref, outcome.reason)
    else:
        log.info(
            "inbound mail %s %s: conversation %s", mail_ref, outcome.status, outcome.conversation_id
        )
    return jsonify(
        status=outcome.status,
        reason=outcome.reason,
        conversation_id=outcome.conversation_id,
        message_id=outcome.message_id,
        attachments_kept=0,
    ), STATUS_CODES[outcome.status]


@bp.post("/inbound/delivery-status")
def inbound_delivery_status():
    """A delivery status notification (RFC 3464 DSN, RFC 5965 ARF complaint) about an
    email the app sent, posted as raw MIME and signed like `/inbound/email`."""
    signed = _signed_body()
    if isinstance(signed[0], Response):
        return signed
    body, _keys = signed
    return _delivery_report(body, shop_id=None)


def _reply_address_shop(mail: InboundMail, keys: tuple[str, ...], domain: str) -> int | None:
    session = get_session()
    for address in mail.recipients:
        try:
            conversation_id = conversation_id_from_address(address, secret=keys, domain=domain)
        except BadReplyToken:
            return -1  # a forged reply address: matches no shop
        if conversation_id is not None:
            conversation = session.get(Conversation, conversation_id)
            return conversation.shop_id if conversation is not None else -1
    return None


def _delivery_report(body: bytes, *, shop_id: int | None):
    report = parse_report(body)
    if report is None:
        log.warning("delivery report dropped: not a delivery status notification")
        return jsonify(status="dropped", reason="not a delivery status notification"), 202
    session = get_session()
    outcome = record_report(session, report, shop_id=shop_id)
    session.commit()
    ref = _digest(report.original_message_id or report.report_id or "")
    if outcome.status == "dropped":
        log.warning("delivery report on %s dropped: %s", ref, outcome.reason)
    else:
        log.info("delivery report on %s %s: email %s", ref, outcome.status, outcome.email_id)
    return jsonify(
        status=outcome.status,
        reason=outcome.reason,
        outcome=report.outcome,
        email_id=outcome.email_id,
        suppressed=outcome.suppressed,
    ), REPORT_STATUS_CODES[outcome.status]
