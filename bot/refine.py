"""Optional second reading of a question by Ollama, with structured output.

The deterministic extractor (bot/understand.py) always runs first and always wins: the
model may only fill fields the extractor left unset, every value it returns is validated
(GPU names resolve through the catalog, numbers must be in range), and any failure —
no server, bad JSON, an invalid field — leaves the deterministic reading unchanged.
Enabled with ``ADVISOR_LLM_EXTRACTION=true``; it costs one extra model call per question.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from bot.llm import Message, OllamaChat
from bot.understand import Understanding
from core.errors import AdvisorError
from knowledge.catalog import Catalog
from knowledge.resolve import resolve_gpu
from knowledge.vocab import Capability
from rules.requirements import Requirements

log = logging.getLogger("advisor")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "commercial": {"type": ["boolean", "null"]},
        "open_weights": {"type": ["boolean", "null"]},
        "gpu": {"type": ["string", "null"], "description": "GPU model, e.g. RTX 4090"},
        "gpu_count": {"type": ["integer", "null"]},
        "vram_gib": {"type": ["number", "null"]},
        "context": {"type": ["integer", "null"], "description": "tokens"},
        "capabilities": {"type": "array", "items": {"enum": [c.value for c in Capability]}},
        "tasks": {"type": "array", "items": {"type": "string"}},
        "languages": {"type": "array", "items": {"type": "string"}},
        "monthly_budget": {"type": ["number", "null"]},
        "mau": {"type": ["integer", "null"]},
    },
    "required": ["commercial", "gpu", "context"],
}
PROMPT = (
    "Extract the requirements stated in this question about choosing a language model. "
    "Use null or [] for anything not stated. Language codes are ISO 639-1.\n\nQuestion: "
)


def refine(understood: Understanding, llm: OllamaChat, catalog: Catalog) -> Understanding:
    """Fill fields the deterministic reading left unset with the model's validated reading."""
    try:
        proposed = llm.structured([Message("user", PROMPT + understood.text)], SCHEMA)
    except (AdvisorError, json.JSONDecodeError) as exc:
        log.info("LLM extraction skipped: %s", exc)
        return understood
    current = understood.requirements.model_dump()
    defaults = Requirements().model_dump()
    merged = dict(current)
    for key, value in proposed.items():
        if key not in current or value in (None, [], "") or current[key] != defaults[key]:
            continue
        if key == "gpu":
            try:
                value = resolve_gpu(catalog, str(value)).id
            except AdvisorError:
                continue
        merged[key] = value
    try:
        requirements = Requirements(**merged)
    except ValidationError as exc:
        log.info("LLM extraction rejected: %s", exc.errors()[0]["msg"])
        return understood
    return replace(understood, requirements=requirements)
