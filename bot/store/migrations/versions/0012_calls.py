"""Call desk tables (issue 17): calls agents take on 11183/11185, what the caller said with the
bot's reading, the agents' decisions on suggested answers, and the work orders opened from them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _call_id() -> sa.Column:
    return sa.Column("call_id", sa.Integer(),
                     sa.ForeignKey("call_record.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "call_record",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("line", sa.String(8), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_call_record_phone", "call_record", ["phone"])
    op.create_index("ix_call_record_agent", "call_record", ["agent"])
    op.create_index("ix_call_record_started_at", "call_record", ["started_at"])
    op.create_table(
        "call_line",
        sa.Column("id", sa.Integer(), primary_key=True),
        _call_id(),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("entities", sa.Text(), nullable=False),
    )
    op.create_index("ix_call_line_call_id", "call_line", ["call_id"])
    op.create_table(
        "call_reply",
        sa.Column("id", sa.Integer(), primary_key=True),
        _call_id(),
        sa.Column("request_key", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("suggestion_kind", sa.String(32), nullable=True),
        sa.Column("suggested_text", sa.Text(), nullable=True),
        sa.Column("final_text", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(12), nullable=False),
        sa.Column("edit_distance", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("call_id", "request_key", name="uq_call_reply_call_key"),
    )
    op.create_index("ix_call_reply_call_id", "call_reply", ["call_id"])
    op.create_index("ix_call_reply_created_at", "call_reply", ["created_at"])
    op.create_table(
        "call_work_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        _call_id(),
        sa.Column("work_order_id", sa.Integer(),
                  sa.ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("call_id", "work_order_id", name="uq_call_work_order"),
    )
    op.create_index("ix_call_work_order_call_id", "call_work_order", ["call_id"])
    op.create_index("ix_call_work_order_work_order_id", "call_work_order", ["work_order_id"])


def downgrade() -> None:
    op.drop_table("call_work_order")
    op.drop_table("call_reply")
    op.drop_table("call_line")
    op.drop_table("call_record")
