"""The running product for end-to-end tests: a seeded SQLite store, the action server and the
Rasa server with the trained model, on free loopback ports (``bot.launcher.Stack``)."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

from bot.launcher import Stack, free_port
from tests.support.model import MODEL, ROOT

TOKEN = "test-token-4f2a"  # the Rasa HTTP API token of the shared stack (tests/conftest.py)
ACTION_TOKEN = "action-token-93bd"  # and its action server's token


@contextlib.contextmanager
def seeded_stack(tmp: Path, token: str, env: Optional[Mapping[str, str]] = None,
                 model: Path = MODEL, **options: Any) -> Iterator[Stack]:
    """Seed a store in `tmp`, start both servers (with `env` added), stop them afterwards.

    `options` go to :class:`Stack` (e.g. ``action_token``); the servers' output is in
    ``tmp/servers.log``.
    """
    assert model.exists(), "no trained model: run 'make train'"
    db_url = f"sqlite:///{tmp / 'postdesk.db'}"
    subprocess.run([sys.executable, "-m", "bot.workorders", "seed", "--database-url", db_url],
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


@contextlib.contextmanager
def shared_stack(tmp: Path, model: Path = MODEL) -> Iterator[Stack]:
    """:func:`seeded_stack` with `TOKEN` and `ACTION_TOKEN`, and the WeChat channel in the same
    Rasa server sending to a fake customer-service API (``stack.fake_wechat``)."""
    from tests.channels.conftest import APP_ID, ThreadedFake, wechat_env

    with ThreadedFake(app_id=APP_ID) as fake:
        env = wechat_env(fake, f"sqlite:///{tmp / 'postdesk.db'}", passive_wait_s=4.0)
        with seeded_stack(tmp, TOKEN, env, model=model, action_token=ACTION_TOKEN) as stack:
            stack.fake_wechat = fake  # type: ignore[attr-defined]
            yield stack
