"""Chat images (issue 20, F5) without a server: the type decided by decoding, never by a
name; bombs and damaged files refused before decoding; what is stored is a new encoding
without metadata, upright and bounded; and the signed URL opens one file of one shop until
it expires."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from shopify_app.conversations import images
from shopify_app.conversations.service import MessageRefused
from tests import chat_images as make

LIMITS = {"max_pixels": 40_000_000, "max_side": 2048}
CONFIG = {
    "SHOPIFY_API_SECRET": "an-app-secret-of-thirty-two-bytes-or-more",
    "SHOPIFY_APP_URL": "https://app.example.com/",
    "CHAT_IMAGE_URL_TTL_SECONDS": 3600,
}


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("data", "content_type", "fmt"),
    [
        (make.png(), "image/png", "PNG"),
        (make.jpeg(), "image/jpeg", "JPEG"),
        (make.webp(), "image/webp", "WEBP"),
        (make.gif(), "image/gif", "GIF"),
    ],
)
def test_the_four_formats_are_kept_in_their_own_format(data, content_type, fmt):
    clean = images.clean_image(data, **LIMITS)
    assert (clean.content_type, clean.width, clean.height) == (content_type, 40, 30)
    assert opened(clean.data).format == fmt


@pytest.mark.parametrize(
    "data",
    [make.TEXT, make.SVG, make.HTML, make.encode(make.picture(), "BMP"), b"", b"\x89PNG\r\n"],
    ids=["text", "svg", "html", "bmp", "empty", "png-magic-only"],
)
def test_anything_else_is_415_whatever_it_claims(data):
    with pytest.raises(MessageRefused) as refused:
        images.clean_image(data, **LIMITS)
    assert refused.value.status in (415, 422)
    if data in (make.TEXT, make.SVG, make.HTML):
        assert (refused.value.status, refused.value.reason) == (415, images.WRONG_TYPE)


def test_a_truncated_image_is_refused_as_damaged():
    for whole in (make.png((300, 200)), make.jpeg((300, 200)), make.webp((300, 200))):
        with pytest.raises(MessageRefused) as refused:
            images.clean_image(whole[: len(whole) * 2 // 3], **LIMITS)
        assert refused.value.status in (415, 422), refused.value.reason


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    data = make.bomb(12_000)  # 144 megapixels in a few hundred kilobytes
    assert len(data) < 1_048_576
    with pytest.raises(MessageRefused) as refused:
        images.clean_image(data, **LIMITS)
    assert refused.value.status == 422
    assert refused.value.reason == "The image is 12,000 × 12,000 pixels; the most is 40 megapixels."
    with pytest.raises(MessageRefused) as beyond_pillow:  # past Pillow's own hard limit
        images.clean_image(make.bomb(20_000), max_pixels=80_000_000, max_side=2048)
    assert beyond_pillow.value.status == 422


def test_a_phone_photo_loses_gps_exif_xmp_icc_and_comment_and_stands_upright():
    data = make.jpeg_with_gps()
    before = opened(data)
    assert before.getexif().get_ifd(make.GPS_IFD) and b"secret-xmp-place" in data
    clean = images.clean_image(data, **LIMITS)
    after = opened(clean.data)
    assert dict(after.getexif()) == {}
    assert not after.getexif().get_ifd(make.GPS_IFD)
    for secret in (b"SecretCam", b"secret-xmp-place", b"secret-comment", b"ICC_PROFILE", b"Exif"):
        assert secret not in clean.data, secret
    assert "icc_profile" not in after.info and "exif" not in after.info
    # Orientation 6 applied: 60 × 40 stored as 40 × 60; the red left half is now on top.
    assert (clean.width, clean.height) == after.size == (40, 60)
    red, blue = after.convert("RGB").getpixel((20, 5)), after.convert("RGB").getpixel((20, 55))
    assert red[0] > 150 > red[2] and blue[2] > 150 > blue[0]


def test_png_text_chunks_xmp_and_icc_are_gone():
    data = make.png_with_text()
    assert b"secret-png-text" in data and b"iCCP" in data
    clean = images.clean_image(data, **LIMITS)
    for secret in (b"secret-png-text", b"secret-xmp-place", b"iCCP", b"tEXt", b"iTXt"):
        assert secret not in clean.data, secret


def test_an_animated_gif_keeps_its_first_frame_and_no_comment():
    data = make.animated_gif()
    assert opened(data).n_frames == 4
    clean = images.clean_image(data, **LIMITS)
    still = opened(clean.data)
    assert getattr(still, "n_frames", 1) == 1 and b"secret-gif-comment" not in clean.data
    assert still.convert("RGB").getpixel((1, 1)) == (0, 255, 0)


def test_a_large_image_is_scaled_down_to_the_longest_side():
    clean = images.clean_image(make.jpeg((5000, 2500)), **LIMITS)
    assert (clean.width, clean.height) == (2048, 1024)
    small = images.clean_image(make.png((300, 100)), max_pixels=40_000_000, max_side=256)
    assert (small.width, small.height) == (256, 85)


# ---- signed URLs ---------------------------------------------------------------------------


def parts(url: str) -> tuple[int, str, str, str]:
    split = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    return int(split.path.rsplit("/", 1)[1]), query["shop"], query["exp"], query["sig"]


def test_a_signed_url_opens_its_file_of_its_shop_until_it_expires():
    now = 1_800_000_000
    url = images.signed_url(CONFIG, 7, 123, now=now)
    assert url.startswith("https://app.example.com/files/chat-images/123?shop=7&exp=")
    file_id, shop, exp, sig = parts(url)
    assert images.verify(CONFIG, file_id, shop, exp, sig, now=now) == (7, int(exp))
    assert now + 3600 <= int(exp) < now + 3600 + images.URL_BUCKET_SECONDS
    assert images.verify(CONFIG, file_id, shop, exp, sig, now=int(exp)) is None  # expired
    assert images.verify(CONFIG, 124, shop, exp, sig, now=now) is None  # another file
    assert images.verify(CONFIG, file_id, "8", exp, sig, now=now) is None  # another shop
    later = str(int(exp) + 600)
    assert images.verify(CONFIG, file_id, shop, later, sig, now=now) is None  # longer life
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert images.verify(CONFIG, file_id, shop, exp, flipped, now=now) is None
    other_secret = {**CONFIG, "SHOPIFY_API_SECRET": "another-secret-of-thirty-two-bytes-x"}
    assert images.verify(other_secret, file_id, shop, exp, sig, now=now) is None
    for bad in ((None, exp, sig), (shop, None, sig), (shop, exp, None), ("-7", exp, sig)):
        assert images.verify(CONFIG, file_id, *bad, now=now) is None


def test_the_same_image_has_the_same_url_within_a_bucket():
    start = 1_800_000_000 - 1_800_000_000 % images.URL_BUCKET_SECONDS + 1
    first = images.signed_url(CONFIG, 7, 123, now=start)
    assert images.signed_url(CONFIG, 7, 123, now=start + 300) == first
    assert images.signed_url(CONFIG, 7, 123, now=start + images.URL_BUCKET_SECONDS) != first


def test_the_url_key_is_not_the_realtime_key():
    """A realtime token's HMAC key and the image key differ: one never verifies the other."""
    from shopify_app.realtime import tokens

    assert images._key(CONFIG) != tokens._key(CONFIG["SHOPIFY_API_SECRET"])
