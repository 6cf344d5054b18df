"""Start the whole product: the action server and the Rasa server, then say where to go.

``python -m bot.launcher`` (what ``make run`` calls) runs until Ctrl-C, and stops everything
when one part dies. :class:`Stack` is also what the end-to-end tests and ``make bench`` use.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Optional, Sequence

from bot.config import PROJECT_ROOT, load_settings

logger = logging.getLogger("postdesk.launcher")
RASA = str(Path(sys.executable).with_name("rasa"))


def ensure_token(token: str, path: Path) -> str:
    """Return the configured Rasa API token, or a generated one kept in ``path``."""
    if token:
        return token
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path.write_text(token)
    path.chmod(0o600)
    return token


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Poll ``url`` until it answers, the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


def post_json(url: str, body: Any, timeout: float = 60) -> tuple[int, Any]:
    """POST a JSON body (or raw bytes); return the status and the decoded answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Stack:
    """The action server and the Rasa server as child processes on loopback ports."""

    def __init__(
        self,
        model: Path,
        token: str,
        database_url: str,
        rasa_port: int = 5005,
        action_port: int = 5055,
        log: Optional[IO[str]] = None,
        workdir: Optional[Path] = None,
    ) -> None:
        self.model, self.token, self.database_url = model, token, database_url
        self.rasa_port, self.action_port = rasa_port, action_port
        self.env = dict(os.environ, DATABASE_URL=database_url, RASA_TOKEN=token,
                        RASA_URL=f"http://127.0.0.1:{rasa_port}")
        self.log = log
        self.workdir = workdir
        self.actions: Optional[subprocess.Popen] = None
        self.server: Optional[subprocess.Popen] = None
        self.workbench: Optional[subprocess.Popen] = None

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook"

    def _popen(self, args: list[str]) -> subprocess.Popen:
        out = self.log if self.log is not None else None
        return subprocess.Popen(args, cwd=PROJECT_ROOT, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT if out else None)

    def start_actions(self, timeout: float = 120) -> None:
        """Start the action server and wait for its health route."""
        self.actions = self._popen(
            [RASA, "run", "actions", "--port", str(self.action_port), "--actions", "actions"])
        if not wait_http(f"http://127.0.0.1:{self.action_port}/health", self.actions, timeout):
            raise RuntimeError("the action server did not start")

    def stop_actions(self) -> None:
        """Stop the action server (the Rasa server keeps running)."""
        stop([self.actions] if self.actions else [])

    def start_server(self, timeout: float = 300) -> None:
        """Start the Rasa server (API token required) and wait until the model is loaded."""
        endpoints = PROJECT_ROOT / "endpoints.yml"
        if self.action_port != 5055 or self.workdir is not None:
            endpoints = (self.workdir or PROJECT_ROOT / "var") / "endpoints.yml"
            endpoints.parent.mkdir(parents=True, exist_ok=True)
            endpoints.write_text(
                f'action_endpoint:\n  url: "http://127.0.0.1:{self.action_port}/webhook"\n')
        self.server = self._popen(
            [sys.executable, "-m", "bot.server", "run", "--model", str(self.model), "--port", str(self.rasa_port),
             "--enable-api", "--auth-token", self.token, "--credentials", "credentials.yml",
             "--endpoints", str(endpoints)])
        if not wait_http(f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/", self.server,
                         timeout):
            raise RuntimeError("the Rasa server did not start")

    def say(self, sender: str, message: str) -> list[str]:
        """Send one customer message through the REST channel; return the reply texts."""
        status, replies = post_json(self.webhook, {"sender": sender, "message": message})
        if status != 200:
            raise RuntimeError(f"webhook answered {status}: {replies}")
        return [r.get("text", "") for r in replies]

    def start_workbench(self, port: int, timeout: float = 60) -> None:
        """Start the agents' web workbench and wait for its login page."""
        self.workbench = self._popen([sys.executable, "-m", "bot.workbench", "serve",
                                      "--port", str(port), "--database-url", self.database_url])
        if not wait_http(f"http://127.0.0.1:{port}/login", self.workbench, timeout):
            raise RuntimeError("the workbench did not start")

    def processes(self) -> list[subprocess.Popen]:
        return [p for p in (self.server, self.actions, self.workbench) if p is not None]

    def close(self) -> None:
        stop(self.processes())


def stop(procs: Sequence[subprocess.Popen]) -> None:
    """Terminate the processes, killing those that do not stop within 15 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the product until interrupted; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot.launcher", description=__doc__)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models/postdesk.tar.gz")
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    parser.add_argument("--action-port", type=int,
                        default=int(os.environ.get("ACTION_PORT", 5055)))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    settings = load_settings()
    if not args.model.exists():
        logger.error("no model at %s: run 'make train' first", args.model)
        return 1
    token = ensure_token(settings.rasa_token, PROJECT_ROOT / "var" / "rasa_token")
    stack = Stack(args.model, token, settings.database_url, args.rasa_port, args.action_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start_actions()
        stack.start_server()
        stack.start_workbench(settings.workbench_port)
        print(f"""
PostDesk is running.
  Workbench      http://localhost:{settings.workbench_port}/   demo users (password): agent \
(demo-agent-2026), trainer (demo-trainer-2026), supervisor (demo-supervisor-2026),
                 admin (demo-admin-2026)
  Rasa server    http://localhost:{args.rasa_port}   (HTTP API token: RASA_TOKEN, or var/rasa_token)
  REST channel   http://localhost:{args.rasa_port}/webhooks/rest/webhook   (local use only)
  WeChat channel http://localhost:{args.rasa_port}/webhooks/wechat/webhook \
({"safe" if settings.wechat_encoding_aes_key else "plain"} mode, app id {settings.wechat_app_id})
  Action server  http://localhost:{args.action_port}/health
  Mail store     {settings.database_url}
Try:
  curl -s localhost:{args.rasa_port}/webhooks/rest/webhook -H 'Content-Type: application/json' \\
       -d '{{"sender": "demo", "message": "EA000000005CN到哪了"}}'
  .venv/bin/python -m bot.channels.wechat_sim     (chat as a WeChat user)
Press Ctrl-C to stop.
""", flush=True)
        while all(p.poll() is None for p in stack.processes()):
            time.sleep(1)
        logger.error("a PostDesk process stopped unexpectedly; stopping the rest")
        return 1
    except RuntimeError as exc:
        logger.error("PostDesk did not start: %s (see the messages above)", exc)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
