"""Workbench accounts (login name, scrypt password hash, role).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import DISPLAY_NAME_MAX, HASH_MAX, ROLE_MAX, USERNAME_MAX

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(USERNAME_MAX), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(HASH_MAX), nullable=False),
        sa.Column("role", sa.String(ROLE_MAX), nullable=False),
        sa.Column("display_name", sa.String(DISPLAY_NAME_MAX), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("account")
