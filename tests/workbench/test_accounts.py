"""Accounts in the store, on SQLite and on PostgreSQL: hashing, login checks, life cycle,
the password policy, failed-login counters, and the demo accounts only on request."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.store import accounts
from bot.store.__main__ import main as store_main
from bot.store.accounts import (
    COMMON_PASSWORDS,
    DEMO_ACCOUNTS,
    Account,
    AccountError,
    AccountNotFound,
    LoginPolicy,
    Role,
    ThrottleKind,
    attempt_login,
    authenticate,
    check_password_policy,
    create_account,
    deactivate,
    hash_password,
    list_accounts,
    list_login_throttles,
    needs_rehash,
    seed_demo_accounts,
    set_password,
    unlock_login,
    verify_password,
)
from bot.store.db import make_engine, make_session_factory
from bot.store.models import Base
from bot.store.uow import UowFactory, uow_factory

NOW = datetime(2026, 11, 27, 9, 30)
HASH_FORMAT = re.compile(r"^scrypt\$16384\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64}$")


def _stored_hash(uows: UowFactory, username: str) -> str:
    with uows() as uow:
        return accounts.accounts_in(uow).get_by_username(username).password_hash


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Counts the scrypt runs (salts) of the accounts module."""
    calls: list[bytes] = []
    real = accounts._scrypt

    def counting(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        calls.append(salt)
        return real(password, salt, n, r, p)

    monkeypatch.setattr(accounts, "_scrypt", counting)
    return calls


def test_the_migration_creates_the_account_table_the_model_describes(engine: Engine) -> None:
    columns = {c["name"] for c in inspect(engine).get_columns("account")}
    assert columns == {"id", "username", "password_hash", "role", "display_name", "active",
                       "created_at", "last_login_at"}
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if "account" in repr(d)] == []


def test_the_migration_creates_the_login_throttle_table_the_model_describes(
    engine: Engine,
) -> None:
    columns = {c["name"] for c in inspect(engine).get_columns("login_throttle")}
    assert columns == {"id", "kind", "key", "failures", "last_failure_at", "blocked_until"}
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if "login_throttle" in repr(d)] == []


def test_usernames_are_unique_in_the_table_itself(uows: UowFactory) -> None:
    with uows() as uow:
        for _ in range(2):
            uow.session.add(Account(username="dup", password_hash="x", role="agent",
                                    display_name="", active=True, created_at=NOW))
        with pytest.raises(IntegrityError):
            uow.commit()


def test_a_created_account_logs_in_and_keeps_only_a_salted_scrypt_hash(uows: UowFactory) -> None:
    created = create_account(uows, " Zhang.Wei ", "correct horse", "agent", "张伟", now=NOW)
    assert (created.username, created.role, created.display_name) == ("zhang.wei", Role.AGENT, "张伟")
    assert created.active and created.last_login_at is None and created.created_at == NOW
    create_account(uows, "li.na", "correct horse", Role.TRAINER)

    first, second = _stored_hash(uows, "zhang.wei"), _stored_hash(uows, "li.na")
    assert HASH_FORMAT.match(first) and HASH_FORMAT.match(second)
    assert first != second  # same password, different salts
    assert "correct horse" not in first

    later = datetime(2026, 11, 27, 10, 0)
    account = authenticate(uows, "ZHANG.WEI", "correct horse", now=later)
    assert account is not None and account.id == created.id and account.last_login_at == later
    assert {a.username: a.last_login_at for a in list_accounts(uows)} == {
        "zhang.wei": later, "li.na": None}


def test_a_wrong_password_fails_and_records_no_login(uows: UowFactory) -> None:
    create_account(uows, "wang", "password-1", Role.AGENT)
    assert authenticate(uows, "wang", "password-2") is None
    assert authenticate(uows, "wang", "") is None
    assert [a.last_login_at for a in list_accounts(uows)] == [None]


