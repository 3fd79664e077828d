"""The widget's connection to the chat server in a real browser: reconnecting
after a server restart, and chatting over long-polling where a proxy blocks
WebSockets (the socket.io client in widget/vendor/ falls back by itself).

Same set-up as tests/test_widget_browser.py (tests/widget_helpers.py): the
relay between the browser and Rasa plays the network, or the proxy.
"""

from __future__ import annotations

import re
from typing import List

import pytest
from playwright.sync_api import expect

from widget_helpers import (
    BOT_TIMEOUT_MS,
    DISCLAIMER,
    SERVER_UNREACHABLE,
    Widget,
    assert_clean,
    first_line,
    new_page,
    pytestmark,  # noqa: F401  (skips without Chromium)
)


def test_widget_reconnects_after_a_server_restart(stack, browser):
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    polls: List[str] = []
    page.on("request", lambda r: "transport=polling" in r.url and polls.append(r.url))
    widget = Widget(page)
    page.goto(stack.demo_url)
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    session_id = widget.stored()["sessionId"]
    assert polls == []  # nothing blocks WebSockets here: one WebSocket, as before

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

    assert_clean(watch, allow_console=SERVER_UNREACHABLE)
    page.context.close()


# Chromium's own log lines for failed connections and requests (refused, reset,
# cut mid-request, ...): expected while the relay is stopped, nowhere else.
NETWORK_ERROR = re.compile(r"WebSocket connection to |Failed to load resource: net::ERR_")
# during a restart only: the restarted server answers a poll that carries the old
# session id with 400 ("Session ID unknown"), socket.io's signal to reconnect
RESTART_SIGNAL = re.compile(r"Failed to load resource: the server responded with a status of 400")


@pytest.fixture(params=["refuse", "hold"])
def blocking_proxy(request, stack):
    """The relay treats WebSocket upgrades as a blocking proxy would (Relay)."""
    stack.relay.websockets = request.param
    stack.relay.blocked_upgrades = 0
    try:
        yield request.param
    finally:
        stack.relay.websockets = "pass"


def test_widget_chats_over_long_polling_when_a_proxy_blocks_websockets(
    stack, browser, blocking_proxy
):
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    frames: List[str] = []
    polls: List[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f)))
    page.on("request", lambda r: "transport=polling" in r.url and polls.append(r.url))
    widget = Widget(page)
    page.goto(stack.demo_url)
    widget.launcher.click()
    # A held upgrade costs socket.io's 20 s connect timeout; then long-polling.
    first_reply = BOT_TIMEOUT_MS + (30_000 if blocking_proxy == "hold" else 0)
    widget.expect_bot(DISCLAIMER, timeout=first_reply)
    widget.ask("What are the symptoms of a ruptured Achilles?")
    widget.expect_bot(first_line("symptoms"))
    session_id = widget.stored()["sessionId"]
    assert session_id.startswith("web-")

    # a server restart: the library reconnects, over long-polling again
    before_restart = len(watch.console_errors)
    stack.relay.stop()
    try:
        expect(widget.status).to_contain_text("Reconnecting")
        widget.ask("How long is the recovery after surgery?")  # queued meanwhile
        page.wait_for_timeout(1500)
    finally:
        stack.relay.start()
    expect(widget.status).to_be_hidden(timeout=BOT_TIMEOUT_MS)
    widget.expect_bot(first_line("recovery"))
    assert widget.stored()["sessionId"] == session_id
    expect(widget.log.get_by_text(DISCLAIMER)).to_have_count(1)
    during_restart = watch.console_errors[before_restart:]
    del watch.console_errors[before_restart:]
    assert [
        e for e in during_restart if not (NETWORK_ERROR.match(e) or RESTART_SIGNAL.match(e))
    ] == []

    assert stack.relay.blocked_upgrades > 0  # the browser did try WebSockets ...
    assert frames == []  # ... none of them carried anything ...
    assert polls  # ... the conversation went over long-polling
    assert_clean(watch, allow_console=("WebSocket connection to",))  # the blocked upgrades
    page.context.close()
