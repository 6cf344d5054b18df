"""Work orders with their history, pickup bookings and their reminders.

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

_OPEN_WORK_ORDER = (
    "status IN ('new', 'in_progress', 'answered', 'called_back', 'reopened') "
    "AND mail_number IS NOT NULL"
)


def upgrade() -> None:
    op.create_table(
        "pickup_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(24), nullable=True, unique=True),
        sa.Column("sender_id", sa.String(128), nullable=True),
        sa.Column("channel", sa.String(24), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("time_window", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pickup_order_sender_id", "pickup_order", ["sender_id"])
    op.create_index("ix_pickup_order_phone", "pickup_order", ["phone"])
    op.create_table(
        "pickup_reminder",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pickup_id", sa.Integer(),
                  sa.ForeignKey("pickup_order.id", ondelete="CASCADE"), nullable=False),
        sa.Column("turn_key", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("pickup_id", "turn_key", name="uq_pickup_reminder_turn"),
    )
    op.create_index("ix_pickup_reminder_pickup_id", "pickup_reminder", ["pickup_id"])
    op.create_table(
        "work_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(24), nullable=True, unique=True),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(24), nullable=False),
        sa.Column("category", sa.String(24), nullable=False),
        sa.Column("mail_number", sa.String(32), nullable=True),
        sa.Column("customer_phone", sa.String(32), nullable=True),
        sa.Column("customer_name", sa.String(64), nullable=True),
        sa.Column("sender_id", sa.String(128), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("assigned_unit", sa.String(128), nullable=True),
        sa.Column("county", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("callback_satisfied", sa.Boolean(), nullable=True),
        sa.Column("responsible_unit", sa.String(128), nullable=True),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("pickup_id", sa.Integer(),
                  sa.ForeignKey("pickup_order.id", ondelete="SET NULL"), nullable=True,
                  unique=True),
    )
    op.create_index("ix_work_order_mail_number", "work_order", ["mail_number"])
    op.create_index("ix_work_order_sender_id", "work_order", ["sender_id"])
    op.create_index("ix_work_order_customer_phone", "work_order", ["customer_phone"])
    op.create_index("ix_work_order_status_deadline", "work_order", ["status", "deadline"])
    op.create_index(
        "uq_work_order_open_mail_category", "work_order", ["mail_number", "category"],
        unique=True,
        sqlite_where=sa.text(_OPEN_WORK_ORDER), postgresql_where=sa.text(_OPEN_WORK_ORDER),
    )
    op.create_table(
        "work_order_source",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("work_order_id", sa.Integer(),
                  sa.ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(24), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("channel", "external_id",
                            name="uq_work_order_source_channel_external"),
    )
    op.create_index("ix_work_order_source_work_order_id", "work_order_source", ["work_order_id"])
    op.create_table(
        "work_order_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("work_order_id", sa.Integer(),
                  sa.ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_work_order_event_work_order_id", "work_order_event", ["work_order_id"])


def downgrade() -> None:
    op.drop_table("work_order_event")
    op.drop_table("work_order_source")
    op.drop_table("work_order")
    op.drop_table("pickup_reminder")
    op.drop_table("pickup_order")
