"""Every way an Ollama server (or the proxy in front of it) misbehaves has one clear answer."""

from __future__ import annotations

import base64
import logging
import time

import pytest

from bot.llm import Message, OllamaChat, TransientLLMError
from core.errors import ConfigError, LLMUnavailable
from core.settings import load_settings
from tests.fakes.ollama_server import FakeModel

HI = [Message("user", "hi")]


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("html", "not Ollama's"),
        ("not-json", "not Ollama's"),
        ("truncated", "not Ollama's"),
        ("reset", "dropped the connection"),
        ("bad-gateway", "HTTP 502"),
    ],
)
def test_each_broken_reply_is_one_clear_error(ollama_server, mode: str, says: str) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("m", reply="one two three", failure=mode))
    with pytest.raises(LLMUnavailable) as caught:
        list(OllamaChat(ollama_server.url, "m", timeout=3).stream(HI))
    assert says in caught.value.user_message
    assert "<html" not in caught.value.user_message.lower()
    assert ollama_server.url not in caught.value.user_message


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_hang_and_slow_drip_end_at_the_one_deadline(ollama_server, mode: str) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("m", failure=mode, chunk_delay=0.1))
    start = time.monotonic()
    with pytest.raises(LLMUnavailable) as caught:
        list(OllamaChat(ollama_server.url, "m", timeout=0.8).stream(HI))
    elapsed = time.monotonic() - start
    assert "did not finish within 0.8 s" in caught.value.user_message
    assert 0.7 < elapsed < 1.3  # one total deadline, not per read


def test_a_500_is_transient_so_trials_can_retry(ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("m", reply="ok now", failure="5xx", fail_times=1))
    chat = OllamaChat(ollama_server.url, "m", timeout=3)
    with pytest.raises(TransientLLMError) as caught:
        chat.generate(HI)
    assert "HTTP 500" in caught.value.user_message
    assert chat.generate(HI)[0] == "ok now"


def test_credentials_in_the_url_are_sent_and_never_shown(ollama_server, caplog) -> None:  # type: ignore[no-untyped-def]
    token = base64.b64encode(b"team:s3cret").decode()
    ollama_server.state.require_headers = {"Authorization": f"Basic {token}"}
    ollama_server.state.add(FakeModel("m", reply="authorised"))
    url = ollama_server.url.replace("http://", "http://team:s3cret@")
    chat = OllamaChat(url, "m", timeout=3)
    assert "".join(chat.stream(HI)) == "authorised"
    assert "s3cret" not in chat.host and "team:********@" in chat.host
    down = OllamaChat("http://team:s3cret@127.0.0.1:9", "m", timeout=1)
    with caplog.at_level(logging.WARNING, logger="advisor"), pytest.raises(LLMUnavailable) as e:
        list(down.stream(HI))
    assert e.value.user_message == "The language model is not reachable right now."
    assert "127.0.0.1:9" in caplog.text and "s3cret" not in caplog.text


def test_headers_setting_is_sent_and_masked(ollama_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADVISOR_OLLAMA_HOST", ollama_server.url)
    monkeypatch.setenv("ADVISOR_OLLAMA_HEADERS", '{"Authorization": "Bearer k-123"}')
    ollama_server.state.require_headers = {"Authorization": "Bearer k-123"}
    ollama_server.state.add(FakeModel("m", reply="with key"))
    settings = load_settings()
    chat = OllamaChat.from_settings(settings, "m")
    assert "".join(chat.with_model("m2").with_model("m").stream(HI)) == "with key"
    assert "k-123" not in str(settings.public_view())
    ollama_server.state.require_headers = {"Authorization": "Bearer other"}
    with pytest.raises(LLMUnavailable) as caught:
        list(chat.stream(HI))
    assert "refused our credentials" in caught.value.user_message


def test_bad_headers_setting_says_how_to_write_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADVISOR_OLLAMA_HEADERS", "Authorization Bearer x")
    with pytest.raises(ConfigError, match="Name: value") as caught:
        load_settings()
    assert "Bearer x" not in caught.value.user_message  # the value is a secret: never echoed


def test_config_masks_the_password_in_the_host(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADVISOR_OLLAMA_HOST", "https://bob:hunter2@gpu.example:11434")
    view = load_settings().public_view()
    assert view["ollama_host"] == "https://bob:********@gpu.example:11434"
