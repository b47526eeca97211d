"""Ollama access: the one module that talks to an Ollama server for answers and trials.

It uses the official ``ollama`` client and turns every failure into :class:`LLMUnavailable`
with a sentence a user can act on, never the host URL: the server is not reachable, the
model is not pulled, the reply was not Ollama's (an HTML page from a proxy, a truncated or
non-JSON line), the server failed (5xx, ``transient`` so a trial may retry), or it did not
finish in time. Operators get the masked URL and the detail in the log.

One total deadline (``timeout``) covers a whole call: the chunks are read on a worker
thread and the caller waits on a queue for at most the time left, so a hung server and a
server dripping one token a second both end at the deadline, not at a multiple of it.

Credentials in the host URL (``http://user:pass@host``) become a Basic Authorization
header; ``headers`` (ADVISOR_OLLAMA_HEADERS) are sent with every request.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import ollama

from core.errors import LLMUnavailable
from core.settings import Settings, mask_url

log = logging.getLogger("advisor")
NOT_REACHABLE = "The language model is not reachable right now."
_DONE = object()


@dataclass(frozen=True)
class Message:
    role: str
    content: str


class TransientLLMError(LLMUnavailable):
    """A failure worth one retry: a 5xx from the server or a dropped connection."""


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without user:password, and the Basic Authorization header they stand for."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return bare, {"Authorization": f"Basic {token}"}


class OllamaChat:
    """Streams chat completions from one model on one Ollama host."""

    def __init__(
        self,
        host: str,
        model: str,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = host
        self.host = mask_url(host)  # what logs and messages may show
        self.model = model
        self.timeout = timeout
        bare, auth = split_credentials(host)
        self._extra = dict(headers or {})
        self.headers = {**auth, **self._extra}
        # Connecting should fail fast; a read may take the whole deadline, never longer.
        self._client = ollama.Client(
            host=bare,
            timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)),
            headers=self.headers,
        )

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> OllamaChat:
        """The client the settings describe (host, model, total timeout, headers)."""
        return cls(
            settings.ollama_host,
            model or settings.ollama_model,
            settings.ollama_timeout,
            settings.ollama_header_map(),
        )

    def with_model(self, model: str) -> OllamaChat:
        """The same host, timeout and headers, another model (a team profile's choice)."""
        if model == self.model:
            return self
        return OllamaChat(self.url, model, self.timeout, self._extra)

    def _messages(self, messages: list[Message]) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in messages]

    def _chunks(self, options: dict[str, Any], messages: list[Message], **extra: Any) -> Any:
        return self._client.chat(
            model=self.model,
            messages=self._messages(messages),
            stream=True,
            options=options,
            **extra,
        )

    def generate(
        self,
        messages: list[Message],
        options: dict[str, Any] | None = None,
        keep_alive: str | None = None,
    ) -> tuple[str, float | None, dict[str, Any]]:
        """One full generation for trials: (text, time to first token in s, final fields).

        Unlike :meth:`stream` this keeps Ollama's final chunk (durations and counts) and
        times the first content chunk at the client.
        """
        start = time.perf_counter()
        ttft: float | None = None
        pieces: list[str] = []
        final: dict[str, Any] = {}
        extra = {"keep_alive": keep_alive} if keep_alive else {}
        for chunk in self._pump(lambda: self._chunks(options or {}, messages, **extra)):
            piece = chunk.message.content if chunk.message else ""
            if piece:
                ttft = ttft if ttft is not None else time.perf_counter() - start
                pieces.append(piece)
            if chunk.done:
                final = chunk.model_dump(exclude={"message"})
        return "".join(pieces), ttft, final

    def stream(
        self, messages: list[Message], options: dict[str, Any] | None = None
    ) -> Iterator[str]:
        """Yield the reply's text as it arrives; raise LLMUnavailable on any failure."""
        for chunk in self._pump(lambda: self._chunks(options or {"temperature": 0.2}, messages)):
            piece = chunk.message.content if chunk.message else ""
            if piece:
                yield piece

    def structured(self, messages: list[Message], schema: dict[str, Any]) -> dict[str, Any]:
        """One reply constrained to a JSON Schema, parsed ({} when it is not an object)."""
        text = "".join(
            (c.message.content or "") if c.message else ""
            for c in self._pump(lambda: self._chunks({"temperature": 0}, messages, format=schema))
        )
        try:
            data = json.loads(text or "{}")
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def installed(self) -> list[dict[str, Any]]:
        """Models on the host (``/api/tags``): name, digest, size and details."""
        result = self._call(self._client.list)
        return [m.model_dump(mode="json") for m in result.models]

    def show(self, model: str) -> dict[str, Any]:
        """``/api/show`` for one tag: details (parameter size, quantization) and model_info."""
        return dict(self._call(lambda: self._client.show(model)).model_dump(mode="json"))

    def pull(self, model: str) -> Iterator[tuple[str, int | None, int | None]]:
        """Stream (status, completed bytes, total bytes) while the host downloads ``model``."""
        try:
            for progress in self._client.pull(model, stream=True):
                yield progress.status or "", progress.completed, progress.total
        except ollama.ResponseError as exc:
            raise LLMUnavailable(f"Pulling {model} failed: {exc.error}", detail=str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - every transport failure is one answer
            raise self._translate(exc) from exc

    def _call(self, fn: Callable[[], Any]) -> Any:
        """One non-streamed request within the deadline."""
        return next(iter(self._pump(lambda: iter([fn()]))))

    def _pump(self, open_stream: Callable[[], Any]) -> Iterator[Any]:
        """Items of a (blocking) iterator read on a worker, within one total deadline."""
        deadline = time.monotonic() + self.timeout
        items: queue.Queue[Any] = queue.Queue()

        def work() -> None:
            try:
                for item in open_stream():
                    items.put(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                items.put(exc)
            items.put(_DONE)

        threading.Thread(target=work, daemon=True, name="ollama-read").start()
        while True:
            left = deadline - time.monotonic()
            try:
                item = items.get(timeout=max(left, 0.0))
            except queue.Empty:
                log.warning(
                    "Ollama %s (%s): no reply within %g s", self.host, self.model, self.timeout
                )
                raise LLMUnavailable(
                    f"The language model ({self.model}) did not finish within {self.timeout:g} s.",
                    detail="total deadline passed",
                ) from None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise self._translate(item) from item
            yield item

    def _translate(self, exc: BaseException) -> LLMUnavailable:
        """One of our errors for anything the client or the transport raised."""
        if isinstance(exc, LLMUnavailable):
            return exc
        detail = f"{type(exc).__name__}: {exc}"[:300]
        log.warning("Ollama %s (%s) failed: %s", self.host, self.model, detail)
        if isinstance(exc, ollama.ResponseError):
            return self._response_error(exc)
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return LLMUnavailable(
                f"The language model ({self.model}) did not finish within {self.timeout:g} s.",
                detail=detail,
            )
        if isinstance(exc, httpx.ConnectError | ConnectionRefusedError) or (
            isinstance(exc, ConnectionError) and "connect" in str(exc).lower()
        ):
            return LLMUnavailable(NOT_REACHABLE, detail=detail)
        if isinstance(exc, httpx.HTTPError | ConnectionError):  # reset, dropped mid-reply
            return TransientLLMError(
                "The language model server dropped the connection before finishing.",
                detail=detail,
            )
        if isinstance(exc, ValueError | TypeError | AttributeError | KeyError):
            return LLMUnavailable(
                "The language model server sent a reply that is not Ollama's (an HTML page "
                "or a broken JSON line); an operator should check the Ollama URL or proxy.",
                detail=detail,
            )
        return LLMUnavailable(NOT_REACHABLE, detail=detail)

    def _response_error(self, exc: ollama.ResponseError) -> LLMUnavailable:
        status = exc.status_code
        if status == 404:
            return LLMUnavailable(
                f"The model {self.model} is not on the Ollama server; "
                f"run `ollama pull {self.model}` there or set ADVISOR_OLLAMA_MODEL.",
                detail=str(exc.error),
            )
        if status in (401, 403, 407):
            return LLMUnavailable(
                NOT_REACHABLE + " (the server refused our credentials)", detail=f"{status}"
            )
        error = str(exc.error)
        said = "" if error.lstrip().startswith("<") else f": {error[:160]}"
        if status >= 500:
            return TransientLLMError(
                f"The language model server failed (HTTP {status}){said}", detail=error[:300]
            )
        if status >= 400 and not said:
            return LLMUnavailable(NOT_REACHABLE + f" (HTTP {status})", detail=error[:300])
        return LLMUnavailable(f"Ollama answered with an error: {error[:200]}", detail=f"{status}")
