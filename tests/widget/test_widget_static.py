"""The widget's files and its static server, without a browser (fast)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import re
import threading
from functools import partial

import pytest
import requests

from servers import PROJECT_ROOT

WIDGET = PROJECT_ROOT / "widget"
VENDOR = WIDGET / "vendor"
# The widget's own scripts: the embed and its modules (not the vendored library).
OWN_SCRIPTS = [WIDGET / "widget.js", *sorted((WIDGET / "modules").glob("*.js"))]
SCRIPTS = {path.relative_to(WIDGET).as_posix(): path.read_text() for path in OWN_SCRIPTS}
MANIFEST = json.loads((VENDOR / "manifest.json").read_text())
STATIC_IMPORT = re.compile(r"^import\s.*?\sfrom\s+'([^']+)';", re.MULTILINE | re.DOTALL)


def load_serve():
    spec = importlib.util.spec_from_file_location("widget_serve", WIDGET / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = load_serve()


def code_only(js: str) -> str:
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    return "\n".join(line for line in js.splitlines() if not line.strip().startswith("//"))


@pytest.mark.parametrize(
    "sink",
    [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "srcdoc",
        "createContextualFragment",
        "DOMParser",
    ],
)
def test_widget_never_parses_strings_as_html_or_code(sink):
    for name, js in SCRIPTS.items():
        assert sink not in code_only(js), name


def test_widget_loads_nothing_from_other_sites():
    for name, js in SCRIPTS.items():
        urls = set(re.findall(r"""https?://[^\s'"`)]+""", code_only(js)))
        assert urls <= {"http://www.w3.org/2000/svg"}, name  # the SVG namespace, not a request
    css = (WIDGET / "widget.css").read_text()
    assert "@import" not in css and "url(" not in css  # system fonts, no images
    for page in (WIDGET / "demo").glob("*.html"):
        html = page.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page.name
        assert html.count("<script") == 1, "one script tag embeds the widget"


def test_widget_modules_import_only_files_of_the_widget():
    """widget.js imports modules/main.js from its own folder; the modules import
    each other and the vendored socket.io client by relative path, nothing else."""
    assert "import(new URL('modules/main.js', config.assetBase).href)" in SCRIPTS["widget.js"]
    imported = set()
    for name, js in SCRIPTS.items():
        if name == "widget.js":
            continue
        code = code_only(js)
        assert "import(" not in code, name
        for spec in STATIC_IMPORT.findall(code):
            assert spec.startswith(("./", "../vendor/")) and spec.endswith(".js"), (name, spec)
            target = (WIDGET / name).parent / spec
            assert target.resolve().is_file(), (name, spec)
            imported.add(target.resolve())
    assert (VENDOR / "socket.io.esm.min.js").resolve() in imported
    # every module is used
    assert {p.resolve() for p in OWN_SCRIPTS[1:]} - imported == {
        (WIDGET / "modules" / "main.js").resolve()
    }


def test_widget_is_plain_es2017():
    # ES2017 syntax, plus modules (import/export, and import() in widget.js)
    for name, js in SCRIPTS.items():
        code = code_only(js)
        for newer in ("?.", "??", "#private", "static {"):
            assert newer not in code, name
        assert not re.search(r"\(\?<[=!]", code), f"{name}: no regex look-behind (ES2018)"


# --------------------------------------------------------- vendored socket.io


def test_vendored_files_are_the_ones_recorded():
    """A changed, added or missing file in widget/vendor/ fails here:
    refresh.py (README there) is the way to change them."""
    for name, entry in MANIFEST["files"].items():
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name} differs from the one recorded in manifest.json"
    assert sorted(p.name for p in VENDOR.iterdir() if p.name != "__pycache__") == sorted(
        [*MANIFEST["files"], "README.md", "manifest.json", "refresh.py"]
    )


