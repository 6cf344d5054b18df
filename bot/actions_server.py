"""The action server: rasa_sdk's app for ``actions/``, on loopback, behind a shared secret.

``python -m bot.actions_server --port 5055`` (the launcher starts it) replaces
``rasa run actions``, which listens on every interface, runs any action for anyone who can
reach it, and answers errors with the request body. Here:

* it listens on ``ACTION_INTERFACE`` (default 127.0.0.1), port ``ACTION_PORT`` unless ``--port``;
* ``/webhook`` and ``/actions`` need the header ``X-PostDesk-Action-Token`` with the token
  (``ACTION_TOKEN``, else ``var/action_token``, generated once, mode 0600), compared in constant
  time; anything else gets a 401. Rasa sends the header (``headers:`` of the action endpoint in
  endpoints.yml). ``/health`` stays open;
* error answers are short and generic: never the request body (trackers hold customers'
  phone numbers and addresses), never an exception text; the log names the action only.
  A 400 keeps ``action_name``, which Rasa needs to treat it as a rejected action;
* ``/metrics`` serves Prometheus metrics (README "Metrics") to callers on this machine or with
  ``Authorization: Bearer <METRICS_TOKEN>``: ``postdesk_fallback_turns_total``, the turns the
  NLU could not read, counted here because this is where their answer is chosen (each Sanic
  worker counts its own: keep ``ACTION_SERVER_SANIC_WORKERS`` at its default, 1).
"""
from __future__ import annotations

import argparse
import hmac
import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any, Optional, Sequence

from bot.channels import senders
from bot.config import ACTION_TOKEN_HEADER, PROJECT_ROOT, ensure_token, load_settings
from bot.metrics import CONTENT_TYPE, Metrics, exposition, may_scrape, process_metrics, refusal

if TYPE_CHECKING:  # sanic comes with rasa_sdk, imported on first use
    from sanic import Sanic
    from sanic.request import Request
    from sanic.response import HTTPResponse

logger = logging.getLogger("postdesk.actions_server")

PROTECTED = ("/webhook", "/actions")
MESSAGES = {
    400: "invalid request",
    401: f"the {ACTION_TOKEN_HEADER} header is missing or wrong",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "request too large",
}
_ACTION_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
# data/rules/fallback.yml: a turn read as nlu_fallback is answered by asking which request was
# meant, a second one in a row by handing over to a person; one of the two runs in such a turn.
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = {"action_clarify": "clarify", "action_request_human": "hand_over"}


def token_matches(sent: Optional[str], token: str) -> bool:
    """Whether the header value `sent` is `token` (constant time; an empty token never matches)."""
    return bool(token) and sent is not None and hmac.compare_digest(
        sent.encode("utf-8"), token.encode("utf-8"))


def action_name(request: "Request") -> str:
    """The action a webhook call asks for, fit for a log line ("?" if there is none)."""
    try:
        call = request.json
    except Exception:  # a body that is not JSON: nothing to name
        return "?"
    name = call.get("next_action") if isinstance(call, dict) else None
    if isinstance(name, str) and _ACTION_NAME.fullmatch(name):
        return name
    return "?" if name is None else "(not an action name)"


def fallback_turn(request: "Request") -> Optional[tuple[str, str]]:
    """(channel, outcome) when a webhook call answers a turn read as nlu_fallback, else None.

    The channel is the conversation's (``rest``, ``wechat``; ``other`` for an id of none), the
    outcome ``clarify`` or ``hand_over`` (`FALLBACK_ACTIONS`).
    """
    try:
        call = request.json
    except Exception:  # a body that is not JSON: no turn to count
        return None
    if not isinstance(call, dict):
        return None
    action = call.get("next_action")
    outcome = FALLBACK_ACTIONS.get(action) if isinstance(action, str) else None
    tracker = call.get("tracker")
    latest = tracker.get("latest_message") if isinstance(tracker, dict) else None
    intent = latest.get("intent") if isinstance(latest, dict) else None
    if outcome is None or not isinstance(intent, dict) or intent.get("name") != FALLBACK_INTENT:
        return None
    sender = call.get("sender_id")
    channel, _ = senders.split(sender if isinstance(sender, str) else "")
    return channel or "other", outcome


