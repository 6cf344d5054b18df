"""Accounts in the store, on SQLite and on PostgreSQL: hashing, login checks, life cycle."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.store import accounts
from bot.store.accounts import (
    DEMO_ACCOUNTS,
    Account,
    AccountError,
    AccountNotFound,
    Role,
    authenticate,
    create_account,
    deactivate,
    hash_password,
    list_accounts,
    needs_rehash,
    seed_demo_accounts,
    set_password,
    verify_password,
)
from bot.store.models import Base
from bot.store.uow import UowFactory

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


def test_passwords_shorter_than_eight_characters_are_refused(uows: UowFactory) -> None:
    with pytest.raises(AccountError, match="至少需要 8 个字符"):
        create_account(uows, "sun", "1234567", Role.AGENT)
    assert list_accounts(uows) == []
    create_account(uows, "sun", "12345678", Role.AGENT)
    with pytest.raises(AccountError):
        set_password(uows, "sun", "short")
    assert authenticate(uows, "sun", "12345678") is not None


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
