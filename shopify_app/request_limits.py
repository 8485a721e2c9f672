"""What a request may carry: a body of at most `MAX_CONTENT_LENGTH` bytes (webhooks:
`WEBHOOK_MAX_BYTES`, enforced by their view; inbound mail: `INBOUND_EMAIL_MAX_BYTES`, by
its view; the public API: `API_MAX_BODY_BYTES`; a chat image: `CHAT_IMAGE_MAX_BYTES`, by its
view; an upload to the shopper's chat is refused unread by its view, whatever its size), form
fields of at most `FORM_FIELD_MAX_CHARS` characters each, and at most `FORM_MAX_FIELDS` of
them. Anything larger is a 413 before a view runs, so no handler, regex or database column
ever sees an unbounded value.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request

FORM_MAX_FIELDS = 1000
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CHAT_IMAGE_ENDPOINT = "conversations.upload_image"
UPLOAD_TYPES = ("multipart/form-data", "application/octet-stream")
MULTIPART_SLACK = 16_384  # the part headers, the boundaries and a client_id field
MULTIPART_READ_ROOM = 256 * 1024


def init_app(app: Flask) -> None:
    # multipart parts are capped by Werkzeug itself, in bytes (UTF-8: up to 4 per character)
    app.config["MAX_FORM_MEMORY_SIZE"] = 4 * app.config["FORM_FIELD_MAX_CHARS"]
    app.config["MAX_FORM_PARTS"] = FORM_MAX_FIELDS
    app.before_request(check_request_size)


def is_upload(mimetype: str) -> bool:
    """A body that is a file (a form with files, raw bytes, an image), not fields or JSON."""
    return mimetype in UPLOAD_TYPES or mimetype.startswith("image/")


def check_request_size() -> None:
    if request.blueprint == "webhooks":
        # The view reads one byte past its cap to tell an oversized chunked body (no
        # Content-Length) and answers its own plain 413; let that byte through.
        request.max_content_length = current_app.config["WEBHOOK_MAX_BYTES"] + 1
        return
    if request.blueprint == "inbound":  # raw MIME; the view reads one byte past its cap
        request.max_content_length = current_app.config["INBOUND_EMAIL_MAX_BYTES"] + 1
        return
    if request.endpoint == CHAT_IMAGE_ENDPOINT:
        # An image upload: its own cap plus the multipart framing; the view refuses a larger
        # Content-Length unread, and Werkzeug cuts off a chunked body past it.
        request.max_content_length = current_app.config["CHAT_IMAGE_MAX_BYTES"] + MULTIPART_SLACK
        # Werkzeug's multipart parser holds each read (64 KiB) against this, file parts too.
        request.max_form_memory_size = MULTIPART_READ_ROOM
        return
    if request.blueprint == "chat_proxy" and is_upload(request.mimetype):
        # The shopper's chat takes JSON only: its views refuse any upload, of any size,
        # unread and with their own answer ("Only the shop's staff can send images.").
        return
    if request.blueprint == "api":  # its own cap; a chunked body is cut off when read
        request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413, f"The request is larger than {limit // 1024} KB.")
    if request.mimetype not in FORM_TYPES:
        return
    cap = current_app.config["FORM_FIELD_MAX_CHARS"]
    fields = request.form.lists()
    count = 0
    for key, values in fields:
        count += len(values)
        if len(key) > cap or any(len(v) > cap for v in values):
            abort(413, f"A form field is longer than {cap} characters.")
    if count > FORM_MAX_FIELDS:
        abort(413, f"The form has more than {FORM_MAX_FIELDS} fields.")