def test_unknown_inactive_and_wrong_logins_cost_one_scrypt_run_like_a_good_one(
    uows: UowFactory, scrypt_calls: list[bytes]
) -> None:
    create_account(uows, "zhao", "password-1", Role.AGENT)
    create_account(uows, "qian", "password-1", Role.AGENT)
    deactivate(uows, "qian")
    for username, password in [("zhao", "password-1"), ("zhao", "wrong-one"),
                               ("nobody", "password-1"), ("qian", "password-1"),
                               ("bad name", "password-1"), ("zhao", "x" * 5000)]:
        scrypt_calls.clear()
        authenticate(uows, username, password)
        assert len(scrypt_calls) == 1, username


def test_passwords_shorter_than_ten_characters_are_refused(uows: UowFactory) -> None:
    with pytest.raises(AccountError, match="至少需要 10 个字符"):
        create_account(uows, "sun", "x7-kq2!mz", Role.AGENT)
    assert list_accounts(uows) == []
    create_account(uows, "sun", "x7-kq2!mzp", Role.AGENT)
    with pytest.raises(AccountError, match="至少需要 10 个字符"):
        set_password(uows, "sun", "short-one")
    assert authenticate(uows, "sun", "x7-kq2!mzp") is not None


@pytest.mark.parametrize("password", [
    "1234567890", "qwertyuiop", "Password123", "ADMIN12345", "chinapost2026",
    "１２３４５６７８９０",  # full-width digits are the same password
])
def test_common_passwords_are_refused_when_an_account_is_created_or_changed(
    uows: UowFactory, password: str
) -> None:
    with pytest.raises(AccountError, match="太常见"):
        create_account(uows, "qian", password, Role.ADMIN)
    create_account(uows, "qian", "Qian-at-Honghe-7", Role.ADMIN)
    with pytest.raises(AccountError, match="太常见"):
        set_password(uows, "qian", password)
    assert authenticate(uows, "qian", "Qian-at-Honghe-7") is not None


def test_the_common_list_holds_the_obvious_ones_and_the_demo_passwords_still_pass() -> None:
    for obvious in ["postdesk", "chinapost", "11183", "12345678", "password123", "admin123",
                    "qwertyuiop", "123456", "password", "iloveyou", "woaini1314"]:
        assert obvious in COMMON_PASSWORDS
    assert len(COMMON_PASSWORDS) >= 100
    for demo in DEMO_ACCOUNTS:
        check_password_policy(demo.password, demo.username)
    with pytest.raises(AccountError, match="不同的字符"):
        check_password_policy("ababababab")
    with pytest.raises(AccountError, match="与用户名相同"):
        check_password_policy("Zhang.Wei.Kunming", "zhang.wei.kunming")


def test_bad_usernames_roles_and_duplicates_are_refused(uows: UowFactory) -> None:
    create_account(uows, "zhou", "password-1", Role.AGENT)
    with pytest.raises(AccountError, match="已存在"):
        create_account(uows, "ZHOU", "password-2", Role.ADMIN)
    with pytest.raises(AccountError, match="未知角色"):
        create_account(uows, "wu", "password-1", "boss")
    for bad in ["", "   ", "two words", "tab\tname", "x" * 65]:
        with pytest.raises(AccountError):
            create_account(uows, bad, "password-1", Role.AGENT)
    assert [a.username for a in list_accounts(uows)] == ["zhou"]
    assert authenticate(uows, "zhou", "password-2") is None


def test_set_password_replaces_the_old_one(uows: UowFactory) -> None:
    create_account(uows, "zheng", "old-password", Role.SUPERVISOR)
    set_password(uows, "Zheng", "new-password")
    assert authenticate(uows, "zheng", "old-password") is None
    assert authenticate(uows, "zheng", "new-password") is not None
    with pytest.raises(AccountNotFound):
        set_password(uows, "nobody", "new-password")


