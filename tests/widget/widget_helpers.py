"""What the widget's browser tests share: the servers, the browser and the page.

Debian's Chromium (never a downloaded browser) driven by Playwright opens the
demo page served by widget/serve.py; the widget talks socket.io to the real
Rasa server (channels/socketio.py) and action server (tests/servers.py).
Between the browser and Rasa sits a small TCP relay standing in for the
network (tests/widget/widget_relay.py): the test can cut the connection and bring it
back the way a server restart looks to a browser, or make it block WebSockets
like some hospital and office proxies do.

Test modules wrap running_stack() and launched_chromium() in module-scoped
fixtures and import `pytestmark`, which skips them only when no Chromium
binary is found (`apt-get install chromium`).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, List
from urllib.parse import urlsplit

import requests
import yaml
from playwright.sync_api import Browser, Page, expect

from actions.config import DEFAULT_OFFICE_PHONE, load_settings
from actions.content import get_content
from browser import launched_chromium, needs_chromium  # noqa: F401 (re-exported to the tests)
from servers import PROJECT_ROOT, free_port, running_assistant, stop_process, wait_until
from widget_relay import Relay

pytestmark = needs_chromium
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
TITLE = "Questions about Achilles tendon rupture"
BOT_TIMEOUT_MS = 30_000
CONTENT = get_content()
SETTINGS = load_settings()
DISCLAIMER = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["responses"][
    "utter_disclaimer"
][0]["text"].replace("{office_phone}", DEFAULT_OFFICE_PHONE)
CREDENTIALS = "channels.rest.SafeRestInput:\nchannels.socketio.SafeSocketIOInput:\n"
# What Chromium itself logs while the chat server cannot be reached (the relay
# is stopped): the failed WebSocket and, since the client falls back to
# long-polling, the failed polling request. CSP violations ("Refused to ...")
# and script errors are still errors.
SERVER_UNREACHABLE = (
    "WebSocket connection to",
    "Failed to load resource: net::ERR_CONNECTION_REFUSED",
)


def plain(line: str) -> str:
    return line.replace("**", "").strip()


def first_line(topic_key: str) -> str:
    """The answer's first line as the widget shows it (Markdown-lite removed)."""
    return plain(CONTENT.topics[topic_key].answer.strip().splitlines()[0])


def first_list_item(topic_key: str) -> str:
    line = next(
        item for item in CONTENT.topics[topic_key].answer.splitlines() if item.startswith("- ")
    )
    return plain(line[2:])


def first_bold(topic_key: str) -> str:
    return CONTENT.topics[topic_key].answer.split("**")[1]


# ------------------------------------------------------------------ servers


class Stack:
    def __init__(self, widget_url: str, relay: Relay, db_path=None) -> None:
        self.widget_url = widget_url
        self.relay = relay
        self.db_path = db_path  # the assistant's SQLite database
        self.demo_url = f"{widget_url}/demo/"


@contextlib.contextmanager
def running_stack(tmp_path_factory) -> Iterator[Stack]:
    """Action server, Rasa (socket.io channel), the relay and widget/serve.py."""
    workdir = tmp_path_factory.mktemp("widget-browser")
    credentials = workdir / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    widget_port = free_port()
    # WIDGET_ALLOWED_ORIGINS empty: the channel's defaults must follow WIDGET_PORT.
    with running_assistant(
        workdir, credentials=credentials, WIDGET_PORT=str(widget_port), WIDGET_ALLOWED_ORIGINS=""
    ) as rasa:
        relay = Relay(rasa.port)
        relay.start()
        env = dict(
            rasa.env, HOST="127.0.0.1", WIDGET_PORT=str(widget_port), RASA_PUBLIC_URL=relay.url
        )
        log = open(workdir / "widget.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "widget" / "serve.py")],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        widget_url = f"http://127.0.0.1:{widget_port}"
        try:
            wait_until(
                lambda: requests.get(f"{widget_url}/demo/", timeout=2).ok, 30, "widget server", proc
            )
            yield Stack(widget_url, relay, rasa.db_path)
        finally:
            stop_process(proc)
            relay.stop()


@contextlib.contextmanager
def another_site(html: str, csp: str) -> Iterator[str]:
    """A page of another site (the practice's) on its own loopback origin: a
    real server, since Chromium keeps pages it did not fetch from loopback
    (Playwright routes) off loopback addresses."""
    body = html.encode("utf-8")

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------- pages


class Watch:
    """What a page did that it should not: console errors (CSP violations show
    up there), uncaught errors, dialogs (alert), requests to other origins."""

    def __init__(self, page: Page, allowed_origins: List[str]) -> None:
        self.console_errors: List[str] = []
        self.page_errors: List[str] = []
        self.dialogs: List[str] = []
        self.foreign_requests: List[str] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("dialog", self._dialog)
        page.on("request", lambda r: self._request(r.url, allowed_origins))
        page.on("websocket", lambda ws: self._request(ws.url, allowed_origins))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, url: str, allowed: List[str]) -> None:
        parts = urlsplit(url)
        if parts.scheme == "data":
            return
        origin = f"{parts.scheme.replace('ws', 'http', 1)}://{parts.netloc}"
        if origin not in allowed:
            self.foreign_requests.append(url)


def new_page(browser: Browser, stack: Stack, **context_args) -> tuple:
    context = browser.new_context(**context_args)
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, [stack.widget_url, stack.relay.url])
    return page, watch


class Widget:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_role("button", name=f"Chat: {TITLE}")
        self.panel = page.get_by_role("dialog", name=TITLE)
        self.log = page.get_by_role("log", name="Conversation")
        self.input = page.get_by_role("textbox", name="Type your question")
        self.replies = page.get_by_role("group", name="Suggested questions")
        self.user_bubbles = page.locator(".achw-msg-user")
        self.bot_bubbles = page.locator(".achw-msg-bot")
        self.status = page.locator(".achw-status")

    def ask(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def expect_bot(self, text: str, timeout: int = BOT_TIMEOUT_MS) -> None:
        expect(self.log).to_contain_text(text, timeout=timeout)

    def stored(self) -> Dict:
        return self.page.evaluate(
            "() => { for (let i = 0; i < sessionStorage.length; i++) {"
            "  const k = sessionStorage.key(i);"
            "  if (k.startsWith('achilles-chat:')) return JSON.parse(sessionStorage.getItem(k)); }"
            "  return null; }"
        )

    def shadow_eval(self, body: str):
        return self.page.evaluate(
            "() => { const root = document.getElementById('achilles-chat-widget').shadowRoot;"
            f" {body} }}"
        )


def assert_clean(watch: Watch, allow_console=()) -> None:
    errors = [e for e in watch.console_errors if not any(a in e for a in allow_console)]
    assert errors == [], f"console errors (CSP violations?): {errors}"
    assert watch.page_errors == []
    assert watch.dialogs == [], f"a dialog opened: {watch.dialogs}"
    assert watch.foreign_requests == [], f"requests to other origins: {watch.foreign_requests}"
