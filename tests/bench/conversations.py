"""The conversation service at an inbox's scale: the staff's list (unread first, then
newest; a filter; a search through every message), the thread read, and a message posted
(store, commit, publish to Redis).

    python -m tests.bench.conversations                                # SQLite
    DATABASE_URL=postgresql://…/i19_core python -m tests.bench.conversations
    python -m tests.bench.conversations --conversations 50000 --messages 500000

Seeds one shop with `--conversations` conversations (5 % unread, 10 % archived, a quarter
assigned) and `--messages` messages among them, then times the service's calls in an app
context, in process (no HTTP). Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, text

from shopify_app import create_app
from shopify_app.conversations import service
from shopify_app.db import get_session
from shopify_app.models import Conversation, ConversationMessage, Shop, StaffMember

from ..helpers import API_KEY, API_SECRET
from ..support import bench_backends
from . import machine_line, machine_speed, percentiles, timed

WORDS = [
    "order",
    "parcel",
    "refund",
    "size",
    "colour",
    "delivery",
    "discount",
    "invoice",
    "return",
    "shipping",
]
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 20_000


def seed(session, conversations: int, messages: int) -> tuple[Shop, StaffMember, int]:
    rng = random.Random(19)
    shop = Shop(
        domain=f"bench-{int(time.time())}.myshopify.com",
        name="Bench",
        currency="EUR",
        scopes="",
        installed_at=START,
    )
    session.add(shop)
    session.flush()
    staff = StaffMember(shop_id=shop.id, user_id=1, first_name="Grace", last_name="Hopper")
    session.add(staff)
    session.commit()
    rows = []
    for n in range(conversations):
        at = START + timedelta(seconds=rng.randrange(300 * 86400))
        rows.append(
            {
                "shop_id": shop.id,
                "email": f"shopper{n}@example.com",
                "name": f"Shopper {n}",
                "status": "active" if rng.random() < 0.7 else "inactive",
                "archived_at": at if rng.random() < 0.1 else None,
                "assigned_staff_id": staff.id if rng.random() < 0.25 else None,
                "last_message_at": at,
                "last_message_preview": "…",
                "unread_for_staff": 1 if rng.random() < 0.05 else 0,
                "created_at": at,
                "updated_at": at,
            }
        )
    for i in range(0, len(rows), BATCH):
        session.execute(insert(Conversation), rows[i : i + BATCH])
    session.commit()
    ids = list(
        session.scalars(
            select(Conversation.id).where(Conversation.shop_id == shop.id).order_by(Conversation.id)
        )
    )
    busy = ids[0]
    batch = []
    for n in range(messages):
        conversation_id = busy if n < 200 else rng.choice(ids)
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        batch.append(
            {
                "shop_id": shop.id,
                "conversation_id": conversation_id,
                "author": rng.choice(("shopper", "shopper", "staff", "note")),
                "body": f"{words} #{n}",
                "channel": "widget",
                "created_at": START,
            }
        )
        if len(batch) == BATCH:
            session.execute(insert(ConversationMessage), batch)
            batch = []
    if batch:
        session.execute(insert(ConversationMessage), batch)
    session.commit()
    if session.bind.dialect.name == "postgresql":
        session.execute(text("ANALYZE conversations"))
        session.execute(text("ANALYZE conversation_messages"))
        session.commit()
    return shop, staff, busy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("-n", type=int, default=50)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="conv-bench-")
    database_url, redis_url, redis_server = bench_backends(tmp)
    app = create_app(
        {
            "APP_ENV": "test",
            "INSTANCE_PATH": tmp,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SHOPIFY_API_KEY": API_KEY,
            "SHOPIFY_API_SECRET": API_SECRET,
            "INITIAL_IMPORT": False,
        }
    )
    backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    try:
        with app.app_context():
            session = get_session()
            began = time.perf_counter()
            shop, staff, busy = seed(session, args.conversations, args.messages)
            seeded = time.perf_counter() - began
            conversation = session.get(Conversation, busy)
            counter = iter(range(10**9))

            def post():
                service.post_message(
                    session,
                    shop,
                    conversation,
                    author="shopper",
                    body="Where is my parcel?",
                    channel="widget",
                    client_id=f"bench-{next(counter)}",
                )
                session.commit()

            cases = {
                "list, first page (unread first, newest)": lambda: service.list_conversations(
                    session, shop
                ),
                "list, unassigned": lambda: service.list_conversations(
                    session, shop, view="unassigned"
                ),
                "list, mine": lambda: service.list_conversations(
                    session, shop, view="mine", staff=staff
                ),
                "list, search an email": lambda: service.list_conversations(
                    session, shop, q="shopper1234@"
                ),
                "list, search a word in every message": lambda: service.list_conversations(
                    session, shop, q="#199999"
                ),
                "thread, 200 messages (staff)": lambda: service.messages_after(
                    session, shop, conversation, include_notes=True
                ),
                "post a message (store, timeline, commit, publish)": post,
            }
            print(f"{machine_line()} · {backend} · {machine_speed(database_url)}")
            print(
                f"{args.conversations:,} conversations, {args.messages:,} messages "
                f"(seeded in {seeded:.0f} s)\n"
            )
            print("| call | n | p50 ms | p95 ms | p99 ms |")
            print("|---|---|---|---|---|")
            for name, call in cases.items():
                call()  # warm
                p = percentiles(timed(call, args.n))
                print(f"| {name} | {args.n} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} |")
    finally:
        app.extensions["db"].engine.dispose()
        if redis_server is not None:
            redis_server.shutdown()


if __name__ == "__main__":
    main()
