"""The in-memory SQLite database's one connection, used from several threads.

The workbench and the action server run store calls in worker threads; with the connection
handed to every thread at once, two transactions broke each other under load (a login test
failed with "Cursor needed to be reset because of commit/rollback").
"""
from __future__ import annotations

import threading

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.store.db import SharedConnectionPool, make_engine, make_session_factory


def _table_engine() -> Engine:
    engine = make_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
    return engine


def test_threads_writing_at_once_lose_nothing_and_break_nothing() -> None:
    engine = _table_engine()
    assert isinstance(engine.pool, SharedConnectionPool)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(worker: int) -> None:
        start.wait()
        try:
            for n in range(150):
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO note (body) VALUES (:b)"),
                                       {"b": f"{worker}-{n}"})
                    # A read inside the transaction: the step another thread's commit broke.
                    connection.execute(text("SELECT count(*) FROM note")).scalar_one()
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM note")).scalars().all()
    assert len(bodies) == len(set(bodies)) == 8 * 150
    engine.dispose()


def test_a_session_rolled_back_in_one_thread_leaves_another_threads_work_alone() -> None:
    engine = _table_engine()
    sessions = make_session_factory(engine)
    holding = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        with sessions() as session:
            session.execute(text("INSERT INTO note (body) VALUES ('kept')"))
            holding.set()
            release.wait(5)
            session.commit()

    def failing_writer() -> None:
        with sessions() as session:
            session.execute(text("INSERT INTO note (body) VALUES ('dropped')"))
            session.rollback()

    first = threading.Thread(target=slow_writer)
    first.start()
    assert holding.wait(5)
    second = threading.Thread(target=failing_writer)
    second.start()
    # The second thread waits for the connection instead of rolling back the first's insert.
    second.join(0.3)
    assert second.is_alive()
    release.set()
    first.join(5)
    second.join(5)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM note")).scalars().all() == ["kept"]
    engine.dispose()


def test_the_holding_thread_may_check_the_connection_out_again() -> None:
    engine = _table_engine()
    with engine.begin() as outer:
        outer.execute(text("INSERT INTO note (body) VALUES ('outer')"))
        # Waiting here for itself would hang the thread; it gets the same connection, as
        # StaticPool gives it, so the outer transaction's row is visible.
        with engine.connect() as inner:
            assert inner.execute(text("SELECT count(*) FROM note")).scalar_one() == 1
    # Both returned: another thread gets the connection.
    seen: list[int] = []

    def other() -> None:
        with engine.connect() as connection:
            seen.append(connection.execute(text("SELECT 1")).scalar_one())

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert seen == [1]
    engine.dispose()


def test_a_connection_never_returned_is_an_error_not_a_hang(monkeypatch) -> None:
    engine = _table_engine()
    monkeypatch.setattr(SharedConnectionPool, "WAIT_S", 0.2)
    held = engine.connect()
    held.execute(text("SELECT 1"))
    outcome: list[BaseException] = []

    def other() -> None:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except BaseException as error:  # noqa: BLE001 - asserted below
            outcome.append(error)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    held.close()
    assert len(outcome) == 1 and "not returned" in str(outcome[0])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
