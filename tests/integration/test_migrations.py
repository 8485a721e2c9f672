"""Migrations build the schema the models describe, and run down and up again."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from shopify_app.migrations import downgrade, upgrade
from shopify_app.models import Base


def test_upgrade_downgrade_upgrade_and_models_match(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    downgrade(url, "base")
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert {"shops", "oauth_states", "webhook_deliveries"} <= set(
            inspect(conn).get_table_names()
        )
    engine.dispose()


def test_the_suites_database_matches_the_models(database_url):
    """On the service run this is PostgreSQL: its migrated schema must equal the models."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_postgresql_search_indexes_are_rebuilt_concurrently_down_and_up(database_url):
    """0007 rebuilds indexes with CREATE INDEX CONCURRENTLY outside the migration's
    transaction; run it down and up on a scratch PostgreSQL database of its own."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: on SQLite 0007 changes nothing")
    server = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0]
        + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    name = f"migrations_{os.getpid()}"
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        downgrade(url, "0006_customers_page")
        upgrade(url)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            definitions = dict(
                conn.execute(
                    text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers'")
                ).all()
            )
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        engine.dispose()
        assert (
            "INCLUDE (list_segment, id, sort_name, customer_since"
            in (definitions["ix_customers_shop_id_phone"])
        )
        assert "INCLUDE (sort_name, customer_since" in definitions["ix_customers_list_email_key"]
        assert not any(n.endswith("_new") for n in definitions)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_customer_filters_backfill_existing_rows_and_fold_back_down(tmp_path):
    """0016 gives rows stored before it their five-category segment and rebuilds the counts;
    down again, the segments fold back to 0006's two categories."""
    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    upgrade(url, "0015_storefront_signups")
    engine = create_engine(url)
    # (member, joined, referrals, email, sms) -> the segment 0016 must give it
    rows = [
        ("enabled", 1, 2, "subscribed", "unsubscribed", 1 + 2 + 4 + 8 + 48),
        ("disabled", 0, 0, "pending", None, 0),
        ("disabled", 0, 0, "invalid", "subscribed", 16 + 24),
        ("enabled", 0, 0, None, "redacted", 2 + 48),
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO shops (id, domain, scopes, created_at, updated_at) "
                "VALUES (1, 'a', '', '2026-01-01', '2026-01-01')"
            )
        )
        for n, (state, joined, referrals, email, sms, _segment) in enumerate(rows, 1):
            conn.execute(
                text(
                    "INSERT INTO customers (id, shop_id, account_state, program_joined, "
                    "successful_referrals, email_marketing_state, sms_marketing_state, tags, "
                    "list_segment, created_at, updated_at) VALUES (:id, 1, :state, :joined, "
                    ":referrals, :email, :sms, '', :old, '2026-01-01', '2026-01-01')"
                ),
                {
                    "id": n,
                    "state": state,
                    "joined": joined,
                    "referrals": referrals,
                    "email": email,
                    "sms": sms,
                    "old": (2 if state == "enabled" else 0) + joined,
                },
            )
    upgrade(url)

    def segments_and_counts():
        with engine.connect() as conn:
            segments = [
                r[0] for r in conn.execute(text("SELECT list_segment FROM customers ORDER BY id"))
            ]
            counts = dict(
                conn.execute(
                    text("SELECT segment, SUM(n) FROM customer_counts GROUP BY segment")
                ).all()
            )
        return segments, {k: v for k, v in counts.items() if v}

    segments, counts = segments_and_counts()
    assert segments == [r[-1] for r in rows]
    assert counts == {s: 1 for s in segments}
    downgrade(url, "0015_storefront_signups")
    segments, counts = segments_and_counts()
    assert segments == [3, 0, 0, 2] and counts == {3: 1, 0: 2, 2: 1}
    engine.dispose()


def test_shopper_seen_counts_replies_sent_before_it_as_seen(tmp_path):
    """0024: a reply sent before the widget reported what it saw is not emailed by the first
    sweep after the upgrade (every conversation's newest message counts as seen)."""
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    upgrade(url, "0023_delivery_status")
    engine = create_engine(url)
    now = {"now": "2026-01-01"}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO shops (id, domain, scopes, created_at, updated_at) "
                "VALUES (1, 'a', '', :now, :now)"
            ),
            now,
        )
        for conversation_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO conversations (id, shop_id, email, status, last_message_at, "
                    "last_message_preview, unread_for_staff, created_at, updated_at) "
                    "VALUES (:id, 1, 'a@b.co', 'active', :now, '', 0, :now, :now)"
                ),
                {"id": conversation_id, **now},
            )
        for message_id in (5, 9):
            conn.execute(
                text(
                    "INSERT INTO conversation_messages (id, shop_id, conversation_id, author, "
                    "body, channel, email_due, created_at) VALUES (:id, 1, 1, 'staff', 'x', "
                    "'admin', 0, :now)"
                ),
                {"id": message_id, **now},
            )
    upgrade(url)
    with engine.connect() as conn:
        seen = conn.execute(
            text("SELECT id, shopper_seen_message_id FROM conversations ORDER BY id")
        ).all()
    assert [tuple(r) for r in seen] == [(1, 9), (2, None)]
    downgrade(url, "0023_delivery_status")
    upgrade(url)
    engine.dispose()
