"""consent_requests: staff unsubscribes written back to Shopify (issue 17, E4)

Revision ID: 0013_consent_writeback
Revises: 0012_shop_shopify_id
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_consent_writeback"
down_revision = "0012_shop_shopify_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("target_state", sa.String(length=24), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_errors", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("consent_updated_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_consent_requests_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_consent_requests_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_requests")),
        sa.UniqueConstraint(
            "shop_id", "request_key", name="uq_consent_requests_shop_id_request_key"
        ),
    )
    op.create_index(
        "ix_consent_requests_shop_customer",
        "consent_requests",
        ["shop_id", "customer_id", "channel"],
    )


def downgrade() -> None:
    op.drop_index("ix_consent_requests_shop_customer", table_name="consent_requests")
    op.drop_table("consent_requests")
