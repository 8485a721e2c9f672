"""Images in a conversation (issue 20, F5) over HTTP with real ID tokens and app-proxy
signatures: staff send PNG, JPEG, WebP and GIF; the type is decided by content (a renamed
text file, an SVG, HTML: 415), the size capped before the body is read (413), bombs and
damaged files refused (422), the stored copy re-encoded without metadata; both the inbox
and the widget get a signed, expiring URL that opens that one file of that one shop; a
retried upload is one message; erasing the customer's conversations deletes their images;
and the shopper cannot send one by any route."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from PIL import Image

from devstore.store import shopify_shop_id
from shopify_app.conversations import images, service
from shopify_app.db import get_session
from shopify_app.models import (
    Conversation,
    ConversationMessage,
    EmailMessage,
    Shop,
    StoredFile,
    utcnow,
)
from shopify_app.storage import storage
from tests import chat_images as make
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token, proxy_query, unsigned_token

from .test_program_pages import auth
from .webhook_support import deliver, install, one, rows, run_jobs

SHOPPER = "mia.shopper@example.com"


@pytest.fixture
def shops(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def start_chat(live, shop=SHOP_A, email=SHOPPER) -> tuple[int, str]:
    """The shopper starts a chat from the widget: (conversation id, chat token)."""
    answer = chat(live, "POST", "start", shop=shop, json={"email": email})
    assert answer.status_code == 201, answer.text
    return answer.json()["conversation_id"], answer.json()["chat_token"]


def chat(live, method, action, *, shop=SHOP_A, query=None, **kwargs):
    params = proxy_query(shop, None, extra=query)
    return live.http.request(method, f"{live.app_url}/proxy/chat/{action}", params=params, **kwargs)


def upload(
    live,
    conversation_id,
    data,
    *,
    name="photo.png",
    content_type="image/png",
    shop=SHOP_A,
    client_id=None,
    **kwargs,
):
    fields = {"client_id": client_id} if client_id else {}
    return live.http.post(
        f"{live.app_url}/admin/conversations/{conversation_id}/images",
        files={"image": (name, data, content_type)},
        data=fields,
        headers=kwargs.pop("headers", auth(shop)),
        **kwargs,
    )


def fetch(live, url, **kwargs):
    """The URL as a browser would open it (the app's host, no credentials)."""
    return live.http.get(url, **kwargs)


def staff_thread(live, conversation_id, shop=SHOP_A) -> list[dict]:
    answer = live.http.get(
        f"{live.app_url}/admin/conversations/{conversation_id}/messages", headers=auth(shop)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"]


def shopper_thread(live, token, shop=SHOP_A) -> list[dict]:
    answer = chat(live, "GET", "messages", shop=shop, query={"token": token})
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"]


def nothing_stored(live) -> bool:
    return rows(live.app, ConversationMessage) == [] and rows(live.app, StoredFile) == []


@pytest.mark.parametrize(
    ("data", "name", "content_type", "fmt"),
    [
        (make.png(), "a.png", "image/png", "PNG"),
        (make.jpeg(), "b.jpg", "image/jpeg", "JPEG"),
        (make.webp(), "c.webp", "image/webp", "WEBP"),
        (make.gif(), "d.gif", "image/gif", "GIF"),
    ],
)
def test_staff_send_an_image_and_both_sides_see_it(shops, data, name, content_type, fmt):
    live = shops
    cid, token = start_chat(live)
    # The declared type and name mean nothing: the content decides.
    sent = upload(live, cid, data, name="whatever.bin", content_type="application/octet-stream")
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    assert (message["kind"], message["author"], message["body"]) == (
        "image",
        "staff",
        "Sent an image",
    )
    payload = message["payload"]
    assert set(payload) == {"file_id", "content_type", "width", "height", "bytes"}
    assert (payload["content_type"], payload["width"], payload["height"]) == (content_type, 40, 30)
    stored = one(live.app, StoredFile)
    assert stored.id == payload["file_id"] and stored.size == payload["bytes"]
    assert stored.key.startswith(f"chat-images/{cid}/") and stored.expires_at is None
    assert stored.completed_at is not None

    (staff_view,) = staff_thread(live, cid)
    (shopper_view,) = shopper_thread(live, token)
    for seen in (staff_view, shopper_view):
        assert seen["kind"] == "image" and seen["payload"] == payload
        url = seen["image_url"]
        assert url.startswith(f"{live.app_url}/files/chat-images/{payload['file_id']}?")
        shown = fetch(live, url)
        assert shown.status_code == 200
        assert shown.headers["content-type"] == content_type
        assert shown.headers["x-content-type-options"] == "nosniff"
        assert shown.headers["content-disposition"].startswith("inline")
        assert shown.headers["content-security-policy"].startswith("default-src 'none'")
        cache = shown.headers["cache-control"]
        assert cache.startswith("private, max-age=") and "no-store" not in cache
        assert 3000 < int(cache.split("max-age=")[1].split(",")[0]) <= 3600 + 600
        assert "set-cookie" not in shown.headers
        assert len(shown.content) == payload["bytes"]
        assert Image.open(io.BytesIO(shown.content)).format == fmt
    # The preview in the list is the sentence.
    assert one(live.app, Conversation).last_message_preview == "Sent an image"


def test_the_stored_copy_has_no_gps_or_other_metadata(shops):
    live = shops
    cid, _token = start_chat(live)
    sent = upload(live, cid, make.jpeg_with_gps(), name="IMG_0001.JPG", content_type="image/jpeg")
    assert sent.status_code == 201, sent.text
    served = fetch(live, sent.json()["message"]["image_url"]).content
    image = Image.open(io.BytesIO(served))
    assert dict(image.getexif()) == {} and not image.getexif().get_ifd(make.GPS_IFD)
    for secret in (b"SecretCam", b"secret-xmp-place", b"secret-comment", b"Exif", b"ICC_PROFILE"):
        assert secret not in served, secret
    assert image.size == (40, 60)  # upright: its EXIF orientation applied
    with live.app.app_context():
        file = storage().get(
            get_session(),
            one(live.app, Shop, Shop.domain == SHOP_A).id,
            sent.json()["message"]["payload"]["file_id"],
            "chat-images/",
        )
        assert b"".join(storage().read(file)) == served


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (make.TEXT, "cat.png", "image/png"),
        (make.SVG, "logo.svg", "image/svg+xml"),
        (make.SVG, "logo.png", "image/png"),
        (make.HTML, "page.gif", "image/gif"),
        (make.encode(make.picture(), "BMP"), "old.bmp", "image/bmp"),
        (make.encode(make.picture(), "TIFF"), "scan.jpg", "image/jpeg"),
    ],
    ids=["text-named-png", "svg", "svg-named-png", "html-named-gif", "bmp", "tiff-named-jpg"],
)
def test_anything_but_the_four_formats_is_415_by_content(shops, data, name, content_type):
    live = shops
    cid, _token = start_chat(live)
    refused = upload(live, cid, data, name=name, content_type=content_type)
    assert refused.status_code == 415, refused.text
    assert refused.json() == {"error": "Only PNG, JPEG, WebP or GIF images can be sent."}
    assert nothing_stored(live)


