"""Issue 20's paths a busy shop hits often: the unread count every app page's navigation
shows, the web pixel's cart events, a thread full of them, and a staff image upload.

    python -m tests.bench.conversation_extras              # SQLite + embedded Redis
    DATABASE_URL=postgresql://… REDIS_URL=… python -m tests.bench.conversation_extras

Seeds one shop with `--conversations` conversations (a tenth unread, as tests.bench.inbox
does), then times requests through the app in process (no network): `GET
/admin/unread-count`, `POST /pixel/events` (shop key, chat token, validation, the
idempotent insert), the inbox page with a thread of `--cart-events` cart events, and image
uploads of a 1 MP and a 12 MP JPEG (decoded by content, turned upright, re-encoded without
metadata, stored in the database). Peak memory of this process is printed with the uploads.
Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import resource
from datetime import UTC, datetime

from PIL import Image
from sqlalchemy import select

from shopify_app.conversations import cart_events, service
from shopify_app.conversations.chat_tokens import issue_chat_token
from shopify_app.db import get_session
from shopify_app.models import Shop

from ..support import SHOP_A
from . import (
    machine_line,
    machine_speed,
    percentiles,
    print_request_table,
    staff_get,
    start_bench,
    timed,
)
from .inbox import seed


def jpeg(width: int, height: int) -> bytes:
    """A photo-sized JPEG: noise compresses about as badly as a camera's picture."""
    noise = Image.effect_noise((width, height), 20)
    ramp = Image.linear_gradient("L").resize((width, height))
    picture = Image.merge("RGB", (noise, ramp, Image.blend(noise, ramp, 0.5)))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--cart-events", type=int, default=300)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--uploads", type=int, default=5)
    args = parser.parse_args()

    # What is measured is the work of an event, not the flood limits (read at start).
    os.environ["RATE_LIMIT_PIXEL"] = os.environ["RATE_LIMIT_PIXEL_EVENT"] = "1000000 per minute"
    stack = start_bench("bench-conv-extras-")
    app = stack.app
    client = app.test_client()

    get = staff_get(client)
    auth = get.auth

    get("/")  # installs the shop (token exchange with the devstore)
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        seed(session, shop, args.conversations, 2, 2)
        chat = service.start_conversation(
            session, shop, email="cart.bench@example.com", name="Cara", reuse=False
        )
        session.commit()
        chat_id, token, key = chat.id, issue_chat_token(shop, chat), cart_events.shop_key(shop)
        session.close()

    ids = itertools.count()

    def cart_event():
        n = next(ids)
        body = {
            "shop_key": key,
            "token": token,
            "id": f"bench-{n}",
            "name": "product_added_to_cart" if n % 3 else "product_removed_from_cart",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "title": "Teapot",
            "quantity": 1,
            "currency": "EUR",
            "subtotal": f"{49 * (n % 5 + 1)}.00",
            "lines": [{"title": "Teapot", "quantity": n % 5 + 1}],
        }
        response = client.post("/pixel/events", json=body, content_type="text/plain")
        assert response.status_code == 201, response.get_data(as_text=True)

    for _ in range(max(0, args.cart_events - args.requests - 3)):
        cart_event()

    uploads = itertools.count()

    def upload(data: bytes):
        def call():
            response = client.post(
                f"/admin/conversations/{chat_id}/images",
                data={
                    "image": (io.BytesIO(data), "photo.jpg"),
                    "client_id": f"img-{next(uploads)}",
                },
                headers=auth(),
                content_type="multipart/form-data",
            )
            assert response.status_code == 201, response.get_data(as_text=True)

        return call

    small, large = jpeg(1200, 900), jpeg(4000, 3000)
    cases = [
        (
            "unread count (every app page's navigation)",
            lambda: get("/admin/unread-count"),
            args.requests,
        ),
        ("web pixel cart event (POST /pixel/events)", cart_event, args.requests),
        (
            f"inbox page with a thread of {args.cart_events} cart events",
            lambda: get("/admin/conversations", c=str(chat_id)),
            args.requests,
        ),
        (f"image upload, 1.1 MP JPEG ({len(small) // 1024} KiB)", upload(small), args.uploads),
        (f"image upload, 12 MP JPEG ({len(large) // 1024} KiB)", upload(large), args.uploads),
    ]
    rows = []
    for name, call, n in cases:
        for _ in range(3):
            call()
        rows.append((name, percentiles(timed(call, n))))
        print(f"{name}: done", flush=True)
    print(f"\n{machine_line()} · {stack.backend}")
    print(machine_speed(stack.database_url))
    print(
        f"{args.conversations:,} conversations (a tenth unread); requests after 3 warm-ups; "
        f"peak RSS of the process after the uploads {peak_rss_mib():.0f} MiB\n"
    )
    print_request_table(rows)
    stack.stop()


if __name__ == "__main__":
    main()
