"""Issue 21, low: `GET /%00.js` crashed the widget server's handler (Path.resolve
raised on the null byte). Paths no file can have answer 400; the server keeps
serving. The server runs in this process on a free loopback port and is stopped."""

from __future__ import annotations

import socket
import threading
from functools import partial

import pytest


@pytest.fixture
def widget_server():
    import importlib.util

    from servers import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location(
        "widget_serve", PROJECT_ROOT / "widget" / "serve.py"
    )
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    handler = partial(serve.WidgetHandler, rasa_origin="http://127.0.0.1:5005")
    server = serve.WidgetServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def status_of(port: int, path: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "path", ["/%00.js", "/modules/%00main.js", "/%0d%0a.js", "/%ff%fe.js", "/..%5c..%5cetc.js"]
)
def test_bad_paths_get_400_and_the_server_keeps_serving(widget_server, path):
    assert status_of(widget_server, path) == 400
    assert status_of(widget_server, "/widget.js") == 200


def test_a_too_long_name_is_404_not_a_crash(widget_server):
    assert status_of(widget_server, "/" + "a" * 5000 + ".js") in (404, 414)
    assert status_of(widget_server, "/widget.js") == 200
