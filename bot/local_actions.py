"""Form validators that need nothing but the message, run inside the Rasa server.

A tracking question activates ``mail_query_form``, whose validator only checks the number's
format and check digit (``actions.mail.ValidateMailQueryForm``, no store, no network). Calling
it over HTTP cost the Rasa server about 8% of its time under load (the call's JSON, the
request, the answer) and the action server a request. :func:`run_local` runs such an action
with rasa_sdk's own executor in this process, on the same call body Rasa would have posted;
its answer goes through the same JSON round trip and the same checks in
``RemoteAction.run`` as an answer from the action server. A rejected validation is raised as
the action server's 400 would be.

Only actions named in :data:`LOCAL_ACTIONS` run here: add one only if it does no I/O. The
Rasa server then runs that code as of its own start, so a deploy restarts both servers (as
``make run``, ``make cluster`` and the trainer's deploy do).
"""
from __future__ import annotations

import importlib
import json
import logging
from typing import Any, Optional, TypeGuard

logger = logging.getLogger(__name__)

# action name -> (module, class) of a rasa_sdk action that does no I/O
LOCAL_ACTIONS: dict[str, tuple[str, str]] = {
    "validate_mail_query_form": ("actions.mail", "ValidateMailQueryForm"),
}

_executor: Optional[Any] = None


def runs_locally(call: Any) -> TypeGuard[dict[str, Any]]:
    """Whether the action call body `call` is for an action run in this process."""
    return isinstance(call, dict) and call.get("next_action") in LOCAL_ACTIONS


def _local_executor() -> Any:
    global _executor
    if _executor is None:
        from rasa_sdk.executor import ActionExecutor

        executor = ActionExecutor()
        for module, name in LOCAL_ACTIONS.values():
            executor.register_action(getattr(importlib.import_module(module), name))
        _executor = executor
    return _executor


async def run_local(call: dict[str, Any]) -> Any:
    """The answer the action server would give to `call` (an action of LOCAL_ACTIONS).

    Raises:
        rasa.utils.endpoints.ClientResponseError: 400 with rasa_sdk's body when the action
            rejects execution, 500 when it fails, as an HTTP call would.
    """
    from rasa.utils.endpoints import ClientResponseError
    from rasa_sdk.interfaces import ActionExecutionRejection

    try:
        result = await _local_executor().run(call)
    except ActionExecutionRejection as e:
        body = {"error": f"Custom action '{e.action_name}' rejected execution.",
                "action_name": e.action_name}
        raise ClientResponseError(400, "Bad Request", json.dumps(body)) from None
    except Exception as e:  # noqa: BLE001 - as the action server's 500: Rasa fails the action
        logger.error("action %s failed in process (%s)", call.get("next_action"),
                     e.__class__.__name__, exc_info=e)
        raise ClientResponseError(500, "Internal Server Error", "{}") from None
    return json.loads(json.dumps(result))
