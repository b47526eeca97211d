"""Composition root: build the advisor from settings.

Everything that needs an Advisor (the CLI, the terminal chat, Slack, Discord) builds it
here, so they all read the same catalog, rules, index and Ollama settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bot.advisor import Advisor
from bot.llm import OllamaChat
from core.errors import AdvisorError
from core.settings import Settings
from knowledge.cards import family_cards, model_names
from knowledge.guides import read_guides
from knowledge.index import KnowledgeIndex, RebuildReport
from knowledge.store import Catalog, open_catalog
from rules.packs import load_rules

log = logging.getLogger("advisor")


def index_dir(settings: Settings) -> Path:
    """Where the chroma index lives."""
    return settings.data_dir / "index"


def open_index(settings: Settings) -> KnowledgeIndex:
    """The knowledge index in the data directory (opened lazily on first search)."""
    return KnowledgeIndex(index_dir(settings), settings.embedding_model, settings.chroma_url)


def warm_index(index: KnowledgeIndex) -> None:
    """Load the index and its embedding model (run in a thread while ``serve`` starts)."""
    try:
        index.warm()
    except AdvisorError as exc:  # the first question will report it to the user
        log.warning("knowledge index not warmed: %s", exc.user_message)


def rebuild_index(
    index: KnowledgeIndex,
    catalog: Catalog,
    progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Index the guides and a card per model family; unchanged sources are skipped."""
    documents = [g.document() for g in read_guides()] + family_cards(catalog)
    return index.rebuild(documents, model_names(catalog), progress=progress)


def build_advisor(settings: Settings, use_llm: bool = True, use_index: bool = True) -> Advisor:
    """An advisor wired to the configured database, rules, index and Ollama."""
    catalog = open_catalog(settings)
    rules = load_rules(settings.rules_dir)
    index = open_index(settings) if use_index else None
    llm = OllamaChat.from_settings(settings) if use_llm else None
    advisor = Advisor(
        catalog, rules, index=index, llm=llm, apple_gpu_fraction=settings.apple_gpu_fraction
    )
    advisor.llm_extraction = settings.llm_extraction
    return advisor
