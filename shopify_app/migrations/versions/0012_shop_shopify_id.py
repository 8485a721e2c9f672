"""shops.shopify_id: the shop's id at Shopify, which compliance and app/uninstalled payloads
must carry (webhooks/trust.py)

Revision ID: 0012_shop_shopify_id
Revises: 0011_consent_and_friend_report
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_shop_shopify_id"
down_revision = "0011_consent_and_friend_report"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite >= 3.35 drops a column in place): a batch
# copy of `shops` would trip the customer-count triggers that name it (migration 0006).


def upgrade() -> None:
    op.add_column("shops", sa.Column("shopify_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("shops", "shopify_id")
