"""Issue 15: `make run`'s launcher starts a part that died again, with back-off, and leaves
the others alone (bot.launcher.Supervisor)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

from bot.launcher import Backoff, Stack, Supervisor, free_port, wait_http
from tests.support.model import MODEL, ROOT


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_stable_minute() -> None:
    backoff = Backoff()
    assert [backoff.delay(uptime=2) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.delay(uptime=59) == 30
    assert backoff.delay(uptime=60) == 1, "up a minute: the next death starts over"
    assert backoff.delay(uptime=5) == 2


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_dead_child_is_restarted_after_its_delay_and_the_others_are_left_alone(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    spawned: list[subprocess.Popen] = []

    def spawn() -> subprocess.Popen:
        spawned.append(sleeper())
        return spawned[-1]

    first, other = spawn(), sleeper()
    supervisor = Supervisor([("the action server", spawn, first),
                             ("the workbench", sleeper, other)], clock=clock)
    try:
        with caplog.at_level(logging.INFO, logger="postdesk.launcher"):
            first.kill()
            first.wait()
            clock.now += 5
            supervisor.check()  # noticed: restart in 1 s
            assert len(spawned) == 1
            clock.now += 0.5
            supervisor.check()
            assert len(spawned) == 1, "not before its delay"
            clock.now += 0.5
            supervisor.check()
            assert len(spawned) == 2 and supervisor.children[0].process is spawned[1]
            assert spawned[1].pid != first.pid and spawned[1].poll() is None
            assert supervisor.children[1].process is other and other.poll() is None

            spawned[1].kill()  # dies again at once: the next delay is 2 s
            spawned[1].wait()
            supervisor.check()
            clock.now += 1.5
            supervisor.check()
            assert len(spawned) == 2
            clock.now += 0.5
            supervisor.check()
            assert len(spawned) == 3
        logged = [r.getMessage() for r in caplog.records]
        assert any("the action server" in m and "restarting it in 1 s" in m for m in logged)
        assert any("the action server" in m and "restarting it in 2 s" in m for m in logged)
        assert sum("restarted: pid" in m for m in logged) == 2, logged
    finally:
        for p in [*spawned, other]:
            p.kill()
            p.wait()


def test_a_child_that_cannot_be_started_is_tried_again_later() -> None:
    clock = Clock()
    calls: list[int] = []

    def broken() -> subprocess.Popen:
        calls.append(1)
        raise OSError("no such program")

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    supervisor = Supervisor([("the workbench", broken, dead)], clock=clock)
    supervisor.check()
    clock.now += 1
    supervisor.check()  # fails: tried again after the next delay, the launcher goes on
    assert calls == [1] and supervisor.children[0].restart_at == clock.now + 2


def test_a_restarted_rasa_server_takes_the_model_in_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` restarts the Rasa server with the model a trainer deployed meanwhile."""
    import bot.launcher as launcher
    from bot.config import load_settings

    deployed = tmp_path / "deployed.tar.gz"
    monkeypatch.setattr(launcher, "model_in_service", lambda registry: deployed)
    settings = load_settings({}, env_file=tmp_path / "none")
    stack = Stack(MODEL, "t", f"sqlite:///{tmp_path / 'db'}", workdir=tmp_path,
                  settings=settings)
    started: list[tuple[str, Path]] = []

    def fake_spawn(name: str) -> Callable[..., subprocess.Popen]:
        def spawn(*args: object) -> subprocess.Popen:
            started.append((name, stack.model))
            process = sleeper()
            setattr(stack, name, process)
            return process
        return spawn

    for name in ("actions", "server", "workbench"):
        monkeypatch.setattr(stack, f"spawn_{name}", fake_spawn(name))
        getattr(stack, f"spawn_{name}")()
    clock = Clock()
    supervisor = launcher.supervise(stack, settings, model_given=False, clock=clock)
    try:
        assert [c.name for c in supervisor.children] == [
            "the action server", "the Rasa server", "the workbench"]
        assert stack.server is not None
        stack.server.kill()
        stack.server.wait()
        supervisor.check()
        clock.now += 1
        supervisor.check()
        assert started[-1] == ("server", deployed) and len(started) == 4
        assert supervisor.children[1].process is stack.server
    finally:
        stack.close()


# --- real processes ---------------------------------------------------------------------


def until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.server
def test_the_launcher_restarts_a_killed_action_server(tmp_path: Path) -> None:
    """kill -9 of the action server: a new one answers, the workbench keeps its process."""
    db_url = f"sqlite:///{tmp_path / 'postdesk.db'}"
    subprocess.run([sys.executable, "-m", "bot.workorders", "seed", "--database-url", db_url],
                   cwd=ROOT, check=True, capture_output=True)
    bench_port = free_port()
    with open(tmp_path / "servers.log", "w") as log:
        stack = Stack(MODEL, "t-token", db_url, free_port(), free_port(), log=log,
                      workdir=tmp_path)
        stopping = threading.Event()
        watcher = None
        try:
            stack.start_actions()
            stack.start_workbench(bench_port)
            assert stack.actions and stack.workbench
            supervisor = Supervisor([
                ("the action server", stack.spawn_actions, stack.actions),
                ("the workbench", lambda: stack.spawn_workbench(bench_port), stack.workbench)])
            watcher = threading.Thread(target=supervisor.run, args=(stopping.is_set, 0.5))
            watcher.start()
            killed, workbench = stack.actions.pid, stack.workbench.pid
            os.kill(killed, signal.SIGKILL)
            health = f"http://127.0.0.1:{stack.action_port}/health"
            assert until(lambda: stack.actions is not None and stack.actions.pid != killed,
                         timeout=30), "not restarted"
            assert stack.actions is not None
            assert wait_http(health, stack.actions, timeout=120), "restarted but not healthy"
            assert stack.workbench.pid == workbench and stack.workbench.poll() is None
            assert answers(f"http://127.0.0.1:{bench_port}/login")
            assert supervisor.children[0].restarts == 1 and supervisor.children[1].restarts == 0
        finally:
            stopping.set()
            if watcher is not None:
                watcher.join(timeout=10)
            stack.close()
