"""Sessions, CSRF protection and role checks of the workbench.

* A session is a random id in the cookie ``postdesk_session`` (HttpOnly, SameSite=Strict,
  Secure when ``settings.workbench_secure_cookies``); its state stays on the server, in the
  operational store (table ``web_session``), so it survives a restart of the workbench and
  is shared by every workbench process on the same database. It ends after 8 hours without
  a request, and in any case ``settings.session_max_hours`` (12) after login, however busy it
  is. The store keeps only a SHA-256 of each id, so a leaked dump of it cannot be replayed.
* Logins go through `LoginGuard`: failed ones are counted per username and per client
  address in the store (`bot.store.accounts.attempt_login`), with growing waits and a
  temporary lockout; the guard lets one attempt per username and per address run at a time,
  so parallel guesses cannot all slip in before the first failure is counted.
* Every session (also the anonymous one the login form opens) carries a CSRF token that
  every POST / PUT / PATCH / DELETE must send back, as the form field ``csrf_token`` or the
  header ``X-CSRF-Token``.
* Each request re-reads the session's account, so a deactivated account or a changed role
  takes effect at once, also when the change was made from the command line.
* Handlers declare who may call them with `require_role` (or `public`); `check_routes`
  refuses to build an app with a route that declares nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.config import local_now
from bot.store.accounts import (
    AccountView,
    LoginOutcome,
    LoginPolicy,
    Role,
    attempt_login,
    get_account,
    throttle_username,
)
from bot.store.models import WebSession
from bot.store.uow import UowFactory
from bot.workbench.keys import AUTH, FORBIDDEN, UOWS, in_thread, is_api, json_error

logger = logging.getLogger(__name__)

# What every page and API call answers while the store cannot be read (sessions live there).
STORE_DOWN_TEXT = "工作台暂时连不上数据库，请稍后刷新重试；已填写的内容请先自行保存。"

COOKIE_NAME = "postdesk_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
IDLE_TIMEOUT_S = 8 * 3600.0
# However active, a session ends this long after it was opened (at login); see Settings.
MAX_AGE_S = 12 * 3600.0
# An anonymous session only carries the login form's CSRF token.
ANONYMOUS_IDLE_TIMEOUT_S = 3600.0
# A session's requests are written to the store at most this often (see SessionStore).
TOUCH_INTERVAL_S = 60.0
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WallClock = Callable[[], datetime]

# Request keys set by `session_middleware`.
SESSION = "postdesk.session"
ACCOUNT = "postdesk.account"
_SET_COOKIE = "postdesk.set_cookie"
_ACCESS_ATTR = "__postdesk_access__"


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Session:
    """Server-side state of one browser session (a row of the store's ``web_session``).

    The random id itself is only in the cookie; the store knows its SHA-256 (`key`).

    Attributes:
        key: SHA-256 (hex) of the id sent in the cookie.
        csrf_token: what unsafe requests of this session must send back.
        account_id: the logged-in account, or None before login.
        last_seen: the last request the store recorded (see `SessionStore.touch_interval`).
        created: when the session was opened (a login opens a new one).
        expires: the session is over from this moment on, unless a request comes first.
    """

    key: str
    csrf_token: str
    account_id: int | None
    last_seen: datetime
    created: datetime
    expires: datetime


def _session_of(row: WebSession) -> Session:
    return Session(key=row.key, csrf_token=row.csrf_token, account_id=row.account_id,
                   last_seen=row.last_seen_at, created=row.created_at, expires=row.expires_at)


class SessionStore:
    """Sessions in the operational store (``web_session``), so a restarted workbench keeps its
    logins and several workbench processes share them.

    A session ends after `idle_timeout` seconds without a request (`anonymous_timeout` before
    login) or `max_age` seconds after it was opened, whichever comes first; that end is kept
    on the row (``expires_at``), and rows past it are deleted when found, at each login and by
    `purge_expired`. Only the SHA-256 of a session id is stored.

    To spare the database a write per request, a request records itself (``last_seen_at``,
    moving ``expires_at`` on) only when the last recorded one is `touch_interval` seconds old
    (a minute): an idle session may therefore end up to a minute before `idle_timeout`.

    Every method is a synchronous store call: the middlewares run them through `in_thread`.

    Args:
        clock: the wall clock, naive Beijing time like the rest of the store (tests pin it).
        idle_timeout: seconds a logged-in session survives without a request (8 hours).
        anonymous_timeout: the same for sessions that only hold the login form's token.
        max_age: seconds any session lives at most, however active (12 hours; the app
            takes it from ``settings.session_max_hours``).
        touch_interval: the fewest seconds between two recorded requests of a session.
    """

    def __init__(self, clock: WallClock = local_now, idle_timeout: float = IDLE_TIMEOUT_S,
                 anonymous_timeout: float = ANONYMOUS_IDLE_TIMEOUT_S,
                 max_age: float = MAX_AGE_S, touch_interval: float = TOUCH_INTERVAL_S) -> None:
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.anonymous_timeout = anonymous_timeout
        self.max_age = max_age
        self.touch_interval = touch_interval

    def _expiry(self, account_id: int | None, created: datetime, seen: datetime) -> datetime:
        idle = self.idle_timeout if account_id is not None else self.anonymous_timeout
        return min(created + timedelta(seconds=self.max_age), seen + timedelta(seconds=idle))

    def create(self, uows: UowFactory, account_id: int | None = None,
               replacing: Session | None = None) -> tuple[str, Session]:
        """Open a new session with a fresh id and CSRF token, in one transaction ending
        `replacing` (the session a login replaces) and, at a login, purging expired ones.

        Returns:
            The id for the cookie (not kept anywhere else) and the session.
        """
        now = self.clock()
        session_id = secrets.token_urlsafe(32)
        row = WebSession(key=_digest(session_id), csrf_token=secrets.token_urlsafe(32),
                         account_id=account_id, created_at=now, last_seen_at=now,
                         expires_at=self._expiry(account_id, now, now))
        with uows() as uow:
            if replacing is not None:
                uow.web_sessions.remove(replacing.key)
            if account_id is not None:
                uow.web_sessions.remove_expired(now)
            uow.web_sessions.add(row)
            session = _session_of(row)
            uow.commit()
        return session_id, session

    def get(self, uows: UowFactory, session_id: str) -> Session | None:
        """The live session with this id (its idle clock restarts, not its lifetime), or None.

        An expired session found here is deleted.
        """
        key = _digest(session_id)
        now = self.clock()
        with uows() as uow:
            row = uow.web_sessions.get(key)
            if row is None:
                return None
            if now >= row.expires_at:
                uow.web_sessions.remove(key)
                uow.commit()
                return None
            session = _session_of(row)
            if (now - row.last_seen_at).total_seconds() >= self.touch_interval:
                session.last_seen = now
                session.expires = self._expiry(row.account_id, row.created_at, now)
                uow.web_sessions.touch(key, session.last_seen, session.expires)
                uow.commit()
            return session

    def end(self, uows: UowFactory, session: Session) -> None:
        """End a session (nothing happens if it has ended already, in any process)."""
        with uows() as uow:
            uow.web_sessions.remove(session.key)
            uow.commit()

    def purge_expired(self, uows: UowFactory) -> int:
        """Delete every expired session; returns how many were deleted."""
        with uows() as uow:
            purged = uow.web_sessions.remove_expired(self.clock())
            uow.commit()
        return purged

    def count(self, uows: UowFactory) -> int:
        """How many sessions are stored (expired ones not yet purged included)."""
        with uows() as uow:
            return uow.web_sessions.count()


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, *keys: str) -> AsyncIterator[None]:
        """Hold the locks of all `keys` (taken in sorted order, so no two holders deadlock)."""
        ordered = sorted(set(keys))
        for key in ordered:
            entry = self._locks.get(key)
            lock, users = entry if entry is not None else (asyncio.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        taken: list[asyncio.Lock] = []
        try:
            for key in ordered:
                lock = self._locks[key][0]
                await lock.acquire()
                taken.append(lock)
            yield
        finally:
            for lock in reversed(taken):
                lock.release()
            for key in ordered:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class LoginGuard:
    """Logins, counted and slowed down against password guessing (see `attempt_login`).

    The counters are in the store, so they survive a restart of the workbench; what stays in
    process is only the locks that let one attempt per username and per client address run
    at a time.

    Args:
        policy: failures before a lockout, its length, the growing waits.
        clock: the wall clock the counters are kept in (naive Beijing time; tests pin it).
    """

    def __init__(self, policy: LoginPolicy | None = None, clock: WallClock = local_now) -> None:
        self.policy = policy if policy is not None else LoginPolicy()
        self.clock = clock
        self._locks = _KeyedLocks()

    async def attempt(self, uows: UowFactory, username: str, password: str,
                      address: str) -> LoginOutcome:
        """Check a login from `address` (off the event loop; scrypt is slow on purpose).

        The attempt runs to the end even if the client goes away, so its failure is counted
        before the next attempt of the same username or address is heard.
        """
        return await asyncio.shield(self._attempt(uows, username, password, address))

    async def _attempt(self, uows: UowFactory, username: str, password: str,
                       address: str) -> LoginOutcome:
        name = throttle_username(username)
        keys = ["address:" + address] + ([] if name is None else ["account:" + name])
        async with self._locks.hold(*keys):
            return await in_thread(attempt_login, uows, username, password, address,
                                   self.policy, self.clock())


def client_address(request: web.Request) -> str:
    """The address failed logins are counted under: the peer of the connection.

    Forwarded headers are believed only from a trusted reverse proxy (``TRUSTED_PROXIES``):
    then the address is the right-most ``X-Forwarded-For`` entry that is not itself a trusted
    proxy. Anyone else's forwarded headers are ignored (anyone can send them).
    """
    peer = request.remote or "unknown"
    config = request.app.get(AUTH)
    trusted = config.trusted_proxies if config is not None else frozenset()
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:64]
    return peer


@dataclass(frozen=True)
class AuthConfig:
    """What the middlewares need: the session store and the cookie policy."""

    sessions: SessionStore
    secure_cookies: bool = False
    # Reverse proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES).
    trusted_proxies: frozenset[str] = frozenset()


def current_account(request: web.Request) -> AccountView | None:
    """The logged-in account of this request, or None."""
    return request.get(ACCOUNT)


def signed_in(request: web.Request) -> AccountView:
    """The account of a request that `require_role` let through (never None there)."""
    account = current_account(request)
    assert account is not None  # require_role let the request through
    return account


def current_session(request: web.Request) -> Session | None:
    """This request's session (logged in or anonymous), or None."""
    return request.get(SESSION)


def _set_cookie(response: web.StreamResponse, session_id: str, secure: bool) -> None:
    response.set_cookie(COOKIE_NAME, session_id, path="/", httponly=True, samesite="Strict",
                        secure=secure or None)


def _clear_cookie(response: web.StreamResponse, secure: bool) -> None:
    response.set_cookie(COOKIE_NAME, "", path="/", max_age=0,
                        expires="Thu, 01 Jan 1970 00:00:00 GMT",
                        httponly=True, samesite="Strict", secure=secure or None)


async def ensure_session(request: web.Request) -> Session:
    """This request's session, opening an anonymous one (cookie set on the response) if none."""
    session = current_session(request)
    if session is not None:
        return session
    session_id, opened = await in_thread(request.app[AUTH].sessions.create, request.app[UOWS])
    request[SESSION] = opened
    request[_SET_COOKIE] = session_id
    return opened


async def log_in(request: web.Request, account: AccountView) -> Session:
    """Start a logged-in session for `account` under a new id (the old one ends)."""
    session_id, session = await in_thread(request.app[AUTH].sessions.create, request.app[UOWS],
                                          account.id, current_session(request))
    request[SESSION] = session
    request[ACCOUNT] = account
    request[_SET_COOKIE] = session_id
    return session


async def log_out(request: web.Request) -> None:
    """End this request's session (in every workbench process); the response clears the cookie."""
    session = current_session(request)
    if session is not None:
        await in_thread(request.app[AUTH].sessions.end, request.app[UOWS], session)
    request[SESSION] = None
    request[ACCOUNT] = None
    request[_SET_COOKIE] = ""


def _load(sessions: SessionStore, uows: UowFactory,
          session_id: str) -> tuple[Session | None, AccountView | None]:
    """The live session of `session_id` and its account, read afresh (in a worker thread).

    A session whose account is gone or deactivated ends here.
    """
    session = sessions.get(uows, session_id)
    if session is None or session.account_id is None:
        return session, None
    account = get_account(uows, session.account_id)
    if account is None or not account.active:
        sessions.end(uows, session)
        return None, None
    return session, account


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the session and its (still active) account; write the cookie changes back."""
    config = request.app[AUTH]
    request[SESSION] = None
    request[ACCOUNT] = None
    session_id = request.cookies.get(COOKIE_NAME)
    try:
        session, account = (await in_thread(_load, config.sessions, request.app[UOWS], session_id)
                            if session_id else (None, None))
    except SQLAlchemyError as exc:
        # Sessions live in the store: without it nobody's login can be checked. A clear 503
        # for the agent (nothing was done, so nothing is lost), one line for the operator.
        logger.error("store unavailable while checking a session for %s %s: %s",
                     request.method, request.path, exc.__class__.__name__)
        if is_api(request):
            return json_error(STORE_DOWN_TEXT, 503)
        return web.Response(status=503, text=STORE_DOWN_TEXT, content_type="text/plain",
                            headers={"Retry-After": "30"})
    request[SESSION] = session
    request[ACCOUNT] = account
    if session_id and session is None:
        request[_SET_COOKIE] = ""  # unknown or expired: drop the stale cookie
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _write_cookie(request, exc, config.secure_cookies)
        raise
    _write_cookie(request, response, config.secure_cookies)
    return response


def _write_cookie(request: web.Request, response: web.StreamResponse, secure: bool) -> None:
    new_id = request.get(_SET_COOKIE)
    if new_id is None or response.prepared:
        return
    if new_id:
        _set_cookie(response, new_id, secure)
    else:
        _clear_cookie(response, secure)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"),
                               b.encode("utf-8", "surrogatepass"))


async def _sent_csrf_token(request: web.Request) -> str:
    token = request.headers.get(CSRF_HEADER)
    if token is not None:
        return token
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # aiohttp caches the parsed form for the handler
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (403) a POST/PUT/PATCH/DELETE without its session's CSRF token.

    Runs after `session_middleware`; the token comes from the ``X-CSRF-Token`` header or the
    ``csrf_token`` form field.
    """
    if request.method in UNSAFE_METHODS:
        session = current_session(request)
        sent = await _sent_csrf_token(request)
        if session is None or not sent or not _same(sent, session.csrf_token):
            reason = "请求缺少有效的安全令牌（CSRF），请刷新页面后重试。"
            if is_api(request):
                return web.json_response({"error": "csrf", "message": reason}, status=403)
            return request.app[FORBIDDEN](request, reason)
    return await handler(request)


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else ``/`` (no open redirects)."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(ch) < 0x20 for ch in target)):
        return "/"
    return target


def redirect(location: str, status: int = 303) -> web.Response:
    """A redirect response (returned, so the session middleware can set cookies on it)."""
    return web.Response(status=status, headers={"Location": location})


def _login_redirect(request: web.Request) -> web.StreamResponse:
    target = request.path_qs if request.method == "GET" else "/"
    query = "" if target == "/" else "?" + urlencode({"next": target})
    return redirect("/login" + query, status=302)


def require_role(*roles: Role) -> Callable[[Handler], Handler]:
    """Let a handler run only for logged-in accounts holding one of `roles` (admin: always).

    Without roles, any logged-in account may call it. Not logged in: pages redirect to
    ``/login?next=...``, ``/api/...`` answers 401 JSON. Wrong role: 403 (page or JSON).

    Args:
        roles: the roles allowed.
    """
    allowed = tuple(Role(r) for r in roles)

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            account = current_account(request)
            if account is None:
                if is_api(request):
                    return web.json_response(
                        {"error": "unauthorised", "message": "请先登录"}, status=401)
                return _login_redirect(request)
            if allowed and not account.has_role(*allowed):
                reason = "您的角色（{}）无权访问此页面。".format(account.role_label)
                if is_api(request):
                    return web.json_response({"error": "forbidden", "message": reason},
                                             status=403)
                return request.app[FORBIDDEN](request, reason)
            return await handler(request)

        setattr(guarded, _ACCESS_ATTR, allowed or "any")
        return guarded

    return decorate


def public(handler: Handler) -> Handler:
    """Mark a handler as open to anonymous users (the login page, logout)."""
    setattr(handler, _ACCESS_ATTR, "public")
    return handler


def access_of(handler: Any) -> Any:
    """What `require_role` / `public` declared for a handler, or None."""
    return getattr(handler, _ACCESS_ATTR, None)


def check_routes(app: web.Application) -> None:
    """Refuse an app with a route whose handler declares no access rule.

    Raises:
        RuntimeError: naming the unguarded routes.
    """
    unguarded = [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in app.router.routes()
        if route.method != "HEAD" and access_of(route.handler) is None
    ]
    if unguarded:
        raise RuntimeError("routes without require_role/public: " + ", ".join(unguarded))

