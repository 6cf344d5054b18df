"""Failed workbench logins per username and per client address (growing waits, lockouts).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import THROTTLE_KEY_MAX, THROTTLE_KIND_MAX

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(THROTTLE_KIND_MAX), nullable=False),
        sa.Column("key", sa.String(THROTTLE_KEY_MAX), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("kind", "key", name="uq_login_throttle"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
