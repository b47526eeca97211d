"""Platform-neutral answers: what the advisor returns and every adapter renders.

Adapters turn these into Block Kit, Discord embeds or rich terminal output with pure
``render_*`` functions; nothing here knows about any platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """A numbered source the answer text cites as [n]."""

    id: int
    source: str
    title: str
    snippet: str


@dataclass(frozen=True)
class Table:
    """A small table (comparison, verdicts, fit options) with string cells."""

    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class LLMInfo:
    """Whether a language model phrased the answer, which one, and why not if it did not.

    ``replaced`` is set when the model's text was (partly) streamed and then replaced by the
    deterministic answer: adapters must withdraw what they streamed (edit it away, or rule
    it off in a terminal) and show the reason.
    """

    used: bool
    model: str | None = None
    error: str | None = None
    replaced: str | None = None


@dataclass
class Answer:
    """One reply: text, optional tables, citations and what was understood."""

    question: str
    language: str
    text: str
    understood: str = ""
    tables: list[Table] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    follow_ups: list[str] = field(default_factory=list)
    llm: LLMInfo = field(default_factory=lambda: LLMInfo(used=False))
    catalog_as_of: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``advisor ask --json``."""
        return {
            "question": self.question,
            "language": self.language,
            "understood": self.understood,
            "requirements": self.data.get("requirements", {}),
            "candidates": self.data.get("candidates", []),
            "answer": self.text,
            "tables": [vars(t) for t in self.tables],
            "citations": [vars(c) for c in self.citations],
            "follow_ups": self.follow_ups,
            "llm": vars(self.llm),
            "catalog_as_of": self.catalog_as_of,
        }
