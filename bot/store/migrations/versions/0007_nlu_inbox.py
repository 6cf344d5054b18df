"""The trainers' NLU inbox: candidate messages, their annotations, and how far collect read.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nlu_candidate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_key", sa.String(320), nullable=False, unique=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("predicted_intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("predicted_entities", sa.Text(), nullable=False),
        sa.Column("suggested_intent", sa.String(64), nullable=True),
        sa.Column("reported_by", sa.String(64), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("entities", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_nlu_candidate_sender_id", "nlu_candidate", ["sender_id"])
    op.create_index("ix_nlu_candidate_received_at", "nlu_candidate", ["received_at"])
    op.create_index("ix_nlu_candidate_status_received", "nlu_candidate",
                    ["status", "received_at"])
    op.create_table(
        "nlu_collect_cursor",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nlu_collect_cursor")
    op.drop_table("nlu_candidate")