def test_vendor_readme_quotes_the_manifest():
    readme = (VENDOR / "README.md").read_text()
    facts = [
        f"`{MANIFEST['version']}`",
        MANIFEST["tarball"],
        MANIFEST["integrity"],
        *(entry["sha256"] for entry in MANIFEST["files"].values()),
    ]
    for fact in facts:
        assert fact in readme, fact


def test_vendored_client_is_an_exact_4x_release_the_server_speaks_with():
    version = MANIFEST["version"]
    assert MANIFEST["package"] == "socket.io-client"
    assert re.fullmatch(r"4\.\d+\.\d+", version)  # Engine.IO protocol 4
    assert MANIFEST["tarball"] == (
        f"https://registry.npmjs.org/socket.io-client/-/socket.io-client-{version}.tgz"
    )
    assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", MANIFEST["integrity"])
    assert f"Socket.IO v{version}\n" in (VENDOR / "socket.io.esm.min.js").read_text()[:200]
    # the server side (Rasa 3.6's channel): Engine.IO 4 and Socket.IO 5 too
    assert importlib.metadata.version("python-engineio").startswith("4.")
    assert importlib.metadata.version("python-socketio").startswith("5.")


# ------------------------------------------------------------------ serve.py


def test_settings_defaults_and_overrides():
    assert serve.settings({}) == ("127.0.0.1", 8080, "http://127.0.0.1:5005")
    assert serve.settings({"HOST": "0.0.0.0", "WIDGET_PORT": "9000", "RASA_PORT": "6000"}) == (
        "0.0.0.0",
        9000,
        "http://127.0.0.1:6000",
    )
    assert (
        serve.settings({"RASA_PUBLIC_URL": "https://Chat.Example.com/"})[2]
        == "https://chat.example.com"
    )
    with pytest.raises(ValueError):
        serve.settings({"RASA_PUBLIC_URL": "javascript:alert(1)"})
    for bad in (
        'https://chat.example.com/x"><script>',
        "https://a.test 'unsafe-inline'",
        "http://a.test:80;script-src *",
    ):
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
    (site / "modules").mkdir()
    (site / "modules" / "main.js").write_text("export var x = 1;")
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
    def get(path):
        return requests.get(static_server + path, timeout=5, allow_redirects=False)

    demo = get("/demo/")
    assert demo.status_code == 200
    assert 'data-server-url="http://127.0.0.1:5005"' in demo.text
    assert "script-src 'self'" in demo.headers["Content-Security-Policy"]
    assert get("/").headers["Location"] == "/demo/"
    js = get("/widget.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert js.headers["X-Content-Type-Options"] == "nosniff"
    # scripts may be imported by pages of other sites (CORS); the demo pages not
    assert js.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in demo.headers
    module = get("/modules/main.js")
    assert module.status_code == 200 and module.headers["Access-Control-Allow-Origin"] == "*"
    for path in (
        "/serve.py",
        "/.env",
        "/empty/",
        "/empty",
        "/leak.txt",
        "/demo/../serve.py",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/nothing.js",
    ):
        assert get(path).status_code == 404, path
    assert requests.post(static_server + "/widget.js", timeout=5).status_code == 501


@pytest.fixture
def widget_server():
    handler = partial(serve.WidgetHandler, rasa_origin="http://127.0.0.1:5005")
    httpd = serve.WidgetServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_file_the_widget_loads_is_published(widget_server):
    def get(path):
        return requests.get(widget_server + path, timeout=5)

    scripts = [f"/{name}" for name in SCRIPTS] + ["/vendor/socket.io.esm.min.js"]
    for path in scripts:
        response = get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8", path
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
    assert get("/widget.css").status_code == 200
    assert get("/vendor/LICENSE-socket.io-client.txt").text.startswith("The MIT License")
    for path in (
        "/vendor/manifest.json",
        "/vendor/README.md",
        "/vendor/refresh.py",
        "/README.md",
        "/serve.py",
    ):
        assert get(path).status_code == 404, path
