"""customers page filters (E2): list_segment becomes the combination of five categories
(program, Shopify status, successful referrals, email and SMS marketing), kept by the database
on every write; existing rows backfilled in batches, per-segment counts rebuilt

Revision ID: 0016_customer_filters
Revises: 0015_storefront_signups
Create Date: 2026-12-04 20:10:00

The number (models/customer.py, `list_segment`): joined 1 + member 2 + referrals 4 + email
bucket x 8 + SMS bucket x 24, where a bucket is 0 not subscribed (also pending and unknown),
1 subscribed, 2 unsubscribed (also redacted and invalid); -1 for a customer deleted in
Shopify. A row without consent or referrals keeps the number 0006 gave it.

PostgreSQL computes it in a BEFORE trigger; SQLite cannot change NEW, so an AFTER trigger
corrects a row whose number differs from the rule (the app writes the same number through
the model, so it fires only for writes that bypass it: bulk updates, the seed, SQL). The
count triggers of 0006 follow: on PostgreSQL the AFTER trigger now also fires on updates of
the source columns (a change a BEFORE trigger makes is not an "UPDATE OF list_segment").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_customer_filters"
down_revision = "0015_storefront_signups"
branch_labels = None
depends_on = None

# The rule as of this revision (a copy, not an import: a migration must not change when the
# model does; tests/domain/test_customer_filters.py checks the model agrees).
_SUPPRESSED = ("unsubscribed", "redacted", "invalid")


def _bucket(column: str, weight: int) -> str:
    suppressed = " ".join(f"WHEN '{s}' THEN {2 * weight}" for s in _SUPPRESSED)
    return f"CASE {column} WHEN 'subscribed' THEN {weight} {suppressed} ELSE 0 END"


def segment_sql(row: str) -> str:
    return (
        f"(CASE WHEN {row}.deleted_at IS NOT NULL THEN -1 ELSE "
        f"(CASE WHEN {row}.program_joined THEN 1 ELSE 0 END)"
        f" + (CASE WHEN {row}.account_state = 'enabled' THEN 2 ELSE 0 END)"
        f" + (CASE WHEN {row}.successful_referrals > 0 THEN 4 ELSE 0 END)"
        f" + ({_bucket(f'{row}.email_marketing_state', 8)})"
        f" + ({_bucket(f'{row}.sms_marketing_state', 24)}) END)"
    )


SOURCES = (
    "account_state",
    "program_joined",
    "deleted_at",
    "successful_referrals",
    "email_marketing_state",
    "sms_marketing_state",
    "list_segment",
)
WATCHED = ", ".join(SOURCES)
BACKFILL_BATCH = 50_000

PG_SEGMENT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION customers_list_segment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.list_segment := {segment_sql("NEW")};
  RETURN NEW;
END $$;
"""
PG_SEGMENT_TRIGGER = f"""
CREATE TRIGGER customers_list_segment
BEFORE INSERT OR UPDATE OF {WATCHED} ON customers
FOR EACH ROW EXECUTE FUNCTION customers_list_segment();
"""
PG_COUNT_TRIGGER = """
CREATE TRIGGER customers_count_change
AFTER INSERT OR DELETE OR UPDATE OF {columns} ON customers
FOR EACH ROW EXECUTE FUNCTION customers_count_change();
"""

SQLITE_TRIGGERS = {
    "customers_segment_insert": f"""CREATE TRIGGER customers_segment_insert
    AFTER INSERT ON customers WHEN NEW.list_segment IS NOT {segment_sql("NEW")}
    BEGIN UPDATE customers SET list_segment = {segment_sql("NEW")} WHERE id = NEW.id; END""",
    "customers_segment_update": f"""CREATE TRIGGER customers_segment_update
    AFTER UPDATE OF {WATCHED} ON customers WHEN NEW.list_segment IS NOT {segment_sql("NEW")}
    BEGIN UPDATE customers SET list_segment = {segment_sql("NEW")} WHERE id = NEW.id; END""",
}


def _backfill(conn) -> None:
    """Every row to its number, BACKFILL_BATCH ids at a time (only rows whose number changes
    are written), then the counts rebuilt from the rows."""
    last = conn.execute(sa.text("SELECT MAX(id) FROM customers")).scalar() or 0
    update = sa.text(
        f"UPDATE customers SET list_segment = {segment_sql('customers')} "
        "WHERE id > :lo AND id <= :hi "
        f"AND list_segment <> {segment_sql('customers')}"
    )
    for lo in range(0, last, BACKFILL_BATCH):
        conn.execute(update, {"lo": lo, "hi": lo + BACKFILL_BATCH})
    conn.execute(sa.text("DELETE FROM customer_counts"))
    conn.execute(
        sa.text(
            "INSERT INTO customer_counts (shop_id, segment, slot, n) "
            "SELECT shop_id, list_segment, 0, COUNT(*) FROM customers "
            "WHERE list_segment >= 0 GROUP BY shop_id, list_segment"
        )
    )


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute(PG_SEGMENT_FUNCTION)
        op.execute(PG_SEGMENT_TRIGGER)
        op.execute("DROP TRIGGER IF EXISTS customers_count_change ON customers")
        op.execute(PG_COUNT_TRIGGER.format(columns=WATCHED))
    else:
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)
    _backfill(conn)


def downgrade() -> None:
    """Back to 0006's two categories: the numbers above 3 fold into their first two bits."""
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS customers_list_segment ON customers")
        op.execute("DROP FUNCTION IF EXISTS customers_list_segment()")
        op.execute("DROP TRIGGER IF EXISTS customers_count_change ON customers")
        op.execute(PG_COUNT_TRIGGER.format(columns="list_segment"))
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    conn.execute(
        sa.text("UPDATE customers SET list_segment = list_segment % 4 WHERE list_segment > 3")
    )
    conn.execute(sa.text("DELETE FROM customer_counts"))
    conn.execute(
        sa.text(
            "INSERT INTO customer_counts (shop_id, segment, slot, n) "
            "SELECT shop_id, list_segment, 0, COUNT(*) FROM customers "
            "WHERE list_segment >= 0 GROUP BY shop_id, list_segment"
        )
    )
