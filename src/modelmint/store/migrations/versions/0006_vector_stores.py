"""Vector stores, their files (also the ingestion queue), file batches and the files'
chunks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vector_stores",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("description", sa.String(length=512), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("embedding_model", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_active_at", sa.DateTime(), nullable=False),
        sa.Column("expires_after_days", sa.Integer(), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_vector_stores_org_created", "vector_stores", ["org_id", "created_at", "id"]
    )
    op.create_table(
        "vector_store_files",
        sa.Column("vector_store_id", sa.String(length=40), nullable=False),
        sa.Column("file_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.JSON(), nullable=True),
        sa.Column("chunking", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("usage_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("vector_store_id", "file_id"),
    )
    op.create_index(
        "ix_vs_files_store_created",
        "vector_store_files",
        ["vector_store_id", "created_at", "file_id"],
    )
    op.create_index("ix_vs_files_status", "vector_store_files", ["status", "lease_until"])
    op.create_table(
        "vector_store_file_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("vector_store_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("file_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_vector_store_file_batches_vector_store_id",
        "vector_store_file_batches",
        ["vector_store_id"],
    )
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vector_store_id", sa.String(length=40), nullable=False),
        sa.Column("file_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("content_blob", sa.LargeBinary(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chunks_store", "knowledge_chunks", ["vector_store_id", "id"])
    op.create_index("ix_chunks_file", "knowledge_chunks", ["vector_store_id", "file_id"])


def downgrade() -> None:
    op.drop_index("ix_chunks_file", table_name="knowledge_chunks")
    op.drop_index("ix_chunks_store", table_name="knowledge_chunks")
    op.drop_table("knowledge_chunks")
    op.drop_index(
        "ix_vector_store_file_batches_vector_store_id", table_name="vector_store_file_batches"
    )
    op.drop_table("vector_store_file_batches")
    op.drop_index("ix_vs_files_status", table_name="vector_store_files")
    op.drop_index("ix_vs_files_store_created", table_name="vector_store_files")
    op.drop_table("vector_store_files")
    op.drop_index("ix_vector_stores_org_created", table_name="vector_stores")
    op.drop_table("vector_stores")
