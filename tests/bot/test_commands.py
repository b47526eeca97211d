"""The one command grammar every adapter uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands import COMMANDS, UsageError, parse, reference_markdown, understand_request
from bot.understand import Extractor
from knowledge.catalog import Catalog


@pytest.fixture(scope="module")
def extractor(catalog: Catalog) -> Extractor:
    return Extractor(catalog)


def test_free_text_is_ask() -> None:
    request = parse("which model for code?")
    assert request.command.name == "ask" and request.args == "which model for code?"


@pytest.mark.parametrize(
    ("text", "intent", "models", "field", "value"),
    [
        ("/fit mixtral-8x7b 2x4090", "fit", ["mixtral-8x7b"], "gpu_count", 2),
        ("/fit llama 3.1 70b on two 4090s", "fit", ["llama3.1-70b"], "gpu", "rtx-4090"),
        (
            "/compare llama2 mistral on 4090",
            "compare",
            ["llama2-7b-chat", "mistral-7b-instruct-v0.3"],
            "gpu",
            "rtx-4090",
        ),
        (
            "/whynot llama2-70b-chat commercial 900M users",
            "why-not",
            ["llama2-70b-chat"],
            "mau",
            900_000_000,
        ),
        ("/recommend commercial, 2x4090, code", "recommend", [], "commercial", True),
    ],
)
def test_commands_become_understandings(extractor, text, intent, models, field, value) -> None:  # type: ignore[no-untyped-def]
    understood = understand_request(parse(text), extractor)
    assert understood.intent == intent and understood.models == models
    assert getattr(understood.requirements, field) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/fit mixtral", "Usage: /fit MODEL HARDWARE"),
        ("/compare llama2", "Usage: /compare MODEL MODEL"),
        ("/why-not", "Usage: /why-not MODEL"),
        ("/ask", "Usage: /ask QUESTION"),
    ],
)
def test_bad_commands_say_how_to_use_them(extractor, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as caught:
        understand_request(parse(text), extractor)
    assert message in caught.value.user_message


def test_unknown_command_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        parse("/frobnicate now")
    assert "/compare" in caught.value.user_message and "plain words" in caught.value.user_message


def test_generated_reference_is_current() -> None:
    path = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
    assert path.read_text() == reference_markdown(), "run `make docs`"
    assert all(f"## /{c.name}" in path.read_text() for c in COMMANDS)


@pytest.mark.parametrize(
    "text", ["/compare " + "llama2 " * 300, "/compare llama2", "/compare llama2 llama-2-7b-chat"]
)
def test_compare_needs_two_different_models(extractor, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as caught:
        understand_request(parse(text), extractor)
    assert caught.value.user_message.startswith("Compare needs two different models.")


def test_compare_names_each_model_once(extractor) -> None:  # type: ignore[no-untyped-def]
    understood = understand_request(parse("/compare llama2 mistral llama2 mistral"), extractor)
    assert understood.models == ["llama2-7b-chat", "mistral-7b-instruct-v0.3"]
    assert len(understood.notes) == len(set(understood.notes))
