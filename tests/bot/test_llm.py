"""bot/llm.py through the real `ollama` client against the loopback wire-protocol server."""

from __future__ import annotations

import pytest

from bot.llm import Message, OllamaChat
from core.errors import LLMUnavailable
from tests.fakes.ollama_server import FakeModel


def test_streams_the_reply_in_pieces(ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("qwen2.5:7b-instruct", reply="Use Qwen 2.5 7B [1]."))
    chat = OllamaChat(ollama_server.url, "qwen2.5:7b-instruct")
    pieces = list(chat.stream([Message("user", "which model?")]))
    assert len(pieces) > 1 and "".join(pieces) == "Use Qwen 2.5 7B [1]."
    path, body = ollama_server.state.requests[-1]
    assert (
        path == "/api/chat"
        and body["stream"] is True
        and body["messages"][0]["content"] == "which model?"
    )


def test_missing_model_says_how_to_pull_it(ollama_server) -> None:  # type: ignore[no-untyped-def]
    chat = OllamaChat(ollama_server.url, "llama3.1:8b")
    with pytest.raises(LLMUnavailable) as caught:
        list(chat.stream([Message("user", "hi")]))
    assert "ollama pull llama3.1:8b" in caught.value.user_message


def test_mid_stream_error_line_is_an_error(ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("m", reply="one two three four five", error_after=2))
    with pytest.raises(LLMUnavailable) as caught:
        list(OllamaChat(ollama_server.url, "m").stream([Message("user", "hi")]))
    assert "unexpected EOF" in caught.value.user_message


def test_slow_server_times_out(ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("slow", reply="a b c d e f g h", chunk_delay=0.3))
    with pytest.raises(LLMUnavailable) as caught:
        list(OllamaChat(ollama_server.url, "slow", timeout=0.5).stream([Message("user", "hi")]))
    assert "0.5 s" in caught.value.user_message


def test_no_server_is_unavailable(closed_url: str) -> None:
    with pytest.raises(LLMUnavailable) as caught:
        list(OllamaChat(closed_url, "m", timeout=1).stream([Message("user", "hi")]))
    assert caught.value.user_message == "The language model is not reachable right now."
