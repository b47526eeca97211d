"""The newest models of the Ollama library, as synced facts (one row per tag).

The library has no catalog API; its search page sorted by newest
(``https://ollama.com/search?o=newest``) is HTML. Each result is an ``<li x-test-model>``
holding the name (``[x-test-search-response-title]``), capability badges
(``[x-test-capability]``: tools, vision, thinking, cloud ...) and parameter sizes
(``[x-test-size]``). We parse it with BeautifulSoup and fall back to the
``/library/<name>`` links when the ``x-test-*`` markers are missing, so a cosmetic change
to the site does not silently yield nothing (no results at all is reported as an error).

Cloud models run on Ollama's servers, not on the team's GPUs, and must never be offered as
runnable. A card with the "cloud" badge gets its tags page (``/library/<name>/tags``)
fetched to learn which tags are cloud (``...-cloud``); when that page cannot be read,
every tag of that card is treated as cloud-only, erring on the side of not runnable.

Pages are read newest first until a page holds only models we already know (or
``max_pages``), then everything is written in one transaction.
"""

from __future__ import annotations

import re
import time
from contextlib import nullcontext, suppress
from dataclasses import dataclass

import httpx
from bs4 import BeautifulSoup, Tag
from sqlalchemy import Engine
from sqlmodel import Session, select

from ingest.linking import CatalogLinks, release_key
from knowledge.catalog import Catalog
from knowledge.db import session_scope
from knowledge.synced import (
    SyncedModel,
    SyncError,
    SyncReport,
    load_state,
    record_failure,
    upsert,
    utcnow,
)

SOURCE = "ollama"
BASE_URL = "https://ollama.com"
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([bmt])$")


@dataclass(frozen=True)
class LibraryModel:
    """One search result: a library model with its sizes and badges."""

    name: str
    description: str
    capabilities: tuple[str, ...]
    sizes: tuple[str, ...]

    @property
    def cloud(self) -> bool:
        """Labelled as (also) available on Ollama's cloud."""
        return "cloud" in self.capabilities


def _texts(card: Tag, attribute: str) -> tuple[str, ...]:
    return tuple(
        el.get_text(strip=True).lower()
        for el in card.select(f"[{attribute}]")
        if el.get_text(strip=True)
    )


def parse_search(html: str) -> list[LibraryModel]:
    """Library models on one search page, in page order."""
    soup = BeautifulSoup(html, "html.parser")
    cards = soup.select("li[x-test-model]")
    found: list[LibraryModel] = []
    for card in cards:
        title = card.select_one("[x-test-search-response-title]")
        link = card.find("a", href=re.compile(r"^/library/"))
        name = title.get_text(strip=True) if title else ""
        if not name and link is not None:
            name = str(link["href"]).removeprefix("/library/")
        if not name:
            continue
        desc = card.find("p")
        found.append(
            LibraryModel(
                name=name,
                description=desc.get_text(" ", strip=True) if desc else "",
                capabilities=_texts(card, "x-test-capability"),
                sizes=_texts(card, "x-test-size"),
            )
        )
    if not found:  # markers gone: the model links still identify the results
        for link in soup.find_all("a", href=re.compile(r"^/library/[^/:]+$")):
            name = str(link["href"]).removeprefix("/library/")
            if name not in {m.name for m in found}:
                found.append(LibraryModel(name, link.get_text(" ", strip=True), (), ()))
    return found


def parse_tags(html: str, name: str) -> list[str]:
    """Tags listed on a model's tags page (``/library/<name>:<tag>`` links)."""
    soup = BeautifulSoup(html, "html.parser")
    pattern = re.compile(rf"^/library/{re.escape(name)}:([\w.\-]+)$")
    tags: list[str] = []
    for link in soup.find_all("a", href=pattern):
        match = pattern.match(str(link["href"]))
        if match and match.group(1) not in tags:
            tags.append(match.group(1))
    return tags


def size_b(text: str) -> float | None:
    """ "8b" -> 8.0, "270m" -> 0.27, "1t" -> 1000.0; None for other tags."""
    match = _SIZE.match(text.removesuffix("-cloud"))
    if match is None:
        return None
    number = float(match.group(1))
    return {"b": number, "m": number / 1000, "t": number * 1000}[match.group(2)]


