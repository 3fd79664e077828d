"""A real browser (Debian's Chromium via Playwright) logs in, filters to fallbacks,
opens a transcript and marks it reviewed. Screenshot: test-artifacts/console.png."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from browser import launched_chromium, needs_chromium
from console_helpers import PASSWORD, PROJECT_ROOT
from servers import free_port

ARTIFACTS = PROJECT_ROOT / "test-artifacts"

pytestmark = needs_chromium


@pytest.fixture
def console_server(app, console_env, tmp_path):
    """`python -m console serve` on a free loopback port; stopped by the test."""
    port = free_port()
    log = open(tmp_path / "console.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, **console_env, HOST="127.0.0.1"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "console.log").read_text()
            try:
                if requests.get(f"{url}/login", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "console did not start"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_browser_login_filter_review(console_server, assistant_db, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    errors = []
    with launched_chromium() as browser:
        page = browser.new_page(viewport={"width": 1360, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{console_server}/conversations")
        assert "/login" in page.url  # nothing without logging in
        page.fill("#username", "alice")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/conversations")

        page.check("input[name=fallback]")
        page.click("text=Apply filters")
        page.wait_for_url("**fallback=1**")
        rows = page.locator("table.list tbody tr")
        fallbacks = len(assistant_db.expected["fallback"])
        assert rows.count() == fallbacks
        assert page.locator("table.list .flag.fallback").count() == fallbacks
        page.screenshot(path=str(ARTIFACTS / "console-list.png"), full_page=True)

        page.locator("table.list tbody tr td.question a").first.click()
        page.wait_for_selector(".chat .bubble.user")
        assert page.locator(".bubble.bot .action").count() >= 1
        assert "maria.lopez@example.com" not in page.content()
        page.check("#reviewed")
        page.fill("input[name=tags]", "needs content")
        page.click("#save-review")
        page.wait_for_selector("text=Review saved.")
        assert page.is_checked("#reviewed")
        page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)

        page.click("text=Back to the list")
        page.wait_for_url("**fallback=1**")
        assert page.locator("table.list .flag.reviewed").count() >= 1

        page.goto(f"{console_server}/overview")
        page.wait_for_function("document.querySelectorAll('canvas').length === 6")
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "console-overview.png"), full_page=True)
        drawn = page.evaluate(
            "Array.from(document.querySelectorAll('canvas')).every(c => c.width > 0 && Chart.getChart(c))"
        )
        assert drawn
    assert not errors, errors  # no CSP violations or script errors
