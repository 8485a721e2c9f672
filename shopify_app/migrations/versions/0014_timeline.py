"""The customer timeline shown: each event's family (what the kind filter selects), the
third-party source name, the shop's time zone, and the indexes the timeline pages read

Revision ID: 0014_timeline
Revises: 0013_consent_writeback
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_timeline"
down_revision = "0013_consent_writeback"
branch_labels = None
depends_on = None

# The kind prefixes of each family, as shopify_app/timeline/kinds.py maps them when an event
# is written; kept here as data so the migration never changes with that module.
FAMILY_PREFIXES = {
    "order": ("order",),
    "account": ("customer", "privacy"),
    "consent": ("consent",),
    "program": ("program",),
    "referral": ("referral",),
    "reward": ("reward",),
    "email": ("email",),
    "staff": ("staff", "app"),
}


def upgrade() -> None:
    # A NOT NULL column with a constant default is a catalogue change on both databases.
    op.add_column(
        "timeline_events",
        sa.Column("family", sa.String(length=16), nullable=False, server_default="other_app"),
    )
    op.add_column("timeline_events", sa.Column("source_name", sa.String(length=64)))
    op.add_column("shops", sa.Column("iana_timezone", sa.String(length=64)))
    events = sa.table(
        "timeline_events",
        sa.column("family", sa.String),
        sa.column("kind", sa.String),
        sa.column("source", sa.String),
    )
    op.execute(events.update().values(family="other_" + events.c.source))
    for family, prefixes in FAMILY_PREFIXES.items():
        op.execute(
            events.update()
            .where(sa.or_(*(events.c.kind.like(f"{p}.%") for p in prefixes)))
            .where(events.c.source != "api")
            .values(family=family)
        )
    op.execute(events.update().where(events.c.source == "api").values(family="api"))
    op.drop_index("ix_timeline_events_shop_customer_time", table_name="timeline_events")
    op.create_index(
        "ix_timeline_events_customer_time",
        "timeline_events",
        ["shop_id", "customer_id", "occurred_at", "id"],
    )
    op.create_index(
        "ix_timeline_events_customer_family_time",
        "timeline_events",
        ["shop_id", "customer_id", "family", "occurred_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_events_customer_family_time", table_name="timeline_events")
    op.drop_index("ix_timeline_events_customer_time", table_name="timeline_events")
    op.create_index(
        "ix_timeline_events_shop_customer_time",
        "timeline_events",
        ["shop_id", "customer_id", "occurred_at"],
    )
    op.drop_column("shops", "iana_timezone")
    op.drop_column("timeline_events", "source_name")
    op.drop_column("timeline_events", "family")
