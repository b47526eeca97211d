"""Optional LLM reading of a question: fills gaps, never overrides the deterministic one."""

from __future__ import annotations

import json

from bot.llm import OllamaChat
from bot.refine import refine
from bot.understand import Extractor
from tests.fakes.ollama_server import FakeModel

QUESTION = (
    "For our product: our card is a twenty-four gig Ampere GeForce; "
    "which model condenses contracts?"
)


def _reply(**fields: object) -> str:
    return json.dumps({"commercial": None, "gpu": None, "context": None, **fields})


def test_fills_gaps_but_the_deterministic_reading_wins(catalog, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(
        FakeModel(
            "m",
            reply=_reply(
                commercial=False,
                gpu="RTX 3090",
                tasks=["summarization"],
                context=32768,
            ),
        )
    )
    understood = Extractor(catalog).understand(QUESTION)
    assert understood.requirements.commercial is True and understood.requirements.gpu is None
    refined = refine(understood, OllamaChat(ollama_server.url, "m"), catalog)
    req = refined.requirements
    assert req.commercial is True  # the extractor read "for our product"; the model may not undo it
    assert req.gpu == "rtx-3090" and req.tasks == ["summarization"] and req.context == 32768
    _, body = ollama_server.state.requests[-1]
    assert body["format"]["type"] == "object"  # streamed, so the one deadline applies


def test_invalid_values_are_ignored(catalog, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("m", reply=_reply(gpu="Quantum GPU 9000", context=-5)))
    understood = Extractor(catalog).understand(QUESTION)
    assert refine(understood, OllamaChat(ollama_server.url, "m"), catalog) == understood


def test_no_server_or_bad_json_leaves_the_reading_unchanged(
    catalog, ollama_server, closed_url
) -> None:  # type: ignore[no-untyped-def]
    understood = Extractor(catalog).understand(QUESTION)
    assert refine(understood, OllamaChat(closed_url, "m", timeout=1), catalog) == understood
    ollama_server.state.add(FakeModel("m", reply="not json at all"))
    assert refine(understood, OllamaChat(ollama_server.url, "m"), catalog) == understood
