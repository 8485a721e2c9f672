"""`POST /inbound/email`: the mail provider forwards a shopper's mail here as raw MIME
(docs/operations.md, "Inbound email").

401 unless signed (signature.py); 413 over INBOUND_EMAIL_MAX_BYTES; 415 unless the body is
`message/rfc822`. A signed mail always gets a 2xx, so the provider does not retry it:
201 attached to its conversation, 200 a replay of one already attached (deduplicated by
its Message-ID), 202 dropped, with the reason in the JSON and in the log.
"""

from __future__ import annotations

import hashlib
import logging
import time

from flask import Blueprint, current_app, jsonify, request

from shopify_app.conversations.email_replies import inbound_secrets
from shopify_app.db import get_session

from .mail import parse_mail
from .routing import receive_mail
from .signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, refusal

log = logging.getLogger(__name__)
bp = Blueprint("inbound", __name__)

STATUS_CODES = {"accepted": 201, "duplicate": 200, "dropped": 202}


@bp.post("/inbound/email")
def inbound_email():
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
    mail = parse_mail(body)
    session = get_session()
    outcome = receive_mail(
        session,
        mail,
        secret=keys,
        domain=current_app.config["INBOUND_EMAIL_DOMAIN"],
    )
    session.commit()
    # The Message-ID may quote an address: the log names its digest only.
    mail_ref = hashlib.sha256(mail.message_id.encode()).hexdigest()[:12]
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
