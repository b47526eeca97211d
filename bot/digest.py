"""The weekly digest as an answer: text, one table, citations, and an optional LLM summary.

``ingest/digest.py`` gathers the releases of a window; this module renders them like every
other answer and lets the team's language model rewrite the summary paragraph. The summary
passes the same grounding check as every answer (bot/grounding.py): models, figures,
licenses and actions must agree with the digest's own facts, or it is not posted and the
deterministic summary stays.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from bot.advisor import Advisor
from bot.answer import Answer, Citation, LLMInfo, Table
from bot.grounding import Facts, check_claims, neutralise
from bot.llm import Message
from core.errors import AdvisorError, LLMUnavailable
from ingest.digest import Digest, collect_digest, params_text
from knowledge.catalog import Catalog


def render_text(digest: Digest) -> str:
    """The digest as Markdown-style text: summary, then providers and their releases."""
    lines = [
        f"**Model releases {digest.start.date()} to {digest.end.date()}**",
        "",
        digest.summary,
    ]
    for provider, entries in digest.by_provider().items():
        lines += ["", f"__{provider}__"]
        for e in entries:
            sizes = ", ".join(f"{v.name} ({params_text(v)})" for v in e.variants)
            lines.append(f"- [{e.name}]({e.url}) ({e.released.isoformat()}): {sizes}")
            context = f"{e.context_length:,} tokens" if e.context_length else "unknown"
            lines.append(f"  {e.license}; context {context}")
            if digest.profile:
                lines.append(f"  fits {digest.profile}: {e.fits}")
            if e.ollama_tags:
                try_it = f"; try: `{e.trial}`" if e.trial else ""
                lines.append(f"  Ollama: {', '.join(e.ollama_tags)}{try_it}")
            if e.cloud_only_tags:
                lines.append(f"  cloud only (not runnable locally): {', '.join(e.cloud_only_tags)}")
            for figure, source in e.benchmarks:
                lines.append(f"  {figure} [source]({source})")
            if e.folded:
                lines.append(f"  also: {', '.join(e.folded)}")
            for title, link in e.announcements:
                lines.append(f"  announced: [{title}]({link})")
    return "\n".join(lines)


def _table(digest: Digest) -> Table:
    rows = [
        [
            e.provider,
            e.name,
            e.released.isoformat(),
            ", ".join(params_text(v) for v in e.variants),
            e.license.split(" (")[0].removeprefix("commercial use: "),
            f"{e.context_length:,}" if e.context_length else "?",
            e.fits,
            ", ".join(e.ollama_tags) or "-",
        ]
        for e in digest.entries
    ]
    columns = ["provider", "model", "date", "params", "license", "context", "fits", "ollama"]
    return Table("New model releases", columns, rows)


def build_digest(
    engine: Engine,
    catalog: Catalog,
    days: int = 7,
    now: datetime | None = None,
    profile: dict[str, Any] | None = None,
    language: str = "en",
    summarize: Callable[[str], str] | None = None,
) -> Answer:
    """The digest as an Answer: text, one table, and a citation per link.

    ``language`` tags the Answer for the adapters; the entries are written in English, and
    a ``summarize`` callable may write the summary paragraph in the team's language.
    """
    digest = collect_digest(engine, catalog, days, now, profile)
    llm = LLMInfo(used=False)
    if summarize is not None and digest.entries:
        try:
            written = summarize(render_text(digest)).strip()
        except AdvisorError as exc:
            llm = LLMInfo(used=False, error=exc.user_message)
        else:
            if written:
                digest = Digest(digest.start, digest.end, digest.entries, written, digest.profile)
                llm = LLMInfo(used=True)
    links = [(e.name, e.url) for e in digest.entries]
    links += [(t, u) for e in digest.entries for t, u in (*e.announcements, *e.benchmarks)]
    citations = [
        Citation(i, url, title, "") for i, (title, url) in enumerate(dict.fromkeys(links), 1)
    ]
    return Answer(
        question=f"/digest days={days}",
        language=language,
        text=render_text(digest),
        understood=f"releases first seen since {digest.start.date()}",
        tables=[_table(digest)] if digest.entries else [],
        citations=citations,
        llm=llm,
        data={"digest": digest},
    )


def digest_answer(
    advisor: Advisor,
    engine: Engine,
    days: int,
    profile: dict[str, Any],
    language: str,
    now: datetime | None = None,
) -> Answer:
    """The digest, with an Ollama-written summary when a model answers."""
    llm = advisor.llm

    def summarize(facts: str) -> str:
        if llm is None:
            raise LLMUnavailable("No Ollama configured.")
        lang = "Simplified Chinese" if language == "zh" else "English"
        prompt = (
            f"Write one short paragraph in {lang} summarizing this week's model releases. "
            f"Use only these facts:\n{facts}"
        )
        written = "".join(llm.stream([Message("user", prompt)])).strip()
        named = advisor.extractor.models(facts.lower())
        report = check_claims(written, Facts(facts, frozenset(named)), advisor.extractor)
        if not report.ok:
            raise LLMUnavailable(
                f"the model's summary was not posted because it {report.describe()}",
                detail=written[:300],
            )
        return neutralise(written)

    return build_digest(
        engine,
        advisor.catalog,
        days,
        profile=profile,
        language=language,
        summarize=summarize,
        now=now,
    )
