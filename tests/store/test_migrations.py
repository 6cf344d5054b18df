"""Alembic migrations build exactly the schema the models describe, on both backends."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from bot.store.db import create_schema, make_engine
from bot.store.models import Base


def _differences(engine: Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    # The `engine` fixture built its schema through the migrations (create_schema).
    assert _differences(engine) == []
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == "0013"


def test_running_the_migrations_again_changes_nothing(engine: Engine) -> None:
    create_schema(engine)
    assert _differences(engine) == []


def test_a_database_from_before_migrations_is_stamped_and_upgraded(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    # What the first release created with create_all: the three tables, no alembic_version.
    Base.metadata.create_all(engine, tables=[Base.metadata.tables[t] for t in
                                             ("mail_item", "tracking_event", "handover_request")])
    with engine.begin() as connection:
        for column in ("assigned_to", "claimed_at", "closed_at"):  # added by 0004
            connection.execute(text(f"ALTER TABLE handover_request DROP COLUMN {column}"))
        connection.execute(text(
            "INSERT INTO handover_request (sender_id, channel, reason, last_message, status, "
            "created_at, updated_at) VALUES ('wx-1', 'rest', 'request_human', '转人工', "
            "'waiting', '2025-06-10 10:00:00', '2025-06-10 10:00:00')"))
    create_schema(engine)
    assert "work_order" in inspect(engine).get_table_names()
    assert _differences(engine) == []
    with engine.connect() as connection:  # nothing already stored was lost
        assert connection.execute(text("SELECT count(*) FROM handover_request")).scalar_one() == 1
    engine.dispose()


def test_0010_gives_started_orders_their_holder_and_scopes_reply_keys(engine: Engine) -> None:
    from alembic import command
    from sqlalchemy.exc import IntegrityError

    from bot.store.db import alembic_config

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0009")
    with engine.begin() as connection:
        run = connection.execute
        run(text("INSERT INTO work_order (id, number, channel, category, description, priority, "
                 "status, opened_at, deadline, contacts) VALUES "
                 "(1, 'GD2025061000001', 'wechat', 'delay', '', 'normal', 'in_progress', "
                 "'2025-06-10 10:00:00', '2025-06-11 10:00:00', 1), "
                 "(2, 'GD2025061000002', 'wechat', 'delay', '', 'normal', 'new', "
                 "'2025-06-10 10:00:00', '2025-06-11 10:00:00', 1)"))
        run(text("INSERT INTO work_order_event (work_order_id, at, actor, action, detail) VALUES "
                 "(1, '2025-06-10 10:00:00', 'bot', 'created', ''), "
                 "(1, '2025-06-10 10:05:00', 'agent1', 'in_progress', ''), "
                 "(2, '2025-06-10 10:00:00', 'bot', 'created', '')"))
        run(text("INSERT INTO handover_request (id, sender_id, channel, reason, last_message, "
                 "status, created_at, updated_at) VALUES "
                 "(1, 'wx-1', 'rest', 'request_human', '', 'taken', '2025-06-10 10:00:00', "
                 "'2025-06-10 10:00:00'), "
                 "(2, 'wx-2', 'rest', 'request_human', '', 'taken', '2025-06-10 10:00:00', "
                 "'2025-06-10 10:00:00')"))
    reply = ("INSERT INTO agent_reply (request_key, handover_id, sender_id, channel, agent, "
             "decision, delivery, delivery_error, created_at) VALUES "
             "('k', {handover}, 'wx', 'rest', 'agent1', 'written', 'pending', '', "
             "'2025-06-10 10:00:00')")
    with engine.begin() as connection:
        connection.execute(text(reply.format(handover=1)))
    create_schema(engine)
    assert _differences(engine) == []
    with engine.begin() as connection:
        holders = connection.execute(
            text("SELECT number, assigned_to FROM work_order ORDER BY id")).all()
        assert [tuple(row) for row in holders] == [("GD2025061000001", "agent1"),
                                                   ("GD2025061000002", None)]
        connection.execute(text(reply.format(handover=2)))  # the same key, another conversation
    try:
        with engine.begin() as connection:
            connection.execute(text(reply.format(handover=1)))
        raise AssertionError("a key was accepted twice in one conversation")
    except IntegrityError:
        pass
    # Going back keeps every reply, the keys made unique again.
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0009")
    with engine.connect() as connection:
        keys = connection.execute(text("SELECT request_key FROM agent_reply")).scalars().all()
    assert len(keys) == 2 and len(set(keys)) == 2
    create_schema(engine)
    assert _differences(engine) == []
