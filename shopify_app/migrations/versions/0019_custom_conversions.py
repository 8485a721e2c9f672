"""custom conversion events (G5): programs.conversion_event and the conversions table

Revision ID: 0019_custom_conversions
Revises: 0018_outgoing_webhooks
Create Date: 2026-12-04 22:30:00

A referral made from a conversion keeps `referrals.order_shopify_id` NOT NULL and unique per
shop: it holds the conversion's id negated (models/conversion.py), so `referrals` is not
copied by a batch migration (on SQLite that would drop and recreate it under its children).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_custom_conversions"
down_revision = "0018_outgoing_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("programs", sa.Column("conversion_event", sa.String(length=64), nullable=True))
    op.create_table(
        "conversions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("source_name", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_conversions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_conversions_referral_id_referrals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_conversions_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint("shop_id", "event_id", name=op.f("uq_conversions_shop_id")),
    )
    op.create_index(
        "ix_conversions_shop_customer_time",
        "conversions",
        ["shop_id", "customer_id", "occurred_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_conversions_shop_customer_time", table_name="conversions")
    op.drop_table("conversions")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("conversion_event")
