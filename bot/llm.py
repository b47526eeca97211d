"""Ollama access: the one module that talks to an Ollama server for answers.

It uses the official ``ollama`` client and turns every failure into
:class:`LLMUnavailable` with a sentence a user can act on: the server is not running, the
model is not pulled, it answered with an error mid-stream, or it was slower than the
timeout. The advisor then falls back to its deterministic answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import ollama

from bot.errors import LLMUnavailable


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
            if exc.status_code == 404:
                raise LLMUnavailable(
                    f"The model {self.model} is not on the Ollama server at {self.host}; "
                    f"run `ollama pull {self.model}` there or set ADVISOR_OLLAMA_MODEL.",
                    detail=str(exc.error),
                ) from exc
            raise LLMUnavailable(
                f"Ollama answered with an error: {exc.error}", detail=f"{exc.status_code}"
            ) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise LLMUnavailable(
                f"Ollama ({self.model}) did not answer within {self.timeout:g} s.", detail=str(exc)
            ) from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise LLMUnavailable(
                f"No Ollama server answers at {self.host}; start it with `ollama serve` "
                "or set ADVISOR_OLLAMA_HOST.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
