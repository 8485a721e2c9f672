"""the shop's primary language (issue 21, G3): Shopify's `shopLocales` primary locale, the
last fallback of the language of emails to customers

Revision ID: 0030_shop_locale
Revises: 0029_finnish
Create Date: 2026-12-05 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_shop_locale"
down_revision = "0029_finnish"
branch_labels = None
depends_on = None


# Plain ALTERs (no batch copy of `shops` on SQLite: triggers of other tables name it).
def upgrade() -> None:
    op.add_column("shops", sa.Column("primary_locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("shops", "primary_locale")