def _rejected_action(answer: "HTTPResponse") -> Optional[str]:
    """The ``action_name`` of rasa_sdk's answer to a rejected action, if it has one."""
    try:
        name = json.loads(answer.body or b"null").get("action_name")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and _ACTION_NAME.fullmatch(name) else None


def create_app(token: str, actions_package: str = "actions", *,
               metrics: Optional[Metrics] = None, metrics_token: str = "") -> "Sanic":
    """rasa_sdk's app for `actions_package`, with the token check and generic error answers.

    Args:
        token: the shared secret Rasa sends in the ``X-PostDesk-Action-Token`` header.
        actions_package: the package whose actions are served.
        metrics: where fallback turns are counted and what ``/metrics`` serves (default:
            this process's metrics).
        metrics_token: METRICS_TOKEN, which lets ``/metrics`` serve callers elsewhere.
    """
    from rasa_sdk import endpoint
    from sanic import response
    from sanic.exceptions import SanicException

    if not token:
        raise ValueError("the action server needs a token")
    # No CORS: no browser has any business calling the action server.
    app = endpoint.create_app(actions_package, cors_origins="")
    recorded = metrics or process_metrics()

    @app.on_request
    async def require_token(request: "Request") -> Optional["HTTPResponse"]:
        if request.path.rstrip("/") in PROTECTED and not token_matches(
                request.headers.get(ACTION_TOKEN_HEADER), token):
            logger.warning("refused %s %s from %s: missing or wrong %s", request.method,
                           request.path, request.ip, ACTION_TOKEN_HEADER)
            return response.json({"error": MESSAGES[401]}, status=401)
        return None

    # Replaces rasa_sdk's handler, which answers with the exception text and the request body.
    @app.exception(Exception)
    async def on_error(request: "Request", exception: Exception) -> "HTTPResponse":
        status = exception.status_code if isinstance(exception, SanicException) else 500
        if status >= 500:
            logger.error("action %s failed (%s)", action_name(request),
                         exception.__class__.__name__, exc_info=exception)
        return response.json({"error": MESSAGES.get(status, "the action failed")},
                             status=status)

    # rasa_sdk's webhook answers an unknown action (404) and a rejected one (400) with texts
    # made of the request; every error answer leaves as a generic one.
    @app.on_response
    async def generic_errors(request: "Request", answer: "HTTPResponse") -> Any:
        if answer.status < 400 or answer.status == 401:
            return None
        body: dict[str, Any] = {"error": MESSAGES.get(answer.status, "the action failed")}
        if request.path.rstrip("/") == "/webhook" and answer.status == 404:
            logger.error("unknown action %s requested", action_name(request))
        if answer.status == 400:
            rejected = _rejected_action(answer)
            if rejected:
                body = {"error": f"Custom action '{rejected}' rejected execution.",
                        "action_name": rejected}
        return response.json(body, status=answer.status)

    @app.on_response
    async def count_fallbacks(request: "Request", answer: "HTTPResponse") -> None:
        if request.path.rstrip("/") == "/webhook" and answer.status == 200:
            turn = fallback_turn(request)
            if turn is not None:
                recorded.fallback_turn(*turn)

    @app.get("/metrics")
    async def scrape(request: "Request") -> "HTTPResponse":
        if not may_scrape(request.ip, request.headers, metrics_token):
            status, text, headers = refusal(metrics_token)
            logger.warning("metrics scrape from %s refused (%d)", request.ip, status)
            return response.text(text, status=status, headers=headers)
        return response.raw(exposition(recorded.registry), content_type=CONTENT_TYPE)

    return app


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve the actions until interrupted; returns the exit status."""
    from rasa_sdk import utils
    from rasa_sdk.plugin import plugin_manager

    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.actions_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=settings.action_port,
                        help="default: ACTION_PORT (5055)")
    parser.add_argument("--actions", default="actions", help="the package of the actions")
    args = parser.parse_args(argv)

    utils.configure_colored_logging(settings.log_level)
    utils.update_sanic_log_level()
    token_file = PROJECT_ROOT / "var" / "action_token"
    token = ensure_token(settings.action_token, token_file)
    app = create_app(token, args.actions, metrics_token=settings.metrics_token)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    logger.info("action server on http://%s:%s (token: %s)", settings.action_interface,
                args.port, "ACTION_TOKEN" if settings.action_token else token_file)
    app.run(settings.action_interface, args.port, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
