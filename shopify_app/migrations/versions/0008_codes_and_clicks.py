"""advocate codes unique across all shops (the `/r/<code>` link names no shop); referral
clicks deduplicated per advocate, visitor fingerprint and day

Codes have always been drawn against every shop's codes, so two shops holding one code needs
two joins drawing the same random code at the same moment. Should it have happened, the
advocate who joined first keeps the code; every later one gets a new code with the same
prefix, its friend discount is marked `pending` without a Shopify id, and the periodic
sweep (`workers.referral_jobs.sweep_referral_work`) creates it in Shopify under the new
code. Each change is printed (shop, advocate, old and new code): the old code's discount in
that shop stays in Shopify until deactivated there.

Clicks recorded before this migration keep no day or fingerprint and are never merged.

Revision ID: 0008_codes_and_clicks
Revises: 0007_search_covering
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0008_codes_and_clicks"
down_revision = "0007_search_covering"
branch_labels = None
depends_on = None

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # as shopify_app.referrals.codes draws them


def _fresh_code(conn, old: str) -> str:
    prefix = old.rsplit("-", 1)[0][:23] if "-" in old else "FRIEND"
    while True:
        code = f"{prefix}-{''.join(secrets.choice(ALPHABET) for _ in range(8))}"
        taken = conn.execute(sa.text("SELECT 1 FROM advocates WHERE code = :c"), {"c": code})
        if taken.first() is None:
            return code


def _recode_duplicates() -> None:
    conn = op.get_bind()
    shared = conn.execute(
        sa.text("SELECT code FROM advocates GROUP BY code HAVING COUNT(*) > 1 ORDER BY code")
    ).scalars()
    for code in list(shared):
        later = conn.execute(
            sa.text("SELECT id, shop_id FROM advocates WHERE code = :c ORDER BY id"), {"c": code}
        ).all()[1:]
        for advocate_id, shop_id in later:
            new = _fresh_code(conn, code)
            conn.execute(
                sa.text(
                    "UPDATE advocates SET code = :new, friend_discount_status = 'pending', "
                    "friend_discount_gid = NULL, friend_discount_version = NULL, "
                    "friend_discount_error = NULL WHERE id = :id"
                ),
                {"new": new, "id": advocate_id},
            )
            print(
                f"0008: shop {shop_id} advocate {advocate_id}: code {code} is another shop's, "
                f"now {new} (the friend discount {code} in that shop is left in Shopify)"
            )


def upgrade() -> None:
    _recode_duplicates()
    with op.batch_alter_table("advocates", schema=None) as batch_op:
        batch_op.drop_index("ix_advocates_code")
        batch_op.drop_constraint("uq_advocates_shop_id_code", type_="unique")
        batch_op.create_unique_constraint("uq_advocates_code", ["code"])
    with op.batch_alter_table("referral_clicks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(
            "uq_referral_clicks_visitor_day", ["advocate_id", "day", "fingerprint"]
        )


def downgrade() -> None:
    with op.batch_alter_table("referral_clicks", schema=None) as batch_op:
        batch_op.drop_constraint("uq_referral_clicks_visitor_day", type_="unique")
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("day")
    with op.batch_alter_table("advocates", schema=None) as batch_op:
        batch_op.drop_constraint("uq_advocates_code", type_="unique")
        batch_op.create_unique_constraint("uq_advocates_shop_id_code", ["shop_id", "code"])
        batch_op.create_index("ix_advocates_code", ["code"], unique=False)
