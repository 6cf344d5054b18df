"""Mail items, tracking events and hand-over requests (the schema of the first release).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import Money

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_OPEN_HANDOVER = "status IN ('waiting', 'taken')"


def upgrade() -> None:
    op.create_table(
        "mail_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("sender_area", sa.String(64), nullable=False),
        sa.Column("sender_prefecture", sa.String(64), nullable=False),
        sa.Column("recipient_area", sa.String(64), nullable=False),
        sa.Column("recipient_prefecture", sa.String(64), nullable=False),
        sa.Column("recipient_name", sa.String(64), nullable=False),
        sa.Column("recipient_phone", sa.String(32), nullable=False),
        sa.Column("recipient_address", sa.String(255), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=False),
        sa.Column("promised_by", sa.DateTime(), nullable=True),
        sa.Column("insured_value", Money(12, 2), nullable=True),
        sa.Column("postage", Money(10, 2), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("signed_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_mail_item_number", "mail_item", ["number"], unique=True)
    op.create_table(
        "tracking_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mail_id", sa.Integer(), sa.ForeignKey("mail_item.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("place", sa.String(128), nullable=False),
        sa.Column("unit", sa.String(128), nullable=False),
        sa.Column("status_code", sa.String(24), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_index("ix_tracking_event_mail_id", "tracking_event", ["mail_id"])
    op.create_table(
        "handover_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("last_message", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_handover_request_sender_id", "handover_request", ["sender_id"])
    op.create_index("ix_handover_status_created", "handover_request", ["status", "created_at"])
    op.create_index(
        "uq_handover_open_sender", "handover_request", ["sender_id"], unique=True,
        sqlite_where=sa.text(_OPEN_HANDOVER), postgresql_where=sa.text(_OPEN_HANDOVER),
    )


def downgrade() -> None:
    op.drop_table("handover_request")
    op.drop_table("tracking_event")
    op.drop_table("mail_item")
