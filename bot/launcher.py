"""Start the whole product: the action server and the Rasa server, then say where to go.

``python -m bot.launcher`` (what ``make run`` calls) runs until Ctrl-C, and stops everything
when one part dies. :class:`Stack` is also what the end-to-end tests and ``make bench`` use.

Security: both servers listen on loopback unless ``RASA_INTERFACE`` / ``ACTION_INTERFACE`` say
otherwise. No secret is put on a command line (``ps`` shows command lines to every user):
each child gets only the tokens it needs in its environment, and the Rasa server's endpoints
file, which holds the action server's token, is written readable by its owner only.
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

from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.server import TOKEN_HEADER as RASA_TOKEN_HEADER

logger = logging.getLogger("postdesk.launcher")


# Environment variables that carry secrets: a child gets only those it needs (Stack._popen).
SECRET_VARS = ("RASA_TOKEN", "RASA_TOKEN_FILE", "ACTION_TOKEN", "REST_TOKEN")
ACTION_TOKEN_HEADER = "X-PostDesk-Action-Token"  # bot/actions_server.py
REST_TOKEN_HEADER = "X-PostDesk-Rest-Token"      # bot/channels/rest.py (it imports rasa)
LOOPBACK = "127.0.0.1"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by its owner only (mode 0600).

    The file is created with that mode, so its content is never readable by others, even for
    a moment; an existing file is truncated and its mode set back to 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def ensure_token(token: str, path: Path) -> str:
    """Return ``token`` if set, else the one kept in ``path`` (generated there once, mode 0600)."""
    if token:
        return token
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it (or it is empty): use it, or refill it
        if path.read_text().strip():
            return path.read_text().strip()
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(token)
    return token


def rasa_api_token(settings: Settings,
                   generated: Path = PROJECT_ROOT / "var" / "rasa_token") -> str:
    """The Rasa HTTP API token: RASA_TOKEN, else the file RASA_TOKEN_FILE, else ``generated``."""
    if settings.rasa_token:
        return settings.rasa_token
    if settings.rasa_token_file:
        token = Path(settings.rasa_token_file).read_text().strip()
        if not token:
            raise ValueError(f"RASA_TOKEN_FILE {settings.rasa_token_file} is empty")
        return token
    return ensure_token("", generated)


def local_host(interface: str) -> str:
    """The address to reach a server listening on ``interface`` from this machine."""
    return LOOPBACK if interface in ("", "0.0.0.0", "::") else interface


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


def endpoints_yaml(action_url: str, tracker_store_url: str, redis_url: str = "",
                   action_token: str = "") -> str:
    """Rasa's endpoints.yml for these settings: action server, SQL tracker store, lock store.

    Rasa sends `action_token` to the action server in the ``X-PostDesk-Action-Token`` header
    of every call (the file then holds a secret: write it with :func:`write_private`).
    The tracker store is Rasa's SQL store on `tracker_store_url` (SQLite or PostgreSQL), so
    conversations survive restarts and model deploys; with `redis_url` the lock store is Redis
    (several Rasa workers), else in process.
    """
    from sqlalchemy.engine import make_url

    url = make_url(tracker_store_url)
    dialect = url.drivername.split("+", 1)[0]
    lines = ["# Generated by bot.launcher from the settings (see README, Configuration).",
             "action_endpoint:", f"  url: {json.dumps(action_url)}"]
    if action_token:
        lines += ["  headers:", f"    {ACTION_TOKEN_HEADER}: {json.dumps(action_token)}"]
    lines += ["tracker_store:", "  type: SQL", f"  dialect: {json.dumps(dialect)}",
              f"  db: {json.dumps(url.database or '')}"]
    for key, value in (("url", url.host), ("port", url.port), ("username", url.username),
                       ("password", url.password)):
        if value:
            lines.append(f"  {key}: {json.dumps(str(value))}")
    if redis_url:
        redis = make_url(redis_url)
        lines += ["lock_store:", "  type: redis", f"  url: {json.dumps(redis.host or 'localhost')}",
                  f"  port: {redis.port or 6379}", f"  db: {json.dumps(redis.database or '0')}"]
        if redis.password:
            lines.append(f"  password: {json.dumps(str(redis.password))}")
    return "\n".join(lines) + "\n"


def post_json(url: str, body: Any, timeout: float = 60,
              headers: Optional[dict[str, str]] = None) -> tuple[int, Any]:
    """POST a JSON body (or raw bytes); return the status and the decoded answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Stack:
    """The action server and the Rasa server as child processes (on loopback by default).

    The tokens (attributes ``token``, ``action_token``, ``rest_token``) reach the children in
    their environments, each child only those it needs, never on a command line. Without
    `action_token` / `rest_token`, the stack makes up its own for its lifetime.
    """

    def __init__(
        self,
        model: Path,
        token: str,
        database_url: str,
        rasa_port: int = 5005,
        action_port: int = 5055,
        log: Optional[IO[str]] = None,
        workdir: Optional[Path] = None,
        tracker_store_url: Optional[str] = None,
        *,
        action_token: Optional[str] = None,
        rest_token: Optional[str] = None,
        rasa_interface: Optional[str] = None,
        action_interface: Optional[str] = None,
        action_url: Optional[str] = None,
    ) -> None:
        settings = load_settings()
        self.model, self.token, self.database_url = model, token, database_url
        self.action_token = action_token or secrets.token_urlsafe(32)
        self.rest_token = rest_token or secrets.token_urlsafe(32)
        # Tests (a workdir) get a tracker store of their own next to their database.
        self.tracker_store_url = tracker_store_url or (
            f"sqlite:///{workdir / 'tracker.db'}" if workdir is not None
            else settings.tracker_store_url)
        self.rasa_port, self.action_port = rasa_port, action_port
        self.rasa_interface = rasa_interface or settings.rasa_interface
        self.action_interface = action_interface or settings.action_interface
        self.rasa_host = local_host(self.rasa_interface)
        self.action_url = action_url or (
            f"http://{local_host(self.action_interface)}:{action_port}/webhook")
        self.env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS}
        self.env.update(DATABASE_URL=database_url, RASA_URL=f"http://{self.rasa_host}:{rasa_port}",
                        TRACKER_STORE_URL=self.tracker_store_url)
        self.log = log
        self.workdir = workdir
        self.actions: Optional[subprocess.Popen] = None
        self.server: Optional[subprocess.Popen] = None
        self.workbench: Optional[subprocess.Popen] = None

    @property
    def webhook(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}/webhooks/rest/webhook"

    def _popen(self, args: list[str], child_env: dict[str, str]) -> subprocess.Popen:
        """Start a child with the stack's environment, no secrets but those in `child_env`."""
        env = {k: v for k, v in self.env.items() if k not in SECRET_VARS}
        env.update(child_env)
        out = self.log if self.log is not None else None
        return subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT if out else None)

    def start_actions(self, timeout: float = 120) -> None:
        """Start the action server (bot/actions_server.py) and wait for its health route."""
        self.actions = self._popen(
            [sys.executable, "-m", "bot.actions_server", "--port", str(self.action_port),
             "--actions", "actions"],
            {"ACTION_TOKEN": self.action_token, "ACTION_INTERFACE": self.action_interface})
        host = local_host(self.action_interface)
        if not wait_http(f"http://{host}:{self.action_port}/health", self.actions, timeout):
            raise RuntimeError("the action server did not start")

    def stop_actions(self) -> None:
        """Stop the action server (the Rasa server keeps running)."""
        stop([self.actions] if self.actions else [])

    def start_server(self, timeout: float = 300) -> None:
        """Start the Rasa server (API token required) and wait until the model is loaded.

        bot/server.py reads the API token from RASA_TOKEN and hands it to Rasa in process.
        """
        endpoints = (self.workdir or PROJECT_ROOT / "var") / "endpoints.yml"
        write_private(endpoints, endpoints_yaml(
            self.action_url, self.tracker_store_url,
            self.env.get("REDIS_URL", load_settings().redis_url), self.action_token))
        self.server = self._popen(
            [sys.executable, "-m", "bot.server", "run", "--model", str(self.model),
             "--interface", self.rasa_interface, "--port", str(self.rasa_port),
             "--enable-api", "--credentials", "credentials.yml", "--endpoints", str(endpoints)],
            {"RASA_TOKEN": self.token, "REST_TOKEN": self.rest_token,
             "ACTION_TOKEN": self.action_token, "RASA_INTERFACE": self.rasa_interface})
        if not wait_http(f"http://{self.rasa_host}:{self.rasa_port}/webhooks/rest/", self.server,
                         timeout):
            raise RuntimeError("the Rasa server did not start")

    def say(self, sender: str, message: str) -> list[str]:
        """Send one customer message through the REST channel; return the reply texts."""
        status, replies = post_json(self.webhook, {"sender": sender, "message": message},
                                    headers={REST_TOKEN_HEADER: self.rest_token})
        if status != 200:
            raise RuntimeError(f"webhook answered {status}: {replies}")
        return [r.get("text", "") for r in replies]

    def start_workbench(self, port: int, timeout: float = 60) -> None:
        """Start the agents' web workbench and wait for its login page."""
        self.workbench = self._popen([sys.executable, "-m", "bot.workbench", "serve",
                                      "--port", str(port), "--database-url", self.database_url],
                                     {"RASA_TOKEN": self.token})
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


LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEMO_USERS = ("demo users, for trying locally only (password): agent (demo-agent-2026), trainer "
              "(demo-trainer-2026),\n                 supervisor (demo-supervisor-2026), admin "
              "(demo-admin-2026)")


def model_in_service() -> Path:
    """The model the trainers deployed (bot/trainer registry), else models/postdesk.tar.gz."""
    from bot.trainer.registry import Registry

    built = PROJECT_ROOT / "models" / "postdesk.tar.gz"
    try:
        deployed = Registry().deployed()
    except (OSError, ValueError) as exc:
        logger.warning("model registry unreadable (%s): starting with %s", exc, built.name)
        return built
    if deployed is None or not Path(deployed.file).is_file():
        return built
    logger.info("starting with model %s (deployed %s)", Path(deployed.file).name,
                deployed.deployed_at)
    return Path(deployed.file)


def parse_args(argv: Optional[Sequence[str]], settings: Settings) -> argparse.Namespace:
    """The launcher's options; the ports default to the settings (RASA_PORT, ACTION_PORT)."""
    parser = argparse.ArgumentParser(prog="python -m bot.launcher", description=__doc__)
    parser.add_argument("--model", type=Path, default=None,
                        help="default: the model deployed with `python -m bot.trainer`, "
                             "else models/postdesk.tar.gz")
    parser.add_argument("--demo", action="store_true",
                        help="say that the demo users exist (make run seeds them with --demo)")
    parser.add_argument("--rasa-port", type=int, default=settings.rasa_port)
    parser.add_argument("--action-port", type=int, default=settings.action_port)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the product until interrupted; returns the exit status."""
    settings = load_settings()
    args = parse_args(argv, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    if args.model is None:
        args.model = model_in_service()
    if not args.model.exists():
        logger.error("no model at %s: run 'make train' first", args.model)
        return 1
    var = PROJECT_ROOT / "var"
    try:
        token = rasa_api_token(settings, var / "rasa_token")
    except (OSError, ValueError) as exc:
        logger.error("no Rasa API token: %s", exc)
        return 1
    stack = Stack(args.model, token, settings.database_url, args.rasa_port, args.action_port,
                  action_token=ensure_token(settings.action_token, var / "action_token"),
                  rest_token=ensure_token(settings.rest_token, var / "rest_token"),
                  action_url=settings.action_url or None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start_actions()
        stack.start_server()
        stack.start_workbench(settings.workbench_port)
        users = (DEMO_USERS if args.demo
                 else "log in with an account made by 'python -m bot.workbench users add'")
        rest = ("switched off" if not settings.rest_enabled
                else "open on loopback for trying the bot" if stack.rasa_interface in LOOPBACK
                else "every call needs the REST token")
        print(f"""
PostDesk is running.
  Workbench      http://localhost:{settings.workbench_port}/   {users}
  Rasa server    http://{stack.rasa_host}:{args.rasa_port}   (listening on {stack.rasa_interface}; \
HTTP API token in the {RASA_TOKEN_HEADER} header:
                 RASA_TOKEN, RASA_TOKEN_FILE, or var/rasa_token)
  REST channel   http://{stack.rasa_host}:{args.rasa_port}/webhooks/rest/webhook   ({rest};
                 the outbox needs the REST token, header {REST_TOKEN_HEADER}: REST_TOKEN, or \
var/rest_token)
  WeChat channel http://localhost:{args.rasa_port}/webhooks/wechat/webhook \
({"safe" if settings.wechat_encoding_aes_key else "plain"} mode, app id {settings.wechat_app_id})
  Action server  {stack.action_url}   (listening on {stack.action_interface}; token: \
ACTION_TOKEN, or var/action_token)
  Mail store     {settings.database_url}
  Conversations  {stack.tracker_store_url}
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
