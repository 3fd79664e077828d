"""The website chat widget in a real browser, against the real servers.

Debian's Chromium (never a downloaded browser) driven by Playwright opens the
demo page served by widget/serve.py; the widget talks socket.io to the real
Rasa server (channels/socketio.py) and action server (tests/servers.py).
Between the browser and Rasa sits a small TCP relay, so the test can cut the
connection and bring it back the way a server restart looks to a browser.

Skipped only when no Chromium binary is found (`apt-get install chromium`).
Screenshots: test-artifacts/widget.png (desktop) and widget-360.png (360 px).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from actions.config import DEFAULT_OFFICE_PHONE, load_settings
from actions.content import get_content
from servers import PROJECT_ROOT, free_port, running_assistant, stop_process, wait_until


def find_chromium() -> Optional[str]:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not found at /usr/bin/chromium (install Debian's: apt-get install -y chromium)")

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
TITLE = "Questions about Achilles tendon rupture"
BOT_TIMEOUT_MS = 30_000
CONTENT = get_content()
SETTINGS = load_settings()
DISCLAIMER = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())[
    "responses"]["utter_disclaimer"][0]["text"].replace("{office_phone}", DEFAULT_OFFICE_PHONE)
XSS = "<img src=x onerror=alert(1)>"
CREDENTIALS = "channels.rest.SafeRestInput:\nchannels.socketio.SafeSocketIOInput:\n"


def plain(line: str) -> str:
    return line.replace("**", "").strip()


def first_line(topic_key: str) -> str:
    """The answer's first line as the widget shows it (Markdown-lite removed)."""
    return plain(CONTENT.topics[topic_key].answer.strip().splitlines()[0])


def first_list_item(topic_key: str) -> str:
    line = next(l for l in CONTENT.topics[topic_key].answer.splitlines() if l.startswith("- "))
    return plain(line[2:])


def first_bold(topic_key: str) -> str:
    return CONTENT.topics[topic_key].answer.split("**")[1]


# ------------------------------------------------------------------ servers

