"""An Ollama wire-protocol server on loopback, for tests that use the real client library.

It speaks what the real server speaks (see shared/REFERENCE.md): streamed NDJSON over
chunked transfer encoding by default, ``"stream": false`` for one object, the final chunk
with ``done_reason`` and nanosecond durations, ``/api/tags``, ``/api/show``,
``/api/version``, ``/api/ps``, ``/api/pull`` progress, 404 ``model 'x' not found``, and an
error line in the middle of a stream with status 200. Each model's behaviour is scripted:
its reply (text or a function of the messages), per-chunk delay, an error after N chunks,
and which metric fields to send.

Failure modes (``FakeModel.failure`` or ``FakeOllama.failure`` for every path) copy what
real deployments do: ``html`` (a proxy's login page with status 200), ``not-json`` (a
plain-text 200 body), ``truncated`` (a JSON line cut in half, then the connection closes),
``reset`` (the connection drops mid-stream), ``hang`` (headers, then silence),
``drip`` (one chunk per ``chunk_delay``, forever), ``5xx`` (``fail_times`` 500s, then
normal), ``bad-gateway`` (a proxy's HTML 502). ``FakeOllama.require_headers`` answers
401 unless every listed header is sent; ``seen_headers`` records what each request sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | Callable[[list[dict[str, Any]]], str]


@dataclass
class FakeModel:
    """How one model behaves."""

    name: str
    reply: Reply = "Hello from the fake model."
    chunk_delay: float = 0.0
    error_after: int | None = None
    load_ns: int = 50_000_000
    prompt_eval_ns: int = 20_000_000
    eval_ns_per_token: int = 10_000_000
    omit_metrics: tuple[str, ...] = ()
    size: int = 4_700_000_000
    parameter_size: str = "7.6B"
    quantization: str = "Q4_K_M"
    family: str = "qwen2"
    context_length: int = 32768
    failure: str | None = None
    fail_times: int = 0
    digest: str = "6a0746a1ec1a" * 5


@dataclass
class FakeOllama:
    """The server's state: models present, models pullable, and every request seen."""

    models: dict[str, FakeModel] = field(default_factory=dict)
    pullable: dict[str, FakeModel] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pull_fails: bool = False
    version: str = "0.12.6"
    failure: str | None = None
    require_headers: dict[str, str] = field(default_factory=dict)
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    def add(self, model: FakeModel) -> FakeModel:
        self.models[model.name] = model
        return model

    def lookup(self, name: str) -> FakeModel | None:
        return self.models.get(name) or self.models.get(f"{name}:latest")


