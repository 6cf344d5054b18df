"""Workbench accounts: the model, its repository and the services that create and check them.

Passwords are hashed with scrypt (``hashlib.scrypt``, no extra dependency) into a
self-describing string ``scrypt$n$r$p$salt$hash`` (salt and hash in hex), so stronger
parameters can be introduced later: a login with an old-parameter hash re-hashes it.

Checking a password costs the same for an unknown or deactivated user as for a real one
(a dummy hash is verified), so response times do not reveal which usernames exist.

Password guessing is slowed down per username and per client address (`attempt_login`):
after the second failure each further try must wait longer (1 s, 2 s, 4 s, ...), and
`LoginPolicy.max_failures` failures lock the username or address for `LoginPolicy.lockout`.
The counters live in the ``login_throttle`` table, so a restart of the workbench does not
reset them; a username that has no account is counted like one that has, so the answers
never tell which usernames exist.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Iterable

from sqlalchemy.exc import IntegrityError

from bot.config import Settings, local_now
from bot.store.models import (
    DISPLAY_NAME_MAX,
    THROTTLE_KEY_MAX,
    USERNAME_MAX,
    Account,
    LoginThrottle,
    as_store_time,
)
from bot.store.repositories import AccountRepository
from bot.store.uow import UnitOfWork, UowFactory

logger = logging.getLogger(__name__)

PASSWORD_MIN = 10
# A password with fewer different characters than this ("aaaaaaaaaa", "1212121212") is refused.
PASSWORD_MIN_DISTINCT = 4
# scrypt's cost barely depends on the length, but nobody types more; refusing keeps bodies small.
PASSWORD_MAX = 1024

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
        """The role's Chinese name (坐席, 训练师, 主管, 管理员)."""
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


# The passwords tried first by anyone guessing: the top of the published lists of leaked
# passwords (SplashData, NordPass, the CSDN and 12306 leaks) and the names of this place.
# Compared case-insensitively; the short ones are also refused by the length rule, but stay
# listed so the list reads as what it is.
COMMON_PASSWORDS: frozenset[str] = frozenset("""
    123456 123456789 12345678 12345 1234567 1234567890 123123 111111 000000 666666 888888
    654321 123321 112233 121212 147258369 123456a 123456aa a123456 a123456789 aa123456
    abc123 abc123456 abcd1234 abcdefg abcdefgh abcdefghij qwerty qwerty123 qwertyuiop
    qwerty123456 asdfghjkl zxcvbnm 1q2w3e4r 1q2w3e4r5t 1qaz2wsx 1qaz2wsx3edc qazwsx
    qazwsxedc password password1 password12 password123 password1234 passw0rd p@ssw0rd
    p@ssword admin admin123 admin1234 admin12345 administrator root toor letmein
    welcome welcome1 welcome123 iloveyou iloveyou1 iloveyou123 woaini woaini1314 5201314
    520520 1314520 monkey dragon football baseball sunshine princess superman batman
    trustno1 starwars whatever shadow master michael jennifer 0123456789 9876543210
    987654321 1111111111 0000000000 11111111 00000000 88888888 66666666 12341234
    11223344 123qwe 123qweasd 123qweasdzxc qweasdzxc changeme changeme123 test1234
    test123456 guest12345 user123456 demo123456 default123
    postdesk postdesk123 postdesk2025 postdesk2026 chinapost chinapost123 chinapost11183
    chinapost2025 chinapost2026 11183 1118311183 111831118311183 youzheng youzheng123
    youzheng11183 zhongguoyouzheng yunnanyouzheng ems11183 ems123456 kefu123456
    kefu11183 yunnan123 kunming123 kunming0871
""".split())


def check_password_policy(password: str, username: str | None = None) -> None:
    """Raise `AccountError` unless `password` is acceptable.

    Acceptable: 10 to 1024 characters, at least 4 different ones, not one of
    `COMMON_PASSWORDS` and not the username itself (letter case ignored).

    Args:
        password: the new password.
        username: the account's login name, when known.
    """
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise AccountError(f"密码至少需要 {PASSWORD_MIN} 个字符")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"密码不能超过 {PASSWORD_MAX} 个字符")
    folded = unicodedata.normalize("NFKC", password).casefold()
    if folded in COMMON_PASSWORDS:
        raise AccountError("这个密码太常见，很容易被猜到，请换一个")
    if len(set(folded)) < PASSWORD_MIN_DISTINCT:
        raise AccountError(f"密码太简单：至少要有 {PASSWORD_MIN_DISTINCT} 个不同的字符")
    if username and folded == unicodedata.normalize("NFKC", username).strip().casefold():
        raise AccountError("密码不能与用户名相同")


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


def accounts_in(uow: UnitOfWork) -> AccountRepository:
    """The account repository of an open unit of work (the same as ``uow.accounts``)."""
    return uow.accounts


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
        password: must pass `check_password_policy`; only its scrypt hash is stored.
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
    check_password_policy(password, name)
    encoded = hash_password(password)
    with uow_factory() as uow:
        repo = uow.accounts
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
        repo = uow.accounts
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
        account = uow.accounts.get(account_id)
        return None if account is None else _view(account)


