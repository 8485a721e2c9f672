"""customers page: listing columns and indexes on customers (the B9 numbers move there from
referral_stats), exact per-segment totals kept by triggers, bulk jobs (invite, export);
staff members (names for the audit trail)

Revision ID: 0006_customers_page
Revises: 0005_referrals
Create Date: 2026-12-01 17:39:29.818925
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from shopify_app.models.customer import list_segment, name_sort_key, search_key

revision = "0006_customers_page"
down_revision = "0005_referrals"
branch_labels = None
depends_on = None

STATS = (
    "successful_referrals",
    "total_referees",
    "referral_revenue_minor",
    "referrer_revenue_minor",
    "referee_revenue_minor",
)
LIST_INDEXES = {
    "ix_customers_list_name": "sort_name",
    "ix_customers_list_since": "customer_since",
    "ix_customers_list_referrals": "successful_referrals",
    "ix_customers_list_referrer_revenue": "referrer_revenue_minor",
    "ix_customers_list_referee_revenue": "referee_revenue_minor",
    "ix_customers_list_email_key": "email_key",
    "ix_customers_list_last_name_key": "last_name_key",
}

# +1 / -1 on customer_counts for every listed row (list_segment >= 0) that appears,
# disappears or changes
# segment. A row deleted with its shop (ON DELETE CASCADE) is skipped: the shop's counts go
# with it. PostgreSQL writers spread over 8 slots by backend pid.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION customers_count_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  s smallint := (pg_backend_pid() % 8)::smallint;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.list_segment IS NOT DISTINCT FROM OLD.list_segment THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.list_segment >= 0
     AND EXISTS (SELECT 1 FROM shops WHERE id = OLD.shop_id) THEN
    INSERT INTO customer_counts (shop_id, segment, slot, n)
    VALUES (OLD.shop_id, OLD.list_segment, s, -1)
    ON CONFLICT (shop_id, segment, slot) DO UPDATE SET n = customer_counts.n - 1;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.list_segment >= 0 THEN
    INSERT INTO customer_counts (shop_id, segment, slot, n)
    VALUES (NEW.shop_id, NEW.list_segment, s, 1)
    ON CONFLICT (shop_id, segment, slot) DO UPDATE SET n = customer_counts.n + 1;
  END IF;
  RETURN NULL;
END $$;
"""
PG_TRIGGER = """
CREATE TRIGGER customers_count_change
AFTER INSERT OR DELETE OR UPDATE OF list_segment ON customers
FOR EACH ROW EXECUTE FUNCTION customers_count_change();
"""


def _sqlite_add(row: str, sign: str) -> str:
    return (
        f"INSERT INTO customer_counts (shop_id, segment, slot, n) "
        f"VALUES ({row}.shop_id, {row}.list_segment, 0, {sign}1) "
        f"ON CONFLICT (shop_id, segment, slot) DO UPDATE SET n = n {sign} 1;"
    )


SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER customers_count_insert AFTER INSERT ON customers
    WHEN NEW.list_segment >= 0 BEGIN {_sqlite_add("NEW", "+")} END""",
    f"""CREATE TRIGGER customers_count_delete AFTER DELETE ON customers
    WHEN OLD.list_segment >= 0 AND EXISTS (SELECT 1 FROM shops WHERE id = OLD.shop_id)
    BEGIN {_sqlite_add("OLD", "-")} END""",
    f"""CREATE TRIGGER customers_count_leave AFTER UPDATE OF list_segment ON customers
    WHEN OLD.list_segment >= 0 AND NEW.list_segment IS NOT OLD.list_segment
    BEGIN {_sqlite_add("OLD", "-")} END""",
    f"""CREATE TRIGGER customers_count_enter AFTER UPDATE OF list_segment ON customers
    WHEN NEW.list_segment >= 0 AND NEW.list_segment IS NOT OLD.list_segment
    BEGIN {_sqlite_add("NEW", "+")} END""",
)
SQLITE_TRIGGER_NAMES = (
    "customers_count_insert",
    "customers_count_delete",
    "customers_count_leave",
    "customers_count_enter",
)


def _backfill(conn) -> None:
    """Derive the listing columns in Python (the same functions the model uses) and move the
    B9 numbers over from referral_stats."""
    customers = sa.table(
        "customers",
        sa.column("id"),
        sa.column("first_name"),
        sa.column("last_name"),
        sa.column("email"),
        sa.column("account_state"),
        sa.column("deleted_at"),
        sa.column("shopify_created_at"),
        sa.column("created_at"),
        sa.column("sort_name"),
        sa.column("last_name_key"),
        sa.column("email_key"),
        sa.column("list_segment"),
        sa.column("customer_since"),
        sa.column("program_joined"),
    )
    joined = {r[0] for r in conn.execute(sa.text("SELECT customer_id FROM advocates"))}
    last_id = 0
    while True:
        rows = conn.execute(
            sa.select(customers)
            .where(customers.c.id > last_id)
            .order_by(customers.c.id)
            .limit(5000)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        conn.execute(
            customers.update()
            .where(customers.c.id == sa.bindparam("_id"))
            .values(
                sort_name=sa.bindparam("_sort"),
                last_name_key=sa.bindparam("_last"),
                email_key=sa.bindparam("_email"),
                list_segment=sa.bindparam("_segment"),
                customer_since=sa.bindparam("_since"),
                program_joined=sa.bindparam("_joined"),
            ),
            [
                {
                    "_id": r.id,
                    "_sort": name_sort_key(r.first_name, r.last_name, r.email),
                    "_last": search_key(r.last_name, 255),
                    "_email": search_key(r.email, 320),
                    "_segment": list_segment(
                        member=r.account_state == "enabled",
                        joined=r.id in joined,
                        deleted=r.deleted_at is not None,
                    ),
                    "_since": r.shopify_created_at or r.created_at,
                    "_joined": r.id in joined,
                }
                for r in rows
            ],
        )
    assignments = ", ".join(
        f"{c} = (SELECT s.{c} FROM referral_stats s WHERE s.customer_id = customers.id)"
        for c in STATS
    )
    conn.execute(
        sa.text(
            f"UPDATE customers SET {assignments}, stats_updated_at = "
            "(SELECT s.updated_at FROM referral_stats s WHERE s.customer_id = customers.id) "
            "WHERE id IN (SELECT customer_id FROM referral_stats)"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO customer_counts (shop_id, segment, slot, n) "
            "SELECT shop_id, list_segment, 0, COUNT(*) FROM customers "
            "WHERE list_segment >= 0 GROUP BY shop_id, list_segment"
        )
    )


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bulk_jobs_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
        sa.UniqueConstraint("shop_id", "request_key", name="uq_bulk_jobs_shop_id_request_key"),
    )
    op.create_index(
        "ix_bulk_jobs_shop_kind_created", "bulk_jobs", ["shop_id", "kind", "created_at"]
    )
    op.create_table(
        "customer_counts",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("segment", sa.SmallInteger(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_customer_counts_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "segment", "slot", name=op.f("pk_customer_counts")),
    )
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("account_owner", sa.Boolean(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_staff_members_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("shop_id", "user_id", name=op.f("uq_staff_members_shop_id")),
    )
    # A constant default lets SQLite add the NOT NULL column; the backfill replaces it.
    epoch = datetime(1970, 1, 1, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")
    add = functools.partial(op.add_column, "customers")
    add(sa.Column("program_joined", sa.Boolean(), server_default="0", nullable=False))
    add(sa.Column("sort_name", sa.String(length=255), server_default="", nullable=False))
    add(sa.Column("last_name_key", sa.String(length=255), nullable=True))
    add(sa.Column("email_key", sa.String(length=320), nullable=True))
    add(sa.Column("customer_since", sa.DateTime(), server_default=epoch, nullable=False))
    add(sa.Column("list_segment", sa.SmallInteger(), server_default="0", nullable=False))
    for column in STATS:
        kind = sa.Integer() if column in STATS[:2] else sa.BigInteger()
        add(sa.Column(column, kind, server_default="0", nullable=False))
    add(sa.Column("stats_updated_at", sa.DateTime(), nullable=True))
    _backfill(conn)
    op.drop_table("referral_stats")
    if postgres:
        op.alter_column("customers", "customer_since", server_default=None)
    for name, column in LIST_INDEXES.items():
        op.create_index(name, "customers", ["shop_id", "list_segment", column, "id"])
    if postgres:
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS customers_count_change ON customers")
        op.execute("DROP FUNCTION IF EXISTS customers_count_change()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.create_table(
        "referral_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("successful_referrals", sa.Integer(), nullable=False),
        sa.Column("total_referees", sa.Integer(), nullable=False),
        sa.Column("referral_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("referrer_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("referee_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_referral_stats_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_referral_stats_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_stats")),
        sa.UniqueConstraint("shop_id", "customer_id", name=op.f("uq_referral_stats_shop_id")),
    )
    columns = ", ".join(STATS)
    op.execute(
        f"INSERT INTO referral_stats (shop_id, customer_id, {columns}, updated_at) "
        f"SELECT shop_id, id, {columns}, stats_updated_at FROM customers "
        "WHERE stats_updated_at IS NOT NULL"
    )
    for name in LIST_INDEXES:
        op.drop_index(name, table_name="customers")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild of `customers` would
    # drop the table its neighbours' foreign keys point at.
    for column in (
        "stats_updated_at",
        *reversed(STATS),
        "list_segment",
        "customer_since",
        "email_key",
        "last_name_key",
        "sort_name",
        "program_joined",
    ):
        op.drop_column("customers", column)
    op.drop_table("customer_counts")
    op.drop_table("staff_members")
    op.drop_index("ix_bulk_jobs_shop_kind_created", table_name="bulk_jobs")
    op.drop_table("bulk_jobs")
