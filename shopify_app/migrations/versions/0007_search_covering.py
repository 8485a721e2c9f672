"""customers search indexes carry the page's sort values (PostgreSQL INCLUDE), so a search
reads no table rows; SQLite keeps its indexes as they are

Revision ID: 0007_search_covering
Revises: 0006_customers_page
Create Date: 2026-12-01 21:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0007_search_covering"
down_revision = "0006_customers_page"
branch_labels = None
depends_on = None

SORT_VALUES = (
    "sort_name",
    "customer_since",
    "successful_referrals",
    "referrer_revenue_minor",
    "referee_revenue_minor",
)
SEARCH_INDEXES = {
    "ix_customers_list_name": "sort_name",
    "ix_customers_list_email_key": "email_key",
    "ix_customers_list_last_name_key": "last_name_key",
}


def _specs(include: bool):
    for name, column in SEARCH_INDEXES.items():
        extra = [c for c in SORT_VALUES if c != column]
        yield name, ["shop_id", "list_segment", column, "id"], extra if include else []
    extra = ["list_segment", "id", *SORT_VALUES]
    yield "ix_customers_shop_id_phone", ["shop_id", "phone"], extra if include else []


def _recreate(include: bool) -> None:
    """Build each new index beside the old one without blocking writes (CONCURRENTLY, outside
    the migration's transaction), then swap: a shop with a million customers keeps syncing."""
    with op.get_context().autocommit_block():
        for name, columns, extra in _specs(include):
            building = f"{name}_new"
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {building}")  # an interrupted run's
            op.create_index(
                building,
                "customers",
                columns,
                postgresql_include=extra,
                postgresql_concurrently=True,
            )
            op.drop_index(name, table_name="customers", postgresql_concurrently=True)
            op.execute(f"ALTER INDEX {building} RENAME TO {name}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _recreate(include=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _recreate(include=False)
