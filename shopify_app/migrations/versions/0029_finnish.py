"""the customer's language (issue 21, G3): Shopify's `customer_locale` of their latest order,
so the app's emails to them go out in it

Revision ID: 0029_finnish
Revises: 0028_cart
Create Date: 2026-12-05 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_finnish"
down_revision = "0028_cart"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("locale")
