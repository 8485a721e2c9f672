"""The chat images themselves, for the staff inbox and the shopper's widget alike: an
`<img>` sends no ID token and the app proxy's signature cannot be put in a storefront
page's markup, so the URL carries its own proof (`images.signed_url`): the shop, the file
and an expiry, signed. Nothing else opens a file here, and only a chat image.

The bytes go out as stored (re-encoded on upload), as the type decided then, with headers
that keep a browser from reading them as anything but an image: nosniff, `inline`, and a
CSP that allows nothing should the URL be opened as a page. A browser may keep them until
the URL expires, and nothing shared may.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from flask import Blueprint, Response, current_app, jsonify, request

from shopify_app.db import get_session
from shopify_app.storage import FileGone, storage

from . import images

bp = Blueprint("chat_images", __name__)


def _refused(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/files/chat-images/<int:file_id>")
def image(file_id: int):
    args = request.args
    signed = images.verify(
        current_app.config, file_id, args.get("shop"), args.get("exp"), args.get("sig")
    )
    if signed is None:
        return _refused(403, "This image link is not valid or has expired.")
    shop_id, expires = signed
    store = storage()
    session = get_session()
    found = store.get(session, shop_id, file_id, images.KEY_PREFIX)
    session.commit()  # nothing held open while the bytes stream
    if found is None or found.content_type not in images.EXTENSIONS:
        return _refused(404, "This image no longer exists.")
    chunks = store.read(found)
    try:
        first = next(chunks, b"")
    except FileGone:
        return _refused(404, "This image no longer exists.")

    def body():
        yield first
        try:
            yield from chunks
        except FileGone:  # erased mid-download: the response ends short
            return

    response = Response(body(), mimetype=found.content_type)
    response.headers["Content-Length"] = str(found.size)
    extension = images.EXTENSIONS[found.content_type]
    response.headers["Content-Disposition"] = f'inline; filename="image-{file_id}.{extension}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Nothing may load or run; inline style only for the browser's own image viewer (it
    # centres the picture with it), harmless where the document can only be an image.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # the storefront shows it
    response.headers["Referrer-Policy"] = "no-referrer"
    max_age = max(0, expires - int(time.time()))
    response.headers["Cache-Control"] = f"private, max-age={max_age}, immutable"
    response.headers["Expires"] = formatdate(expires, usegmt=True)
    return response
