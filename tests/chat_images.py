"""Real, tiny images made with Pillow for the chat image tests, and the files that only
pretend to be one."""

from __future__ import annotations

import io

from PIL import Image, ImageCms, PngImagePlugin

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-xmp-place</x:xmpmeta>'


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def picture(size=(40, 30), mode="RGB") -> Image.Image:
    """Left half red, right half blue: which way up it is can be told."""
    image = Image.new(mode, size, (200, 20, 20) if mode == "RGB" else (200, 20, 20, 255))
    image.paste((20, 20, 200) if mode == "RGB" else (20, 20, 200, 255), (size[0] // 2, 0, *size))
    return image


def png(size=(40, 30)) -> bytes:
    return encode(picture(size), "PNG")


def jpeg(size=(40, 30)) -> bytes:
    return encode(picture(size), "JPEG")


def webp(size=(40, 30)) -> bytes:
    return encode(picture(size), "WEBP")


def gif(size=(40, 30)) -> bytes:
    return encode(picture(size).convert("P"), "GIF")


def animated_gif(size=(30, 20), frames=4) -> bytes:
    shots = [Image.new("RGB", size, (60 * n, 255 - 60 * n, 0)).convert("P") for n in range(frames)]
    return encode(
        shots[0],
        "GIF",
        save_all=True,
        append_images=shots[1:],
        loop=0,
        duration=80,
        comment=b"secret-gif-comment",
    )


def jpeg_with_gps(size=(60, 40)) -> bytes:
    """A phone photo: GPS position, camera make, EXIF orientation 6 (rotate 90° to show
    upright), an XMP packet, an ICC profile and a comment."""
    image = picture(size)
    exif = image.getexif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "SecretCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (60.0, 10.0, 12.5), "E", (24.0, 56.0, 1.0)
    return encode(
        image, "JPEG", exif=exif.tobytes(), xmp=XMP, icc_profile=SRGB, comment=b"secret-comment"
    )


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret-png-text")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    return encode(picture(), "PNG", pnginfo=info, icc_profile=SRGB)


def bomb(side=12_000) -> bytes:
    """A PNG of side × side pixels that is a few hundred kilobytes: one colour compresses."""
    return encode(Image.new("1", (side, side)), "PNG")


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
TEXT = b"just some text pretending to be a PNG\n"
