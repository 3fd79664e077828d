"""The Rasa server's measured settings (perf/): they change nothing but speed.

- perf/rasa_speedups.py patches only Rasa's check of action-server responses,
  only on the pinned Rasa version, and rejects what Rasa rejects, the same way;
- the one-BLAS-thread environment reaches every Rasa server we start (the
  server started by tests/servers.py: tests/test_rest_e2e.py);
- bench/verify_speedups.py, trimmed: the same predictions and verdicts with and
  without them.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import sys

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from perf import rasa_speedups
from perf.blas_threads import ONE_BLAS_THREAD
from servers import PROJECT_ROOT, VENV_BIN

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import verify_speedups  # noqa: E402

VALID = {
    "events": [{"event": "slot", "timestamp": None, "name": "triage_level", "value": "urgent"}],
    "responses": [{"text": "Call the office now."}],
}
MALFORMED = [
    {"events": {"event": "slot"}},
    {"events": [{"name": "no_event_type"}]},
    {"events": [{"event": "not_an_event"}]},
    {"responses": ["a bare string"]},
    "not an object",
]


@pytest.fixture
def rasa_as_released(monkeypatch):
    """Rasa's own method for the test, whatever this process installed before."""
    was_installed = rasa_speedups.is_installed()
    rasa_speedups.uninstall()
    monkeypatch.delenv(rasa_speedups.SWITCH_ENV, raising=False)
    yield RemoteAction.__dict__[rasa_speedups.PATCHED_METHOD]
    rasa_speedups.uninstall()
    if was_installed:
        rasa_speedups.install()


def verdict(response):
    try:
        return RemoteAction("action_test", None)._validate_action_result(response)
    except jsonschema.ValidationError as error:
        return type(error), str(error), error.message, list(error.absolute_path)


def test_the_pin_is_the_rasa_version_in_requirements_txt():
    pins = re.findall(
        r"^rasa(?:\[[^\]]*\])?==(\S+)",
        (PROJECT_ROOT / "requirements.txt").read_text(),
        re.MULTILINE,
    )
    assert pins == [rasa_speedups.PINNED_RASA_VERSION]


def test_install_patches_only_rasas_action_result_check(rasa_as_released):
    validate, validator_for = jsonschema.validate, jsonschema.validators.validator_for
    assert rasa_speedups.install() is True
    assert (
        RemoteAction.__dict__[rasa_speedups.PATCHED_METHOD] is rasa_speedups.validate_action_result
    )
    assert rasa_speedups.install() is True  # idempotent
    assert jsonschema.validate is validate
    assert jsonschema.validators.validator_for is validator_for
    assert getattr(jsonschema.validate, "__module__", "") == "jsonschema.validators"


def test_responses_get_the_same_verdict_as_from_rasa_itself(rasa_as_released):
    expected = [verdict(r) for r in [VALID, {}] + MALFORMED]
    assert expected[:2] == [True, True]
    assert all(isinstance(v, tuple) for v in expected[2:])
    assert rasa_speedups.install()
    assert [verdict(r) for r in [VALID, {}] + MALFORMED] == expected
    # a malformed response is still rejected with Rasa's explanation
    assert "Failed to validate Action server response" in expected[2][2]


def test_another_rasa_version_is_left_alone(rasa_as_released, monkeypatch, caplog):
    import rasa

    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    with caplog.at_level(logging.WARNING, logger=rasa_speedups.__name__):
        assert rasa_speedups.install() is False
    assert RemoteAction.__dict__[rasa_speedups.PATCHED_METHOD] is rasa_as_released
    assert not rasa_speedups.is_installed()
    assert "3.6.22" in caplog.text and rasa_speedups.PINNED_RASA_VERSION in caplog.text


def test_the_switch_leaves_rasa_alone(rasa_as_released, monkeypatch):
    monkeypatch.setenv(rasa_speedups.SWITCH_ENV, "off")
    assert rasa_speedups.install() is False
    assert RemoteAction.__dict__[rasa_speedups.PATCHED_METHOD] is rasa_as_released


def test_importing_channels_outside_rasa_imports_no_rasa_action_code():
    """Tests and eval scripts import channels; only a Rasa process gets the patch."""
    check = "import sys, channels.sanitize; assert 'rasa.core.actions.action' not in sys.modules"
    subprocess.run(
        [str(VENV_BIN / "python"), "-c", check], cwd=PROJECT_ROOT, check=True, timeout=60
    )


def test_the_procfile_starts_rasa_with_one_blas_thread():
    rasa_line = next(
        line
        for line in (PROJECT_ROOT / "Procfile").read_text().splitlines()
        if line.startswith("rasa:")
    )
    words = shlex.split(rasa_line.partition(":")[2], posix=False)
    for name, value in ONE_BLAS_THREAD.items():
        assert f"{name}={value}" in words
    assert "PYTHONPATH" not in rasa_line and not (PROJECT_ROOT / "perf" / "site").exists()


def test_the_cluster_starts_rasa_with_one_blas_thread(tmp_path, monkeypatch):
    from cluster.stack import Stack

    for name in ONE_BLAS_THREAD:
        monkeypatch.delenv(name, raising=False)
    env = Stack(tmp_path, replicas=1, action_servers=1).rasa_proc(0).env
    assert {name: env.get(name) for name in ONE_BLAS_THREAD} == ONE_BLAS_THREAD


def test_the_speed_ups_change_nothing_but_speed():
    """bench/verify_speedups.py, trimmed: 40 held-out messages, one process."""
    plain, fast, problems = verify_speedups.verify_in_process(sample=40)
    assert problems == []
    assert len(plain["nlu"]) == 40
    verdicts = [v[0] for v in plain["validation"]]
    assert "accepted" in verdicts and "ValidationError" in verdicts
