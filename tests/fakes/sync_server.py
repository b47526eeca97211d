"""A loopback HTTP server that replays recorded source responses to the real clients.

Tests describe each route as a list of responses (status, headers, body); a route serves
them in order and then repeats the last one, which scripts "429 then 200" or "500 from
now on". Every request is recorded, so tests can assert what the client asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted HTTP response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


#: (method, path, query) -> the replies for that request, or None for 404.
Router = Callable[[str, str, dict[str, list[str]]], list[Reply] | None]


@dataclass
class SyncServer:
    """Serve ``router`` on 127.0.0.1 in a thread; use as a context manager."""

    router: Router
    requests: list[tuple[str, str]] = field(default_factory=list)
    _served: dict[tuple[str, str], int] = field(default_factory=dict)
    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def _reply(self, method: str, target: str) -> Reply:
        parts = urlsplit(target)
        self.requests.append((method, target))
        replies = self.router(method, parts.path, parse_qs(parts.query))
        if not replies:
            return Reply(404, b'{"error": "not found"}', {"Content-Type": "application/json"})
        key = (method, target)
        index = self._served.get(key, 0)
        self._served[key] = index + 1
        return replies[min(index, len(replies) - 1)]

    def __enter__(self) -> SyncServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, method: str) -> None:
                reply = server._reply(method, self.path)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(reply.body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._send("GET")

            def do_HEAD(self) -> None:  # noqa: N802
                self._send("HEAD")

            def log_message(self, *_args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving: later requests fail to connect."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
