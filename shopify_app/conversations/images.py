"""Images staff send in a conversation (issue 20, F5): checked, cleaned, stored, and shown
through signed, expiring URLs. Shoppers never send images (proxy_views refuses them).

What arrives is untrusted bytes: its type is decided by decoding it (Pillow, only the four
formats allowed), never by its name or declared Content-Type; a declared size far beyond
its bytes (a decompression bomb) is refused before a pixel is decoded. What is stored is
a new encoding of the decoded pixels: upright (the EXIF orientation applied), at most
`CHAT_IMAGE_MAX_SIDE` pixels a side, and with nothing else of the original: no EXIF (GPS,
camera, times), no XMP, no text or comment chunks; an ICC profile is applied (converted to
sRGB) and dropped. An animated GIF or WebP keeps its first frame only: a still image is
what a support chat needs, and a frame count is one more bomb to bound.

The bytes live in `shopify_app.storage` (the database: every process reads them) under
`chat-images/<conversation id>/<uuid>`, without expiry while the conversation exists; the
erasure of a conversation deletes its images (`delete_conversation_images`).

A URL names the shop, the file and an expiry, signed with HMAC-SHA256 under a key derived
from the app's secret for this purpose only (as `realtime.tokens` derives its own), so it
opens that one file of that one shop until it expires and nothing else. Expiries are
rounded up to `URL_BUCKET_SECONDS`: the same message fetched twice within a few minutes
has the same URL, and the browser's cache serves it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from shopify_app.models import Conversation, ConversationMessage, Shop, StaffMember, utcnow
from shopify_app.storage import DatabaseStorage, FileInfo

from . import service
from .service import MessageRefused

KEY_PREFIX = "chat-images/"
# Pillow format name -> the Content-Type it is stored and served as.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
WRONG_TYPE = "Only PNG, JPEG, WebP or GIF images can be sent."
UNREADABLE = "The image could not be read: the file is damaged or incomplete."
BODY = "Sent an image"  # the message's sentence: previews, the timeline, the reply email
URL_BUCKET_SECONDS = 600
_KEY_PURPOSE = b"referrals chat image url v1"
JPEG_QUALITY = 88
WEBP_QUALITY = 85
ABANDONED_AFTER = timedelta(days=1)  # an image whose message never committed


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int


def too_large(max_bytes: int) -> str:
    return f"Images can be at most {max_bytes / 1_048_576:g} MB."


def clean_image(data: bytes, *, max_pixels: int, max_side: int) -> CleanImage:
    """The image in `data`, checked and re-encoded without its metadata. Raises
    MessageRefused: 415 for anything but a PNG, JPEG, WebP or GIF (by content), 422 for a
    damaged one or one of more than `max_pixels` pixels."""
    with warnings.catch_warnings():
        # Pillow warns on bomb-sized images (and raises past twice its limit) when it reads
        # the header; our own cap, lower than its limit, is checked before any decoding.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except UnidentifiedImageError:
            raise MessageRefused(WRONG_TYPE, 415) from None
        except Image.DecompressionBombError:
            raise MessageRefused(_too_many_pixels(None, max_pixels), 422) from None
        except (OSError, SyntaxError, ValueError):
            raise MessageRefused(UNREADABLE, 422) from None
        fmt = probe.format or ""
        if fmt not in FORMATS:
            raise MessageRefused(WRONG_TYPE, 415)
        width, height = probe.size
        if width < 1 or height < 1 or width * height > max_pixels:
            raise MessageRefused(_too_many_pixels(probe.size, max_pixels), 422)
        try:
            probe.verify()  # the structure and checksums, without decoding every pixel
            image = Image.open(io.BytesIO(data), formats=[fmt])
            if fmt == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when it is to shrink anyway
                image.draft("RGB", (max_side, max_side))
            image.load()  # the first frame only
            clean = _upright_srgb(image)
        except Image.DecompressionBombError:
            raise MessageRefused(_too_many_pixels(None, max_pixels), 422) from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise MessageRefused(UNREADABLE, 422) from None
    if max(clean.size) > max_side:
        clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    _save(clean, fmt, out)
    return CleanImage(out.getvalue(), FORMATS[fmt], clean.width, clean.height)


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> str:
    most = f"{max_pixels / 1_000_000:g} megapixels"
    if size is None:
        return f"The image is too large to open; the most is {most}."
    return f"The image is {size[0]:,} × {size[1]:,} pixels; the most is {most}."


def _upright_srgb(image: Image.Image) -> Image.Image:
    """The decoded pixels alone, turned upright, in sRGB; none of the file's metadata."""
    icc = image.info.get("icc_profile")
    transparency = image.info.get("transparency")
    upright = ImageOps.exif_transpose(image)  # a new image: the original is left alone
    if upright is image:
        upright = image.copy()
    if icc and upright.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        upright = _to_srgb(upright, icc)
    elif upright.mode == "CMYK":
        upright = upright.convert("RGB")
    upright.info = {}
    if transparency is not None and upright.mode in ("P", "L", "RGB"):
        upright.info["transparency"] = transparency
    return upright


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """The pixels converted from the embedded profile to sRGB (the colours as intended,
    then the profile can go); on a profile that cannot be read, the pixels as they are."""
    mode = "RGBA" if "A" in image.mode else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image if image.mode != "CMYK" else image.convert("RGB")


