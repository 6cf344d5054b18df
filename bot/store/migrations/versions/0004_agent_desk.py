"""The agents' desk: who holds a hand-over, its steps, and the replies agents decided on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handover_request") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "handover_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("handover_id", sa.Integer(),
                  sa.ForeignKey("handover_request.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_handover_event_handover_id", "handover_event", ["handover_id"])
    op.create_table(
        "agent_reply",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_key", sa.String(64), nullable=False, unique=True),
        sa.Column("handover_id", sa.Integer(),
                  sa.ForeignKey("handover_request.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("suggestion_kind", sa.String(32), nullable=True),
        sa.Column("suggested_text", sa.Text(), nullable=True),
        sa.Column("final_text", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(12), nullable=False),
        sa.Column("edit_distance", sa.Integer(), nullable=True),
        sa.Column("delivery", sa.String(12), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
    )
    for column in ("handover_id", "sender_id", "agent", "created_at"):
        op.create_index(f"ix_agent_reply_{column}", "agent_reply", [column])


def downgrade() -> None:
    op.drop_table("agent_reply")
    op.drop_table("handover_event")
    with op.batch_alter_table("handover_request") as batch:
        batch.drop_column("closed_at")
        batch.drop_column("claimed_at")
        batch.drop_column("assigned_to")
