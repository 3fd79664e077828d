"""Fixtures of the widget's browser tests: the real servers behind a relay that
can cut or filter the connection, and Debian's Chromium (one start of each per
test module)."""

from __future__ import annotations

import pytest

from widget_helpers import launched_chromium, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as chromium:
        yield chromium