class Relay:
    """TCP relay 127.0.0.1:port -> the Rasa server. stop() drops every connection
    and refuses new ones, start() accepts again: to the browser this is a
    server restart."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.listener: Optional[socket.socket] = None
        self.sockets: List[socket.socket] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class Stack:
    def __init__(self, widget_url: str, relay: Relay) -> None:
        self.widget_url = widget_url
        self.relay = relay
        self.demo_url = f"{widget_url}/demo/"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("widget-browser")
    credentials = workdir / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    widget_port = free_port()
    # WIDGET_ALLOWED_ORIGINS empty: the channel's defaults must follow WIDGET_PORT.
    with running_assistant(workdir, credentials=credentials, WIDGET_PORT=str(widget_port),
                           WIDGET_ALLOWED_ORIGINS="") as rasa:
        relay = Relay(rasa.port)
        relay.start()
        env = dict(rasa.env, HOST="127.0.0.1", WIDGET_PORT=str(widget_port),
                   RASA_PUBLIC_URL=relay.url)
        log = open(workdir / "widget.log", "ab")
        proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "widget" / "serve.py")],
                                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        widget_url = f"http://127.0.0.1:{widget_port}"
        try:
            wait_until(lambda: requests.get(f"{widget_url}/demo/", timeout=2).ok,
                       30, "widget server", proc)
            yield Stack(widget_url, relay)
        finally:
            stop_process(proc)
            relay.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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

    def expect_bot(self, text: str) -> None:
        expect(self.log).to_contain_text(text, timeout=BOT_TIMEOUT_MS)

    def stored(self) -> Dict:
        return self.page.evaluate(
            "() => { for (let i = 0; i < sessionStorage.length; i++) {"
            "  const k = sessionStorage.key(i);"
            "  if (k.startsWith('achilles-chat:')) return JSON.parse(sessionStorage.getItem(k)); }"
            "  return null; }")

    def shadow_eval(self, body: str):
        return self.page.evaluate(
            "() => { const root = document.getElementById('achilles-chat-widget').shadowRoot;"
            f" {body} }}")


def assert_clean(watch: Watch, allow_console=()) -> None:
    errors = [e for e in watch.console_errors if not any(a in e for a in allow_console)]
    assert errors == [], f"console errors (CSP violations?): {errors}"
    assert watch.page_errors == []
    assert watch.dialogs == [], f"a dialog opened: {watch.dialogs}"
    assert watch.foreign_requests == [], f"requests to other origins: {watch.foreign_requests}"


# -------------------------------------------------------------------- tests

def test_demo_page_is_served_with_a_strict_csp(stack):
    response = requests.get(stack.demo_url, timeout=5)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert f"connect-src {stack.relay.url} ws://" in csp
    assert "require-trusted-types-for 'script'" in csp
    assert f'data-server-url="{stack.relay.url}"' in response.text
    assert requests.get(f"{stack.widget_url}/serve.py", timeout=5).status_code == 404
    assert requests.get(f"{stack.widget_url}/demo/../serve.py", timeout=5).status_code == 404


def test_patient_chats_in_the_widget(stack, browser):
    page, watch = new_page(browser, stack, viewport={"width": 1100, "height": 820})
    widget = Widget(page)
    page.goto(stack.demo_url)

    # launcher bubble opens the panel; the disclaimer and the greeting's buttons show
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    expect(widget.panel).to_be_hidden()
    widget.launcher.click()
    expect(widget.panel).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    expect(widget.input).to_be_focused()
    widget.expect_bot(DISCLAIMER)
    expect(widget.replies.get_by_role("button", name="Symptoms", exact=True)).to_be_visible(
        timeout=BOT_TIMEOUT_MS)

    # typed question 1: symptoms (Markdown-lite: bold and a list), typing indicator shown
    widget.shadow_eval(
        "const t = root.querySelector('.achw-typing'); window.__typingSeen = false;"
        " new MutationObserver(() => { if (!t.hidden) window.__typingSeen = true; })"
        ".observe(t, {attributes: true});")
    widget.ask("What are the symptoms of a ruptured Achilles?")
    widget.expect_bot(first_line("symptoms"))
    expect(widget.log.locator("strong", has_text=first_bold("symptoms"))).to_be_visible()
    expect(widget.log.locator("li", has_text=first_list_item("symptoms"))).to_be_visible()
    assert page.evaluate("window.__typingSeen") is True
    expect(page.locator(".achw-typing")).to_be_hidden()

    # typed question 2: recovery
    widget.ask("How long is the recovery after surgery?")
    widget.expect_bot(first_line("recovery"))

    # a quick-reply button: its title becomes the patient's bubble, its answer follows
    clicked = CONTENT.topics[CONTENT.topics["recovery"].related[0]]
    widget.replies.get_by_role("button", name=clicked.title, exact=True).click()
    expect(widget.user_bubbles.last).to_have_text(f"You said: {clicked.title}")
    widget.expect_bot(first_line(CONTENT.topics["recovery"].related[0]))
    expect(widget.replies.get_by_role("button", name="Call the office")).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let the last bubble settle for the picture
    page.screenshot(path=str(ARTIFACTS / "widget.png"))

    # reload: same session, same history, panel still open
    session_id = widget.stored()["sessionId"]
    bubbles = widget.bot_bubbles.count()
    page.reload()
    expect(widget.panel).to_be_visible()
    for text in (DISCLAIMER, first_line("symptoms"), first_line("recovery"),
                 first_line(CONTENT.topics["recovery"].related[0])):
        expect(widget.log).to_contain_text(text)
    expect(widget.bot_bubbles).to_have_count(bubbles)
    expect(widget.user_bubbles).to_have_count(3)
    assert widget.stored()["sessionId"] == session_id
    assert session_id.startswith("web-")  # minted and signed by the server

    # navigation to another page of the site keeps the conversation too
    page.get_by_role("link", name="Contact & appointments").click()
    expect(page).to_have_title("Contact & appointments | Foot & Ankle Practice (widget demo)")
    expect(widget.panel).to_be_visible()
    expect(widget.log).to_contain_text(first_line("recovery"))

    # the last answer's buttons survive too: "Call the office" gives tel: and http links
    widget.replies.get_by_role("button", name="Call the office").click()
    tel = "tel:+1" + "".join(ch for ch in SETTINGS.office_phone if ch.isdigit())[-10:]
    phone_link = widget.log.locator(f'a[href="{tel}"]')
    expect(phone_link.last).to_have_text(SETTINGS.office_phone, timeout=BOT_TIMEOUT_MS)
    form_link = widget.log.locator(f'a[href="{SETTINGS.appointment_form_url}"]').last
    expect(form_link).to_have_attribute("rel", "noopener noreferrer")
    expect(form_link).to_have_attribute("target", "_blank")

    # HTML typed by a patient is shown as text, never parsed
    replies_before = widget.bot_bubbles.count()
    widget.ask(XSS)
    expect(widget.user_bubbles.last).to_have_text(f"You said: {XSS}")
    expect(widget.bot_bubbles.nth(replies_before)).to_be_visible(timeout=BOT_TIMEOUT_MS)
    page.wait_for_timeout(500)
    assert widget.shadow_eval("return root.querySelectorAll('img').length;") == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert watch.dialogs == []

    # "Start over": a new session id, the old messages gone, a new disclaimer
    page.get_by_role("button", name="Start over").click()
    expect(widget.log).not_to_contain_text(first_line("recovery"))
    widget.expect_bot(DISCLAIMER)
    assert widget.stored()["sessionId"] != session_id
    expect(widget.user_bubbles).to_have_count(0)

    assert_clean(watch)
    page.context.close()


def test_widget_keyboard_and_small_screen(stack, browser):
    page, watch = new_page(browser, stack, viewport={"width": 360, "height": 740})
    widget = Widget(page)
    page.goto(stack.demo_url)

    widget.launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    assert widget.shadow_eval(
        "return getComputedStyle(root.activeElement).outlineStyle;") != "none"
    widget.expect_bot(DISCLAIMER)
    page.keyboard.type("what are the symptoms")
    page.keyboard.press("Enter")
    widget.expect_bot(first_line("symptoms"))

    box = widget.panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    expect(widget.input).to_be_in_viewport()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-360.png"))

    # quick replies are reachable with the keyboard (Shift+Tab from the input);
    # Escape closes the panel and focus returns to the launcher. Wait for the
    # answer's buttons and start from the input (a loaded machine can render
    # the reply after the screenshot above).
    expect(widget.replies.get_by_role("button").last).to_be_visible()
    widget.input.focus()
    page.keyboard.press("Shift+Tab")
    expect(widget.replies.get_by_role("button").last).to_be_focused()
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()

    assert_clean(watch)
    page.context.close()


def test_widget_reconnects_after_a_server_restart(stack, browser):
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    widget = Widget(page)
    page.goto(stack.demo_url)
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    session_id = widget.stored()["sessionId"]

    stack.relay.stop()  # the server goes away
    try:
        expect(widget.status).to_contain_text("Reconnecting")
        widget.ask("What are the symptoms of a ruptured Achilles?")  # queued meanwhile
        expect(widget.user_bubbles.last).to_contain_text("symptoms")
        page.wait_for_timeout(1500)
    finally:
        stack.relay.start()  # ... and comes back

    expect(widget.status).to_be_hidden(timeout=BOT_TIMEOUT_MS)
    widget.expect_bot(first_line("symptoms"))
    widget.ask("How long is the recovery after surgery?")
    widget.expect_bot(first_line("recovery"))
    assert widget.stored()["sessionId"] == session_id
    # same conversation, so the disclaimer was not repeated
    expect(widget.log.get_by_text(DISCLAIMER)).to_have_count(1)

    assert_clean(watch, allow_console=("WebSocket connection to",))
    page.context.close()


# ---------------------------------------------- what stays in the browser (#10)

NOT_KEPT = "Not saved on this device"


def test_form_answers_are_shown_but_never_kept_in_browser_storage(stack, browser):
    """Security issue #10, finding 11: the widget's stored history holds no
    answer typed into the appointment form, nor the bot messages repeating them."""
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    widget = Widget(page)
    page.goto(stack.demo_url)
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    widget.replies.get_by_role("button", name="Request an appointment").click()
    widget.expect_bot("What is your full name?")
    answers = ["Jordan Quillfeather", "310 555 0142", "weekday mornings after nine",
               "possible tear playing squash"]
    prompts = ["What phone number", "good time to reach you", "what is the visit about",
               "Here is your request"]
    for answer, prompt in zip(answers, prompts):
        widget.ask(answer)
        widget.expect_bot(prompt)
    widget.replies.get_by_role("button", name="Yes, send it").click()
    widget.expect_bot("Your request has been sent")

    expect(widget.log).to_contain_text("Quillfeather")  # shown in the page ...
    stored = json.dumps(widget.stored())
    for secret in ("Quillfeather", "0142", "after nine", "squash"):
        assert secret not in stored, secret  # ... never written to storage
    assert NOT_KEPT in stored
    assert "What is your full name?" in stored  # the rest of the conversation is kept

    # after the form, questions are kept again
    widget.ask("what are the symptoms of a torn achilles?")
    widget.expect_bot(first_line("symptoms"))
    user_texts = [m["text"] for m in widget.stored()["messages"] if m["role"] == "user"]
    assert user_texts[-1] == "what are the symptoms of a torn achilles?"

    page.reload()  # what a later visitor of this tab would see
    expect(widget.log).to_contain_text(first_line("symptoms"))
    expect(widget.log).to_contain_text(NOT_KEPT)
    expect(widget.log).not_to_contain_text("Quillfeather")
    assert_clean(watch)
    page.context.close()


def test_stored_history_is_forgotten_after_30_minutes_idle(stack, browser):
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    widget = Widget(page)
    page.goto(stack.demo_url)
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    widget.ask("what are the symptoms of a torn achilles?")
    widget.expect_bot(first_line("symptoms"))
    session_id = widget.stored()["sessionId"]

    # 29 minutes idle: still there after a reload
    page.evaluate("(ago) => { for (let i = 0; i < sessionStorage.length; i++) {"
                  "  const k = sessionStorage.key(i); if (!k.startsWith('achilles-chat:')) continue;"
                  "  const r = JSON.parse(sessionStorage.getItem(k)); r.t = Date.now() - ago;"
                  "  sessionStorage.setItem(k, JSON.stringify(r)); } }", 29 * 60 * 1000)
    page.reload()
    expect(widget.log).to_contain_text(first_line("symptoms"))

    # 31 minutes idle: gone, and a new conversation when the patient comes back
    page.evaluate("(ago) => { for (let i = 0; i < sessionStorage.length; i++) {"
                  "  const k = sessionStorage.key(i); if (!k.startsWith('achilles-chat:')) continue;"
                  "  const r = JSON.parse(sessionStorage.getItem(k)); r.t = Date.now() - ago;"
                  "  sessionStorage.setItem(k, JSON.stringify(r)); } }", 31 * 60 * 1000)
    page.reload()
    expect(widget.panel).to_be_hidden()
    assert widget.stored() is None
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    expect(widget.log).not_to_contain_text(first_line("symptoms"))
    expect(widget.user_bubbles).to_have_count(0)
    page.wait_for_function("() => { for (let i = 0; i < sessionStorage.length; i++) {"
                           " const k = sessionStorage.key(i); if (k.startsWith('achilles-chat:'))"
                           " return JSON.parse(sessionStorage.getItem(k)).sessionId; } }")
    assert widget.stored()["sessionId"] not in (None, session_id)
    assert_clean(watch)
    page.context.close()


def test_an_open_page_forgets_the_conversation_after_30_minutes_idle(stack, browser):
    """A tab left open (a shared computer): the page itself clears it."""
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    widget = Widget(page)
    page.clock.install()
    page.goto(stack.demo_url)
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    widget.ask("what are the symptoms of a torn achilles?")
    widget.expect_bot(first_line("symptoms"))
    page.clock.fast_forward("31:00")
    expect(widget.log).to_contain_text("cleared after 30 minutes without activity")
    expect(widget.log).not_to_contain_text(first_line("symptoms"))
    stored = widget.stored()
    assert stored is None or "symptoms" not in json.dumps(stored)
    assert_clean(watch, allow_console=("WebSocket connection to",))
    page.context.close()
