"""Deterministic understanding of a question, in English or Chinese.

The extractor turns free text into :class:`Requirements`, the catalog models it mentions
and the kind of question it is, with regular expressions and the word lists in
``bot/data/lexicon.yaml``. It is deterministic on purpose: the same question always reads
the same way, tests can pin every phrasing, and it works with no language model at all.
(An LLM may refine the result later; it never replaces it.)

Conventions: "k" in a context means 1024 tokens; hardware is read by bot/hardware.py
(stated memory wins over a catalog SKU), money and traffic by bot/traffic.py and the kind
of question by bot/kinds.py; a language is a requirement only when the text names it
("中文摘要"), not because the question is written in it. Nothing in a question raises:
a value the requirements refuse is dropped and a note in the answer says so.

Every number pattern anchors on a look-behind, so understanding stays linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.hardware import GpuNames, read_hardware
from bot.kinds import classify
from bot.traffic import read_money_and_users, read_traffic
from core.text import detect_language
from core.yamlfile import parse_yaml
from knowledge.catalog import Catalog, Variant
from knowledge.mentions import Mentions
from knowledge.resolve import Resolver
from rules.requirements import Deployment, Requirements

LEXICON = Path(__file__).resolve().parent / "data" / "lexicon.yaml"
#: Longer messages are read up to this many characters (chat platforms cap near it).
MAX_CHARS = 4000


@dataclass(frozen=True)
class Understanding:
    """What a question asks for: requirements, models named, language, kind and notes."""

    text: str
    language: str
    requirements: Requirements
    models: list[str] = field(default_factory=list)
    intent: str = "recommend"
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """ "I read this as: ..." in the question's language, then what was ignored."""
        parts = self.requirements.described(self.language) + self.models
        if self.language == "zh":
            line = "我的理解：" + ("，".join(parts) if parts else "没有具体限制")
        else:
            line = "I read this as: " + (", ".join(parts) if parts else "no specific constraints")
        return " ".join([line + ("." if self.notes else ""), *self.notes])


@cache
def lexicon() -> dict[str, Any]:
    """The word lists, read once."""
    return parse_yaml(LEXICON.read_text(encoding="utf-8"))


@cache
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """One whole-word pattern for a word list, accepting simple inflections (summarizes)."""
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?:s|es|d|ed|ing)?(?![a-z0-9])")


def _has(text: str, words: dict[str, list[str]]) -> bool:
    english = tuple(words.get("en", []))
    if english and _word_pattern(english).search(text):
        return True
    return any(w in text for w in words.get("zh", []))


def _build(data: dict[str, Any], notes: list[str]) -> Requirements:
    """Requirements from ``data``; a refused value is dropped with a note, never raised."""
    for _ in range(len(data) + 1):
        try:
            return Requirements(**data)
        except ValidationError as exc:
            for error in exc.errors():
                key = str(error["loc"][0]) if error["loc"] else ""
                if key in data:
                    notes.append(f"I ignored {key} = {data.pop(key)!r}: {error['msg'].lower()}.")
    return Requirements()


