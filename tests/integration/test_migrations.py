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
