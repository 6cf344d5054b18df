"""``rasa`` with PostDesk's runtime fixes: ``python -m bot.server run --model …``.

Rasa 3.6 validates every action-server answer with the one-shot ``jsonschema.validate``,
which re-checks the large event schema against the JSON-Schema meta-schema on each call:
about 45 ms per custom action on this machine, two calls in a tracking turn. The fix
compiles the validators once, and checks each event against the one branch of the schema's
``oneOf`` its ``event`` name selects (the branches differ by that constant, so the answer is
the same) instead of all 23; an answer that fails is validated again by the whole schema, so
Rasa's behaviour and error message are unchanged.

Rasa's model graph (a dozen nodes, run three or four times per customer message) is run in
order by :mod:`bot.graph_runner` instead of dask's scheduler, which cost a sixth of the
server's time under load; same nodes, same inputs, same results. Slots are copied directly
(:mod:`bot.slot_copy`) instead of through the pickle protocol, and RulePolicy parses each of
its rule keys once (:mod:`bot.dialogue.rule_keys`) instead of at every check. A tracker's
dialogue states are computed once per point of the conversation, not once per policy
(:mod:`bot.dialogue.past_states`).

Security fixes:

* The HTTP API token is never on the command line (``ps`` shows it to every user): for
  ``run --enable-api`` without ``--auth-token``, the token comes from ``RASA_TOKEN``, else the
  file ``RASA_TOKEN_FILE``, else ``var/rasa_token`` (generated once), and is handed to Rasa's
  argument parser in process, which ``/proc/<pid>/cmdline`` does not show.
* Rasa reads the token from the ``?token=`` query only, which lands in access logs and proxy
  logs: the API also accepts it in the ``X-Rasa-Token`` header (compared in constant time).
  The query form keeps working; ``Authorization: Bearer`` stays Rasa's JWT.
* ``run`` without ``--interface`` listens on ``RASA_INTERFACE`` (default 127.0.0.1), not on
  Rasa's default 0.0.0.0.
* ``run`` sets ``ACTION_TOKEN`` in its own environment (from the settings, else
  ``var/action_token``, the action server's), for the ``${ACTION_TOKEN}`` of endpoints.yml.

Bounded action calls (issue 15): Rasa calls the action server with a new HTTP session per
call and a 5-minute timeout, so a hung action server left the customer without an answer.
Here the action endpoint (:class:`BoundedActionEndpoint`) shares one session per event loop
(closed when the server stops) and gives up after ``ACTION_TIMEOUT_S`` (default 5 s). A call
that times out or finds no action server is logged in one line naming the action, and fails
the action as Rasa fails it for any error: the turn goes on without its events (the other
actions of that turn fail at once, so a turn waits once at most), the user's message stays in
the tracker, and the channel's answer to a turn without a reply
(``bot.channels.rest.explain_silence``) asks the customer to try again shortly.

The launcher and the benchmarks start the Rasa server through this module.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
import ssl
import sys
import weakref
from collections import OrderedDict
from functools import wraps
from inspect import isawaitable
from typing import Any, Callable, Dict, List, Optional, Sequence

import aiohttp
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from bot.config import PROJECT_ROOT, Settings, ensure_token, load_settings, rasa_api_token
from bot.config import RASA_TOKEN_HEADER as TOKEN_HEADER
from bot.local_actions import run_local, runs_locally

logger = logging.getLogger("postdesk.server")

# Below the idle keep-alive of the action server (Sanic's 5 s), so that a pooled connection is
# never reused just as the server closes it.
ACTION_KEEPALIVE_S = 3.0
FAILED_TURNS_KEPT = 1000  # turns whose action server failed, remembered to fail them fast


def _compiled_validator(schema: Dict[str, Any]) -> Any:
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def action_result_check(spec: Dict[str, Any]) -> Callable[[Any], bool]:
    """A quick yes/no for an action server's answer against Rasa's response `spec`.

    True exactly when the whole schema accepts the answer: each event is checked against the
    schema's common part and the one ``oneOf`` branch whose ``event`` constant it names (no
    other branch can accept it). A schema without one distinct constant per branch is checked
    whole.
    """
    events = spec.get("properties", {}).get("events", {})
    event = events.get("items", {})
    branches = event.get("oneOf", [])
    names = [b.get("properties", {}).get("event", {}).get("const") for b in branches]
    if not branches or None in names or len(set(names)) != len(names):
        return _compiled_validator(spec).is_valid
    common = {k: v for k, v in event.items() if k != "oneOf"}
    per_event = {name: _compiled_validator({"allOf": [common, branch]})
                 for name, branch in zip(names, branches)}
    outer = _compiled_validator(
        {**spec, "properties": {**spec["properties"], "events": {"type": "array"}}})

    def check(result: Any) -> bool:
        if not outer.is_valid(result):
            return False
        for e in result.get("events") or ():
            validator = per_event.get(e.get("event")) if isinstance(e, dict) else None
            if validator is None or not validator.is_valid(e):
                return False
        return True

    return check


def apply_runtime_fixes(settings: Optional[Settings] = None) -> None:
    """Apply the fixes of this module (before Rasa's app is created). Idempotent.

    Args:
        settings: supply ``ACTION_TIMEOUT_S`` (read from the environment when not given).
    """
    from bot.dialogue.past_states import remember_past_states
    from bot.dialogue.rule_keys import parse_rule_keys_once
    from bot.graph_runner import run_graphs_in_order
    from bot.slot_copy import copy_slots_directly

    _compile_action_validator()
    run_graphs_in_order()
    copy_slots_directly()
    parse_rule_keys_once()
    remember_past_states()
    _accept_token_header()
    _bound_action_calls((settings or load_settings()).action_timeout_s)


def _compile_action_validator() -> None:
    """Replace ``RemoteAction._validate_action_result`` by a compiled-once validator.

    The replacement raises the same ``ValidationError`` with the same hint as Rasa's own
    method when an action server answers with a malformed body.
    """
    from jsonschema import ValidationError
    from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction

    if getattr(RemoteAction, "_postdesk_validator", None) is not None:
        return
    spec = RemoteAction.action_response_format_spec()
    quick = action_result_check(spec)
    validate = _compiled_validator(spec).validate

    def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
        if quick(result):
            return True
        try:
            validate(result)  # raises Rasa's own error for what the quick check refused
            return True
        except ValidationError as e:
            e.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise e

    RemoteAction._postdesk_original = RemoteAction._validate_action_result
    RemoteAction._validate_action_result = _validate_action_result
    RemoteAction._postdesk_validator = validate


class ActionServerUnavailable(RasaException):
    """An action call that timed out or reached no action server (already logged)."""


# One client session per event loop (a Sanic worker has one), shared by every action call.
_SESSIONS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = (
    weakref.WeakKeyDictionary())


def action_session() -> aiohttp.ClientSession:
    """The running loop's session for action calls, opened on first use (keeps connections)."""
    loop = asyncio.get_running_loop()
    session = _SESSIONS.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(keepalive_timeout=ACTION_KEEPALIVE_S))
        _SESSIONS[loop] = session
    return session


