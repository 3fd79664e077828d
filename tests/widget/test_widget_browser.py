"""The website chat widget in a real browser, against the real servers: what
a patient sees and does, and what stays in the browser.

Debian's Chromium driven by Playwright, the demo page of widget/serve.py, the
real Rasa and action servers (tests/widget_helpers.py sets them up; the
connection itself: tests/test_widget_transport.py). Skipped only when no
Chromium binary is found (`apt-get install chromium`).
Screenshots: test-artifacts/widget.png (desktop) and widget-360.png (360 px).
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
import requests
from playwright.sync_api import expect

from actions.content import get_content
from widget_helpers import (
    ARTIFACTS,
    BOT_TIMEOUT_MS,
    CONTENT,
    DISCLAIMER,
    SETTINGS,
    TITLE,
    Watch,
    Widget,
    another_site,
    assert_clean,
    first_bold,
    first_line,
    first_list_item,
    new_page,
    pytestmark,  # noqa: F401  (skips without Chromium)
)

XSS = "<img src=x onerror=alert(1)>"


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
        timeout=BOT_TIMEOUT_MS
    )

    # typed question 1: symptoms (Markdown-lite: bold and a list), typing indicator shown
    widget.shadow_eval(
        "const t = root.querySelector('.achw-typing'); window.__typingSeen = false;"
        " new MutationObserver(() => { if (!t.hidden) window.__typingSeen = true; })"
        ".observe(t, {attributes: true});"
    )
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
    for text in (
        DISCLAIMER,
        first_line("symptoms"),
        first_line("recovery"),
        first_line(CONTENT.topics["recovery"].related[0]),
    ):
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


def host_page_csp(stack) -> str:
    """The CSP widget/README.md asks of a practice page that embeds the widget."""
    rasa_ws = stack.relay.url.replace("http", "ws", 1)
    return (
        f"default-src 'none'; script-src {stack.widget_url}; style-src {stack.widget_url}; "
        f"connect-src {stack.relay.url} {rasa_ws}"
    )


def test_widget_embeds_on_another_sites_page_under_the_documented_csp(stack, browser):
    """The practice's pages are another origin than the widget's files: widget.js
    imports its modules from the widget server (CORS) under the host-page CSP
    widget/README.md asks for, Trusted Types included."""
    csp = host_page_csp(stack) + "; require-trusted-types-for 'script'; trusted-types 'none'"
    html = (
        '<!doctype html><html lang="en"><head><title>Practice</title></head><body>'
        f'<h1>Practice</h1><script src="{stack.widget_url}/widget.js" defer '
        f'data-server-url="{stack.relay.url}" data-title="{TITLE}"></script></body></html>'
    )
    with another_site(html, csp) as site:
        context = browser.new_context()
        context.set_default_timeout(10_000)
        page = context.new_page()
        watch = Watch(page, [site, stack.widget_url, stack.relay.url])
        widget = Widget(page)
        page.goto(site)
        expect(widget.launcher).to_be_visible()
        expect(widget.launcher).to_have_attribute("aria-expanded", "false")
        assert page.evaluate("typeof window.io") == "undefined"  # the client adds no global
        assert_clean(watch)
        context.close()


@pytest.mark.parametrize(
    "page_lang, locale",
    [(' lang="es-MX"', "en-US"), ("", "es-419")],
    ids=["the-pages-language", "the-browsers-language"],
)
def test_widget_chooses_spanish_by_itself(stack, browser, page_lang, locale):
    """Issue 19: a Spanish page (<html lang="es-MX">), or a page without a language
    seen in a Spanish browser, gets the widget in Spanish without any switch."""
    csp = host_page_csp(stack)
    html = (
        f"<!doctype html><html{page_lang}><head><title>Consultorio</title></head><body>"
        f'<h1>Consultorio</h1><script src="{stack.widget_url}/widget.js" defer '
        f'data-server-url="{stack.relay.url}"></script></body></html>'
    )
    with another_site(html, csp) as site:
        context = browser.new_context(locale=locale)
        context.set_default_timeout(10_000)
        page = context.new_page()
        watch = Watch(page, [site, stack.widget_url, stack.relay.url])
        page.goto(site)
        launcher = page.get_by_role("button", name=re.compile(r"^Chat: "))
        expect(launcher).not_to_have_accessible_name(re.compile("Questions about"))
        launcher.click()
        expect(page.get_by_role("textbox", name="Escriba su pregunta")).to_be_visible()
        expect(page.get_by_role("button", name="English")).to_be_visible()
        # this other origin is not one the chat server admits, so the panel's
        # connection is refused: only the widget's own words are checked here
        assert_clean(
            watch,
            allow_console=("WebSocket connection to", "Access to XMLHttpRequest", "Failed to load"),
        )
        context.close()


def test_widget_keyboard_and_small_screen(stack, browser):
    page, watch = new_page(browser, stack, viewport={"width": 360, "height": 740})
    widget = Widget(page)
    page.goto(stack.demo_url)

    widget.launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    assert widget.shadow_eval("return getComputedStyle(root.activeElement).outlineStyle;") != "none"
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
    answers = [
        "Jordan Quillfeather",
        "310 555 0142",
        "weekday mornings after nine",
        "possible tear playing squash",
    ]
    prompts = [
        "What phone number",
        "good time to reach you",
        "what is the visit about",
        "Here is your request",
    ]
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
    page.evaluate(
        "(ago) => { for (let i = 0; i < sessionStorage.length; i++) {"
        "  const k = sessionStorage.key(i); if (!k.startsWith('achilles-chat:')) continue;"
        "  const r = JSON.parse(sessionStorage.getItem(k)); r.t = Date.now() - ago;"
        "  sessionStorage.setItem(k, JSON.stringify(r)); } }",
        29 * 60 * 1000,
    )
    page.reload()
    expect(widget.log).to_contain_text(first_line("symptoms"))

    # 31 minutes idle: gone, and a new conversation when the patient comes back
    page.evaluate(
        "(ago) => { for (let i = 0; i < sessionStorage.length; i++) {"
        "  const k = sessionStorage.key(i); if (!k.startsWith('achilles-chat:')) continue;"
        "  const r = JSON.parse(sessionStorage.getItem(k)); r.t = Date.now() - ago;"
        "  sessionStorage.setItem(k, JSON.stringify(r)); } }",
        31 * 60 * 1000,
    )
    page.reload()
    expect(widget.launcher).to_be_visible()  # started: the modules load after the page
    expect(widget.panel).to_be_hidden()
    assert widget.stored() is None
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    expect(widget.log).not_to_contain_text(first_line("symptoms"))
    expect(widget.user_bubbles).to_have_count(0)
    page.wait_for_function(
        "() => { for (let i = 0; i < sessionStorage.length; i++) {"
        " const k = sessionStorage.key(i); if (k.startsWith('achilles-chat:'))"
        " return JSON.parse(sessionStorage.getItem(k)).sessionId; } }"
    )
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


def test_the_english_espanol_switch(stack, browser):
    """Issue 19: "Español" turns the widget's own words to Spanish and greets in
    Spanish, so the assistant continues in Spanish; "English" turns it back."""
    spanish = get_content("es")
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    widget = Widget(page)
    page.goto(stack.demo_url)
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    page.get_by_role("button", name="Español").click()
    expect(page.get_by_role("textbox", name="Escriba su pregunta")).to_be_visible()
    expect(page.get_by_role("button", name="Empezar de nuevo")).to_be_visible()
    expect(widget.user_bubbles.last).to_have_text("Usted dijo: Hola, en español por favor")
    spanish_log = page.get_by_role("log", name="Conversación")
    expect(spanish_log).to_contain_text(
        "¡Hola! Puedo responder preguntas sobre la ruptura del tendón de Aquiles",
        timeout=BOT_TIMEOUT_MS,
    )
    page.get_by_role("textbox", name="Escriba su pregunta").fill("cuanto tiempo con muletas?")
    page.get_by_role("textbox", name="Escriba su pregunta").press("Enter")
    expect(spanish_log).to_contain_text(
        plain_first_line(spanish.topics["recovery"].answer), timeout=BOT_TIMEOUT_MS
    )
    assert widget.stored()["lang"] == "es"
    page.reload()  # the choice stays with the conversation
    expect(page.get_by_role("button", name="English")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(widget.input).to_be_visible()
    widget.expect_bot("Hi! I can answer questions about Achilles tendon rupture")
    assert widget.stored()["lang"] == "en"
    assert_clean(watch)
    page.context.close()


def test_a_full_appointment_form_in_spanish(stack, browser):
    """Issue 19: after "Español", the appointment form asks in Spanish, its buttons
    are Spanish, and the stored request says the call back is in Spanish."""
    page, watch = new_page(browser, stack, viewport={"width": 1000, "height": 800})
    widget = Widget(page)
    page.goto(stack.demo_url)
    widget.launcher.click()
    widget.expect_bot(DISCLAIMER)
    page.get_by_role("button", name="Español").click()
    box = page.get_by_role("textbox", name="Escriba su pregunta")
    log = page.get_by_role("log", name="Conversación")
    expect(log).to_contain_text("¡Hola!", timeout=BOT_TIMEOUT_MS)
    for answer, prompt in [
        ("quiero pedir una cita", "¿Cuál es su nombre completo?"),
        ("Itzel Quiñonez Arroyo", "¿A qué número de teléfono"),
        ("213 555 0164", "buen momento para comunicarnos"),
        ("los sabados en la mañana", "de qué se trata la consulta"),
        ("me truene el tendon jugando futbol", "Esta es su solicitud"),
    ]:
        box.fill(answer)
        box.press("Enter")
        expect(log).to_contain_text(prompt, timeout=BOT_TIMEOUT_MS)
    suggested = page.get_by_role("group", name="Preguntas sugeridas")
    suggested.get_by_role("button", name="Sí, envíela").click()
    expect(log).to_contain_text("Gracias, Itzel", timeout=BOT_TIMEOUT_MS)
    with sqlite3.connect(stack.db_path) as db:
        rows = db.execute(
            "SELECT phone, language FROM appointment_requests WHERE patient_name LIKE ?",
            ("%Quiñonez%",),
        ).fetchall()
    assert rows == [("(213) 555-0164", "es")]
    assert_clean(watch)
    page.context.close()


def plain_first_line(text: str) -> str:
    return text.splitlines()[0].replace("**", "")
