"""Customers who wrote to the bot, per channel and day (the base of bot containment).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_day",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.UniqueConstraint("sender_id", "channel", "day", name="uq_conversation_day"),
    )
    op.create_index("ix_conversation_day_day", "conversation_day", ["day"])


def downgrade() -> None:
    op.drop_table("conversation_day")