async def close_action_session() -> None:
    """Close the running loop's action session, if one was opened (when the server stops)."""
    session = _SESSIONS.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


class BoundedActionEndpoint(EndpointConfig):
    """Rasa's action endpoint whose calls share one session and last at most `timeout_s`.

    Same request and answer as :meth:`EndpointConfig.request` (headers, basic auth, token
    parameter, CA file, a 4xx/5xx raised as Rasa's ``ClientResponseError``). A call that times
    out or cannot connect is logged once, naming the action, and raises
    :class:`ActionServerUnavailable`: Rasa then fails the action as for any error (the turn
    goes on without its events) and slot-mapping actions are skipped with a warning. The other
    actions of that turn (same conversation, same user message) then fail at once instead of
    waiting again: one turn waits `timeout_s` at most once. The validators of
    :mod:`bot.local_actions` run in this process instead, answering as the server would.
    """

    def __init__(self, config: EndpointConfig, timeout_s: float) -> None:
        super().__init__(config.url, config.params, config.headers, config.basic_auth,
                         config.token, config.token_name, config.cafile, **config.kwargs)
        self.type = config.type
        self.timeout_s = timeout_s
        self._failed_turns: OrderedDict[tuple[str, str], None] = OrderedDict()

    def copy(self) -> "BoundedActionEndpoint":
        """A copy with the same bound (Rasa copies endpoints, e.g. for a model reload)."""
        return BoundedActionEndpoint(self, self.timeout_s)

    def _ssl_context(self) -> Optional[ssl.SSLContext]:
        if not self.cafile:
            return None
        from rasa.shared.exceptions import FileNotFoundException

        try:
            return ssl.create_default_context(cafile=self.cafile)
        except FileNotFoundError as e:
            raise FileNotFoundException(
                f"Failed to find certificate file, '{os.path.abspath(self.cafile)}' does not "
                f"exist.") from e

    async def request(self, method: str = "post", subpath: Optional[str] = None,
                      content_type: Optional[str] = "application/json", compress: bool = False,
                      **kwargs: Any) -> Optional[Any]:
        """Send one call to the action server; return its JSON answer (None if not JSON)."""
        from aiohttp.client_exceptions import ContentTypeError
        from rasa.utils.endpoints import ClientResponseError, concat_url

        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(kwargs.pop("headers", None) or {})
        headers.update(self.headers)
        kwargs["timeout"] = aiohttp.ClientTimeout(total=self.timeout_s)  # Rasa passes 300 s
        auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                if self.basic_auth else None)
        url = concat_url(self.url, subpath)
        body = kwargs.get("json")
        if runs_locally(body):
            return await run_local(body)
        action = body.get("next_action", "?") if isinstance(body, dict) else "?"
        turn = _turn_of(body)
        if turn is not None and turn in self._failed_turns:
            logger.warning("action %s not called: the action server already failed this turn",
                           action)
            raise ActionServerUnavailable(f"action '{action}' not called")
        try:
            async with action_session().request(
                    method, url, headers=headers, params=self.combine_parameters(kwargs),
                    compress=compress, ssl=self._ssl_context(), auth=auth,
                    **kwargs) as response:
                if response.status >= 400:
                    raise ClientResponseError(response.status, response.reason,
                                              await response.content.read())
                try:
                    return await response.json()
                except ContentTypeError:
                    return None
        except asyncio.TimeoutError:
            self._failed(turn)
            logger.error("action %s: no answer from the action server at %s within %g s "
                         "(ACTION_TIMEOUT_S); the customer is asked to try again", action, url,
                         self.timeout_s)
            raise ActionServerUnavailable(
                f"action '{action}' timed out after {self.timeout_s:g} s") from None
        except aiohttp.ClientConnectionError as e:
            self._failed(turn)
            logger.error("action %s: the action server at %s is unreachable (%s); the customer "
                         "is asked to try again", action, url, e.__class__.__name__)
            raise ActionServerUnavailable(
                f"action '{action}': action server unreachable") from None

    def _failed(self, turn: Optional[tuple[str, str]]) -> None:
        """Remember that `turn` found the action server unavailable (the last 1000 turns)."""
        if turn is None:
            return
        self._failed_turns[turn] = None
        while len(self._failed_turns) > FAILED_TURNS_KEPT:
            self._failed_turns.popitem(last=False)


