"""marketing consent kept with its date and opt-in level (the consent webhooks, API 2025-01+);
referral transitions indexed by cause (existing customers who used a friend code)

Revision ID: 0011_consent_and_friend_report
Revises: 0010_email_suppression
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_consent_and_friend_report"
down_revision = "0010_email_suppression"
branch_labels = None
depends_on = None

CONSENT_COLUMNS = (
    ("email_marketing_opt_in_level", sa.String(length=24)),
    ("email_marketing_consent_updated_at", sa.DateTime()),
    ("sms_marketing_opt_in_level", sa.String(length=24)),
    ("sms_marketing_consent_updated_at", sa.DateTime()),
)


def upgrade() -> None:
    # Nullable columns without a default: a catalogue change on both databases, no rewrite of
    # a million-row table; the customers triggers (0006) do not read them.
    for name, type_ in CONSENT_COLUMNS:
        op.add_column("customers", sa.Column(name, type_, nullable=True))
    op.create_index(
        "ix_referral_transitions_shop_cause",
        "referral_transitions",
        ["shop_id", "cause", "referral_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_referral_transitions_shop_cause", table_name="referral_transitions")
    for name, _type in reversed(CONSENT_COLUMNS):
        op.drop_column("customers", name)
