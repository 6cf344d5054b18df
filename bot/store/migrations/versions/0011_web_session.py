"""Workbench browser sessions in the store, so they survive a restart and are shared by
several workbench processes (only the SHA-256 of each session id is kept).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import CSRF_TOKEN_MAX, SESSION_KEY_MAX

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("key", sa.String(SESSION_KEY_MAX), primary_key=True),
        sa.Column("csrf_token", sa.String(CSRF_TOKEN_MAX), nullable=False),
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("account.id", ondelete="CASCADE"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_web_session_account_id", "web_session", ["account_id"])
    op.create_index("ix_web_session_expires_at", "web_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_session_expires_at", table_name="web_session")
    op.drop_index("ix_web_session_account_id", table_name="web_session")
    op.drop_table("web_session")
