"""Migrations build the schema the models describe, and run down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

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
