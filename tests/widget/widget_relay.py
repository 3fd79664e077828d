"""A TCP relay between the browser and the Rasa server, standing in for the
network (and for a proxy that blocks WebSockets) in the widget's browser tests."""

from __future__ import annotations

import re
import socket
import threading
from typing import List, Optional

from servers import free_port

WEBSOCKET_UPGRADE = re.compile(rb"^upgrade:[ \t]*websocket", re.IGNORECASE | re.MULTILINE)
FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Relay:
    """TCP relay 127.0.0.1:port -> the Rasa server. stop() drops every connection
    and refuses new ones, start() accepts again: to the browser this is a
    server restart.

    `websockets` says what happens to a WebSocket upgrade request, as a proxy in
    between would: "pass" it on; "refuse" it (403, the usual answer of a proxy
    that blocks WebSockets); or "hold" it, never answering (a proxy that does
    not understand the upgrade). `blocked_upgrades` counts those not passed.
    Chromium opens a new connection for every WebSocket, so only the first
    request of a connection needs looking at."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.listener: Optional[socket.socket] = None
        self.sockets: List[socket.socket] = []
        self.lock = threading.Lock()
        self.websockets = "pass"
        self.blocked_upgrades = 0

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
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self.lock:
                self.sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        if self.websockets != "pass":
            head = self._request_head(client)
            if WEBSOCKET_UPGRADE.search(head):
                self.blocked_upgrades += 1
                if self.websockets == "refuse":
                    self._close(client, FORBIDDEN)
                return  # "hold": left open until stop()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            self._close(client)
            return
        upstream.settimeout(None)
        with self.lock:
            self.sockets.append(upstream)
        try:
            upstream.sendall(head)
        except OSError:
            pass
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _request_head(client: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            try:
                chunk = client.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return data

    @staticmethod
    def _close(sock: socket.socket, last_words: bytes = b"") -> None:
        try:
            sock.sendall(last_words)
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

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