def set_password(uow_factory: UowFactory, username: str, password: str) -> None:
    """Replace an account's password.

    Raises:
        AccountError: the new password does not pass `check_password_policy`.
        AccountNotFound: no such account.
    """
    name = normalise_username(username)
    check_password_policy(password, name)
    encoded = hash_password(password)
    with uow_factory() as uow:
        account = _existing(uow, name)
        account.password_hash = encoded
        uow.commit()


def _existing(uow: UnitOfWork, name: str) -> Account:
    account = uow.accounts.get_by_username(name)
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
        return [_view(a) for a in uow.accounts.list(include_inactive)]


# --- failed logins: growing waits and lockouts -----------------------------------------------


class ThrottleKind(str, Enum):
    """What a failed-login counter counts: one username, or one client address."""

    ACCOUNT = "account"
    ADDRESS = "address"

    @property
    def label(self) -> str:
        """The Chinese name shown to admins (账户, 地址)."""
        return "账户" if self is ThrottleKind.ACCOUNT else "地址"


@dataclass(frozen=True)
class LoginPolicy:
    """How failed logins are slowed down.

    Attributes:
        max_failures: failures (of one username, or from one address) that lock it.
        lockout: how long a lock lasts; also how long a failure is remembered.
        first_delay: the wait after the second failure; it doubles with each further one.
    """

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    first_delay: timedelta = timedelta(seconds=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        """The policy of ``LOGIN_MAX_FAILURES`` and ``LOGIN_LOCKOUT_MINUTES``."""
        return cls(max_failures=max(1, settings.login_max_failures),
                   lockout=timedelta(minutes=max(1, settings.login_lockout_minutes)))

    def wait_after(self, failures: int) -> timedelta:
        """How long the next try must wait after `failures` failures in a row.

        Nothing after the first; then 1 s, 2 s, 4 s, ...; the lockout from `max_failures` on.
        """
        if failures >= self.max_failures:
            return self.lockout
        if failures < 2:
            return timedelta(0)
        return self.first_delay * 2 ** (failures - 2)


@dataclass(frozen=True)
class LoginOutcome:
    """What came of one login attempt.

    Attributes:
        account: the account on success, else None.
        retry_after: how long before another try will be heard (zero: at once).
        locked: the wait is a lockout (too many failures), not just a growing delay.
        refused: turned away before the password was looked at (a wait was still running).
    """

    account: AccountView | None = None
    retry_after: timedelta = timedelta(0)
    locked: bool = False
    refused: bool = False


@dataclass(frozen=True)
class ThrottleView:
    """A failed-login counter as admins see it.

    Attributes:
        kind: a username or a client address.
        key: the username (normalised) or the address.
        failures: failures in a row, the last within the lockout period.
        last_failure_at: when the last one happened (Beijing time).
        blocked_until: no login is heard before this time, or None.
        locked: `blocked_until` is a lockout that has not ended.
    """

    kind: ThrottleKind
    key: str
    failures: int
    last_failure_at: datetime
    blocked_until: datetime | None
    locked: bool

    @property
    def kind_label(self) -> str:
        """What the counter counts, in Chinese (账户 or 地址)."""
        return self.kind.label


def throttle_username(username: str) -> str | None:
    """The name failed logins of `username` are counted under (None: not a valid username)."""
    try:
        return normalise_username(username)
    except AccountError:
        return None


def _throttle_keys(username: str, address: str) -> list[tuple[str, str]]:
    keys = [(ThrottleKind.ADDRESS.value, address[:THROTTLE_KEY_MAX])]
    name = throttle_username(username)
    if name is not None:  # a malformed name has no account to protect; its address still counts
        keys.append((ThrottleKind.ACCOUNT.value, name))
    return keys


def _throttle_view(row: LoginThrottle, policy: LoginPolicy, now: datetime) -> ThrottleView:
    blocked = row.blocked_until if row.blocked_until and row.blocked_until > now else None
    return ThrottleView(kind=ThrottleKind(row.kind), key=row.key, failures=row.failures,
                        last_failure_at=row.last_failure_at, blocked_until=blocked,
                        locked=blocked is not None and row.failures >= policy.max_failures)


def _running_wait(views: Iterable[ThrottleView], now: datetime) -> tuple[timedelta, bool]:
    blocking = [v for v in views if v.blocked_until is not None]
    if not blocking:
        return timedelta(0), False
    wait = max(v.blocked_until for v in blocking) - now  # type: ignore[type-var,operator]
    return wait, any(v.locked for v in blocking)


def attempt_login(
    uow_factory: UowFactory,
    username: str,
    password: str,
    address: str,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> LoginOutcome:
    """Check a login from client `address`, counting failures per username and per address.

    While a wait of the username or of the address is running, the attempt is refused before
    the password is looked at, so a locked account answers the same to the right password as
    to a wrong one. Unknown usernames are counted and answered like known ones. A success
    clears the username's counter (the address keeps its own until it runs out). Failures
    and lockouts are logged with the username, never the password.

    Not atomic across processes: the workbench serialises the attempts of one username and
    of one address (`bot.workbench.auth.LoginGuard`); the counters themselves are in the store.

    Args:
        uow_factory: opens a unit of work.
        username: as typed.
        password: as typed.
        address: the client's address.
        policy: the waits and the lockout.
        now: the time of the attempt (default: now, Beijing time).

    Returns:
        The account, or why not and how long to wait.
    """
    now = as_store_time(now or local_now())
    keys = _throttle_keys(username, address)
    with uow_factory() as uow:
        views = [_throttle_view(r, policy, now) for r in uow.accounts.throttles(keys)]
    wait, locked = _running_wait(views, now)
    if wait > timedelta(0):
        logger.info("workbench login refused without a password check (%s): user %r from %s, "
                    "%d s to wait", "locked" if locked else "too soon", _shown(username),
                    address, _seconds(wait))
        return LoginOutcome(retry_after=wait, locked=locked, refused=True)
    account = authenticate(uow_factory, username, password, now)
    if account is not None:
        _forget_failures(uow_factory, ThrottleKind.ACCOUNT, account.username)
        return LoginOutcome(account=account)
    try:
        views = _record_failure(uow_factory, keys, policy, now)
    except IntegrityError:  # another process inserted the same counter first
        views = _record_failure(uow_factory, keys, policy, now)
    wait, locked = _running_wait(views, now)
    logger.warning("failed workbench login: user %r from %s (%s)", _shown(username), address,
                   ", ".join(f"{v.kind.value} {v.failures}/{policy.max_failures}" for v in views))
    for view in views:
        if view.failures == policy.max_failures:
            logger.warning("workbench login lockout: %s %r locked until %s (Beijing time) "
                           "after %d failed logins", view.kind.value, view.key,
                           f"{view.blocked_until:%Y-%m-%d %H:%M:%S}", view.failures)
    return LoginOutcome(retry_after=wait, locked=locked)


def _shown(username: str) -> str:
    # What the log says the user typed: normalised when valid, cut short when not.
    return throttle_username(username) or (username or "")[:USERNAME_MAX]


def _seconds(wait: timedelta) -> int:
    return -int(-wait.total_seconds() // 1)


def _record_failure(uow_factory: UowFactory, keys: list[tuple[str, str]], policy: LoginPolicy,
                    now: datetime) -> list[ThrottleView]:
    forgotten = now - policy.lockout
    with uow_factory() as uow:
        # Counters whose last failure and wait are both over are dropped as we go.
        uow.accounts.drop_spent_throttles(forgotten, now)
        found = {(r.kind, r.key): r for r in uow.accounts.throttles(keys)}
        rows = []
        for kind, key in keys:
            row = found.get((kind, key))
            if row is None:
                row = LoginThrottle(kind=kind, key=key, failures=0, last_failure_at=now)
                uow.accounts.add_throttle(row)
            elif row.last_failure_at <= forgotten:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            wait = policy.wait_after(row.failures)
            row.blocked_until = now + wait if wait > timedelta(0) else None
            rows.append(row)
        uow.commit()
        return [_throttle_view(r, policy, now) for r in rows]


def _forget_failures(uow_factory: UowFactory, kind: ThrottleKind, key: str) -> int:
    with uow_factory() as uow:
        forgotten = uow.accounts.forget_throttle(kind.value, key)
        uow.commit()
        return forgotten


def list_login_throttles(uow_factory: UowFactory, policy: LoginPolicy,
                         now: datetime | None = None) -> list[ThrottleView]:
    """The counters still remembered or still blocking, locked ones first, then the newest."""
    now = as_store_time(now or local_now())
    with uow_factory() as uow:
        views = [_throttle_view(r, policy, now)
                 for r in uow.accounts.live_throttles(now - policy.lockout, now)]
    views.sort(key=lambda v: (not v.locked, -v.last_failure_at.timestamp(), v.kind, v.key))
    return views


def unlock_login(uow_factory: UowFactory, kind: ThrottleKind | str, key: str,
                 by: str | None = None) -> bool:
    """Clear the failed logins of a username or an address (an admin's unlock).

    Args:
        uow_factory: opens a unit of work.
        kind: ``account`` (then `key` is normalised like a username) or ``address``.
        key: the username or the address.
        by: who unlocked it, for the log.

    Returns:
        True when there was something to clear.

    Raises:
        AccountError: unknown kind, or not a valid username.
    """
    try:
        kind = ThrottleKind(kind)
    except ValueError:
        raise AccountError(f"未知类型 {kind!r}（可选：account, address）") from None
    key = normalise_username(key) if kind is ThrottleKind.ACCOUNT else key.strip()
    cleared = _forget_failures(uow_factory, kind, key) > 0
    if cleared:
        logger.warning("workbench login lock cleared: %s %r by %s", kind.value, key,
                       by or "the command line")
    return cleared


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
            if uow.accounts.get_by_username(entry.username) is not None:
                continue
        try:
            create_account(uow_factory, entry.username, entry.password, entry.role,
                           entry.display_name)
        except AccountError:
            continue  # created concurrently by another seeder
        created += 1
    return created
