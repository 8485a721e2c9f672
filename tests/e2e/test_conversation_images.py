"""Issue 20, F5: staff send an image, the shopper cannot. Two Chromium windows side by side,
as in test_conversations_side_by_side.py: a shopper on the devstore storefront with the
chat embed, a staff member in the devstore's admin frame on Conversations, against a real
`referrals realtime` process.

1. The shopper asks; staff choose a phone photo (GPS in its EXIF) with the composer's Image
   button: it shows in the thread at once, upright, and in the shopper's widget live.
2. The shopper clicks it: the full-size image opens in a new tab, without its metadata.
3. Staff pick a text file named like a PNG, then an SVG: the composer says why, inline,
   and nothing is sent. A GIF dropped on the composer is sent like a chosen one.
4. The shopper's widget has no image button, and an upload made from their page straight to
   the chat's endpoints (through Shopify's app proxy) is refused; nothing is stored.
5. The shopper reloads later: the image is still there, under a fresh URL.

Screenshots: tests/e2e/screenshots/images-*.png."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from shopify_app.models import ConversationMessage, StoredFile
from tests import chat_images as make
from tests.conftest import SHOP_A
from tests.e2e.conversations_support import enable_embed
from tests.integration.webhook_support import install, rows

pytestmark = pytest.mark.xdist_group("realtime")

STORE = f"/shops/{SHOP_A}/"
EMAIL = "mia.shopper@example.com"
LIVE = 30000  # generous: the machine may be busy; nothing here measures speed


def teapot_photo(path) -> None:
    """A 'phone photo' of a teapot, 900 × 600 stored sideways (EXIF orientation 6) with a
    GPS position and the camera's make in its EXIF."""
    image = Image.new("RGB", (600, 900), (236, 242, 233))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 640, 600, 900), fill=(170, 120, 80))  # the table
    draw.ellipse((130, 330, 470, 660), fill=(46, 125, 50))  # the pot
    draw.rectangle((250, 280, 350, 340), fill=(46, 125, 50))  # the lid
    draw.ellipse((280, 250, 320, 290), fill=(27, 94, 32))
    draw.polygon([(460, 430), (580, 360), (590, 380), (470, 470)], fill=(46, 125, 50))  # spout
    draw.arc((60, 400, 190, 560), 90, 270, fill=(27, 94, 32), width=18)  # handle
    sideways = image.rotate(90, expand=True)  # as the sensor wrote it; EXIF 6 turns it back
    exif = sideways.getexif()
    exif[make.ORIENTATION] = 6
    exif[make.MAKE] = "SecretCam"
    gps = exif.get_ifd(make.GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (60.0, 10.0, 12.5), "E", (24.0, 56.0, 1.0)
    sideways.save(path, "JPEG", exif=exif.tobytes(), quality=90)


def test_staff_send_an_image_the_shopper_sees_it_and_cannot_send_one(
    live, browser, page, realtime, screenshots_dir, tmp_path
):
    def snap(step: str) -> None:
        if page.frame(name="app-iframe").query_selector("#composer"):
            staff.locator("#composer").scroll_into_view_if_needed()  # the buttons and errors
        for who, p in (("shopper", shopper), ("staff", page)):
            if not p.is_closed():
                p.screenshot(path=str(screenshots_dir / f"images-{step}-{who}.png"))

    install(live, SHOP_A)
    enable_embed(live, page)
    page.goto(live.admin_url("alpha-shop") + "/admin/conversations")
    staff = page.frame_locator("#app-frame")
    expect(staff.locator("#live-state")).to_contain_text("Live", timeout=LIVE)

    shopper_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shopper = shopper_context.new_page()
    shopper.goto(live.devstore_url + STORE)
    shopper.get_by_role("button", name="Chat with us").click()
    widget = shopper.get_by_role("dialog", name="Chat with us")
    widget.get_by_label("Your email").fill(EMAIL)
    widget.get_by_label("Your name (optional)").fill("Mia")
    widget.get_by_role("button", name="Start chat").click()
    message = widget.get_by_label("Message", exact=True)
    message.fill("What colour is the teapot, exactly?")
    message.press("Enter")
    log = widget.get_by_role("log")
    expect(log).to_contain_text("What colour is the teapot")

    staff.locator(".conversation a").first.click()
    expect(staff.locator("#thread-heading")).to_have_text("Mia", timeout=LIVE)

    # 1. Staff choose the photo with the Image button (the file chooser a person gets).
    photo = tmp_path / "IMG_2041.jpg"
    teapot_photo(photo)
    with page.expect_file_chooser() as chooser:
        staff.get_by_role("button", name="Image", exact=True).click()
    assert chooser.value.is_multiple() is False
    chooser.value.set_files(str(photo))
    sent = staff.locator("#messages .message.staff img")
    expect(sent).to_have_count(1, timeout=LIVE)
    expect(sent).to_have_attribute("alt", re.compile(r"^Image from \S+"))
    expect(staff.locator("#composer-error")).to_be_hidden()
    natural = sent.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert natural == [True, 600, 900], natural  # upright: portrait, as the EXIF said

    shown = log.locator(".rc-chat__message--theirs img")
    expect(shown).to_have_count(1, timeout=LIVE)
    expect(shown).to_have_attribute("alt", "Image from Ada")
    shopper.wait_for_function(
        "() => { const i = document.querySelector('.rc-chat__message--theirs img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=LIVE,
    )
    box = shown.bounding_box()
    assert box and box["height"] <= 241 and box["width"] <= 400  # capped by the CSS
    snap("1-sent")

    # 2. The shopper clicks it: full size in a new tab, no metadata left.
    link = log.locator("a.rc-chat__image")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    with shopper.expect_popup() as opened:
        shown.click()
    full = opened.value
    full.wait_for_load_state()
    assert full.url.startswith(f"{live.app_url}/files/chat-images/")
    served = live.http.get(full.url)
    assert served.headers["content-type"] == "image/jpeg"
    assert b"SecretCam" not in served.content and b"Exif" not in served.content
    stored = Image.open(io.BytesIO(served.content))
    assert stored.size == (600, 900) and not stored.getexif().get_ifd(make.GPS_IFD)
    full.screenshot(path=str(screenshots_dir / "images-2-full-size-shopper.png"))
    full.close()

    # 3. A text file named like a PNG (the server reads its content), then an SVG (the
    # browser knows its type; the server would refuse it too): the reason shows inline.
    fake = tmp_path / "teapot.png"
    fake.write_bytes(make.TEXT)
    staff.locator("#image-input").set_input_files(str(fake))
    error = staff.locator("#composer-error")
    expect(error).to_have_text(
        "Image not sent: Only PNG, JPEG, WebP or GIF images can be sent.", timeout=LIVE
    )
    snap("3-refused-type")
    svg = tmp_path / "logo.svg"
    svg.write_bytes(make.SVG)
    staff.locator("#image-input").set_input_files(str(svg))
    expect(error).to_contain_text("only PNG, JPEG, WebP or GIF images can be sent")
    expect(staff.locator("#messages .message.staff")).to_have_count(1)

    # A GIF dropped on the composer goes as if chosen with the button.
    frame = page.frame(name="app-iframe")
    dropped = frame.evaluate_handle(
        """(gif) => {
            const bytes = Uint8Array.from(atob(gif), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'wave.gif', {type: 'image/gif'}));
            return transfer;
        }""",
        base64.b64encode(make.gif((120, 80))).decode(),
    )
    staff.locator("#reply-body").dispatch_event("drop", {"dataTransfer": dropped})
    expect(staff.locator("#messages .message.staff img")).to_have_count(2, timeout=LIVE)
    expect(shown).to_have_count(2, timeout=LIVE)
    expect(error).to_be_hidden()

    # A larger photo on a slow connection: the progress bar shows while it goes up.
    slow = tmp_path / "IMG_2042.jpg"
    Image.effect_noise((1000, 800), 60).convert("RGB").save(slow, "JPEG", quality=95)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 50, "downloadThroughput": -1, "uploadThroughput": 100_000},
    )
    progress = staff.locator("#image-progress")
    staff.locator("#image-input").set_input_files(str(slow))
    expect(progress).to_be_visible(timeout=LIVE)
    page.screenshot(path=str(screenshots_dir / "images-3-uploading-staff.png"))
    expect(progress).to_be_hidden(timeout=LIVE)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect(staff.locator("#messages .message.staff img")).to_have_count(3, timeout=LIVE)
    expect(shown).to_have_count(3, timeout=LIVE)

    # 4. The shopper has no image button, and their page cannot upload one by hand.
    expect(widget.locator("input[type=file]")).to_have_count(0)
    expect(widget.get_by_role("button", name=re.compile("image|photo|attach", re.I))).to_have_count(
        0
    )
    attempts = shopper.evaluate(
        """async (png) => {
            const root = document.getElementById('rc-chat');
            const proxy = root.getAttribute('data-proxy');
            const key = 'rc-chat:' + root.getAttribute('data-shop');
            const token = JSON.parse(localStorage.getItem(key)).token;
            const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
            const form = new FormData();
            form.append('token', token);
            form.append('body', 'look at mine');
            form.append('image', new Blob([bytes], {type: 'image/png'}), 'mine.png');
            const answers = [];
            const post = async (body, type) => {
                const options = {method: 'POST', body};
                if (type) options.headers = {'Content-Type': type};
                const r = await fetch(proxy + '/chat/messages', options);
                answers.push([r.status, (await r.json()).error]);
            };
            await post(form);
            await post(new Blob([bytes]), 'image/png');
            await post(JSON.stringify({token, body: 'x', kind: 'image', payload: {file_id: 1}}),
                       'application/json');
            return answers;
        }""",
        base64.b64encode(make.png()).decode(),
    )
    refusal = "Only the shop's staff can send images."
    assert attempts == [[403, refusal], [415, refusal], [403, refusal]], attempts
    authors = [m.author for m in rows(live.app, ConversationMessage)]
    assert authors == ["shopper", "staff", "staff", "staff"]
    assert len(rows(live.app, StoredFile)) == 3
    snap("4-shopper-has-no-image-button")

    # 5. Later, a new page: the image is there under a fresh URL.
    first_url = shown.first.get_attribute("src")
    shopper.reload()
    widget = shopper.get_by_role("dialog", name="Chat with us")
    again = widget.get_by_role("log").locator(".rc-chat__message--theirs img")
    expect(again).to_have_count(3, timeout=LIVE)
    shopper.wait_for_function(
        "() => { const i = document.querySelector('.rc-chat__message--theirs img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=LIVE,
    )
    assert again.first.get_attribute("src").split("?")[0] == first_url.split("?")[0]
    # Staff open the thread again: rendered on the server, the images stay images.
    page.goto(live.admin_url("alpha-shop") + "/admin/conversations")
    staff.locator(".conversation a").first.click()
    again_staff = staff.locator("#messages .message.staff img")
    expect(again_staff).to_have_count(3, timeout=LIVE)
    expect(again_staff.first).to_have_attribute("alt", re.compile(r"^Image from \S+"))
    # The images load lazily: each is brought into view, then must have loaded.
    for n in range(3):
        again_staff.nth(n).scroll_into_view_if_needed()
        expect(again_staff.nth(n)).to_have_js_property("complete", True, timeout=LIVE)
    page.frame(name="app-iframe").wait_for_function(
        "() => [...document.querySelectorAll('#messages img')].every("
        "(i) => i.complete && i.naturalWidth > 0)",
        timeout=LIVE,
    )
    snap("5-after-reload")
    shopper_context.close()
