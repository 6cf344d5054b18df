"""Settings read in one place (bot/config.py): the security settings and their defaults."""
from pathlib import Path

from bot.config import load_settings


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


def test_env_example_documents_every_security_setting() -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    for name in ("RASA_INTERFACE", "ACTION_INTERFACE", "ACTION_URL", "ACTION_TOKEN",
                 "RASA_TOKEN_FILE", "REST_ENABLED", "REST_TOKEN", "WECHAT_COMPAT_MODE",
                 "SENDER_RATE_PER_MINUTE", "ADDRESS_RATE_PER_MINUTE", "LOGIN_MAX_FAILURES",
                 "LOGIN_LOCKOUT_MINUTES", "SESSION_MAX_HOURS", "TRUSTED_PROXIES"):
        assert f"\n{name}=" in example, name


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
