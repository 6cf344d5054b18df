"""``rasa`` with PostDesk's runtime fixes: ``python -m bot.server run --model …``.

Rasa 3.6 validates every action-server answer with the one-shot ``jsonschema.validate``,
which re-checks the large event schema against the JSON-Schema meta-schema on each call:
about 45 ms per custom action on this machine, two calls in a tracking turn. The fix
compiles the validator once and keeps Rasa's behaviour and error message unchanged.

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

The launcher and the benchmarks start the Rasa server through this module.
"""
from __future__ import annotations

import hmac
import os
import secrets
import sys
from functools import wraps
from inspect import isawaitable
from typing import Any, Callable, Dict, List, Optional, Sequence

from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.config import RASA_TOKEN_HEADER as TOKEN_HEADER


def _compiled_validator(schema: Dict[str, Any]) -> Callable[[Dict[str, Any]], None]:
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema).validate


def apply_runtime_fixes() -> None:
    """Apply the fixes of this module (before Rasa's app is created). Idempotent."""
    _compile_action_validator()
    _accept_token_header()


def _compile_action_validator() -> None:
    """Replace ``RemoteAction._validate_action_result`` by a compiled-once validator.

    The replacement raises the same ``ValidationError`` with the same hint as Rasa's own
    method when an action server answers with a malformed body.
    """
    from jsonschema import ValidationError
    from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction

    if getattr(RemoteAction, "_postdesk_validator", None) is not None:
        return
    validate = _compiled_validator(RemoteAction.action_response_format_spec())

    def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
        try:
            validate(result)
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
        from bot.launcher import rasa_api_token

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
    from bot.launcher import ensure_token

    os.environ["ACTION_TOKEN"] = ensure_token(settings.action_token,
                                              PROJECT_ROOT / "var" / "action_token")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Apply the fixes, then run Rasa's command line with ``argv``."""
    from rasa.__main__ import main as rasa_main

    args = sys.argv[1:] if argv is None else list(argv)
    apply_runtime_fixes()
    if _serves(args):
        settings = load_settings()
        export_action_token(settings)
        args = rasa_argv(args, settings)
    sys.argv = ["rasa", *args]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