class _Client:
    """The library pages over httpx, with failures turned into SyncError."""

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self.client, self.base_url = client, base_url.rstrip("/")

    def get(self, path: str, params: dict[str, str] | None = None) -> str:
        try:
            response = self.client.get(f"{self.base_url}{path}", params=params)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            raise SyncError(
                f"The Ollama library answered HTTP {exc.response.status_code} for {path}; "
                "stored data is unchanged. Try `advisor sync ollama` later.",
                str(exc),
            ) from exc
        except httpx.HTTPError as exc:
            raise SyncError(
                f"Could not reach the Ollama library ({type(exc).__name__}); stored data is "
                "unchanged. Check the network and run `advisor sync ollama`.",
                str(exc),
            ) from exc
        return response.text


def _rows(model: LibraryModel, tags: list[str] | None, links: CatalogLinks) -> list[SyncedModel]:
    """One row per tag; without a tags page, one per size (cloud cards: all cloud)."""
    if tags is None:
        tags = list(model.sizes) or ["latest"]
        cloud_tags = set(tags) if model.cloud else {t for t in tags if t.endswith("cloud")}
    else:
        cloud_tags = {t for t in tags if t == "cloud" or t.endswith("-cloud")}
    now = utcnow()
    rows = []
    for tag in tags:
        full = f"{model.name}:{tag}"
        variant = links.variant(full) or links.variant(f"{model.name}-{tag.removesuffix('-cloud')}")
        rows.append(
            SyncedModel(
                id=f"{SOURCE}:{full}",
                source=SOURCE,
                external_id=full,
                name=full,
                provider=(links.catalog.variants[variant].provider_id if variant else None),
                url=f"{BASE_URL}/library/{full}",
                first_seen=now,
                last_seen=now,
                params_b=size_b(tag),
                capabilities=[c for c in model.capabilities if c != "cloud"],
                variant_id=variant,
                ollama_tags=[] if tag in cloud_tags else [full],
                cloud_only=tag in cloud_tags,
                raw={"description": model.description[:300]},
                digest_key=release_key(model.name),
            )
        )
    return rows


def _read_pages(
    http: _Client, known: set[str], links: CatalogLinks, max_pages: int
) -> tuple[list[SyncedModel], int]:
    """Rows from the newest pages, stopping at a page of known models; pages read."""
    rows: list[SyncedModel] = []
    for page in range(1, max_pages + 1):
        models = parse_search(http.get("/search", {"o": "newest", "page": str(page)}))
        if not models and page == 1:
            raise SyncError(
                "The Ollama library page listed no models (has the site changed?); "
                "stored data is unchanged.",
            )
        for model in models:
            tags = None
            if model.cloud:
                with suppress(SyncError):  # unreadable tags page: all its tags count as cloud
                    tags = parse_tags(http.get(f"/library/{model.name}/tags"), model.name)
            rows += _rows(model, tags or None, links)
        if not models or all(m.name in known for m in models):
            break
    return rows, page


def sync_ollama(
    engine: Engine,
    catalog: Catalog,
    client: httpx.Client | None = None,
    base_url: str = BASE_URL,
    max_pages: int = 3,
) -> SyncReport:
    """Sync the newest Ollama library models and their tags into SyncedModel."""
    started = time.monotonic()
    report = SyncReport(SOURCE)
    links = CatalogLinks(catalog)
    with Session(engine) as session:
        known = {
            name.split(":")[0]
            for name in session.exec(
                select(SyncedModel.external_id).where(SyncedModel.source == SOURCE)
            )
        }
    owned = nullcontext(client) if client else httpx.Client(timeout=20.0, follow_redirects=True)
    try:
        with owned as http_client:
            rows, pages = _read_pages(_Client(http_client, base_url), known, links, max_pages)
    except SyncError as exc:
        report.errors.append(exc.user_message)
        record_failure(engine, SOURCE, exc.user_message)
        report.duration = time.monotonic() - started
        return report
    now = utcnow()
    with session_scope(engine) as session:
        upsert(session, rows, now, report)
        state = load_state(session, SOURCE)
        state.last_sync = state.updated_at = now
        state.last_error = None
        state.position = {"pages": pages}
        session.add(state)
    report.duration = time.monotonic() - started
    return report
