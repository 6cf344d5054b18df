"""bot.store is the bottom layer: it imports no package above it, and has one schema."""
from __future__ import annotations

import ast
import io
from pathlib import Path

from alembic import command
from sqlalchemy import inspect

import bot.store
from bot.store.db import SCHEMA, alembic_config, create_schema, make_engine

STORE = Path(bot.store.__file__).resolve().parent
# The packages built on the store; the store may use bot.config and bot.text only.
UPPER = ("bot.trainer", "bot.workorders", "bot.workbench", "bot.reports", "bot.channels",
         "bot.bench", "actions")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, anywhere in it (also inside functions and TYPE_CHECKING)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # "from bot import workorders" imports the package too.
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def test_no_module_of_the_store_imports_an_upper_package() -> None:
    files = sorted(STORE.rglob("*.py"))
    assert len(files) > 10 and any(f.parent.name == "versions" for f in files)
    offending = [f"{path.relative_to(STORE.parent.parent)}:{line}: {module}"
                 for path in files for line, module in _imported_modules(path)
                 if module.startswith(tuple(f"{p}." for p in UPPER)) or module in UPPER]
    assert offending == []


def test_the_check_sees_function_level_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from bot.workorders.policy import load_policy\n")
    assert (2, "bot.workorders.policy") in _imported_modules(sample)


def test_alembic_and_the_engine_setup_know_the_same_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/schema.db")
    try:
        create_schema(engine)
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        # The migrations build exactly the tables of the engine setup's metadata ...
        assert tables == set(SCHEMA.tables)
        # ... and the Alembic environment compares with that same metadata: `check` fails
        # when autogenerate would add or drop a table (or change a column).
        with engine.begin() as connection:
            config = alembic_config(connection)
            config.stdout = io.StringIO()  # not the stdout alembic bound at its import
            command.check(config)
    finally:
        engine.dispose()


def test_every_table_is_on_the_one_metadata() -> None:
    assert {"account", "login_throttle", "handover_event", "agent_reply", "conversation_day",
            "nlu_candidate", "nlu_collect_cursor", "mail_item", "work_order"} <= set(SCHEMA.tables)