def _save(image: Image.Image, fmt: str, out: io.BytesIO) -> None:
    """Encode with explicit options only (Pillow would copy some `info`, e.g. a PNG's ICC
    profile or a GIF's comment, when not told otherwise; `info` is empty by now anyway)."""
    if fmt == "JPEG":
        if image.mode not in ("L", "RGB"):
            image = _flatten(image)
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif fmt == "PNG":
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    elif fmt == "WEBP":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "WEBP", quality=WEBP_QUALITY)
    else:
        if image.mode not in ("L", "P"):
            image = image.convert("RGBA") if image.mode != "RGBA" else image
        image.save(out, "GIF", save_all=False)


def _flatten(image: Image.Image) -> Image.Image:
    """A JPEG has no transparency: paint it on white."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def send_image(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    data: bytes,
    *,
    store: DatabaseStorage,
    staff: StaffMember | None,
    client_id: str | None,
    max_pixels: int,
    max_side: int,
) -> ConversationMessage:
    """Check, clean and store the image staff sent, and post it as a message in the
    caller's transaction (the caller commits). A retry under the same `client_id` returns
    the message already sent, without looking at the bytes again. Raises MessageRefused."""
    found = service.sent_before(session, shop, conversation, client_id)
    if found is not None:
        return found
    image = clean_image(data, max_pixels=max_pixels, max_side=max_side)
    file = store_image(store, shop, conversation.id, image)
    publish_image(session, store, file)
    message = service.post_message(
        session,
        shop,
        conversation,
        author="staff",
        body=BODY,
        channel="admin",
        staff=staff,
        client_id=client_id,
        kind="image",
        payload=payload_for(file, image),
    )
    if (message.payload or {}).get("file_id") != file.id:
        # A concurrent send under the same client_id was stored first: this copy goes.
        store.delete(session, file)
    return message


# ---- storing ---------------------------------------------------------------------------------


def new_key(conversation_id: int) -> str:
    return f"{KEY_PREFIX}{int(conversation_id)}/{uuid.uuid4().hex}"


def conversation_prefix(conversation_id: int) -> str:
    return f"{KEY_PREFIX}{int(conversation_id)}/"


def store_image(
    store: DatabaseStorage, shop: Shop, conversation_id: int, image: CleanImage
) -> FileInfo:
    """Write the bytes as an unpublished file; `publish_image` (in the message's own
    transaction) makes it permanent. A write whose message never commits stays unpublished
    and `storage.expire` deletes it after `ABANDONED_AFTER`."""
    return store.write(
        shop.id,
        new_key(conversation_id),
        [image.data],
        content_type=image.content_type,
        expires_at=utcnow() + ABANDONED_AFTER,
    )


def publish_image(session: Session, store: DatabaseStorage, file: FileInfo) -> None:
    store.publish(session, file, keep=True)


def payload_for(file: FileInfo, image: CleanImage) -> dict[str, Any]:
    return {
        "file_id": file.id,
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "bytes": len(image.data),
    }


def delete_conversation_images(
    session: Session, store: DatabaseStorage, shop_id: int, conversation_ids: list[int]
) -> int:
    """Delete every image of these conversations (written or being written), in the
    caller's transaction; how many."""
    return sum(
        store.delete_prefix(session, shop_id, conversation_prefix(cid)) for cid in conversation_ids
    )


# ---- signed URLs -----------------------------------------------------------------------------


def _key(config: Mapping[str, Any]) -> bytes:
    from shopify_app.realtime.tokens import realtime_secret

    return hmac.new(realtime_secret(config).encode(), _KEY_PURPOSE, hashlib.sha256).digest()


def signature(config: Mapping[str, Any], shop_id: int, file_id: int, expires: int) -> str:
    message = f"{int(shop_id)}.{int(file_id)}.{int(expires)}".encode()
    digest = hmac.new(_key(config), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def url_expiry(ttl: int, now: float | None = None) -> int:
    """At least `ttl` seconds from now, rounded up to the next bucket."""
    moment = int(now if now is not None else time.time()) + int(ttl)
    return -(-moment // URL_BUCKET_SECONDS) * URL_BUCKET_SECONDS


def signed_url(
    config: Mapping[str, Any], shop_id: int, file_id: int, *, now: float | None = None
) -> str:
    expires = url_expiry(config["CHAT_IMAGE_URL_TTL_SECONDS"], now)
    base = str(config["SHOPIFY_APP_URL"]).rstrip("/")
    sig = signature(config, shop_id, file_id, expires)
    return f"{base}/files/chat-images/{int(file_id)}?shop={int(shop_id)}&exp={expires}&sig={sig}"


def verify(
    config: Mapping[str, Any],
    file_id: int,
    shop: Any,
    expires: Any,
    sig: Any,
    now: float | None = None,
) -> tuple[int, int] | None:
    """(shop id, expiry) of a valid, unexpired signature for this file; None otherwise."""
    if not all(isinstance(v, str) and v.isdigit() and len(v) < 20 for v in (shop, expires)):
        return None
    if not isinstance(sig, str) or not 0 < len(sig) <= 64:
        return None
    shop_id, expiry = int(shop), int(expires)
    if expiry <= (now if now is not None else time.time()):
        return None
    if not hmac.compare_digest(signature(config, shop_id, file_id, expiry), sig):
        return None
    return shop_id, expiry


def image_url_for(shop_id: int, payload: Mapping[str, Any] | None) -> str | None:
    """The signed URL of an image message's file, when there is an app to sign with."""
    file_id = (payload or {}).get("file_id")
    if not has_app_context() or not isinstance(file_id, int) or isinstance(file_id, bool):
        return None
    return signed_url(current_app.config, shop_id, file_id)
