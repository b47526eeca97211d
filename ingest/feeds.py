"""Release announcements from RSS/Atom feeds, linked to catalog models by alias.

Entries are stored in their own table (:class:`~knowledge.synced.FeedEntry`), not as
synced models: an announcement is evidence that a release happened and a link to read,
not a model with parameters. The digest attaches entries to the release they mention,
so a model announced on a blog and uploaded to the Hub is one entry with both links.

Feeds are fetched with httpx (timeouts and status codes we can report) and parsed with
feedparser from the bytes; a feed that fails is reported and the others still sync.
Entries already stored count as unchanged, so every sync is incremental.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx
from sqlalchemy import Engine

from knowledge.catalog import Catalog
from knowledge.db import session_scope
from knowledge.mentions import Mentions
from knowledge.synced import FeedEntry, SyncReport, load_state, record_failure, utcnow

SOURCE = "feeds"
#: Public feeds checked by default; teams configure their own list.
DEFAULT_FEEDS: tuple[str, ...] = (
    "https://huggingface.co/blog/feed.xml",
    "https://github.com/ollama/ollama/releases.atom",
    "https://qwenlm.github.io/index.xml",
    "https://blog.google/technology/ai/rss/",
    "https://developer.nvidia.com/blog/feed",
)
Fetch = Callable[[str], bytes]
_TAGS = re.compile(r"<[^>]+>")


def http_fetch(url: str) -> bytes:
    """GET a feed with a timeout; raise httpx errors for the caller to report."""
    response = httpx.get(url, timeout=20.0, follow_redirects=True)
    response.raise_for_status()
    return response.content


def _published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None


def _names(catalog: Catalog, ident: str) -> list[str]:
    """Every name of a catalog variant (and its family) or family."""
    if ident in catalog.variants:
        v = catalog.variants[ident]
        tail = [v.hf_repo.split("/")[-1]] if v.hf_repo else []
        return [v.id, v.name, *v.aliases, *tail, *_names(catalog, v.family_id)]
    f = catalog.families[ident]
    return [f.id, f.name, *f.aliases]


def _named(text: str, names: list[str]) -> bool:
    """A name occurs whole, and not as the start of a newer version ("Qwen3" in "Qwen3.5").

    The chat extractor accepts "qwen3" inside "qwen3.5"; in release notes that would
    attach a post about a new model to an older one, so mentions are checked again here.
    """
    return any(
        re.search(rf"(?<![a-z0-9.]){re.escape(n.lower())}(?![a-z0-9]|\.\d)", text)
        for n in names
        if len(n) >= 3
    )


def parse_feed(url: str, content: bytes, extractor: Mentions) -> list[FeedEntry]:
    """The entries of one feed, each linked to the catalog models it names."""
    parsed = feedparser.parse(content)
    if parsed.get("bozo") and not parsed.entries:
        raise ValueError(f"not a feed: {parsed.get('bozo_exception')}")
    now = utcnow()
    entries = []
    for item in parsed.entries:
        link = item.get("link") or ""
        title = item.get("title") or link
        summary = _TAGS.sub(" ", item.get("summary") or "")
        summary = re.sub(r"\s+", " ", summary).strip()
        variant_ids: list[str] = []
        family_ids: list[str] = []
        text = f"{title}\n{summary}".lower()
        for ident in extractor.models(text):
            if not _named(text, _names(extractor.catalog, ident)):
                continue
            if ident in extractor.catalog.variants:
                variant_ids.append(ident)
            elif ident in extractor.catalog.families:
                family_ids.append(ident)
        entries.append(
            FeedEntry(
                id=item.get("id") or link or title,
                feed_url=url,
                title=title,
                link=link,
                published=_published(item),
                summary=summary[:500],
                variant_ids=variant_ids,
                family_ids=family_ids,
                first_seen=now,
                last_seen=now,
            )
        )
    return entries


def sync_feeds(
    engine: Engine,
    catalog: Catalog,
    urls: Sequence[str] = DEFAULT_FEEDS,
    fetch: Fetch | None = None,
) -> SyncReport:
    """Fetch every feed, store entries not seen before, and report per-feed errors."""
    started = time.monotonic()
    report = SyncReport(SOURCE)
    extractor = Mentions(catalog)
    fetched: dict[str, list[FeedEntry]] = {}
    for url in urls:
        try:
            fetched[url] = parse_feed(url, (fetch or http_fetch)(url), extractor)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            report.errors.append(
                f"Could not read the feed {url} ({type(exc).__name__}); its stored entries "
                "are unchanged."
            )
    now = utcnow()
    with session_scope(engine) as session:
        for entries in fetched.values():
            for entry in entries:
                existing = session.get(FeedEntry, entry.id)
                if existing is None:
                    session.add(entry)
                    report.added += 1
                    continue
                existing.last_seen = now
                if (existing.title, existing.variant_ids) != (entry.title, entry.variant_ids):
                    existing.title, existing.summary = entry.title, entry.summary
                    existing.variant_ids, existing.family_ids = entry.variant_ids, entry.family_ids
                    report.updated += 1
                else:
                    report.unchanged += 1
                session.add(existing)
        state = load_state(session, SOURCE)
        state.position = {
            **state.position,
            **{url: now.isoformat() for url in fetched},
        }
        state.updated_at = now
        if not report.errors:
            state.last_sync, state.last_error = now, None
        session.add(state)
    if report.errors:
        record_failure(engine, SOURCE, report.errors[0])
    report.duration = time.monotonic() - started
    return report
