"""storefront signups: customers.source, one record per address without a Shopify id, and
the double opt-in confirmations

Revision ID: 0015_storefront_signups
Revises: 0014_timeline
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_storefront_signups"
down_revision = "0014_timeline"
branch_labels = None
depends_on = None

SIGNUP_ROWS = sa.text("shopify_id IS NULL")

# Plain ALTER TABLE and CREATE INDEX on both databases: a batch copy of `customers` would
# drop the customer-count triggers (migration 0006). The unique indexes hold only rows
# without a Shopify id (storefront signups), so they are small and every existing row passes.


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("source", sa.String(length=16), nullable=True),
    )
    for name, column in (
        ("uq_customers_signup_email", "email_normalized"),
        ("uq_customers_signup_phone", "phone"),
    ):
        op.create_index(
            name,
            "customers",
            ["shop_id", column],
            unique=True,
            sqlite_where=SIGNUP_ROWS,
            postgresql_where=SIGNUP_ROWS,
        )
    op.create_table(
        "signup_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("address_digest", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_signup_confirmations_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_signup_confirmations_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_confirmations")),
    )
    op.create_index("ix_signup_confirmations_customer", "signup_confirmations", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_signup_confirmations_customer", table_name="signup_confirmations")
    op.drop_table("signup_confirmations")
    op.drop_index("uq_customers_signup_phone", table_name="customers")
    op.drop_index("uq_customers_signup_email", table_name="customers")
    op.drop_column("customers", "source")
