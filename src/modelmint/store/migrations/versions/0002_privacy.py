"""Privacy: per-organization policies and encrypted request/response bodies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_bodies",
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("request_blob", sa.LargeBinary(), nullable=False),
        sa.Column("response_blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index(
        op.f("ix_request_bodies_created_at"), "request_bodies", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_request_bodies_org_id"), "request_bodies", ["org_id"], unique=False)
    op.create_table(
        "privacy_policies",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("store_bodies", sa.Boolean(), nullable=False),
        sa.Column("pii_mode", sa.String(length=20), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("org_id"),
    )


def downgrade() -> None:
    op.drop_table("privacy_policies")
    op.drop_index(op.f("ix_request_bodies_org_id"), table_name="request_bodies")
    op.drop_index(op.f("ix_request_bodies_created_at"), table_name="request_bodies")
    op.drop_table("request_bodies")
