"""Speed-ups for Rasa 3.6.21 found by profiling (bench/profile_server.py; bench/README.md).

Both keep Rasa's behaviour; bench/verify_speedups.py checks that the loaded
model predicts exactly the same intents, confidences and actions with and
without them.

1. Custom-action responses: Rasa validates every action-server response with
   `jsonschema.validate(result, schema)`, which first checks the *schema
   itself* against the JSON-Schema meta-schema and builds a new validator,
   every time: ~50 ms of CPU per custom action call on the reference machine
   (more than all of NLU and dialogue prediction together), for a schema
   (Rasa's EVENTS_SCHEMA) that never changes. `jsonschema.validate` is
   replaced by a version that checks each distinct schema once and keeps its
   validator; the instance is validated exactly as before (same validator
   class, same best-matching error raised), so a malformed action-server
   response is still rejected.

2. Model loading (start-up): to create the weights of DIET and TED before
   reading them from the model file, `RasaModel.load` runs one *training* step
   (`model.fit` on one example), which traces the whole training graph with
   TensorFlow: two thirds of the server's start-up time. The weights are then
   overwritten from the file, and the model is traced again for prediction.
   The replacement reads the file first (TensorFlow restores each weight when
   it is created) and lets that prediction trace create the weights. Used only
   for inference loads (not fine-tuning) with a prediction example; otherwise
   Rasa's own method runs.

Activate in the Rasa server process, either
- where Rasa imports our code: one line in channels/__init__.py,
  `from perf.rasa_speedups import install; install()`; or
- by environment only: PYTHONPATH=perf/site for the Rasa process
  (perf/site/sitecustomize.py calls install() at interpreter start-up).
Patches apply when their module is imported (nothing heavy is imported here).
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import json
import logging
import sys
import threading
from typing import Any, Callable, Dict, Tuple

logger = logging.getLogger(__name__)

_lock = threading.RLock()
_installed = False
_validators: Dict[Tuple[str, type], Any] = {}
_original_validate: Any = None
_original_load: Any = None


# ------------------------------------------------ 1. action-result validation --

def cached_validate(instance: Any, schema: Any, cls: Any = None, *args: Any,
                    **kwargs: Any) -> None:
    """`jsonschema.validate` with the schema check and validator built once per schema."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    if args or kwargs:  # unusual call: the library's own behaviour
        return _original_validate(instance, schema, cls, *args, **kwargs)
    if cls is None:
        cls = validator_for(schema)
    try:
        key = (json.dumps(schema, sort_keys=True), cls)
    except (TypeError, ValueError):
        return _original_validate(instance, schema, cls)
    validator = _validators.get(key)
    if validator is None:
        cls.check_schema(schema)  # raises SchemaError, as jsonschema.validate does
        validator = cls(schema)
        with _lock:
            if len(_validators) < 64:
                _validators[key] = validator
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def _patch_jsonschema(module: Any) -> None:
    global _original_validate
    if getattr(module.validate, "__name__", "") == "cached_validate":
        return
    _original_validate = module.validate
    module.validate = cached_validate


# ---------------------------------------------------------- 2. model loading --

def _fast_load(cls: Any, model_file_name: str, model_data_example: Any,
               predict_data_example: Any = None, finetune_mode: bool = False,
               *args: Any, **kwargs: Any) -> Any:
    if finetune_mode or predict_data_example is None:
        return _original_load.__func__(cls, model_file_name, model_data_example,
                                       predict_data_example, finetune_mode, *args, **kwargs)
    import tensorflow as tf
    from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY

    logger.debug(f"Loading the model from {model_file_name} (inference only)...")
    model = cls(*args, **kwargs)
    config = kwargs.get("config", {})
    model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
                  run_eagerly=config.get(RUN_EAGERLY))
    # Not built yet: every weight is restored from the file when it is created.
    # The optimizer's slots in the file are not needed for inference.
    model.load_weights(model_file_name).expect_partial()
    # The first prediction builds the weights (restored as they are created)
    # and traces the prediction graph, as Rasa's own load does afterwards.
    model.run_inference(predict_data_example)
    logger.debug("Finished loading the model.")
    return model


def _patch_rasa_models(module: Any) -> None:
    global _original_load
    model_class = module.RasaModel
    current = model_class.__dict__["load"]
    if getattr(current.__func__, "__name__", "") == "_fast_load":
        return
    _original_load = current
    model_class.load = classmethod(_fast_load)


# ------------------------------------------------------------- installation --

PATCHES: Dict[str, Callable[[Any], None]] = {
    "jsonschema": _patch_jsonschema,
    "rasa.utils.tensorflow.models": _patch_rasa_models,
}


class _AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs a patch right after its module is imported (nothing imported early)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in PATCHES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        original_exec = spec.loader.exec_module

        def exec_module(module):
            original_exec(module)
            _apply(fullname, module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _apply(name: str, module: Any) -> None:
    try:
        PATCHES[name](module)
    except Exception:  # a speed-up must never break the assistant
        logger.exception("perf.rasa_speedups: could not patch %s", name)


def install() -> None:
    """Idempotent. Patches modules already imported now, the others on import."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        for name in PATCHES:
            if name in sys.modules:
                _apply(name, sys.modules[name])
        if any(name not in sys.modules for name in PATCHES):
            sys.meta_path.insert(0, _AfterImport())
