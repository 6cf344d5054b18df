"""bot.cluster.engines: the private PostgreSQL starts also from a checkout the postgres user
cannot enter (root runs it as that user), and keeps its data between runs."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cluster.engines import Postgres, pg_bin, postgres_home_for

pytestmark = [pytest.mark.server,
              pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL is not installed")]


def query(url: str, statement: str) -> object:
    """The first value of `statement` on `url`."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as c:
            return c.execute(sa.text(statement)).scalar()
    finally:
        engine.dispose()


def test_starts_from_a_private_checkout_and_keeps_its_data(tmp_path: Path) -> None:
    private = tmp_path / "checkout"  # like `mktemp -d`: only its owner may enter
    private.mkdir(mode=0o700)
    wanted = private / "var" / "cluster" / "pg"
    pg = Postgres(wanted)
    try:
        url = pg.start()
        assert query(url, "SELECT 1") == 1
        query(url, "CREATE TABLE kept AS SELECT 7 AS n; SELECT count(*) FROM kept")
        if os.geteuid() == 0:  # run as the postgres user, which cannot reach `private`
            assert pg.directory == postgres_home_for(wanted) != wanted
        else:
            assert pg.directory == wanted
        pg.stop()
        again = Postgres(wanted)
        try:
            assert query(again.start(), "SELECT n FROM kept") == 7
        finally:
            again.stop()
    finally:
        pg.stop()
        if os.geteuid() == 0:
            shutil.rmtree(postgres_home_for(wanted), ignore_errors=True)
