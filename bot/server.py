"""``rasa`` with PostDesk's runtime fixes: ``python -m bot.server run --model …``.

Rasa 3.6 validates every action-server answer with the one-shot ``jsonschema.validate``,
which re-checks the large event schema against the JSON-Schema meta-schema on each call:
about 45 ms per custom action on this machine, two calls in a tracking turn. The fix
compiles the validator once and keeps Rasa's behaviour and error message unchanged.
The launcher and the benchmarks start the Rasa server through this module.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Optional, Sequence


def _compiled_validator(schema: Dict[str, Any]) -> Callable[[Dict[str, Any]], None]:
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema).validate


def apply_runtime_fixes() -> None:
    """Replace ``RemoteAction._validate_action_result`` by a compiled-once validator.

    Idempotent. The replacement raises the same ``ValidationError`` with the same hint as
    Rasa's own method when an action server answers with a malformed body.
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

    RemoteAction._postdesk_original = RemoteAction._validate_action_result  # type: ignore
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
    RemoteAction._postdesk_validator = validate  # type: ignore[attr-defined]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Apply the fixes, then run Rasa's command line with ``argv``."""
    from rasa.__main__ import main as rasa_main

    apply_runtime_fixes()
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
