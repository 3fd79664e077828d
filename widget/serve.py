"""Serves the chat widget (widget.js, modules/, vendor/, widget.css) and its demo page.

    HOST=127.0.0.1 WIDGET_PORT=8080 RASA_PUBLIC_URL=http://127.0.0.1:5005 \
        .venv/bin/python widget/serve.py

Python's standard http.server, restricted: only GET/HEAD, only files inside
widget/ with a known web extension (no directory listings, no dotfiles, no
.py/.md), symlinks may not lead outside widget/. The demo pages get the chat
server address filled in and a strict Content-Security-Policy (scripts and
styles from this server only, connections only to the chat server, Trusted
Types so no code can assign HTML strings).

Environment: HOST (default 127.0.0.1), WIDGET_PORT (8080), RASA_PUBLIC_URL
(the Rasa server as browsers reach it; default http://127.0.0.1:$RASA_PORT,
RASA_PORT default 5005).
"""

from __future__ import annotations

import html
import os
import posixpath
import re
import socket
import sys
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

WIDGET_DIR = Path(__file__).resolve().parent
SERVER_URL_PLACEHOLDER = "__RASA_PUBLIC_URL__"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    "Cross-Origin-Resource-Policy": "cross-origin",  # widget.js/css embed on other sites
}
# widget.js loads the widget's ES modules with import(); on another site's page
# that is a CORS request. Public files, no cookies: any origin may read them.
SCRIPT_HEADERS = {"Access-Control-Allow-Origin": "*"}


def public_origin(url: str) -> str:
    """`http://127.0.0.1:5005/` -> `http://127.0.0.1:5005`; refuses anything else."""
    parts = urlsplit(url.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ValueError(f"RASA_PUBLIC_URL must be like http://127.0.0.1:5005, not {url!r}")
    netloc = parts.netloc.lower()
    if not re.fullmatch(r"([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?", netloc):
        raise ValueError(f"RASA_PUBLIC_URL has an invalid host: {url!r}")
    return f"{parts.scheme}://{netloc}"


def settings(env: Mapping[str, str]) -> Tuple[str, int, str]:
    host = env.get("HOST") or "127.0.0.1"
    port = int(env.get("WIDGET_PORT") or 8080)
    browser_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    rasa = env.get("RASA_PUBLIC_URL") or f"http://{browser_host}:{env.get('RASA_PORT') or 5005}"
    return host, port, public_origin(rasa)


def demo_csp(rasa_origin: str) -> str:
    ws_origin = "ws" + rasa_origin[len("http") :]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {rasa_origin} {ws_origin}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


class WidgetHandler(SimpleHTTPRequestHandler):
    server_version = "widget"
    sys_version = ""
    rasa_origin = "http://127.0.0.1:5005"

    def __init__(self, *args, rasa_origin: str, **kwargs) -> None:
        self.rasa_origin = rasa_origin
        super().__init__(*args, directory=str(WIDGET_DIR), **kwargs)

    # --- only files we mean to publish ---
    def resolve(self) -> Optional[Path]:
        raw = unquote(urlsplit(self.path).path)
        if raw.endswith("/"):
            raw += "index.html"
        path = posixpath.normpath(raw)
        parts = [p for p in path.split("/") if p]
        if any(p.startswith(".") or p in ("..", "__pycache__") for p in parts):
            return None
        try:
            target = (WIDGET_DIR / Path(*parts)).resolve() if parts else None
            if target is None or WIDGET_DIR not in target.parents:
                return None
            if target.suffix not in CONTENT_TYPES or not target.is_file():
                return None
        except (OSError, ValueError):  # too long a name, a null byte: no such file
            return None
        return target

    def do_GET(self) -> None:
        self.respond(head=False)

    def do_HEAD(self) -> None:
        self.respond(head=True)

    def bad_path(self) -> bool:
        """A path no file can have: not UTF-8 once decoded, or with a control character
        (GET /%00.js made Path.resolve raise) or a backslash: 400."""
        try:
            raw = unquote(urlsplit(self.path).path, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return True
        return "\\" in raw or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw)

    def respond(self, head: bool) -> None:
        if self.bad_path():
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad path")
            return
        request_path = urlsplit(self.path).path
        if request_path in ("/", "/demo"):
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", "/demo/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = self.resolve()
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return
        body = target.read_bytes()
        headers = dict(COMMON_HEADERS)
        headers["Content-Type"] = CONTENT_TYPES[target.suffix]
        if target.suffix == ".js":
            headers.update(SCRIPT_HEADERS)
        if target.suffix == ".html":
            text = body.decode("utf-8").replace(
                SERVER_URL_PLACEHOLDER, html.escape(self.rasa_origin, quote=True)
            )
            body = text.encode("utf-8")
            headers["Content-Security-Policy"] = demo_csp(self.rasa_origin)
            headers["X-Frame-Options"] = "DENY"
            headers["Cross-Origin-Resource-Policy"] = "same-origin"
        self.send_response(HTTPStatus.OK)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def list_directory(self, path):  # never list directories
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def send_error(self, code, message=None, explain=None) -> None:
        # Plain text errors, same security headers.
        body = f"{int(code)} {message or ''}\n".encode()
        self.send_response(code, message)
        for name, value in COMMON_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        sys.stderr.write(f"widget {self.address_string()} {format % args}\n")


class WidgetServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class WidgetServer6(WidgetServer):
    address_family = socket.AF_INET6


def main() -> None:
    host, port, rasa_origin = settings(os.environ)
    handler = partial(WidgetHandler, rasa_origin=rasa_origin)
    server_class = WidgetServer6 if ":" in host else WidgetServer
    with server_class((host, port), handler) as httpd:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        if ":" in shown:
            shown = f"[{shown}]"
        print(
            f"Widget demo: http://{shown}:{port}/demo/  "
            f"(embed http://{shown}:{port}/widget.js; chat server {rasa_origin})",
            flush=True,
        )
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