def _tokens(text: str) -> list[str]:
    """Split a reply into word-ish chunks the way a tokenizer stream arrives."""
    out, word = [], ""
    for ch in text:
        word += ch
        if ch in " \n":
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeOllama

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, lines: Iterator[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for line in lines:
                data = (json.dumps(line) + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return

    def _authorised(self) -> bool:
        self.state.seen_headers.append(dict(self.headers.items()))
        wanted = self.state.require_headers
        if all(self.headers.get(k) == v for k, v in wanted.items()):
            return True
        self._json(401, {"error": "unauthorized"})
        return False

    def _raw(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, mode: str | None, model: FakeModel | None = None) -> bool:
        """Misbehave as ``mode`` says; True when the request was consumed."""
        if mode is None:
            return False
        html = b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>"
        if mode == "html":
            self._raw(200, html, "text/html")
        elif mode == "bad-gateway":
            self._raw(502, html.replace(b"Sign in", b"502 Bad Gateway"), "text/html")
        elif mode == "not-json":
            self._raw(200, b"upstream says hello\n", "text/plain")
        elif mode == "5xx":
            if model is None or model.fail_times <= 0:
                return False
            model.fail_times -= 1
            self._json(500, {"error": "llama runner process has terminated: signal: killed"})
        elif mode in ("truncated", "reset", "hang", "drip"):
            self._misbehave_stream(mode, model)
        else:
            return False
        return True

    def _misbehave_stream(self, mode: str, model: FakeModel | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        name = model.name if model else "m"

        def send(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        piece = {"model": name, "done": False, "message": {"role": "assistant", "content": "Hi "}}
        try:
            send((json.dumps(piece) + "\n").encode())
            if mode == "truncated":
                send(b'{"model": "' + name.encode() + b'", "done": false, "mess\n')
                self.wfile.write(b"0\r\n\r\n")
            elif mode == "reset":
                self.connection.shutdown(2)
            elif mode == "hang":
                time.sleep(30)
            else:  # drip: a token every chunk_delay seconds, never done
                delay = model.chunk_delay if model else 0.2
                for _ in range(600):
                    time.sleep(delay)
                    send((json.dumps(piece) + "\n").encode())
        except OSError:
            return

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.state.requests.append((self.path, {}))
        if not self._authorised() or self._fail(self.state.failure):
            return
        if self.path == "/api/version":
            self._json(200, {"version": self.state.version})
        elif self.path == "/api/tags":
            self._json(200, {"models": [_tag(m) for m in self.state.models.values()]})
        elif self.path == "/api/ps":
            self._json(
                200,
                {
                    "models": [
                        {**_tag(m), "size_vram": m.size, "expires_at": "2026-11-24T12:00:00Z"}
                        for m in self.state.models.values()
                    ]
                },
            )
        else:
            self._json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self._body()
        self.state.requests.append((self.path, body))
        if not self._authorised():
            return
        model = self.state.lookup(body.get("model", ""))
        if self._fail(self.state.failure or (model.failure if model else None), model):
            return
        if self.path in ("/api/chat", "/api/generate"):
            self._generate(body, chat=self.path == "/api/chat")
        elif self.path == "/api/show":
            model = self.state.lookup(body.get("model", ""))
            if model is None:
                self._json(404, {"error": f"model '{body.get('model')}' not found"})
                return
            self._json(200, _show(model))
        elif self.path == "/api/pull":
            self._pull(body)
        else:
            self._json(404, {"error": "404 page not found"})

    def _generate(self, body: dict[str, Any], chat: bool) -> None:
        name = body.get("model", "")
        model = self.state.lookup(name)
        if model is None:
            self._json(404, {"error": f"model '{name}' not found"})
            return
        messages = body.get("messages") or [{"role": "user", "content": body.get("prompt", "")}]
        reply = model.reply(messages) if callable(model.reply) else model.reply
        pieces = _tokens(reply)
        limit = (body.get("options") or {}).get("num_predict")
        done_reason = "stop"
        if isinstance(limit, int) and limit >= 0 and len(pieces) > limit:
            pieces, done_reason = pieces[:limit], "length"
        if body.get("stream", True) is False:
            time.sleep(model.chunk_delay * len(pieces))
            self._json(
                200,
                _final(model, name, "".join(pieces), len(pieces), chat, done_reason, len(messages)),
            )
            return
        self.state.active += 1
        self.state.max_active = max(self.state.max_active, self.state.active)
        try:
            self._stream(self._chunks(model, name, pieces, chat, done_reason, len(messages)))
        finally:
            self.state.active -= 1

    def _chunks(
        self, model: FakeModel, name: str, pieces: list[str], chat: bool, reason: str, n_msgs: int
    ) -> Iterator[dict[str, Any]]:
        for i, piece in enumerate(pieces):
            if model.error_after is not None and i == model.error_after:
                yield {"error": "an error was encountered while running the model: unexpected EOF"}
                return
            time.sleep(model.chunk_delay)
            chunk: dict[str, Any] = {
                "model": name,
                "created_at": "2026-11-24T10:00:00Z",
                "done": False,
            }
            if chat:
                chunk["message"] = {"role": "assistant", "content": piece}
            else:
                chunk["response"] = piece
            yield chunk
        final = _final(model, name, "", len(pieces), chat, reason, n_msgs)
        yield final

    def _pull(self, body: dict[str, Any]) -> None:
        name = body.get("model", "")
        model = self.state.pullable.get(name)
        if model is None:
            self._json(404, {"error": "pull model manifest: file does not exist"})
            return

        def progress() -> Iterator[dict[str, Any]]:
            yield {"status": "pulling manifest"}
            total = model.size
            for done in (0, total // 2, total):
                yield {
                    "status": "pulling 6a0746a1ec1a",
                    "digest": "sha256:6a0746a1ec1a",
                    "total": total,
                    "completed": done,
                }
            if self.state.pull_fails:
                yield {"error": "max retries exceeded: connection reset by peer"}
                return
            yield {"status": "verifying sha256 digest"}
            yield {"status": "writing manifest"}
            self.state.models[name] = model
            yield {"status": "success"}

        self._stream(progress())


def _final(
    model: FakeModel, name: str, content: str, n_tokens: int, chat: bool, reason: str, n_msgs: int
) -> dict[str, Any]:
    prompt_tokens = 12 * n_msgs
    metrics = {
        "load_duration": model.load_ns,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": model.prompt_eval_ns,
        "eval_count": n_tokens,
        "eval_duration": model.eval_ns_per_token * max(1, n_tokens),
    }
    metrics["total_duration"] = sum(v for k, v in metrics.items() if k.endswith("duration"))
    final: dict[str, Any] = {
        "model": name,
        "created_at": "2026-11-24T10:00:01Z",
        "done": True,
        "done_reason": reason,
    }
    if chat:
        final["message"] = {"role": "assistant", "content": content}
    else:
        final["response"] = content
    final.update({k: v for k, v in metrics.items() if k not in model.omit_metrics})
    return final


def _tag(m: FakeModel) -> dict[str, Any]:
    return {
        "name": m.name,
        "model": m.name,
        "modified_at": "2026-11-20T10:00:00Z",
        "size": m.size,
        "digest": m.digest,
        "details": {
            "format": "gguf",
            "family": m.family,
            "families": [m.family],
            "parameter_size": m.parameter_size,
            "quantization_level": m.quantization,
        },
    }


def _show(m: FakeModel) -> dict[str, Any]:
    return {
        "license": "Apache License 2.0",
        "modified_at": "2026-11-20T10:00:00Z",
        "modelfile": f"FROM {m.name}\n",
        "parameters": "",
        "template": "{{ .Prompt }}",
        "details": _tag(m)["details"],
        "capabilities": ["completion"],
        "model_info": {
            "general.architecture": m.family,
            "general.parameter_count": 7_615_616_512,
            f"{m.family}.context_length": m.context_length,
            f"{m.family}.block_count": 28,
        },
    }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-stream (timeouts, cancellations) are expected here."""


class OllamaServer:
    """Run a :class:`FakeOllama` on 127.0.0.1 in a background thread (a context manager)."""

    def __init__(self, state: FakeOllama | None = None) -> None:
        self.state = state or FakeOllama()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> OllamaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
