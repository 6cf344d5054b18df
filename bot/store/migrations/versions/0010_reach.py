"""Who holds a work order, and reply request keys scoped to their conversation.

* ``work_order.assigned_to``: the agent handling the order (set when an agent starts it).
  Existing orders get the last person who started them, from their history.
* ``agent_reply.request_key`` is unique per hand-over (``uq_agent_reply_handover_key``)
  instead of across all conversations.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# SQLite reports the old inline UNIQUE(request_key) without a name: batch mode names it so.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_OLD_UNIQUE = "uq_agent_reply_request_key"
_NEW_UNIQUE = "uq_agent_reply_handover_key"

_LAST_STARTED_BY = (
    "UPDATE work_order SET assigned_to = ("
    " SELECT e.actor FROM work_order_event e"
    " WHERE e.work_order_id = work_order.id AND e.action = 'in_progress'"
    " ORDER BY e.at DESC, e.id DESC LIMIT 1)"
    " WHERE assigned_to IS NULL"
)


def _request_key_unique() -> str | None:
    """The name of the unique constraint on request_key alone (None where it has none)."""
    inspector = sa.inspect(op.get_bind())
    for constraint in inspector.get_unique_constraints("agent_reply"):
        if constraint["column_names"] == ["request_key"]:
            return constraint["name"]
    return None


def upgrade() -> None:
    with op.batch_alter_table("work_order") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(64), nullable=True))
    op.execute(_LAST_STARTED_BY)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("agent_reply", naming_convention=_NAMING) as batch:
            batch.drop_constraint(_OLD_UNIQUE, type_="unique")
            batch.create_unique_constraint(_NEW_UNIQUE, ["handover_id", "request_key"])
    else:
        name = _request_key_unique()
        if name is not None:
            op.drop_constraint(name, "agent_reply", type_="unique")
        op.create_unique_constraint(_NEW_UNIQUE, "agent_reply", ["handover_id", "request_key"])


def downgrade() -> None:
    # Keys used in two conversations would break the old, global constraint: suffix them.
    op.execute(
        "UPDATE agent_reply SET request_key ="
        " SUBSTR(request_key, 1, 50) || '#' || CAST(id AS VARCHAR(12))"
        " WHERE request_key IN (SELECT request_key FROM agent_reply"
        " GROUP BY request_key HAVING COUNT(*) > 1)")
    with op.batch_alter_table("agent_reply") as batch:
        batch.drop_constraint(_NEW_UNIQUE, type_="unique")
        batch.create_unique_constraint(_OLD_UNIQUE, ["request_key"])
    with op.batch_alter_table("work_order") as batch:
        batch.drop_column("assigned_to")
