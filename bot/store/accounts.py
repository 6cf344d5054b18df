"""Workbench accounts: the model, its repository and the services that create and check them.

Passwords are hashed with scrypt (``hashlib.scrypt``, no extra dependency) into a
self-describing string ``scrypt$n$r$p$salt$hash`` (salt and hash in hex), so stronger
parameters can be introduced later: a login with an old-parameter hash re-hashes it.

Checking a password costs the same for an unknown or deactivated user as for a real one
(a dummy hash is verified), so response times do not reveal which usernames exist.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Iterable

from sqlalchemy import Boolean, Column, DateTime, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session

from bot.config import local_now
from bot.store.models import Base, as_store_time
from bot.store.uow import UnitOfWork, UowFactory

USERNAME_MAX = 64
DISPLAY_NAME_MAX = 64
PASSWORD_MIN = 8
# scrypt's cost barely depends on the length, but nobody types more; refusing keeps bodies small.
PASSWORD_MAX = 1024
ROLE_MAX = 16
HASH_MAX = 255

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# Parameters read back from the store are bounded, so a corrupted row cannot stall a worker.
_MAX_N = 2**20
_MAX_RP = 64
_MAXMEM = 256 * 1024 * 1024


class Role(str, Enum):
    """What a workbench user may do; the value is what the ``account.role`` column holds."""

    AGENT = "agent"
    TRAINER = "trainer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The Chinese name shown in the workbench (坐席, 训练师, 主管, 管理员)."""
        return _ROLE_LABELS[self]


_ROLE_LABELS: dict[Role, str] = {
    Role.AGENT: "坐席",
    Role.TRAINER: "训练师",
    Role.SUPERVISOR: "主管",
    Role.ADMIN: "管理员",
}


class Account(Base):
    """A person who logs in to the workbench."""

    __tablename__ = "account"

    id: Mapped[int] = Column(Integer, primary_key=True)
    username: Mapped[str] = Column(String(USERNAME_MAX), nullable=False, unique=True)
    password_hash: Mapped[str] = Column(String(HASH_MAX), nullable=False)
    role: Mapped[str] = Column(String(ROLE_MAX), nullable=False)
    display_name: Mapped[str] = Column(String(DISPLAY_NAME_MAX), nullable=False, default="")
    active: Mapped[bool] = Column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False, default=local_now)
    last_login_at: Mapped[datetime | None] = Column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<Account {self.username} {self.role}{'' if self.active else ' inactive'}>"


class AccountError(ValueError):
    """A request about an account that cannot be carried out (message in Chinese, for people)."""


class AccountNotFound(AccountError):
    """No account has this username."""


@dataclass(frozen=True)
class AccountView:
    """An account as the workbench sees it (never the password hash).

    Attributes:
        id: the account's id (what a session refers to).
        username: the login name, normalised (see `normalise_username`).
        role: the role.
        display_name: the name shown on pages; the username when none was given.
        active: False once deactivated; such accounts cannot log in.
        created_at: when the account was created (Beijing time).
        last_login_at: the last successful login, if any.
    """

    id: int
    username: str
    role: Role
    display_name: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def role_label(self) -> str:
        return self.role.label

    def has_role(self, *roles: Role) -> bool:
        """True when this account holds one of `roles`; an admin holds every role."""
        return self.role is Role.ADMIN or self.role in roles


def _view(account: Account) -> AccountView:
    return AccountView(
        id=account.id,
        username=account.username,
        role=Role(account.role),
        display_name=account.display_name or account.username,
        active=account.active,
        created_at=account.created_at,
        last_login_at=account.last_login_at,
    )


# --- passwords ------------------------------------------------------------------------------


