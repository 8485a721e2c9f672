"""file storage in the database (stored_files + chunks: exports readable by every process,
expiring), redactions (what customers/redact erased, by Shopify id, so a late delivery
cannot bring it back), shops.redacted_at; bulk_jobs.file_path goes (exports are stored files)

Revision ID: 0009_file_storage_and_erasure
Revises: 0008_codes_and_clicks
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_file_storage_and_erasure"
down_revision = "0008_codes_and_clicks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_stored_files_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
    )
    op.create_index("ix_stored_files_shop_id_key", "stored_files", ["shop_id", "key"])
    op.create_index("ix_stored_files_expires_at", "stored_files", ["expires_at"])
    op.create_table(
        "stored_file_chunks",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
            name=op.f("fk_stored_file_chunks_file_id_stored_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", "seq", name=op.f("pk_stored_file_chunks")),
    )
    op.create_table(
        "redactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=16), nullable=False),
        sa.Column("shopify_id", sa.BigInteger(), nullable=False),
        sa.Column("redacted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_redactions_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redactions")),
        sa.UniqueConstraint(
            "shop_id", "resource", "shopify_id", name="uq_redactions_shop_id_resource"
        ),
    )
    op.add_column("shops", sa.Column("redacted_at", sa.DateTime(), nullable=True))
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of the table would trip
    # the triggers migration 0006 keeps on customers.
    op.drop_column("bulk_jobs", "file_path")


def downgrade() -> None:
    op.add_column("bulk_jobs", sa.Column("file_path", sa.Text(), nullable=True))
    op.drop_column("shops", "redacted_at")
    op.drop_table("redactions")
    op.drop_table("stored_file_chunks")
    op.drop_index("ix_stored_files_expires_at", table_name="stored_files")
    op.drop_index("ix_stored_files_shop_id_key", table_name="stored_files")
    op.drop_table("stored_files")
