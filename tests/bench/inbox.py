"""The staff inbox's server time with a busy shop's conversations.

    python -m tests.bench.inbox                              # SQLite + embedded Redis
    python -m tests.bench.inbox --conversations 20000 --messages 10
    DATABASE_URL=postgresql://… REDIS_URL=… python -m tests.bench.inbox

Seeds one shop with `--conversations` conversations of `--messages` messages each (a tenth of
them unread), one of them with a 300-message thread, then times authenticated requests
through the app in process (ID-token check, shop lookup, the queries, presence from Redis,
the template; no network): the page, the page with the long thread open, the list JSON,
searches by email, name and message text, the thread's catch-up JSON and a reply. Prints
Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
from datetime import timedelta

from sqlalchemy import insert, select

from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, Shop, utcnow

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

WORDS = [
    "parcel",
    "order",
    "reward",
    "code",
    "refund",
    "size",
    "colour",
    "delivery",
    "invoice",
    "gift",
    "card",
    "return",
]


def seed(session, shop: Shop, conversations: int, messages: int, long_thread: int) -> int:
    """Conversations and messages by bulk insert (the service's per-message work, timeline
    and notifications, is not what this measures). Returns the long thread's id."""
    rng = random.Random(19)
    now = utcnow()
    batch = 1000
    for start in range(0, conversations, batch):
        rows = []
        for i in range(start, min(start + batch, conversations)):
            rows.append(
                {
                    "shop_id": shop.id,
                    "email": f"shopper{i}@example.com",
                    "name": f"Shopper {i}" if i % 3 else None,
                    "status": "active" if i % 5 else "inactive",
                    "last_message_at": now - timedelta(minutes=conversations - i),
                    "last_message_preview": f"About my {rng.choice(WORDS)} #{i}",
                    "unread_for_staff": 1 if i % 10 == 0 else 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        session.execute(insert(Conversation), rows)
    ids = list(
        session.scalars(
            select(Conversation.id).where(Conversation.shop_id == shop.id).order_by(Conversation.id)
        )
    )
    pending = []
    for n, conversation_id in enumerate(ids):
        count = long_thread if n == len(ids) - 1 else messages
        for k in range(count):
            author = "shopper" if k % 2 == 0 else ("note" if k % 7 == 3 else "staff")
            pending.append(
                {
                    "shop_id": shop.id,
                    "conversation_id": conversation_id,
                    "author": author,
                    "body": f"Message {k} about the {rng.choice(WORDS)} of conversation {n}.",
                    "channel": "widget" if author == "shopper" else "admin",
                    "created_at": now - timedelta(seconds=count - k),
                }
            )
        if len(pending) >= 5000:
            session.execute(insert(ConversationMessage), pending)
            pending = []
    if pending:
        session.execute(insert(ConversationMessage), pending)
    session.commit()
    return ids[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=8)
    parser.add_argument("--long-thread", type=int, default=300)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    stack = start_bench("bench-inbox-")
    app = stack.app
    client = app.test_client()

    get = staff_get(client)
    auth = get.auth

    get("/")  # installs the shop (token exchange with the devstore)
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        long_id = seed(session, shop, args.conversations, args.messages, args.long_thread)
        session.close()
    last = get(f"/admin/conversations/{long_id}/messages").get_json()["messages"][-1]["id"]
    replies = iter(range(10**9))

    def reply():
        response = client.post(
            f"/admin/conversations/{long_id}/reply",
            json={"body": "Thanks, on its way.", "client_id": f"bench-{next(replies)}"},
            headers=auth(),
        )
        assert response.status_code == 201, response.status_code

    cases = [
        ("inbox page (list of 50, unread first)", lambda: get("/admin/conversations")),
        (
            f"inbox page with a {args.long_thread}-message thread and the hub",
            lambda: get("/admin/conversations", c=str(long_id)),
        ),
        ("list JSON", lambda: get("/admin/conversations.json")),
        ("list, view inactive", lambda: get("/admin/conversations.json", view="inactive")),
        ("search by email", lambda: get("/admin/conversations.json", q="shopper4242@")),
        ("search by name", lambda: get("/admin/conversations.json", q="Shopper 77")),
        (
            "search by message text (no match: every message read)",
            lambda: get("/admin/conversations.json", q="zz-nothing"),
        ),
        (
            "thread catch-up JSON (after the last id)",
            lambda: get(f"/admin/conversations/{long_id}/messages", after=str(last)),
        ),
        ("reply (stored, timeline, published)", reply),
    ]
    rows = []
    for name, call in cases:
        for _ in range(3):
            call()
        rows.append((name, percentiles(timed(call, args.requests))))
        print(f"{name}: done", flush=True)
    print(f"\n{machine_line()} · {stack.backend}")
    print(machine_speed(stack.database_url))
    print(
        f"{args.conversations:,} conversations × {args.messages} messages, one of "
        f"{args.long_thread}; {args.requests} requests each after 3 warm-ups\n"
    )
    print_request_table(rows)
    stack.stop()


if __name__ == "__main__":
    main()
