"""Composition root: build the advisor, its chat service and trials from settings.

Everything that needs an Advisor (the CLI, the terminal chat, Slack, Discord) builds it
here, so they all read the same catalog, rules, index and Ollama settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bot.advisor import Advisor
from bot.llm import OllamaChat
from core.errors import AdvisorError
from core.settings import Settings
from knowledge.cards import family_cards, model_names
from knowledge.catalog import Catalog
from knowledge.db import make_engine, migrate
from knowledge.guides import read_guides
from knowledge.index import KnowledgeIndex, RebuildReport
from knowledge.snapshot import open_catalog
from rules.packs import RuleBook

if TYPE_CHECKING:
    from bot.chat_service import ChatService
    from bot.trials.service import Trials

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
    rules = RuleBook(settings.rules_dir)
    index = open_index(settings) if use_index else None
    llm = OllamaChat.from_settings(settings) if use_llm else None
    advisor = Advisor(
        catalog, rules, index=index, llm=llm, apple_gpu_fraction=settings.apple_gpu_fraction
    )
    advisor.llm_extraction = settings.llm_extraction
    return advisor


def build_trials(settings: Settings, catalog: Catalog, engine: Engine | None = None) -> Trials:
    """Trials and evals on the configured Ollama host, queued on the configured job queue."""
    from bot.trials.jobs import JobStore
    from bot.trials.service import Trials
    from knowledge.resolve import Resolver

    if engine is None:
        engine = make_engine(settings.db_url)
        migrate(engine)
    return Trials.from_settings(
        settings, Resolver(catalog), JobStore(engine, settings.jobs_queue_url)
    )


def build_chat_service(advisor: Advisor, settings: Settings) -> ChatService:
    """The service every chat adapter shares: profiles, access, rate limits, trials.

    Jobs whose worker died are recovered by the job runner itself (leases), so building a
    service never touches jobs another process is running.
    """
    from bot.chat_service import AccessPolicy, ChatService, RateLimiter
    from bot.profiles import ProfileStore

    engine = make_engine(settings.db_url)
    migrate(engine)
    return ChatService(
        advisor,
        ProfileStore(engine, advisor.catalog),
        AccessPolicy(frozenset(settings.admin_users), frozenset(settings.admin_roles)),
        RateLimiter(settings.rate_limit_per_minute, engine=engine),
        build_trials(settings, advisor.catalog, engine),
        workers=settings.chat_workers,
    )