def check_password_policy(password: str) -> None:
    """Raise `AccountError` unless `password` is acceptable (8 to 1024 characters)."""
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise AccountError(f"密码至少需要 {PASSWORD_MIN} 个字符")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"密码不能超过 {PASSWORD_MAX} 个字符")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=_MAXMEM, dklen=KEY_BYTES)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
                  salt: bytes | None = None) -> str:
    """Hash `password` into ``scrypt$n$r$p$salt_hex$hash_hex`` with a fresh 16-byte salt.

    The password policy is not checked here (see `check_password_policy`).
    """
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return None
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_RP and 0 < p <= _MAX_RP):
        return None
    if not salt or len(digest) != KEY_BYTES:
        return None
    return n, r, p, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches the stored `encoded` hash (compared in constant time).

    A malformed hash never matches, but still costs one scrypt run.
    """
    parsed = _parse(encoded)
    if parsed is None:
        _scrypt(password, b"\0" * SALT_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)


def needs_rehash(encoded: str) -> bool:
    """True when `encoded` was made with other parameters than the current ones."""
    parsed = _parse(encoded)
    return parsed is None or parsed[:3] != (SCRYPT_N, SCRYPT_R, SCRYPT_P)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified for unknown users: a well-formed hash with the current parameters that no
    # password matches (a random digest), so making it costs no scrypt run of its own.
    return (f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
            f"{secrets.token_hex(SALT_BYTES)}${secrets.token_hex(KEY_BYTES)}")


# --- usernames -----------------------------------------------------------------------------


def normalise_username(username: str) -> str:
    """The stored form of a username: NFKC, trimmed, lower case.

    Raises:
        AccountError: when it is empty, too long, or contains spaces or control characters.
    """
    name = unicodedata.normalize("NFKC", username or "").strip().lower()
    if not name:
        raise AccountError("用户名不能为空")
    if len(name) > USERNAME_MAX:
        raise AccountError(f"用户名不能超过 {USERNAME_MAX} 个字符")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name):
        raise AccountError("用户名不能包含空格或控制字符")
    return name


def _display_name(display_name: str | None) -> str:
    name = (display_name or "").strip()
    if len(name) > DISPLAY_NAME_MAX:
        raise AccountError(f"显示名不能超过 {DISPLAY_NAME_MAX} 个字符")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise AccountError("显示名不能包含控制字符")
    return name


def parse_role(role: str | Role) -> Role:
    """The `Role` named by `role` ("agent", ...); raises `AccountError` for anything else."""
    try:
        return Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise AccountError(f"未知角色 {role!r}（可选：{names}）") from None


# --- repository ----------------------------------------------------------------------------


class AccountRepository:
    """Workbench accounts (the only code that queries the ``account`` table)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, account: Account) -> None:
        """Stage a new account for the next commit."""
        self.session.add(account)

    def get(self, account_id: int) -> Account | None:
        return self.session.get(Account, account_id)

    def get_by_username(self, username: str) -> Account | None:
        """The account with this (already normalised) username."""
        stmt = select(Account).where(Account.username == username)
        return self.session.execute(stmt).scalar_one_or_none()

    def list(self, include_inactive: bool = True) -> list[Account]:
        """Accounts by role, then username."""
        stmt = select(Account).order_by(Account.role, Account.username)
        if not include_inactive:
            stmt = stmt.where(Account.active.is_(True))
        return list(self.session.execute(stmt).scalars())


def accounts_in(uow: UnitOfWork) -> AccountRepository:
    """The account repository of an open unit of work."""
    return AccountRepository(uow.session)


# --- services ------------------------------------------------------------------------------


def create_account(
    uow_factory: UowFactory,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    now: datetime | None = None,
) -> AccountView:
    """Create an active account.

    Args:
        uow_factory: opens a unit of work.
        username: the login name; stored normalised (see `normalise_username`).
        password: at least 8 characters; only its scrypt hash is stored.
        role: agent, trainer, supervisor or admin.
        display_name: the name shown on pages (default: the username).
        now: creation time (default: now, Beijing time).

    Returns:
        The new account.

    Raises:
        AccountError: invalid username, role, display name or password, or username taken.
    """
    name = normalise_username(username)
    role = parse_role(role)
    shown = _display_name(display_name)
    check_password_policy(password)
    encoded = hash_password(password)
    with uow_factory() as uow:
        repo = accounts_in(uow)
        if repo.get_by_username(name) is not None:
            raise AccountError(f"用户名 {name} 已存在")
        account = Account(
            username=name,
            password_hash=encoded,
            role=role.value,
            display_name=shown,
            active=True,
            created_at=as_store_time(now or local_now()),
        )
        repo.add(account)
        try:
            uow.commit()
        except IntegrityError:
            raise AccountError(f"用户名 {name} 已存在") from None
        return _view(account)


