"""Settings: the one place that reads the environment and the optional ``.env`` file.

Everything else receives a :class:`Settings` (or values from it) as arguments.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# How the tokens travel (README "Security"): headers, never URLs or command lines.
RASA_TOKEN_HEADER = "X-Rasa-Token"               # Rasa's HTTP API (bot/server.py)
ACTION_TOKEN_HEADER = "X-PostDesk-Action-Token"  # Rasa -> action server (bot/actions_server.py)
REST_TOKEN_HEADER = "X-PostDesk-Rest-Token"      # the REST channel (bot/channels/rest.py)
LOOPBACK_INTERFACES = ("127.0.0.1", "localhost", "::1")
TIMEZONE = ZoneInfo("Asia/Shanghai")


def on_loopback(interface: str) -> bool:
    """Whether a server listening on `interface` is reachable from this machine only."""
    return interface in LOOPBACK_INTERFACES


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file (comments and blank lines ignored, quotes stripped)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class Settings:
    """Runtime settings of PostDesk (see .env.example for each variable)."""

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'postdesk.db'}"
    rasa_token: str = ""
    stuck_hours: float = 48.0
    log_level: str = "INFO"
    workorder_policy: str = ""      # deadline policy YAML; "" = bot/workorders/policy.yml
    calendar_overrides: str = ""    # holiday YAML; "" = bot/workorders/calendar_overrides.yml
    # WeChat Official Account (bot/channels/wechat.py). The defaults are demo values for local use.
    wechat_token: str = "postdesk-demo-token"
    wechat_app_id: str = "wx0000000000demo"
    wechat_app_secret: str = "postdesk-demo-secret"
    wechat_encoding_aes_key: str = ""   # 43 characters; empty = plain mode
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    redis_url: str = ""                 # e.g. redis://127.0.0.1:6379/0; empty = in-process stores
    wechat_passive_wait_s: float = 4.0  # longer turns answer `success` and reply through the API
    workbench_port: int = 8080
    rasa_url: str = "http://127.0.0.1:5005"  # the Rasa server the workbench talks to (tracker API)
    rasa_replicas: tuple[str, ...] = ()     # RASA_REPLICAS: Rasa servers a deploy rolls over
    # Rasa's SQL tracker store (conversations survive restarts and model deploys; the trainers'
    # inbox reads customer messages from its `events` table).
    tracker_store_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
    workbench_secure_cookies: bool = False  # True behind HTTPS: session cookie marked Secure
    # Security (README "Security"). Servers listen on loopback unless told otherwise.
    rasa_interface: str = "127.0.0.1"       # RASA_INTERFACE: where the Rasa server listens
    action_interface: str = "127.0.0.1"     # ACTION_INTERFACE: where the action server listens
    action_url: str = ""                    # ACTION_URL: the action server's webhook; "" = local
    action_token: str = ""                  # ACTION_TOKEN; "" = generated into var/action_token
    action_timeout_s: float = 5.0           # ACTION_TIMEOUT_S: bound of one action call
    rasa_token_file: str = ""               # RASA_TOKEN_FILE: read the Rasa API token from a file
    rest_enabled: bool = True               # REST_ENABLED=false switches the REST channel off
    rest_token: str = ""                    # REST_TOKEN; "" = generated into var/rest_token
    wechat_compat_mode: bool = False        # WECHAT_COMPAT_MODE: with an AES key, accept plain too
    sender_rate_per_minute: int = 20        # messages one customer may send a minute
    address_rate_per_minute: int = 120      # messages one client address may send a minute
    login_max_failures: int = 5             # failed logins before an account/address is locked
    login_lockout_minutes: int = 15         # how long a lockout lasts
    session_max_hours: float = 12.0         # absolute lifetime of a workbench login
    trusted_proxies: tuple[str, ...] = ()   # TRUSTED_PROXIES: reverse proxies of the workbench
    rasa_port: int = 5005                   # RASA_PORT: where `make run` starts the Rasa server
    action_port: int = 5055                 # ACTION_PORT: where `make run` starts the action server
    cluster_port: int = 5000                # CLUSTER_PORT: HAProxy's front of `make cluster`
    wecom_robot_webhook: str = ""           # WECOM_ROBOT_WEBHOOK: the daily report's group robot
    metrics_token: str = ""                 # METRICS_TOKEN: the bearer token of /metrics
    proactive_scan_minutes: float = 5.0     # PROACTIVE_SCAN_MINUTES: `make run` scans; 0 = off
    # MODEL_REGISTRY: the trainers' model registry (bot/trainer/registry.py), a JSON file.
    model_registry: Path = PROJECT_ROOT / "models" / "registry.json"


def load_settings(environ: dict[str, str] | None = None, env_file: Path | None = None) -> Settings:
    """Build settings from ``.env`` overlaid by the process environment.

    Args:
        environ: the environment to read (default ``os.environ``).
        env_file: the ``.env`` file (default ``PROJECT_ROOT/.env``).
    """
    values = read_env_file(env_file or PROJECT_ROOT / ".env")
    values.update(os.environ if environ is None else environ)
    defaults = Settings()
    return Settings(
        database_url=values.get("DATABASE_URL") or defaults.database_url,
        rasa_token=values.get("RASA_TOKEN") or _read_secret(values.get("RASA_TOKEN_FILE"))
        or defaults.rasa_token,
        stuck_hours=float(values.get("STUCK_HOURS") or defaults.stuck_hours),
        log_level=values.get("LOG_LEVEL") or defaults.log_level,
        workorder_policy=values.get("WORKORDER_POLICY") or defaults.workorder_policy,
        calendar_overrides=values.get("CALENDAR_OVERRIDES") or defaults.calendar_overrides,
        wechat_token=values.get("WECHAT_TOKEN") or defaults.wechat_token,
        wechat_app_id=values.get("WECHAT_APP_ID") or defaults.wechat_app_id,
        wechat_app_secret=values.get("WECHAT_APP_SECRET") or defaults.wechat_app_secret,
        wechat_encoding_aes_key=values.get("WECHAT_ENCODING_AES_KEY",
                                           defaults.wechat_encoding_aes_key),
        wechat_api_base_url=values.get("WECHAT_API_BASE_URL") or defaults.wechat_api_base_url,
        redis_url=values.get("REDIS_URL") or defaults.redis_url,
        wechat_passive_wait_s=float(values.get("WECHAT_PASSIVE_WAIT_S")
                                    or defaults.wechat_passive_wait_s),
        workbench_port=int(values.get("WORKBENCH_PORT") or defaults.workbench_port),
        rasa_url=(values.get("RASA_URL") or defaults.rasa_url).rstrip("/"),
        rasa_replicas=tuple(u.strip().rstrip("/") for u in (values.get("RASA_REPLICAS") or "")
                            .split(",") if u.strip()),
        tracker_store_url=values.get("TRACKER_STORE_URL") or defaults.tracker_store_url,
        workbench_secure_cookies=(values.get("WORKBENCH_SECURE_COOKIES") or "").strip().lower()
        in ("1", "true", "yes"),
        rasa_interface=values.get("RASA_INTERFACE") or defaults.rasa_interface,
        action_interface=values.get("ACTION_INTERFACE") or defaults.action_interface,
        action_url=values.get("ACTION_URL") or defaults.action_url,
        action_token=values.get("ACTION_TOKEN") or defaults.action_token,
        action_timeout_s=float(values.get("ACTION_TIMEOUT_S") or defaults.action_timeout_s),
        rasa_token_file=values.get("RASA_TOKEN_FILE") or defaults.rasa_token_file,
        rest_enabled=_flag(values.get("REST_ENABLED"), defaults.rest_enabled),
        rest_token=values.get("REST_TOKEN") or defaults.rest_token,
        wechat_compat_mode=_flag(values.get("WECHAT_COMPAT_MODE"), defaults.wechat_compat_mode),
        sender_rate_per_minute=int(values.get("SENDER_RATE_PER_MINUTE")
                                   or defaults.sender_rate_per_minute),
        address_rate_per_minute=int(values.get("ADDRESS_RATE_PER_MINUTE")
                                    or defaults.address_rate_per_minute),
        login_max_failures=int(values.get("LOGIN_MAX_FAILURES") or defaults.login_max_failures),
        login_lockout_minutes=int(values.get("LOGIN_LOCKOUT_MINUTES")
                                  or defaults.login_lockout_minutes),
        session_max_hours=float(values.get("SESSION_MAX_HOURS") or defaults.session_max_hours),
        rasa_port=int(values.get("RASA_PORT") or defaults.rasa_port),
        action_port=int(values.get("ACTION_PORT") or defaults.action_port),
        cluster_port=int(values.get("CLUSTER_PORT") or defaults.cluster_port),
        wecom_robot_webhook=(values.get("WECOM_ROBOT_WEBHOOK") or "").strip(),
        metrics_token=(values.get("METRICS_TOKEN") or "").strip(),
        proactive_scan_minutes=float(values.get("PROACTIVE_SCAN_MINUTES")
                                     or defaults.proactive_scan_minutes),
        model_registry=Path(values.get("MODEL_REGISTRY") or defaults.model_registry),
        trusted_proxies=tuple(p.strip() for p in (values.get("TRUSTED_PROXIES") or "").split(",")
                              if p.strip()),
    )


def _read_secret(path: str | None) -> str:
    """The secret in the file at `path` ("" when no path is given; unreadable or empty raises)."""
    if not path:
        return ""
    secret = Path(path).read_text(encoding="utf-8").strip()
    if not secret:
        raise ValueError(f"the secret file {path} is empty")
    return secret


def ensure_token(token: str, path: Path) -> str:
    """Return ``token`` if set, else the one kept in ``path`` (generated there once, mode 0600)."""
    if token:
        return token
    kept = path.read_text().strip() if path.exists() else ""
    if kept:
        return kept
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
    """The Rasa HTTP API token: RASA_TOKEN or RASA_TOKEN_FILE (read by the settings), else
    ``generated``."""
    return ensure_token(settings.rasa_token, generated)


def _flag(value: str | None, default: bool) -> bool:
    """A yes/no setting: 1/true/yes/on or 0/false/no/off; empty or unset gives `default`."""
    text = (value or "").strip().lower()
    if not text:
        return default
    return text in ("1", "true", "yes", "on")


def local_now() -> datetime:
    """Current time in Beijing time as a naive datetime, the convention of the mail store."""
    return datetime.now(TIMEZONE).replace(tzinfo=None)
