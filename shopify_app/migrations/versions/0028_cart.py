"""cart events (issue 20): the app's web pixel per shop, its id and last settings

Revision ID: 0028_cart
Revises: 0027_notify
Create Date: 2026-12-05 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_cart"
down_revision = "0027_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite has both): a batch copy of `shops` would break the
    # triggers that name it.
    op.add_column("shops", sa.Column("web_pixel_id", sa.String(length=255), nullable=True))
    op.add_column("shops", sa.Column("web_pixel_settings", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("shops", "web_pixel_settings")
    op.drop_column("shops", "web_pixel_id")