def authenticate(
    uow_factory: UowFactory, username: str, password: str, now: datetime | None = None
) -> AccountView | None:
    """Check a login; on success record its time (and upgrade an outdated hash).

    Unknown, deactivated and malformed usernames cost one scrypt run, like a real check.

    Returns:
        The account, or None for any failure (the caller must not say which).
    """
    try:
        name = normalise_username(username)
    except AccountError:
        name = None
    if not isinstance(password, str) or len(password) > PASSWORD_MAX:
        password = ""
    with uow_factory() as uow:
        repo = accounts_in(uow)
        account = repo.get_by_username(name) if name is not None else None
        if account is None:
            verify_password(password, _dummy_hash())
            return None
        matches = verify_password(password, account.password_hash)
        if not (matches and account.active):
            return None
        if needs_rehash(account.password_hash):
            account.password_hash = hash_password(password)
        account.last_login_at = as_store_time(now or local_now())
        uow.commit()
        return _view(account)


def get_account(uow_factory: UowFactory, account_id: int) -> AccountView | None:
    """The account with this id, or None (sessions re-read it on every request)."""
    with uow_factory() as uow:
        account = accounts_in(uow).get(account_id)
        return None if account is None else _view(account)


def set_password(uow_factory: UowFactory, username: str, password: str) -> None:
    """Replace an account's password.

    Raises:
        AccountError: the new password is too short or too long.
        AccountNotFound: no such account.
    """
    check_password_policy(password)
    name = normalise_username(username)
    encoded = hash_password(password)
    with uow_factory() as uow:
        account = _existing(uow, name)
        account.password_hash = encoded
        uow.commit()


def _existing(uow: UnitOfWork, name: str) -> Account:
    account = accounts_in(uow).get_by_username(name)
    if account is None:
        raise AccountNotFound(f"没有用户 {name}")
    return account


def deactivate(uow_factory: UowFactory, username: str) -> AccountView:
    """Stop an account from logging in (its open sessions end on their next request).

    Deactivating an already inactive account changes nothing.

    Raises:
        AccountNotFound: no such account.
    """
    name = normalise_username(username)
    with uow_factory() as uow:
        account = _existing(uow, name)
        account.active = False
        uow.commit()
        return _view(account)


def list_accounts(uow_factory: UowFactory, include_inactive: bool = True) -> list[AccountView]:
    """All accounts, by role then username."""
    with uow_factory() as uow:
        return [_view(a) for a in accounts_in(uow).list(include_inactive)]


@dataclass(frozen=True)
class DemoAccount:
    """A demo login listed in the README (never use these outside a demo)."""

    username: str
    role: Role
    display_name: str
    password: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("agent", Role.AGENT, "演示坐席", "demo-agent-2026"),
    DemoAccount("trainer", Role.TRAINER, "演示训练师", "demo-trainer-2026"),
    DemoAccount("supervisor", Role.SUPERVISOR, "演示主管", "demo-supervisor-2026"),
    DemoAccount("admin", Role.ADMIN, "演示管理员", "demo-admin-2026"),
)


def seed_demo_accounts(
    uow_factory: UowFactory, demo: Iterable[DemoAccount] = DEMO_ACCOUNTS
) -> int:
    """Create the demo accounts that do not exist yet; existing ones are left as they are.

    Returns:
        How many accounts were created now.
    """
    created = 0
    for entry in demo:
        with uow_factory() as uow:
            if accounts_in(uow).get_by_username(entry.username) is not None:
                continue
        try:
            create_account(uow_factory, entry.username, entry.password, entry.role,
                           entry.display_name)
        except AccountError:
            continue  # created concurrently by another seeder
        created += 1
    return created
