"""A webhook receiver on loopback for the alert tests: a real HTTP server (http.server, in a thread)
that keeps every JSON body it was sent, and answers as told: 200, an error status, or nothing in
time. ``stop()`` closes its port (connection refused); ``start()`` opens the same port again."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[dict[str, Any]] = []  # every body taken (answered 2xx)
        self.refused: list[dict[str, Any]] = []  # every body answered with an error status
        self.headers: list[dict[str, str]] = []
        self.status = 200
        self.delay = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/secret-path"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                if owner.delay:
                    time.sleep(owner.delay)
                status = owner.status
                (owner.received if status < 300 else owner.refused).append(body)
                owner.headers.append(dict(self.headers.items()))
                answer = b"ok" if status < 300 else b"invalid_token"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender gave up waiting (a timeout test)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