def test_over_the_size_cap_is_413_and_nothing_is_stored(shops):
    live = shops
    cid, _token = start_chat(live)
    six_mib = make.png() + b"\x00" * (6 * 1_048_576)
    refused = upload(live, cid, six_mib)
    assert refused.status_code == 413
    assert refused.json() == {"error": "Images can be at most 5 MB."}
    # A chunked body (no Content-Length) is cut off once it passes the cap, not read whole.
    boundary = "imgboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    def chunks():
        yield head
        for _ in range(7):
            yield b"\x00" * 1_048_576
        yield f"\r\n--{boundary}--\r\n".encode()

    chunked = live.http.post(
        f"{live.app_url}/admin/conversations/{cid}/images",
        content=chunks(),
        headers={**auth(), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert chunked.status_code == 413, chunked.text
    # Under the body cap but over the file cap (the multipart framing's slack).
    live.app.config["CHAT_IMAGE_MAX_BYTES"], cap = 100_000, live.app.config["CHAT_IMAGE_MAX_BYTES"]
    try:
        just_over = upload(live, cid, make.png() + b"\x00" * 100_000)
        assert (
            just_over.status_code == 413
            and just_over.json()["error"] == "Images can be at most 0.0953674 MB."
        )
    finally:
        live.app.config["CHAT_IMAGE_MAX_BYTES"] = cap
    assert nothing_stored(live)


def test_bombs_damaged_and_empty_files_are_refused_with_the_reason(shops):
    live = shops
    cid, _token = start_chat(live)
    bomb = upload(live, cid, make.bomb(12_000))
    assert bomb.status_code == 422, bomb.text
    assert bomb.json()["error"] == "The image is 12,000 × 12,000 pixels; the most is 40 megapixels."
    whole = make.jpeg((400, 300))
    truncated = upload(live, cid, whole[: len(whole) // 2], content_type="image/jpeg")
    assert truncated.status_code in (415, 422) and truncated.json()["error"]
    damaged = make.png((300, 200))
    broken = damaged[:60] + bytes(b ^ 0xFF for b in damaged[60:90]) + damaged[90:]
    assert upload(live, cid, broken).status_code in (415, 422)
    assert upload(live, cid, b"").status_code == 422
    missing = live.http.post(
        f"{live.app_url}/admin/conversations/{cid}/images",
        files={"file": ("a.png", make.png(), "image/png")},
        headers=auth(),
    )
    assert missing.status_code == 400 and "image" in missing.json()["error"]
    as_json = live.http.post(
        f"{live.app_url}/admin/conversations/{cid}/images", json={"image": "x"}, headers=auth()
    )
    assert as_json.status_code == 415
    assert nothing_stored(live)


def test_a_retried_upload_with_the_same_client_id_is_one_message(shops):
    live = shops
    cid, _token = start_chat(live)
    first = upload(live, cid, make.png(), client_id="img-1")
    again = upload(live, cid, make.png(), client_id="img-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["message"]["id"] == again.json()["message"]["id"]
    # Even when the retry's bytes were cut short: the first upload arrived, nothing is re-read.
    cut = upload(live, cid, make.png()[:20], client_id="img-1")
    assert cut.status_code == 201 and cut.json()["message"]["id"] == first.json()["message"]["id"]
    assert len(rows(live.app, ConversationMessage)) == 1 and len(rows(live.app, StoredFile)) == 1
    other = upload(live, cid, make.png(), client_id="img-2")
    assert other.json()["message"]["id"] != first.json()["message"]["id"]
    assert len(rows(live.app, StoredFile)) == 2
    too_long = upload(live, cid, make.png(), client_id="x" * 65)
    assert too_long.status_code == 400


def test_only_staff_of_the_shop_upload_into_its_own_conversations(shops):
    live = shops
    cid, _token = start_chat(live)
    other_cid, _ = start_chat(live, shop=SHOP_B)
    assert upload(live, cid, make.png(), shop=SHOP_B).status_code == 404
    assert upload(live, other_cid, make.png()).status_code == 404
    for forged in (
        unsigned_token(SHOP_A),
        id_token(SHOP_A, secret="not-the-app-secret-but-32-bytes-long"),
    ):
        bearer = {"Authorization": f"Bearer {forged}"}
        assert upload(live, cid, make.png(), headers=bearer).status_code == 401
    assert upload(live, cid, make.png(), headers={}).status_code in (302, 400)  # no token
    signed_proxy = live.http.post(
        f"{live.app_url}/admin/conversations/{cid}/images",
        params=proxy_query(SHOP_A, None),
        files={"image": ("a.png", make.png(), "image/png")},
    )
    # The storefront's signature is not staff: sent to open the app from the admin.
    assert signed_proxy.status_code in (302, 400)
    assert nothing_stored(live)


def test_a_signed_url_opens_only_its_file_of_its_shop_until_it_expires(shops):
    live = shops
    cid, _token = start_chat(live)
    b_cid, _ = start_chat(live, shop=SHOP_B)
    mine = upload(live, cid, make.png()).json()["message"]
    theirs = upload(live, b_cid, make.gif(), shop=SHOP_B).json()["message"]
    url = mine["image_url"]
    split = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    base = f"{live.app_url}/files/chat-images"

    def opened(file_id, **changes):
        return fetch(live, f"{base}/{file_id}?{urlencode({**query, **changes})}")

    assert opened(mine["payload"]["file_id"]).status_code == 200
    sig = query["sig"]
    tampered = opened(
        mine["payload"]["file_id"], sig=sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    )
    assert tampered.status_code == 403
    assert tampered.json() == {"error": "This image link is not valid or has expired."}
    assert tampered.headers["cache-control"] == "no-store"
    # Another file with this signature, another shop with it, a longer life: all 403.
    assert opened(theirs["payload"]["file_id"]).status_code == 403
    b_shop_id = one(live.app, Shop, Shop.domain == SHOP_B).id
    assert opened(mine["payload"]["file_id"], shop=str(b_shop_id)).status_code == 403
    assert opened(mine["payload"]["file_id"], exp=str(int(query["exp"]) + 600)).status_code == 403
    assert fetch(live, f"{base}/{mine['payload']['file_id']}").status_code == 403
    # Signed long ago: expired.
    with live.app.app_context():
        a_shop_id = one(live.app, Shop, Shop.domain == SHOP_A).id
        old = images.signed_url(
            live.app.config, a_shop_id, mine["payload"]["file_id"], now=1_000_000
        )
        # A valid signature for shop B naming shop A's file: B's signature, A's file: no file.
        crossed = images.signed_url(live.app.config, b_shop_id, mine["payload"]["file_id"])
    assert fetch(live, old).status_code == 403
    assert fetch(live, crossed).status_code == 404
    # Another kind of stored file (an export) is not served here even with a valid signature.
    with live.app.app_context():
        export = storage().put_stream(
            a_shop_id,
            "exports/customers.csv",
            [b"email\nmia@example.com\n"],
            content_type="text/csv",
        )
        signed_export = images.signed_url(live.app.config, a_shop_id, export.id)
    assert fetch(live, signed_export).status_code == 404


def test_a_fresh_url_each_time_the_messages_are_fetched(shops):
    live = shops
    cid, token = start_chat(live)
    upload(live, cid, make.png())
    live.app.config["CHAT_IMAGE_URL_TTL_SECONDS"], ttl = (
        7200,
        live.app.config["CHAT_IMAGE_URL_TTL_SECONDS"],
    )
    try:
        (later,) = shopper_thread(live, token)
    finally:
        live.app.config["CHAT_IMAGE_URL_TTL_SECONDS"] = ttl
    (now,) = shopper_thread(live, token)
    exp = lambda url: int(parse_qs(urlsplit(url).query)["exp"][0])  # noqa: E731
    assert exp(later["image_url"]) >= exp(now["image_url"]) + 3600
    assert fetch(live, later["image_url"]).status_code == 200


def test_erasing_the_customers_conversations_deletes_their_images(shops):
    live = shops
    cid, _token = start_chat(live, email="zenobia@example.org")
    kept_cid, kept_token = start_chat(live, email="other.shopper@example.net")
    gone = upload(live, cid, make.jpeg_with_gps(), content_type="image/jpeg").json()["message"]
    upload(live, cid, make.png())
    kept = upload(live, kept_cid, make.png()).json()["message"]
    # A write that never became a message (the process died before its commit).
    with live.app.app_context():
        shop = get_session().query(Shop).filter_by(domain=SHOP_A).one()
        clean = images.clean_image(make.png(), max_pixels=1_000_000, max_side=256)
        images.store_image(storage(), shop, cid, clean)
    assert len(rows(live.app, StoredFile)) == 4
    deliver(
        live,
        SHOP_A,
        "customers/redact",
        {
            "shop_id": shopify_shop_id(SHOP_A),
            "shop_domain": SHOP_A,
            "customer": {"id": 987654, "email": "zenobia@example.org", "phone": None},
            "orders_to_redact": [],
        },
    )
    run_jobs(live.app)
    assert [c.id for c in rows(live.app, Conversation)] == [kept_cid]
    (left,) = rows(live.app, StoredFile)
    assert left.id == kept["payload"]["file_id"] and left.key.startswith(f"chat-images/{kept_cid}/")
    assert fetch(live, gone["image_url"]).status_code == 404
    assert fetch(live, shopper_thread(live, kept_token)[0]["image_url"]).status_code == 200


def test_the_shopper_cannot_send_an_image_by_any_route(shops):
    live = shops
    cid, token = start_chat(live)
    refusal = {"error": "Only the shop's staff can send images."}
    for action in ("messages", "start", "seen", "typing", "realtime-token"):
        multipart = chat(
            live,
            "POST",
            action,
            data={"token": token, "body": "look"},
            files={"image": ("cat.png", make.png(), "image/png")},
        )
        assert multipart.status_code == 403, action
        assert multipart.json() == refusal
        raw = chat(live, "POST", action, content=make.png(), headers={"Content-Type": "image/png"})
        assert raw.status_code == 415 and raw.json() == refusal, action
    bare_multipart = chat(
        live,
        "POST",
        "messages",
        data={"token": token, "body": "look"},
        files={"other": ("", b"", "application/octet-stream")},
    )
    assert bare_multipart.status_code == 403 and bare_multipart.json() == refusal
    octets = chat(
        live,
        "POST",
        "messages",
        content=make.jpeg(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert octets.status_code == 415 and octets.json() == refusal

    # A real photo's size, over the app's 1 MiB body cap: the same answer, unread.
    photo = make.jpeg((2400, 1600)) + b"\x00" * 3_000_000
    big = chat(
        live,
        "POST",
        "messages",
        data={"token": token},
        files={"image": ("big.jpg", photo, "image/jpeg")},
    )
    assert big.status_code == 403 and big.json() == refusal
    big_raw = chat(live, "POST", "messages", content=photo, headers={"Content-Type": "image/jpeg"})
    assert big_raw.status_code == 415 and big_raw.json() == refusal
    unsigned = live.http.post(
        f"{live.app_url}/proxy/chat/messages",
        params={"shop": SHOP_A},
        files={"image": ("big.jpg", photo, "image/jpeg")},
    )
    assert unsigned.status_code == 401

    def send(**extra):
        payload = {"token": token, "body": "look at this", "client_id": "c1", **extra}
        return chat(live, "POST", "messages", json=payload)

    for extra in (
        {"kind": "image"},
        {"kind": "image", "payload": {"file_id": 1, "content_type": "image/png"}},
        {"payload": {"file_id": 1}},
        {"file_id": 1},
        {"image_url": "https://example.com/cat.png"},
    ):
        refused = send(**extra)
        assert refused.status_code == 403 and refused.json() == refusal, extra
    product = send(kind="product", payload={"title": "Teapot"})
    assert product.status_code == 403
    assert product.json() == {"error": "Only text can be sent in this chat."}
    assert nothing_stored(live)
    # A staff upload endpoint reached through the storefront proxy does not exist.
    through_proxy = live.http.post(
        f"{live.app_url}/proxy/chat/conversations/{cid}/images",
        params=proxy_query(SHOP_A, None),
        files={"image": ("cat.png", make.png(), "image/png")},
    )
    assert through_proxy.status_code in (404, 405)
    assert nothing_stored(live)
    # Text still goes.
    sent = send(kind="text")
    assert sent.status_code == 201 and sent.json()["message"]["kind"] == "text"
    assert json.dumps(sent.json()).count("image_url") == 0


def test_a_shopper_message_is_never_given_an_image(shops):
    """`post_message` stores what its caller gives: the proxy gives only text, and the
    service refuses a kind with no payload or a payload on text."""
    live = shops
    cid, _token = start_chat(live)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        conversation = service.get_conversation(session, shop, cid)
        with pytest.raises(ValueError):
            service.post_message(
                session,
                shop,
                conversation,
                author="shopper",
                body="x",
                channel="widget",
                kind="image",
            )
        session.rollback()


def test_the_inbox_page_shows_an_image_message_with_its_signed_url(shops):
    """The thread rendered on the server (a reload, another staff member opening it) shows
    the image too, with its alt text and a link opening it full size."""
    live = shops
    cid, _token = start_chat(live)
    sent = upload(live, cid, make.png()).json()["message"]
    page = live.http.get(f"{live.app_url}/admin/conversations", params={"c": cid}, headers=auth())
    assert page.status_code == 200
    html = page.text
    path = f"/files/chat-images/{sent['payload']['file_id']}?shop="
    assert f'<img src="{live.app_url}{path}' in html
    assert "&amp;exp=" in html and "&amp;sig=" in html  # escaped in the attribute
    assert 'alt="Image from ' in html and 'width="40" height="30"' in html
    assert 'target="_blank" rel="noopener noreferrer"' in html
    assert (
        'id="send-image"' in html and 'accept="image/png,image/jpeg,image/webp,image/gif"' in html
    )
    src = html.split('<img src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert fetch(live, src).status_code == 200


def test_an_image_sent_while_the_shopper_is_away_is_emailed_as_a_pointer_to_the_chat(shops):
    """The reply email carries no image (its URL expires): it says one was sent, and where."""
    live = shops
    cid, _token = start_chat(live)
    upload(live, cid, make.jpeg_with_gps(), content_type="image/jpeg")
    assert one(live.app, ConversationMessage).email_due is True  # nobody in the store
    run_jobs(live.app)
    email = one(live.app, EmailMessage, EmailMessage.kind == "conversation_reply")
    assert email.to_address == SHOPPER
    assert "Sent an image: open the chat in the store to see it." in email.body_text
    assert "files/chat-images" not in email.body_text


def test_an_upload_whose_message_never_committed_is_expired_and_a_sent_one_is_kept(shops):
    live = shops
    cid, _token = start_chat(live)
    sent = upload(live, cid, make.png()).json()["message"]
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        clean = images.clean_image(make.png(), max_pixels=1_000_000, max_side=256)
        abandoned = images.store_image(storage(), shop, cid, clean)
        assert storage().get(session, shop.id, abandoned.id, "chat-images/") is None  # unseen
        assert storage().expire(session, now=utcnow() + timedelta(hours=23)) == 0
        assert storage().expire(session, now=utcnow() + images.ABANDONED_AFTER) == 1
        session.commit()
    (kept,) = rows(live.app, StoredFile)
    assert kept.id == sent["payload"]["file_id"] and kept.expires_at is None


def test_a_concurrent_duplicate_keeps_one_file(shops, monkeypatch):
    """Two uploads under one client_id that both pass the early check (in flight together):
    the message is stored once and the loser's file is deleted in its own transaction."""
    live = shops
    cid, _token = start_chat(live)
    first = upload(live, cid, make.png(), client_id="same").json()["message"]
    monkeypatch.setattr(service, "sent_before", lambda *args: None)  # as if not there yet
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        message = images.send_image(
            session,
            shop,
            service.get_conversation(session, shop, cid),
            make.gif(),
            store=storage(),
            staff=None,
            client_id="same",
            max_pixels=1_000_000,
            max_side=256,
        )
        session.commit()
        assert message.id == first["id"]
    (kept,) = rows(live.app, StoredFile)
    assert kept.id == first["payload"]["file_id"]
