"""the Home dashboard's indexes: each metric counts one shop's rows in a time range

Revision ID: 0022_dashboard
Revises: 0021_support_gaps
Create Date: 2026-12-05 01:00:00

Referrals by creation and by completion, clicks by time, and shares (emails of kind "share")
by creation, each led by the shop, so a period's numbers read an index range of that shop
(shopify_app/admin/dashboard.py) instead of every row the shop has.
"""

from __future__ import annotations

from alembic import op

revision = "0022_dashboard"
down_revision = "0021_support_gaps"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_referrals_shop_created", "referrals", ["shop_id", "created_at"]),
    ("ix_referrals_shop_completed", "referrals", ["shop_id", "completed_at"]),
    ("ix_referral_clicks_shop_time", "referral_clicks", ["shop_id", "clicked_at"]),
    ("ix_email_messages_shop_kind_created", "email_messages", ["shop_id", "kind", "created_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
