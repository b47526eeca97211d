"""Ollama access: the one module that talks to an Ollama server for answers.

It uses the official ``ollama`` client and turns every failure into
:class:`LLMUnavailable` with a sentence a user can act on: the server is not running, the
model is not pulled, it answered with an error mid-stream, or it was slower than the
timeout. The advisor then falls back to its deterministic answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import ollama

from core.errors import LLMUnavailable


@dataclass(frozen=True)
class Message:
    role: str
    content: str


class OllamaChat:
    """Streams chat completions from one model on one Ollama host."""

    def __init__(self, host: str, model: str, timeout: float = 60.0) -> None:
        self.host = host
        self.model = model
        self.timeout = timeout
        # Connecting should fail fast (no server is the common case); generating may take long.
        self._client = ollama.Client(host=host, timeout=httpx.Timeout(timeout, connect=3.0))

    def with_model(self, model: str) -> OllamaChat:
        """The same host and timeout, another model (a team profile's choice)."""
        return self if model == self.model else OllamaChat(self.host, model, self.timeout)

    def generate(
        self, messages: list[Message], options: dict[str, Any] | None = None
    ) -> tuple[str, float | None, dict[str, Any]]:
        """One full generation for trials: (text, time to first token in s, final fields).

        Unlike :meth:`stream` this keeps Ollama's final chunk (durations and counts) and
        times the first content chunk at the client.
        """
        start = time.perf_counter()
        ttft: float | None = None
        pieces: list[str] = []
        final: dict[str, Any] = {}
        try:
            for chunk in self._client.chat(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                options=options or {},
            ):
                piece = chunk.message.content if chunk.message else ""
                if piece:
                    ttft = ttft if ttft is not None else time.perf_counter() - start
                    pieces.append(piece)
                if chunk.done:
                    final = chunk.model_dump(exclude={"message"})
        except ollama.ResponseError as exc:
            raise self._response_error(exc) from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise self._unreachable(exc) from exc
        return "".join(pieces), ttft, final

    def structured(self, messages: list[Message], schema: dict[str, Any]) -> dict[str, Any]:
        """One non-streamed reply constrained to a JSON Schema, parsed."""
        try:
            reply = self._client.chat(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=False,
                format=schema,
                options={"temperature": 0},
            )
        except ollama.ResponseError as exc:
            raise self._response_error(exc) from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise self._unreachable(exc) from exc
        data = json.loads(reply.message.content or "{}")
        return data if isinstance(data, dict) else {}

    def installed(self) -> list[str]:
        """Model tags present on the host (``/api/tags``)."""
        try:
            return [m.model or "" for m in self._client.list().models]
        except (httpx.HTTPError, ConnectionError) as exc:
            raise self._unreachable(exc) from exc

    def pull(self, model: str) -> Iterator[tuple[str, int | None, int | None]]:
        """Stream (status, completed bytes, total bytes) while the host downloads ``model``."""
        try:
            for progress in self._client.pull(model, stream=True):
                yield progress.status or "", progress.completed, progress.total
        except ollama.ResponseError as exc:
            raise LLMUnavailable(f"Pulling {model} failed: {exc.error}", detail=str(exc)) from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise self._unreachable(exc) from exc

    def _response_error(self, exc: ollama.ResponseError) -> LLMUnavailable:
        if exc.status_code == 404:
            return LLMUnavailable(
                f"The model {self.model} is not on the Ollama server at {self.host}; "
                f"run `ollama pull {self.model}` there or set ADVISOR_OLLAMA_MODEL.",
                detail=str(exc.error),
            )
        return LLMUnavailable(
            f"Ollama answered with an error: {exc.error}", detail=f"{exc.status_code}"
        )

    def _unreachable(self, exc: Exception) -> LLMUnavailable:
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return LLMUnavailable(
                f"Ollama ({self.model}) did not answer within {self.timeout:g} s.", detail=str(exc)
            )
        return LLMUnavailable(
            f"No Ollama server answers at {self.host}; start it with `ollama serve` "
            "or set ADVISOR_OLLAMA_HOST.",
            detail=f"{type(exc).__name__}: {exc}",
        )

    def stream(
        self, messages: list[Message], options: dict[str, Any] | None = None
    ) -> Iterator[str]:
        """Yield the reply's text as it arrives; raise LLMUnavailable on any failure."""
        deadline = time.monotonic() + self.timeout
        try:
            chunks = self._client.chat(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                options=options or {"temperature": 0.2},
            )
            for chunk in chunks:
                piece = chunk.message.content if chunk.message else ""
                if piece:
                    yield piece
                if time.monotonic() > deadline:
                    raise LLMUnavailable(
                        f"Ollama ({self.model}) took longer than {self.timeout:g} s.",
                        detail="deadline passed while streaming",
                    )
        except ollama.ResponseError as exc:
            raise self._response_error(exc) from exc
        except (httpx.HTTPError, ConnectionError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc
