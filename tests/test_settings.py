"""Settings read in one place (bot/config.py): every variable of .env.example, and defaults."""
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.config import PROJECT_ROOT, Settings, load_settings, read_env_file

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
EXAMPLE_VARS = sorted(read_env_file(ENV_EXAMPLE))
FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def distinctive(name: str, default: Any, tmp_path: Path) -> tuple[str, Any]:
    """A value for variable `name` that no default has, and what Settings should make of it."""
    if name == "RASA_TOKEN_FILE":  # read as a file: the path is kept, the token comes from it
        secret = tmp_path / "rasa-token-file"
        secret.write_text("token-from-the-file\n")
        return str(secret), str(secret)
    if isinstance(default, bool):
        return ("false", False) if default else ("true", True)
    if isinstance(default, int):
        return str(default + 4321), default + 4321
    if isinstance(default, float):
        return str(default + 0.25), default + 0.25
    if isinstance(default, tuple):
        return "10.9.8.7, 10.9.8.6", ("10.9.8.7", "10.9.8.6")
    if isinstance(default, Path):
        return str(tmp_path / f"{name.lower()}.json"), tmp_path / f"{name.lower()}.json"
    return f"distinct-{name.lower()}", f"distinct-{name.lower()}"


def test_env_example_lists_variables() -> None:
    assert len(EXAMPLE_VARS) > 30 and "DATABASE_URL" in EXAMPLE_VARS


@pytest.mark.parametrize("name", EXAMPLE_VARS)
def test_every_variable_of_env_example_reaches_the_settings(name: str, tmp_path: Path) -> None:
    """Issue 14: a variable .env.example tells users to set must not be silently ignored."""
    attribute = name.lower()
    assert attribute in FIELDS, f"{name} of .env.example is not a Settings field"
    default = getattr(Settings(), attribute)
    raw, expected = distinctive(name, default, tmp_path)
    env_file = tmp_path / ".env"
    env_file.write_text(f"{name}={raw}\n", encoding="utf-8")
    settings = load_settings({}, env_file=env_file)
    assert getattr(settings, attribute) == expected != default, name
    if name == "RASA_TOKEN_FILE":
        assert settings.rasa_token == "token-from-the-file"
    # The process environment overrides .env.
    overridden = load_settings({name: raw}, env_file=tmp_path / "none")
    assert getattr(overridden, attribute) == expected, name


def test_every_setting_is_documented_in_env_example() -> None:
    missing = [name.upper() for name in FIELDS if name.upper() not in EXAMPLE_VARS]
    assert not missing, f"Settings fields without a variable in .env.example: {missing}"


def test_servers_listen_on_loopback_and_rest_is_on_by_default(tmp_path: Path) -> None:
    s = load_settings({}, env_file=tmp_path / "none")
    assert (s.rasa_interface, s.action_interface) == ("127.0.0.1", "127.0.0.1")
    assert s.rest_enabled and not s.wechat_compat_mode and s.trusted_proxies == ()
    assert (s.sender_rate_per_minute, s.address_rate_per_minute) == (20, 120)
    assert (s.login_max_failures, s.login_lockout_minutes, s.session_max_hours) == (5, 15, 12.0)


def test_flags_and_lists_are_parsed(tmp_path: Path) -> None:
    s = load_settings({"REST_ENABLED": "false", "WECHAT_COMPAT_MODE": "yes",
                       "TRUSTED_PROXIES": "10.0.0.2, 10.0.0.3,"}, env_file=tmp_path / "none")
    assert not s.rest_enabled and s.wechat_compat_mode
    assert s.trusted_proxies == ("10.0.0.2", "10.0.0.3")


def test_the_rasa_token_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "rasa_token"
    secret.write_text("from-the-file\n")
    assert load_settings({"RASA_TOKEN_FILE": str(secret)},
                         env_file=tmp_path / "none").rasa_token == "from-the-file"
    assert load_settings({"RASA_TOKEN": "direct", "RASA_TOKEN_FILE": str(secret)},
                         env_file=tmp_path / "none").rasa_token == "direct"


def test_ports_and_the_report_robot_are_read_from_the_env_file(tmp_path: Path) -> None:
    """Issue 14: these were read from the process environment only, so .env was ignored."""
    from bot.launcher import parse_args
    from bot.reports.wecom import webhook_from_env

    env_file = tmp_path / ".env"
    robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    env_file.write_text(f"RASA_PORT=6005\nACTION_PORT=6055\nWECOM_ROBOT_WEBHOOK={robot}\n")
    settings = load_settings({}, env_file=env_file)
    args = parse_args([], settings)
    assert (args.rasa_port, args.action_port) == (6005, 6055)
    assert parse_args(["--rasa-port", "7005"], settings).rasa_port == 7005
    assert webhook_from_env({}, env_file) == robot
    assert webhook_from_env({"WECOM_ROBOT_WEBHOOK": " "}, env_file) is None  # the environment wins


def test_servers_on_every_interface_are_reached_over_loopback() -> None:
    """The launcher's second LOOPBACK once shadowed this one and made it a tuple."""
    from bot.config import on_loopback
    from bot.launcher import local_host

    assert local_host("0.0.0.0") == local_host("::") == "127.0.0.1"
    assert local_host("10.0.0.5") == "10.0.0.5"
    assert on_loopback("127.0.0.1") and on_loopback("::1") and not on_loopback("0.0.0.0")
