"""A Slack Web API server on loopback that records calls (as Bolt's own tests do).

The real ``slack_sdk`` client talks to it through ``base_url``. It answers auth.test,
chat.postMessage and chat.update like Slack, and can answer one call with HTTP 429 and a
Retry-After header to exercise the SDK's rate-limit retries.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SlackState:
    calls: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    rate_limit_next: set[str] = field(default_factory=set)
    server_error_next: set[str] = field(default_factory=set)
    #: method -> Slack error code answered once (e.g. "not_in_channel", "invalid_auth")
    refuse_next: dict[str, str] = field(default_factory=dict)
    scopes: str = (
        "app_mentions:read,channels:history,groups:history,im:history,mpim:history,"
        "chat:write,commands"
    )
    next_ts: int = 1000

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params, _ in self.calls if name == method]


class _Handler(BaseHTTPRequestHandler):
    state: SlackState

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        method = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            params = json.loads(raw or "{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw).items()}
        for key in ("blocks",):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        self.state.calls.append((method, params, time.monotonic()))
        if method in self.state.rate_limit_next:
            self.state.rate_limit_next.discard(method)
            self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            return
        if method in self.state.server_error_next:
            self.state.server_error_next.discard(method)
            self._reply(500, {"ok": False, "error": "internal_error"})
            return
        if method in self.state.refuse_next:
            error = self.state.refuse_next.pop(method)
            self._reply(200, {"ok": False, "error": error}, {"x-slack-req-id": "req-" + method})
            return
        if method == "auth.test":
            body = {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "user": "advisor",
            }
        elif method in ("chat.postMessage", "chat.update"):
            self.state.next_ts += 1
            ts = params.get("ts") or f"{self.state.next_ts}.000100"
            body = {"ok": True, "channel": params.get("channel"), "ts": ts}
        else:
            body = {"ok": True}
        self._reply(200, body, {"x-oauth-scopes": self.state.scopes})

    def _reply(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class SlackApiServer:
    """Run the fake on 127.0.0.1 in a thread (a context manager); ``url`` ends with /api/."""

    def __init__(self) -> None:
        self.state = SlackState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def __enter__(self) -> SlackApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