def test_a_deactivated_account_cannot_log_in(uows: UowFactory) -> None:
    create_account(uows, "feng", "password-1", Role.AGENT)
    create_account(uows, "chen", "password-1", Role.TRAINER)
    assert deactivate(uows, "feng").active is False
    assert authenticate(uows, "feng", "password-1") is None
    assert [(a.username, a.active) for a in list_accounts(uows)] == [
        ("feng", False), ("chen", True)]
    assert [a.username for a in list_accounts(uows, include_inactive=False)] == ["chen"]
    with pytest.raises(AccountNotFound):
        deactivate(uows, "nobody")


def test_accounts_are_listed_by_role_then_username(uows: UowFactory) -> None:
    for name, role in [("b", Role.SUPERVISOR), ("a", Role.SUPERVISOR), ("c", Role.ADMIN),
                       ("d", Role.AGENT)]:
        create_account(uows, name, "password-1", role)
    assert [(a.role.value, a.username) for a in list_accounts(uows)] == [
        ("admin", "c"), ("agent", "d"), ("supervisor", "a"), ("supervisor", "b")]


def test_a_hash_with_old_parameters_is_upgraded_on_login(uows: UowFactory) -> None:
    weak = hash_password("password-1", n=2**10)
    assert verify_password("password-1", weak) and needs_rehash(weak)
    with uows() as uow:
        uow.session.add(Account(username="old", password_hash=weak, role="agent",
                                display_name="", active=True, created_at=NOW))
        uow.commit()
    assert authenticate(uows, "old", "password-1") is not None
    upgraded = _stored_hash(uows, "old")
    assert HASH_FORMAT.match(upgraded) and not needs_rehash(upgraded)
    assert authenticate(uows, "old", "password-1") is not None


@pytest.mark.parametrize("encoded", [
    "", "plain-text", "scrypt$16384$8$1$zz$00", "scrypt$1000$8$1$00ff$" + "00" * 32,
    "scrypt$16384$8$1$00ff$00", "bcrypt$16384$8$1$00ff$" + "00" * 32,
    "scrypt$1073741824$8$1$00ff$" + "00" * 32,
])
def test_malformed_hashes_never_match(encoded: str) -> None:
    assert verify_password("password-1", encoded) is False


def test_roles_have_chinese_labels_and_admin_holds_every_role(uows: UowFactory) -> None:
    assert [r.label for r in Role] == ["坐席", "训练师", "主管", "管理员"]
    admin = create_account(uows, "root", "password-1", Role.ADMIN)
    agent = create_account(uows, "seat", "password-1", Role.AGENT)
    assert admin.has_role(Role.SUPERVISOR) and admin.has_role(Role.TRAINER)
    assert agent.has_role(Role.AGENT) and not agent.has_role(Role.SUPERVISOR)