class Extractor:
    """Reads questions against one catalog snapshot."""

    def __init__(self, catalog: Catalog, resolver: Resolver | None = None) -> None:
        self.catalog = catalog
        self.resolver = resolver or Resolver(catalog)
        self.gpus = GpuNames(catalog)
        self.mentions = Mentions(catalog, self.resolver, lexicon()["model_names"])

    def models(self, text: str) -> list[str]:
        """Catalog ids mentioned, in order, without repeats (see knowledge/mentions.py)."""
        return self.mentions.models(text)

    def understand(self, question: str, base: Requirements | None = None) -> Understanding:
        """Read ``question``; fields it does not mention keep their value from ``base``."""
        notes: list[str] = []
        if len(question) > MAX_CHARS:
            notes.append(f"I read the first {MAX_CHARS:,} characters of a longer message.")
        text = _normalise(question[:MAX_CHARS], notes)
        lang = detect_language(question[:MAX_CHARS])
        lex = lexicon()
        found: dict[str, Any] = {}

        if _has(text, lex["commercial"]):
            found["commercial"] = True
        if _has(text, lex["open_weights"]):
            found["open_weights"] = True
        self_host, api = _has(text, lex["self_host"]), _has(text, lex["api"])
        if self_host and re.search(
            r"(?<![a-z])api(?![a-z])", text
        ):  # "API or self-host?" weighs both: neither is a requirement
            found.pop("open_weights", None)
        elif self_host:
            found["deployment"] = Deployment.self_host
        elif api:
            found["deployment"] = Deployment.api
        if _has(text, lex["train_on_outputs"]):
            found["train_on_outputs"] = True
        if _has(text, lex["batch"]):
            found["batch"] = True

        caps = [c for c, words in lex["capabilities"].items() if _has(text, words)]
        tasks = [t for t, words in lex["tasks"].items() if _has(text, words)]
        langs = [code for code, words in lex["languages"].items() if _has(text, words)]
        if caps:
            found["capabilities"] = caps
        if tasks:
            found["tasks"] = tasks
        if langs:
            found["languages"] = langs
        for precision, words in lex["precision"].items():
            if _has(text, words):
                found["precision"] = precision
                break
        for runtime, words in lex["runtimes"].items():
            if _has(text, words):
                found["runtime"] = runtime
                break

        masked = _mask_model_sizes(text)
        hardware, hw_notes = read_hardware(masked, self.gpus)
        found.update(hardware)
        notes += hw_notes
        found.update(_context(text))
        found.update(read_money_and_users(text))
        found.update(read_traffic(text))

        data = base.model_dump() if base else {}
        data.update(found)
        requirements = _build(data, notes)
        models = self.models(text) or self.by_size(text)
        return Understanding(
            text=question,
            language=lang,
            requirements=requirements,
            models=models,
            intent=classify(text, models, found),
            notes=notes,
        )

    def by_size(self, text: str) -> list[str]:
        """A bare size ("can 24GB run a 70B?") stands for the newest open chat model of it.

        The answer names the model it used, so the stand-in is never hidden.
        """
        match = re.search(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*b(?![a-z0-9])", text)
        if match is None:
            return []
        size = float(match.group(1))
        near = [
            v
            for v in self.catalog.variants.values()
            if v.params_b
            and abs(v.params_b - size) <= 0.15 * size
            and v.availability == "open-weights"
            and v.flavor in ("instruct", "chat")
            and v.architecture != "moe"
            and v.layers is not None
        ]

        # Closest size first (to a tenth), then the newest release.
        def rank(v: Variant) -> tuple[float, int, str]:
            gap = round(abs((v.params_b or 0.0) - size) / size, 1)
            return gap, -v.release_date.toordinal(), v.id

        best = min(near, key=rank) if near else None
        return [best.id] if best else []


def _normalise(question: str, notes: list[str]) -> str:
    """Lower case; "2x4090" and "8xH100" spaced as "2 x 4090" (not "8x22b"); runs of digits
    too long to be a quantity dropped with a note."""
    text = question.lower()
    if re.search(r"\d{16}", text):
        notes.append("I ignored a number too long to be a quantity.")
        text = re.sub(r"\d{16,}", " ", text)

    def space(match: re.Match[str]) -> str:
        if re.match(r"\d+(?:\.\d+)?b(?![a-z0-9])", text[match.end() :]):
            return match.group(0)  # a model size: "8x22b"
        return f"{match.group(1)} x "

    text = re.sub(r"(?<![\d.])(\d+)\s*[x×]\s*(?=[a-z\d])", space, text)
    return re.sub(
        r"\b(one|a|two|three|five|ten|half a)\s+(million|thousand)\b",
        lambda m: f"{_SPELLED[m.group(1)]} {m.group(2)}",
        text,
    )


_SPELLED = {
    "one": "1",
    "a": "1",
    "two": "2",
    "three": "3",
    "five": "5",
    "ten": "10",
    "half a": "0.5",
}


def _mask_model_sizes(text: str) -> str:
    """Blank model sizes ("70b", "8x22b", "30b-a3b") so hardware reading skips them."""
    return re.sub(
        r"(?<![a-z0-9.])\d+(?:\.\d+)?(?:x\d+)?b(?:-a\d+(?:\.\d+)?b)?(?![a-z0-9])",
        lambda m: " " * len(m.group(0)),
        text,
    )


def _context(text: str) -> dict[str, Any]:
    match = re.search(
        r"(?:(?<![\d.])(\d+)\s*k\s*(?:tokens?\s*)?(?:of\s+)?(?:context|ctx|window|token|上下文)"
        r"|(?:context|上下文|window|ctx)"
        r"(?:\s*(?:length|window|of|长度|至少|要|需要|of at least)){0,4}\s*[:：]?\s*"
        r"(?<![\d.])(\d+)\s*k"
        r"|(?<![\d.])(\d+)\s*k\s*tokens(?!\s*(?:a|per|/)\s*(?:day|month)))",
        text,
    )
    if match:
        value = int(match.group(1) or match.group(2) or match.group(3))
        if 0 < value <= 100_000:
            return {"context": value * 1024}
    return {}
