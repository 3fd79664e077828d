"""The widget's files and its static server, without a browser (fast)."""
from __future__ import annotations

import importlib.util
import re
import threading
from functools import partial
from pathlib import Path

import pytest
import requests

from servers import PROJECT_ROOT

WIDGET = PROJECT_ROOT / "widget"
JS = (WIDGET / "widget.js").read_text()


def load_serve():
    spec = importlib.util.spec_from_file_location("widget_serve", WIDGET / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = load_serve()


def code_only(js: str) -> str:
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    return "\n".join(line for line in js.splitlines() if not line.strip().startswith("//"))


@pytest.mark.parametrize("sink", ["innerHTML", "outerHTML", "insertAdjacentHTML",
                                  "document.write", "eval(", "new Function", "srcdoc",
                                  "createContextualFragment", "DOMParser"])
def test_widget_never_parses_strings_as_html_or_code(sink):
    assert sink not in code_only(JS)


def test_widget_loads_nothing_from_other_sites():
    urls = set(re.findall(r"""https?://[^\s'"`)]+""", code_only(JS)))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace name, not a request
    css = (WIDGET / "widget.css").read_text()
    assert "@import" not in css and "url(" not in css  # system fonts, no images
    for page in (WIDGET / "demo").glob("*.html"):
        html = page.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page.name
        assert html.count("<script") == 1, "one script tag embeds the widget"


def test_widget_is_plain_es2017():
    code = code_only(JS)
    for newer in ("?.", "??", "#private", "static {"):
        assert newer not in code
    assert not re.search(r"\(\?<[=!]", code), "no regex look-behind (ES2018)"


# ------------------------------------------------------------------ serve.py

def test_settings_defaults_and_overrides():
    assert serve.settings({}) == ("127.0.0.1", 8080, "http://127.0.0.1:5005")
    assert serve.settings({"HOST": "0.0.0.0", "WIDGET_PORT": "9000", "RASA_PORT": "6000"}) == (
        "0.0.0.0", 9000, "http://127.0.0.1:6000")
    assert serve.settings({"RASA_PUBLIC_URL": "https://Chat.Example.com/"})[2] == \
        "https://chat.example.com"
    with pytest.raises(ValueError):
        serve.settings({"RASA_PUBLIC_URL": "javascript:alert(1)"})
    for bad in ("https://chat.example.com/x\"><script>", "https://a.test 'unsafe-inline'",
                "http://a.test:80;script-src *"):
        with pytest.raises(ValueError):
            serve.settings({"RASA_PUBLIC_URL": bad})
    assert serve.settings({"RASA_PUBLIC_URL": "http://[::1]:5005"})[2] == "http://[::1]:5005"


def test_demo_csp_is_strict():
    csp = serve.demo_csp("https://chat.example.com")
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src https://chat.example.com wss://chat.example.com" in csp
    assert "unsafe" not in csp


@pytest.fixture
def static_server(tmp_path, monkeypatch):
    # widget/ plus a symlink that points outside it
    (tmp_path / "secret.txt").write_text("secret")
    site = tmp_path / "site"
    (site / "demo").mkdir(parents=True)
    (site / "widget.js").write_text("// js")
    (site / "serve.py").write_text("# source")
    (site / ".env").write_text("X=1")
    (site / "demo" / "index.html").write_text('<script data-server-url="__RASA_PUBLIC_URL__">')
    (site / "empty").mkdir()
    (site / "leak.txt").symlink_to(tmp_path / "secret.txt")
    monkeypatch.setattr(serve, "WIDGET_DIR", site.resolve())
    handler = partial(serve.WidgetHandler, rasa_origin="http://127.0.0.1:5005")
    httpd = serve.WidgetServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_static_server_serves_only_published_files(static_server):
    get = lambda path: requests.get(static_server + path, timeout=5, allow_redirects=False)
    demo = get("/demo/")
    assert demo.status_code == 200
    assert 'data-server-url="http://127.0.0.1:5005"' in demo.text
    assert "script-src 'self'" in demo.headers["Content-Security-Policy"]
    assert get("/").headers["Location"] == "/demo/"
    js = get("/widget.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert js.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/serve.py", "/.env", "/empty/", "/empty", "/leak.txt", "/demo/../serve.py",
                 "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/nothing.js"):
        assert get(path).status_code == 404, path
    assert requests.post(static_server + "/widget.js", timeout=5).status_code == 501