def _turn_of(body: Any) -> Optional[tuple[str, str]]:
    """(conversation, id of the user message) of an action call, None if it has none."""
    if not isinstance(body, dict):
        return None
    latest = (body.get("tracker") or {}).get("latest_message") or {}
    message_id = latest.get("message_id") if isinstance(latest, dict) else None
    sender = body.get("sender_id")
    if isinstance(sender, str) and isinstance(message_id, str) and message_id:
        return sender, message_id
    return None


_action_timeout_s = 5.0  # ACTION_TIMEOUT_S, set by _bound_action_calls


class _ReportedActionFailures(logging.Filter):
    """Drops Rasa's traceback for an action call :class:`BoundedActionEndpoint` reported."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ActionServerUnavailable)


def _bound_action_calls(timeout_s: float) -> None:
    """Make the action endpoint of endpoints.yml a :class:`BoundedActionEndpoint`.

    Patches ``AvailableEndpoints.read_endpoints`` (what ``rasa run`` reads endpoints.yml with)
    and ``rasa.core.run.close_resources`` (run after the server stops) to close the session.
    A second call only changes the bound.
    """
    import rasa.core.run
    from rasa.core.utils import AvailableEndpoints

    global _action_timeout_s
    _action_timeout_s = timeout_s
    read = AvailableEndpoints.read_endpoints
    if getattr(read, "_postdesk", False):
        return
    read_rasa = read.__func__

    def read_endpoints(cls: Any, endpoint_file: str) -> Any:
        endpoints = read_rasa(cls, endpoint_file)
        if endpoints.action is not None and endpoints.action.url:
            endpoints.action = BoundedActionEndpoint(endpoints.action, _action_timeout_s)
        return endpoints

    read_endpoints._postdesk = True  # type: ignore[attr-defined]
    AvailableEndpoints.read_endpoints = classmethod(read_endpoints)

    close_rasa = rasa.core.run.close_resources

    async def close_resources(app: Any, loop: Any) -> None:
        try:
            await close_rasa(app, loop)
        finally:
            await close_action_session()

    rasa.core.run.close_resources = close_resources
    logging.getLogger("rasa.core.processor").addFilter(_ReportedActionFailures())


def token_matches(sent: Optional[str], token: Optional[str]) -> bool:
    """Whether `sent` is the API token (constant time; no token configured never matches)."""
    return bool(token) and sent is not None and hmac.compare_digest(
        sent.encode("utf-8"), str(token).encode("utf-8"))


def _accept_token_header() -> None:
    """Patch ``rasa.server.requires_auth``: the token is also accepted in ``X-Rasa-Token``.

    ``rasa.server.create_app`` looks ``requires_auth`` up when it builds the routes, so the
    patch must come first. A request with the right header or ``?token=`` (both compared in
    constant time) is served; any other goes to Rasa's own check, made with a random
    stand-in for the token, so that only its JWT branch can still let it through.
    """
    import rasa.server

    if getattr(rasa.server.requires_auth, "_postdesk", False):
        return
    rasa_requires_auth = rasa.server.requires_auth

    def requires_auth(app: Any, token: Optional[str] = None) -> Callable[[Any], Any]:
        # token None: Rasa's check alone (JWT, or no authentication at all, as Rasa decides).
        fallback = rasa_requires_auth(app, None if token is None else secrets.token_hex(32))

        def decorator(f: Any) -> Any:
            checked = fallback(f)

            @wraps(f)
            async def decorated(request: Any, *args: Any, **kwargs: Any) -> Any:
                if token_matches(request.headers.get(TOKEN_HEADER), token) or token_matches(
                        request.args.get("token"), token):
                    result = f(request, *args, **kwargs)
                    return await result if isawaitable(result) else result
                return await checked(request, *args, **kwargs)

            return decorated

        return decorator

    requires_auth._postdesk = True  # type: ignore[attr-defined]
    rasa.server.requires_auth = requires_auth


def _option_given(args: Sequence[str], *names: str) -> bool:
    """Whether one of the options `names` is in `args` (``--name value`` or ``--name=value``)."""
    return any(a in names or a.startswith(tuple(f"{n}=" for n in names)) for a in args)


def rasa_argv(args: Sequence[str], settings: Settings) -> List[str]:
    """Rasa's arguments for ``args``: ``run`` gets its address and API token from `settings`.

    ``run`` without ``--interface`` / ``--port`` listens on RASA_INTERFACE (default 127.0.0.1)
    and RASA_PORT (default 5005, Rasa's own); ``run --enable-api`` without ``--auth-token``
    gets the token from RASA_TOKEN, RASA_TOKEN_FILE or var/rasa_token. The result is for
    Rasa's parser only: it never reaches a command line.
    """
    argv = list(args)
    if not _serves(argv):
        return argv
    if not _option_given(argv, "-i", "--interface"):
        argv += ["--interface", settings.rasa_interface]
    if not _option_given(argv, "-p", "--port"):
        argv += ["--port", str(settings.rasa_port)]
    if "--enable-api" in argv and not _option_given(argv, "-t", "--auth-token"):
        argv += ["--auth-token", rasa_api_token(settings)]
    return argv


def _serves(argv: Sequence[str]) -> bool:
    """Whether `argv` starts the Rasa server (``run``, not ``run actions``)."""
    return bool(argv) and argv[0] == "run" and not (len(argv) > 1 and argv[1] == "actions")


def export_action_token(settings: Settings) -> None:
    """Set ACTION_TOKEN for endpoints.yml's ``${ACTION_TOKEN}`` (this process only).

    Rasa substitutes ``${...}`` from the process environment, so the token of the settings
    (ACTION_TOKEN in the environment or .env), else ``var/action_token``, is put there.
    """
    os.environ["ACTION_TOKEN"] = ensure_token(settings.action_token,
                                              PROJECT_ROOT / "var" / "action_token")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Apply the fixes, then run Rasa's command line with ``argv``."""
    from rasa.__main__ import main as rasa_main

    args = sys.argv[1:] if argv is None else list(argv)
    settings = load_settings()
    apply_runtime_fixes(settings)
    if _serves(args):
        export_action_token(settings)
        args = rasa_argv(args, settings)
    sys.argv = ["rasa", *args]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
