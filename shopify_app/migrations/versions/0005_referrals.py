"""referral program: settings, advocates and their visits, clicks, referrals, fraud checks, rewards, blocklist, audit, emails, revenue stats; shop currency

Revision ID: 0005_referrals
Revises: 0004_sync_runs
Create Date: 2026-12-01 17:07:59.782393
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_referrals"
down_revision = "0004_sync_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "blocklist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_blocklist_entries_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocklist_entries")),
        sa.UniqueConstraint("shop_id", "kind", "value", name=op.f("uq_blocklist_entries_shop_id")),
    )
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("friend_kind", sa.String(length=16), nullable=False),
        sa.Column("friend_value", sa.Integer(), nullable=False),
        sa.Column("friend_min_subtotal_minor", sa.BigInteger(), nullable=False),
        sa.Column("friend_once_per_customer", sa.Boolean(), nullable=False),
        sa.Column("friend_new_customers_only", sa.Boolean(), nullable=False),
        sa.Column("reward_kind", sa.String(length=16), nullable=False),
        sa.Column("reward_value", sa.Integer(), nullable=False),
        sa.Column("reward_expiry_days", sa.Integer(), nullable=False),
        sa.Column("reward_trigger", sa.String(length=16), nullable=False),
        sa.Column("reward_trigger_days", sa.Integer(), nullable=False),
        sa.Column("approval_mode", sa.String(length=16), nullable=False),
        sa.Column("approval_delay_hours", sa.Integer(), nullable=False),
        sa.Column("cap_per_day", sa.Integer(), nullable=True),
        sa.Column("cap_total", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_programs_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_programs_shop_id")),
    )
    op.create_table(
        "advocates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("joined_via", sa.String(length=16), nullable=False),
        sa.Column("friend_discount_status", sa.String(length=16), nullable=False),
        sa.Column("friend_discount_gid", sa.String(length=255), nullable=True),
        sa.Column("friend_discount_version", sa.Integer(), nullable=True),
        sa.Column("friend_discount_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_advocates_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_advocates_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocates")),
        sa.UniqueConstraint("shop_id", "code", name="uq_advocates_shop_id_code"),
        sa.UniqueConstraint("shop_id", "customer_id", name="uq_advocates_shop_id_customer_id"),
    )
    with op.batch_alter_table("advocates", schema=None) as batch_op:
        batch_op.create_index("ix_advocates_code", ["code"], unique=False)

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_audit_entries_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_audit_entries_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_shop_at", ["shop_id", "at"], unique=False)

    op.create_table(
        "referral_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("successful_referrals", sa.Integer(), nullable=False),
        sa.Column("total_referees", sa.Integer(), nullable=False),
        sa.Column("referral_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("referrer_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("referee_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_referral_stats_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_referral_stats_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_stats")),
        sa.UniqueConstraint("shop_id", "customer_id", name=op.f("uq_referral_stats_shop_id")),
    )
    op.create_table(
        "advocate_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("advocate_id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"],
            ["advocates.id"],
            name=op.f("fk_advocate_visits_advocate_id_advocates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_advocate_visits_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocate_visits")),
        sa.UniqueConstraint("advocate_id", "ip", "user_agent", name="uq_advocate_visits_device"),
    )
    with op.batch_alter_table("advocate_visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_advocate_visits_shop_advocate", ["shop_id", "advocate_id"], unique=False
        )

    op.create_table(
        "referral_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("advocate_id", sa.Integer(), nullable=False),
        sa.Column("clicked_at", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["advocate_id"],
            ["advocates.id"],
            name=op.f("fk_referral_clicks_advocate_id_advocates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_referral_clicks_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_clicks")),
    )
    with op.batch_alter_table("referral_clicks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_clicks_shop_advocate_time",
            ["shop_id", "advocate_id", "clicked_at"],
            unique=False,
        )

    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("advocate_id", sa.Integer(), nullable=False),
        sa.Column("friend_customer_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("order_shopify_id", sa.BigInteger(), nullable=False),
        sa.Column("attribution", sa.String(length=16), nullable=False),
        sa.Column("attribution_evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("order_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("approve_after", sa.DateTime(), nullable=True),
        sa.Column("needs_manual_approval", sa.Boolean(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"],
            ["advocates.id"],
            name=op.f("fk_referrals_advocate_id_advocates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["friend_customer_id"],
            ["customers.id"],
            name=op.f("fk_referrals_friend_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_referrals_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_referrals_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("shop_id", "order_shopify_id", name=op.f("uq_referrals_shop_id")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referrals_shop_advocate", ["shop_id", "advocate_id"], unique=False
        )
        batch_op.create_index(
            "ix_referrals_shop_friend", ["shop_id", "friend_customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_referrals_shop_status_approve_after",
            ["shop_id", "status", "approve_after"],
            unique=False,
        )

    op.create_table(
        "fraud_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("evaluation", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_fraud_checks_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_fraud_checks_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_checks")),
    )
    with op.batch_alter_table("fraud_checks", schema=None) as batch_op:
        batch_op.create_index("ix_fraud_checks_referral", ["referral_id"], unique=False)

    op.create_table(
        "referral_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_transitions_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_referral_transitions_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_transitions")),
    )
    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_referral_transitions_referral", ["referral_id"], unique=False)

    op.create_table(
        "rewards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("advocate_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("discount_gid", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=True),
        sa.Column("used_order_shopify_id", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"],
            ["advocates.id"],
            name=op.f("fk_rewards_advocate_id_advocates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_rewards_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_rewards_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
        sa.UniqueConstraint("shop_id", "code", name="uq_rewards_shop_id_code"),
        sa.UniqueConstraint(
            "shop_id", "referral_id", "advocate_id", name="uq_rewards_shop_id_referral_id"
        ),
    )
    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.create_index("ix_rewards_shop_advocate", ["shop_id", "advocate_id"], unique=False)

    op.create_table(
        "email_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("reward_id", sa.Integer(), nullable=True),
        sa.Column("advocate_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocate_id"],
            ["advocates.id"],
            name=op.f("fk_email_messages_advocate_id_advocates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_email_messages_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_email_messages_referral_id_referrals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"],
            ["rewards.id"],
            name=op.f("fk_email_messages_reward_id_rewards"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_email_messages_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_messages")),
        sa.UniqueConstraint("shop_id", "dedupe_key", name=op.f("uq_email_messages_shop_id")),
    )
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_messages_shop_customer", ["shop_id", "customer_id"], unique=False
        )
        batch_op.create_index("ix_email_messages_shop_to", ["shop_id", "to_address"], unique=False)

    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("currency")

    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_email_messages_shop_to")
        batch_op.drop_index("ix_email_messages_shop_customer")

    op.drop_table("email_messages")
    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.drop_index("ix_rewards_shop_advocate")

    op.drop_table("rewards")
    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_transitions_referral")

    op.drop_table("referral_transitions")
    with op.batch_alter_table("fraud_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_fraud_checks_referral")

    op.drop_table("fraud_checks")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_shop_status_approve_after")
        batch_op.drop_index("ix_referrals_shop_friend")
        batch_op.drop_index("ix_referrals_shop_advocate")

    op.drop_table("referrals")
    with op.batch_alter_table("referral_clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_clicks_shop_advocate_time")

    op.drop_table("referral_clicks")
    with op.batch_alter_table("advocate_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_advocate_visits_shop_advocate")

    op.drop_table("advocate_visits")
    op.drop_table("referral_stats")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_shop_at")

    op.drop_table("audit_entries")
    with op.batch_alter_table("advocates", schema=None) as batch_op:
        batch_op.drop_index("ix_advocates_code")

    op.drop_table("advocates")
    op.drop_table("programs")
    op.drop_table("blocklist_entries")
