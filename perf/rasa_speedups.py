"""A measured speed-up of Rasa's custom-action calls (bench/README.md, finding 1).

For every custom action, Rasa checks the action server's response with
`jsonschema.validate(result, schema)` (in `RemoteAction._validate_action_result`,
rasa/core/actions/action.py). That call first checks the *schema itself*
against the JSON-Schema meta-schema and builds a new validator, every time:
~50 ms of CPU per custom action on the reference machine, more than all of NLU
and dialogue prediction together, for a schema that never changes.

`install()` replaces that one method, and nothing else (`jsonschema.validate`
stays jsonschema's for every other caller):
- each distinct schema is checked once and its validator kept (the validator
  class and schema are the ones `jsonschema.validate` would use, so it accepts
  exactly the responses Rasa accepts);
- a response it accepts is accepted (`True`, as Rasa returns);
- any other response is handed to Rasa's own method, so a malformed response
  is rejected with exactly Rasa's error.

It patches only the Rasa release it was written and measured against
(PINNED_RASA_VERSION, the pin in requirements.txt; tests/test_speedups.py
checks they agree). With any other version it logs a warning and leaves Rasa
alone: re-read Rasa's method, re-run bench/verify_speedups.py, then raise the pin.

Installed by channels/__init__.py: Rasa imports that package when it loads the
channels credentials.yml names, at server start-up, before any custom action
runs. RASA_SPEEDUPS=off in the environment leaves Rasa alone (bench/run_all.py
--ab-fixes measures the assistant without it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import Any, Callable, Dict, Optional, Tuple

logger = logging.getLogger(__name__)

PINNED_RASA_VERSION = "3.6.21"
SWITCH_ENV = "RASA_SPEEDUPS"
SWITCHED_OFF = ("off", "0", "false", "no")
RASA_ACTION_MODULE = "rasa.core.actions.action"
PATCHED_METHOD = "_validate_action_result"
MAX_CACHED_SCHEMAS = 64  # Rasa uses one; a bound in case a subclass varies it

_lock = threading.RLock()
_validators: Dict[Tuple[str, type], Any] = {}
_rasa_method: Optional[Callable[[Any, Dict[str, Any]], bool]] = None


def cached_validator(schema: Any) -> Optional[Any]:
    """The validator `jsonschema.validate` would build for `schema`, built once.

    Raises SchemaError for an invalid schema, as `jsonschema.validate` does.
    None when the schema cannot be used as a cache key (not JSON).
    """
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    try:
        key = (json.dumps(schema, sort_keys=True), cls)
    except (TypeError, ValueError):
        return None
    validator = _validators.get(key)
    if validator is None:
        cls.check_schema(schema)
        validator = cls(schema)
        with _lock:
            if len(_validators) < MAX_CACHED_SCHEMAS:
                _validators[key] = validator
    return validator


def validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once per schema."""
    validator = cached_validator(self.action_response_format_spec())
    if validator is not None and validator.is_valid(result):
        return True
    # rejected (or unusual): Rasa's own method raises its own error
    return _rasa_method(self, result)  # type: ignore[misc]


def is_installed() -> bool:
    action_module = sys.modules.get(RASA_ACTION_MODULE)
    return (
        action_module is not None
        and action_module.RemoteAction.__dict__.get(PATCHED_METHOD) is validate_action_result
    )


def install() -> bool:
    """Patches Rasa's action-result validation (imports Rasa's action module).

    Idempotent. True when the speed-up is in place; False when Rasa was left
    alone (switched off, or not the pinned Rasa version).
    """
    if os.environ.get(SWITCH_ENV, "").strip().lower() in SWITCHED_OFF:
        logger.info(
            "%s=%s: Rasa's action-result validation left as it is",
            SWITCH_ENV,
            os.environ[SWITCH_ENV],
        )
        return False
    import rasa

    if rasa.__version__ != PINNED_RASA_VERSION:
        logger.warning(
            "perf/rasa_speedups.py was written for Rasa %s, this is Rasa %s: not "
            "installed (custom actions cost ~50 ms more CPU each). Check Rasa's "
            "RemoteAction.%s and bench/verify_speedups.py before raising "
            "PINNED_RASA_VERSION.",
            PINNED_RASA_VERSION,
            rasa.__version__,
            PATCHED_METHOD,
        )
        return False
    global _rasa_method
    from rasa.core.actions.action import RemoteAction

    with _lock:
        current = RemoteAction.__dict__[PATCHED_METHOD]
        if current is validate_action_result:
            return True
        _rasa_method = current
        setattr(RemoteAction, PATCHED_METHOD, validate_action_result)
    logger.info(
        "Rasa %s: action-server responses validated with a cached validator "
        "(perf/rasa_speedups.py)",
        rasa.__version__,
    )
    return True


def install_if_rasa_loaded() -> bool:
    """install(), in a process that has already imported Rasa's action code.

    That is the Rasa server (and any script that loads an agent) by the time it
    imports our channels. Other processes that import channels (the tests,
    eval scripts using channels.sanitize) are left alone, and do not pay ~7 s
    for importing Rasa's action code and TensorFlow.
    """
    if RASA_ACTION_MODULE not in sys.modules:
        return False
    return install()


def uninstall() -> None:
    """Puts Rasa's own method back (tests, bench/verify_speedups.py)."""
    action_module = sys.modules.get(RASA_ACTION_MODULE)
    with _lock:
        if action_module is not None and _rasa_method is not None and is_installed():
            setattr(action_module.RemoteAction, PATCHED_METHOD, _rasa_method)