def test_the_seed_creates_demo_accounts_only_with_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'postdesk.db'}"
    assert store_main(["seed", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "none created" in out and "users add NAME --role admin" in out
    engine = make_engine(url)
    uows = uow_factory(make_session_factory(engine))
    try:
        assert list_accounts(uows) == []
        assert authenticate(uows, "admin", "demo-admin-2026") is None

        assert store_main(["seed", "--database-url", url, "--demo"]) == 0
        out = capsys.readouterr().out
        assert "DEMO workbench accounts (agent, trainer, supervisor, admin): 4 added" in out
        assert "for trying PostDesk locally only" in out
        assert sorted(a.username for a in list_accounts(uows)) == [
            "admin", "agent", "supervisor", "trainer"]
        assert authenticate(uows, "admin", "demo-admin-2026") is not None
    finally:
        engine.dispose()


def test_the_makefile_seeds_demo_accounts_for_make_run_only() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "run: SEED_FLAGS = --refresh --demo\n" in makefile
    # The only other --demo is the launcher's, which only names the demo users in its banner.
    assert makefile.count("--demo") == 2 and "bot.launcher --demo\n" in makefile


def test_demo_accounts_are_seeded_once_one_per_role(uows: UowFactory) -> None:
    assert seed_demo_accounts(uows) == 4
    set_password(uows, "agent", "changed-by-admin")
    assert seed_demo_accounts(uows) == 0
    assert sorted(a.role.value for a in list_accounts(uows)) == [
        "admin", "agent", "supervisor", "trainer"]
    # Seeding again left the changed password alone.
    assert authenticate(uows, "agent", "changed-by-admin") is not None
    for demo in DEMO_ACCOUNTS[1:]:
        assert demo.password == f"demo-{demo.role.value}-2026"
        account = authenticate(uows, demo.username, demo.password)
        assert account is not None and account.role is demo.role


# --- failed logins ---------------------------------------------------------------------------

POLICY = LoginPolicy(max_failures=5, lockout=timedelta(minutes=15),
                     first_delay=timedelta(seconds=1))


def test_the_wait_grows_after_the_second_failure_and_locks_at_the_fifth() -> None:
    assert [POLICY.wait_after(n).total_seconds() for n in range(1, 7)] == [
        0, 1, 2, 4, 900, 900]


def test_failed_logins_are_counted_per_username_and_address_and_cleared_by_success(
    uows: UowFactory,
) -> None:
    create_account(uows, "wei", "password-1", Role.AGENT)
    at = NOW
    for n in range(1, 5):
        outcome = attempt_login(uows, "WEI", "wrong-one", "10.0.0.7", POLICY, at)
        assert outcome.account is None and not outcome.refused and not outcome.locked
        at += outcome.retry_after
    throttles = {(t.kind, t.key): t.failures for t in list_login_throttles(uows, POLICY, at)}
    assert throttles == {(ThrottleKind.ACCOUNT, "wei"): 4, (ThrottleKind.ADDRESS, "10.0.0.7"): 4}

    early = attempt_login(uows, "wei", "password-1", "10.0.0.8", POLICY, at - timedelta(seconds=1))
    assert early.refused and early.account is None and early.retry_after == timedelta(seconds=1)
    good = attempt_login(uows, "wei", "password-1", "10.0.0.8", POLICY, at)
    assert good.account is not None and good.account.username == "wei"
    throttles = {(t.kind, t.key): t.failures for t in list_login_throttles(uows, POLICY, at)}
    assert throttles == {(ThrottleKind.ADDRESS, "10.0.0.7"): 4}  # the address keeps its count


def test_a_lock_holds_for_any_password_until_it_ends_or_an_admin_lifts_it(
    uows: UowFactory,
) -> None:
    create_account(uows, "lin", "password-1", Role.AGENT)
    at = NOW
    for _ in range(5):
        outcome = attempt_login(uows, "lin", "wrong-one", "10.0.0.9", POLICY, at)
        at += outcome.retry_after if not outcome.locked else timedelta(0)
    assert outcome.locked and outcome.retry_after == timedelta(minutes=15)
    [locked] = [t for t in list_login_throttles(uows, POLICY, at)
                if t.kind is ThrottleKind.ACCOUNT]
    assert locked.locked and locked.blocked_until == at + timedelta(minutes=15)

    right = attempt_login(uows, "lin", "password-1", "10.0.1.1", POLICY, at + timedelta(minutes=5))
    wrong = attempt_login(uows, "lin", "wrong-two", "10.0.1.1", POLICY, at + timedelta(minutes=5))
    assert right == wrong and right.locked and right.refused
    assert right.retry_after == timedelta(minutes=10)

    assert unlock_login(uows, "account", "LIN", by="root") is True
    assert unlock_login(uows, "account", "lin") is False
    assert attempt_login(uows, "lin", "password-1", "10.0.1.1", POLICY,
                         at + timedelta(minutes=5)).account is not None
    with pytest.raises(AccountError):
        unlock_login(uows, "everything", "lin")

    # The address lock runs out by itself, and its counter is forgotten a lockout later.
    later = at + timedelta(minutes=15)
    assert attempt_login(uows, "lin", "password-1", "10.0.0.9", POLICY, later).account is not None
    assert list_login_throttles(uows, POLICY, later + timedelta(minutes=15)) == []
