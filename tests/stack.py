"""The running product for end-to-end tests: a seeded SQLite store, the action server and the
Rasa server with the trained model, on free loopback ports (``bot.launcher.Stack``)."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

from bot.launcher import Stack, free_port

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "postdesk.tar.gz"


@contextlib.contextmanager
def seeded_stack(tmp: Path, token: str, env: Optional[Mapping[str, str]] = None,
                 model: Path = MODEL, **options: Any) -> Iterator[Stack]:
    """Seed a store in `tmp`, start both servers (with `env` added), stop them afterwards.

    `options` go to :class:`Stack` (e.g. ``action_token``); the servers' output is in
    ``tmp/servers.log``.
    """
    assert model.exists(), "no trained model: run 'make train'"
    db_url = f"sqlite:///{tmp / 'postdesk.db'}"
    subprocess.run([sys.executable, "-m", "bot.store", "seed", "--database-url", db_url],
                   cwd=ROOT, check=True, capture_output=True)
    with open(tmp / "servers.log", "w") as log:
        stack = Stack(model, token, db_url, free_port(), free_port(), log=log, workdir=tmp,
                      **options)
        stack.env.update(env or {})
        try:
            stack.start_actions()
            stack.start_server()
            yield stack
        finally:
            stack.close()
