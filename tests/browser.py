"""Debian's Chromium for the browser tests (widget, console), driven by Playwright;
never a downloaded browser."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING, Iterator, Optional

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def find_chromium() -> Optional[str]:
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = find_chromium()
# for test modules: `from browser import needs_chromium as pytestmark`
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not found at /usr/bin/chromium (install Debian's: apt-get install -y chromium)",
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def launched_chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
