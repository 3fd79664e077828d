"""deploy/nginx: `nginx -t` on a copy of the site file (only the certificate and
log paths swapped for temporary ones), then the same site run for real on free
loopback ports in front of stand-in upstreams that echo what they receive:
forwarded headers, the Twilio webhook's original Host and URI, the 64k body
limit, the websocket upgrade for /socket.io/, fail-over when a replica refuses
connections, nothing else of Rasa public, the console's allow list.

Skipped, with the reason, when nginx or openssl is missing (`apt-get install
nginx`). The rest of deploy/: tests/test_deploy_systemd.py and
tests/test_deploy_kubernetes.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import requests
import urllib3

from deploy_helpers import ASSISTANT, CONSOLE, SITE
from servers import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
OPENSSL = shutil.which("openssl")

needs_nginx = pytest.mark.skipif(
    NGINX is None or OPENSSL is None,
    reason="nginx or openssl is not installed (Debian: apt-get install nginx openssl)",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={ASSISTANT}",
            "-addext",
            f"subjectAltName=DNS:{ASSISTANT},DNS:{CONSOLE}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def nginx_config(folder: Path, site: str, cert: Path, key: Path) -> Path:
    """A main nginx.conf around a copy of the site (as Debian's includes it in
    http {}), with the certificate and logs in `folder`."""
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    site = re.sub(
        r"(access_log|error_log)\s+/var/log/nginx/(\S+?)(\s|;)",
        lambda m: f"{m.group(1)} {folder / m.group(2)}{m.group(3)}",
        site,
    )
    (folder / "site.conf").write_text(site)
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / temp).mkdir(exist_ok=True)
    main = folder / "nginx.conf"
    main.write_text(
        "\n".join(
            [
                "user root;" if os.geteuid() == 0 else "",  # workers write request bodies to folder
                "worker_processes 1;",
                "daemon off;",
                f"pid {folder / 'nginx.pid'};",
                f"error_log {folder / 'error.log'} info;",
                "events { worker_connections 128; }",
                "http {",
                "    include /etc/nginx/mime.types;"
                if Path("/etc/nginx/mime.types").exists()
                else "",
                f"    client_body_temp_path {folder / 'body'};",
                f"    proxy_temp_path {folder / 'proxy'};",
                f"    fastcgi_temp_path {folder / 'fastcgi'};",
                f"    uwsgi_temp_path {folder / 'uwsgi'};",
                f"    scgi_temp_path {folder / 'scgi'};",
                f"    include {folder / 'site.conf'};",
                "}",
                "",
            ]
        )
    )
    return main


@needs_nginx
def test_nginx_accepts_the_site_file(tmp_path, certificate):
    main = nginx_config(tmp_path, SITE.read_text(), *certificate)
    result = subprocess.run(
        [NGINX, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


class Echo:
    """A stand-in upstream: answers 200 with what it received (101 to a
    websocket upgrade) and keeps a record of every request."""

    def __init__(self, name: str, seen: List[Dict]) -> None:
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                record = {
                    "upstream": echo.name,
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body_len": length,
                }
                seen.append(record)
                if (self.headers.get("Upgrade") or "").lower() == "websocket":
                    self.send_response(101)
                    self.send_header("Upgrade", "websocket")
                    self.send_header("Connection", "Upgrade")
                    self.send_header("Sec-WebSocket-Accept", "stand-in")
                    self.end_headers()
                    self.close_connection = True
                    return
                body = json.dumps(record).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = handle_any

        self.name = name
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, certificate) -> Iterator[Dict]:
    """The site file run by nginx on free loopback ports. In each two-server
    upstream one server is a closed port (a replica being restarted)."""
    folder = tmp_path_factory.mktemp("nginx")
    seen: List[Dict] = []
    echoes = {name: Echo(name, seen) for name in ("rasa", "actions", "widget", "console")}
    dead = free_port()  # nothing listens there
    ports = {"https": free_port(), "http": free_port(), "actions_front": free_port()}
    site = SITE.read_text()
    site = re.sub(r"^\s*listen \[::\]:\d+.*$", "", site, flags=re.MULTILINE)
    site = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{ports['https']} ssl;", site)
    site = re.sub(r"listen 80;", f"listen 127.0.0.1:{ports['http']};", site)
    site = re.sub(r"listen 127\.0\.0\.1:5050;", f"listen 127.0.0.1:{ports['actions_front']};", site)
    replacements = {
        "achilles_rasa": [dead, echoes["rasa"].port],
        "achilles_rasa_socketio": [dead, echoes["rasa"].port],
        "achilles_actions": [echoes["actions"].port, dead],
        "achilles_widget": [echoes["widget"].port],
        "achilles_console": [echoes["console"].port],
    }

    def rewrite(match):
        name, body = match.group(1), match.group(2)
        servers = iter(replacements[name])
        body = re.sub(
            r"server 127\.0\.0\.1:\d+", lambda _: f"server 127.0.0.1:{next(servers)}", body
        )
        return f"upstream {name} {{{body}}}"

    site = re.sub(r"upstream\s+(\w+)\s*\{(.*?)\}", rewrite, site, flags=re.DOTALL)
    main = nginx_config(folder, site, *certificate)
    proc = subprocess.Popen(
        [NGINX, "-c", str(main), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", ports["https"])) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        yield {"ports": ports, "seen": seen, "folder": folder}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for echo in echoes.values():
            echo.close()


def https(proxied, method: str, path: str, host: str = ASSISTANT, **kwargs) -> requests.Response:
    headers = {"Host": host, **kwargs.pop("headers", {})}
    return requests.request(
        method,
        f"https://127.0.0.1:{proxied['ports']['https']}{path}",
        headers=headers,
        verify=False,
        timeout=15,
        **kwargs,
    )


@needs_nginx
def test_twilio_webhook_reaches_rasa_with_the_original_host_scheme_and_uri(proxied):
    form = {"From": "+13105550100", "Body": "hello", "MessageSid": "SM1", "FromCity": ""}
    # several calls: one of the two Rasa servers refuses connections (restarting)
    for _ in range(4):
        response = https(
            proxied,
            "POST",
            "/webhooks/twilio/webhook?x=1&y=%2F",
            data=form,
            headers={
                "X-Twilio-Signature": "sig",
                "X-Forwarded-Proto": "http",
                "X-Forwarded-Host": "evil.test",
            },
        )
        assert response.status_code == 200, response.text
        echoed = response.json()
        assert echoed["upstream"] == "rasa"
        assert echoed["path"] == "/webhooks/twilio/webhook?x=1&y=%2F"
        headers = echoed["headers"]
        assert headers["host"] == ASSISTANT
        # set by nginx, whatever the client sent
        assert headers["x-forwarded-proto"] == "https"
        assert headers["x-forwarded-host"] == ASSISTANT
        assert headers["x-forwarded-for"].split(",")[-1].strip() == "127.0.0.1"
        assert headers["x-real-ip"] == "127.0.0.1"
        assert headers["x-twilio-signature"] == "sig"
        # the URL Sanic rebuilds from them (SANIC_PROXIES_COUNT=1) is the one Twilio signed
        url = f"{headers['x-forwarded-proto']}://{headers['x-forwarded-host']}{echoed['path']}"
        assert url == f"https://{ASSISTANT}/webhooks/twilio/webhook?x=1&y=%2F"
    assert "Strict-Transport-Security" in response.headers


@needs_nginx
def test_bodies_over_64k_are_refused_by_nginx(proxied):
    before = len(proxied["seen"])
    big = https(
        proxied,
        "POST",
        "/webhooks/twilio/webhook",
        data=b"a" * (64 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413
    assert len(proxied["seen"]) == before  # never reached Rasa
    fits = https(
        proxied,
        "POST",
        "/webhooks/twilio/webhook",
        data=b"a" * (60 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert fits.status_code == 200 and fits.json()["body_len"] == 60 * 1024


@needs_nginx
def test_socketio_is_upgraded_to_a_websocket_with_the_forwarded_headers(proxied):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {ASSISTANT}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\nOrigin: https://www.example.com\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", proxied["ports"]["https"]), timeout=15) as raw:
        with context.wrap_socket(raw, server_hostname=ASSISTANT) as tls:
            tls.sendall(request.encode())
            status = tls.recv(4096).decode(errors="replace")
    assert status.startswith("HTTP/1.1 101"), status
    upgrade = [r for r in proxied["seen"] if r["path"].startswith("/socket.io/")][-1]
    assert upgrade["upstream"] == "rasa"
    headers = upgrade["headers"]
    assert headers["upgrade"] == "websocket" and headers["connection"].lower() == "upgrade"
    assert headers["host"] == ASSISTANT and headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"].endswith("127.0.0.1")
    assert headers["origin"] == "https://www.example.com"  # the channel checks it


@needs_nginx
def test_only_webhooks_socketio_and_widget_files_are_public(proxied):
    assert https(proxied, "GET", "/widget.js").json()["upstream"] == "widget"
    assert https(proxied, "GET", "/widget.css").json()["upstream"] == "widget"
    assert https(proxied, "GET", "/demo/").json()["upstream"] == "widget"
    assert https(proxied, "GET", "/modules/main.js").json()["upstream"] == "widget"
    assert https(proxied, "GET", "/vendor/socket.io.esm.min.js").json()["upstream"] == "widget"
    assert https(proxied, "GET", "/webhooks/twilio/").json()["upstream"] == "rasa"
    before = len(proxied["seen"])
    for path in (
        # the REST webhook stays internal: client-chosen conversation ids (issue 21)
        "/webhooks/rest/",
        "/webhooks/rest/webhook",
        "/webhooks/rest/webhook?x=1",
        "/",
        "/status",
        "/version",
        "/model/parse",
        "/conversations/x/tracker",
        "/widget.py",
        "/serve.py",
    ):
        assert https(proxied, "GET", path).status_code == 404, path
    message = {"sender": "demo", "message": "hi"}
    assert https(proxied, "POST", "/webhooks/rest/webhook", json=message).status_code == 404
    assert len(proxied["seen"]) == before


@needs_nginx
def test_console_answers_only_the_office_network(proxied):
    before = len(proxied["seen"])
    assert https(proxied, "GET", "/login", host=CONSOLE).status_code == 403  # 127.0.0.1
    assert len(proxied["seen"]) == before


@needs_nginx
def test_plain_http_redirects_to_https(proxied):
    response = requests.get(
        f"http://127.0.0.1:{proxied['ports']['http']}/webhooks/rest/?a=b",
        headers={"Host": ASSISTANT},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{ASSISTANT}/webhooks/rest/?a=b"


@needs_nginx
def test_action_calls_reach_a_live_action_server(proxied):
    url = f"http://127.0.0.1:{proxied['ports']['actions_front']}/webhook"
    tracker = json.dumps({"next_action": "action_answer_topic", "padding": "x" * 200_000})
    for _ in range(4):  # one of the two action servers refuses connections
        response = requests.post(
            url, data=tracker, timeout=15, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200
        assert response.json()["upstream"] == "actions"


def tls12_handshake(proxied, ciphers: str) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.maximum_version = context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
    try:
        with socket.create_connection(("127.0.0.1", proxied["ports"]["https"]), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=ASSISTANT):
                return True
    except ssl.SSLError:
        return False


@needs_nginx
def test_tls_offers_only_forward_secret_aead_ciphers(proxied):
    """Issue 21: CBC-SHA1 and non-forward-secret (RSA key exchange) suites are refused."""
    assert tls12_handshake(proxied, "ECDHE-RSA-AES128-GCM-SHA256")
    for weak in (
        "ECDHE-RSA-AES128-SHA",  # CBC with SHA-1
        "ECDHE-RSA-AES256-SHA384",  # CBC
        "AES128-GCM-SHA256",  # RSA key exchange: not forward-secret
        "AES256-SHA",
    ):
        try:
            assert not tls12_handshake(proxied, weak), weak
        except ssl.SSLError:  # the local OpenSSL no longer offers it at all: fine too
            pass


@needs_nginx
def test_access_logs_keep_no_query_strings(proxied):
    https(proxied, "GET", "/webhooks/twilio/?token=sekrit-value")
    https(proxied, "GET", "/login?q=maria+lopez", host=CONSOLE)
    time.sleep(0.5)  # nginx writes the log line after the response
    logs = "".join(path.read_text() for path in proxied["folder"].glob("achilles*.access.log"))
    assert "GET /webhooks/twilio/ " in logs
    assert "sekrit" not in logs and "maria" not in logs
