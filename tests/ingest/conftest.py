"""Sync fixtures: a private catalog database and loopback servers replaying recordings.

The recordings under tests/fixtures/sync are in the documented formats: Hub API JSON
for ``/api/models`` with expand fields and config.json files, the Ollama search and tags
pages, an RSS and an Atom feed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from sqlalchemy import Engine, update
from sqlmodel import Session

from knowledge.db import make_engine, migrate
from knowledge.synced import FeedEntry, SyncedModel, create_tables
from tests.fakes.sync_server import Reply, SyncServer

SYNC = Path(__file__).resolve().parents[1] / "fixtures" / "sync"
JSON = {"Content-Type": "application/json"}
ORGS = ("Qwen", "mistralai", "google")


@pytest.fixture
def engine(curated_db: Path, tmp_path: Path) -> Engine:
    """A private copy of the curated catalog with the synced tables added."""
    target = tmp_path / "sync.db"
    shutil.copy(curated_db, target)
    eng = make_engine(f"sqlite:///{target}")
    migrate(eng)
    create_tables(eng)
    return eng


def hub_router(method: str, path: str, query: dict[str, list[str]]) -> list[Reply] | None:
    """The Hub: /api/models per author, and config.json of the recorded repos."""
    if path == "/api/models":
        file = SYNC / "hf" / f"models-{query.get('author', [''])[0]}.json"
        return [Reply(200, file.read_bytes() if file.exists() else b"[]", JSON)]
    if path.endswith("/resolve/main/config.json"):
        repo = path.strip("/").removesuffix("/resolve/main/config.json")
        file = SYNC / "hf" / "config" / f"{repo.replace('/', '--')}.json"
        if not file.exists():
            return [Reply(404, b"Entry not found", {"X-Error-Code": "EntryNotFound"})]
        body = file.read_bytes()
        headers = {
            **JSON,
            "X-Repo-Commit": "0123456789abcdef0123456789abcdef01234567",
            "ETag": f'"{abs(hash(body)):x}"',
        }
        return [Reply(200, body, headers)]
    return None


@pytest.fixture
def hub() -> Iterator[SyncServer]:
    with SyncServer(hub_router) as server:
        yield server


def ollama_router(method: str, path: str, query: dict[str, list[str]]) -> list[Reply] | None:
    """ollama.com: the newest search page (page 1 only) and two tags pages."""
    html = {"Content-Type": "text/html; charset=utf-8"}
    if path == "/search":
        if query.get("page", ["1"])[0] != "1":
            return [Reply(200, b"<html><body><ul></ul></body></html>", html)]
        return [Reply(200, (SYNC / "ollama" / "search-newest.html").read_bytes(), html)]
    if path.startswith("/library/") and path.endswith("/tags"):
        file = SYNC / "ollama" / f"tags-{path.split('/')[2]}.html"
        return [Reply(200, file.read_bytes(), html)] if file.exists() else None
    return None


@pytest.fixture
def ollama_site() -> Iterator[SyncServer]:
    with SyncServer(ollama_router) as server:
        yield server


def feed_router(method: str, path: str, query: dict[str, list[str]]) -> list[Reply] | None:
    files = {"/blog/feed.xml": "hf-blog.xml", "/releases.atom": "ollama-releases.atom"}
    if path not in files:
        return None
    kind = "application/rss+xml" if path.endswith(".xml") else "application/atom+xml"
    return [Reply(200, (SYNC / "feeds" / files[path]).read_bytes(), {"Content-Type": kind})]


@pytest.fixture
def feed_site() -> Iterator[SyncServer]:
    with SyncServer(feed_router) as server:
        yield server


def set_first_seen(engine: Engine, when: datetime, *ids: str) -> None:
    """Pretend rows (all when no ids) were first seen at ``when``."""
    moment = when.astimezone(UTC)
    with Session(engine) as session:
        for table in (SyncedModel, FeedEntry):
            stmt = update(table).values(first_seen=moment)
            if ids:
                stmt = stmt.where(table.id.in_(ids))  # type: ignore[attr-defined]
            session.exec(stmt)
        session.commit()


def sync_recordings(
    engine: Engine,
    catalog: Any,
    cache_dir: Path,
    hub: Callable[[str, str, dict[str, list[str]]], list[Reply] | None] = hub_router,
    feeds: tuple[str, ...] = ("blog/feed.xml", "releases.atom"),
) -> dict[str, Any]:
    """`sync all` against loopback servers replaying the recordings (``hub`` may be swapped)."""
    from ingest.sync import sync

    with (
        SyncServer(hub) as hub_site,
        SyncServer(ollama_router) as site,
        SyncServer(feed_router) as feed_site,
        httpx.Client() as client,
    ):
        return sync(
            engine,
            catalog,
            ["all"],
            hf_api=HfApi(endpoint=hub_site.url, token=False),
            hf_options={"orgs": ORGS, "cache_dir": cache_dir},
            ollama_client=client,
            ollama_url=site.url,
            feed_urls=[f"{feed_site.url}/{path}" for path in feeds],
        )
