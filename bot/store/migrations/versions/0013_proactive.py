"""Proactive service tables (issue 16): VIP customers, watched mail, proactive tasks with their
history (at most one open task per mail and exception), and the notice outbox.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "vip_customer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("contact_name", sa.String(64), nullable=False),
        sa.Column("contact_phone", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(128), nullable=False),
        sa.Column("account_manager", sa.String(64), nullable=False),
        sa.Column("openid", sa.String(64), nullable=True, unique=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "watched_mail",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mail_number", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("project", sa.String(64), nullable=True),
        sa.Column("vip_id", sa.Integer(),
                  sa.ForeignKey("vip_customer.id", ondelete="SET NULL"), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("mail_number", "reason", name="uq_watched_mail_number_reason"),
    )
    op.create_index("ix_watched_mail_mail_number", "watched_mail", ["mail_number"])
    op.create_index("ix_watched_mail_vip_id", "watched_mail", ["vip_id"])
    op.create_table(
        "proactive_task",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mail_number", sa.String(32), nullable=False),
        sa.Column("exception", sa.String(24), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("watch_reasons", sa.String(48), nullable=False),
        sa.Column("project", sa.String(64), nullable=True),
        sa.Column("vip_id", sa.Integer(),
                  sa.ForeignKey("vip_customer.id", ondelete="SET NULL"), nullable=True),
        sa.Column("responsible_unit", sa.String(128), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("assigned_to", sa.String(64), nullable=True),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("close_reason", sa.String(12), nullable=True),
    )
    op.create_index("uq_proactive_task_open_mail_exception", "proactive_task",
                    ["mail_number", "exception"], unique=True,
                    sqlite_where=_OPEN, postgresql_where=_OPEN)
    op.create_index("ix_proactive_task_status_deadline", "proactive_task", ["status", "deadline"])
    op.create_index("ix_proactive_task_opened_at", "proactive_task", ["opened_at"])
    op.create_index("ix_proactive_task_closed_by", "proactive_task", ["closed_by"])
    op.create_index("ix_proactive_task_opened_by", "proactive_task", ["opened_by"])
    op.create_index("ix_proactive_task_vip_id", "proactive_task", ["vip_id"])
    op.create_index("ix_proactive_task_responsible_unit", "proactive_task", ["responsible_unit"])
    op.create_table(
        "proactive_task_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(),
                  sa.ForeignKey("proactive_task.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_proactive_task_event_task_id", "proactive_task_event", ["task_id"])
    op.create_table(
        "proactive_notice",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(96), nullable=False, unique=True),
        sa.Column("task_id", sa.Integer(),
                  sa.ForeignKey("proactive_task.id", ondelete="SET NULL"), nullable=True),
        sa.Column("vip_id", sa.Integer(),
                  sa.ForeignKey("vip_customer.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
    )
    op.create_index("ix_proactive_notice_status_due", "proactive_notice", ["status", "due_at"])
    op.create_index("ix_proactive_notice_vip_sent", "proactive_notice", ["vip_id", "sent_at"])
    op.create_index("ix_proactive_notice_task_id", "proactive_notice", ["task_id"])


def downgrade() -> None:
    op.drop_table("proactive_notice")
    op.drop_table("proactive_task_event")
    op.drop_table("proactive_task")
    op.drop_table("watched_mail")
    op.drop_table("vip_customer")
