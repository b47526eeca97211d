"""`advisor sync all` and `advisor digest` end to end against recorded sources on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def synced_env(
    curated_db: Path, tmp_path: Path, monkeypatch, hub, ollama_site, feed_site, closed_url
):  # type: ignore[no-untyped-def]
    import shutil

    db = tmp_path / "advisor.db"
    shutil.copy(curated_db, db)
    monkeypatch.setenv("ADVISOR_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("ADVISOR_HF_ENDPOINT", hub.url)
    monkeypatch.setenv("ADVISOR_OLLAMA_LIBRARY_URL", ollama_site.url)
    monkeypatch.setenv(
        "ADVISOR_FEEDS",
        json.dumps([f"{feed_site.url}/blog/feed.xml", f"{feed_site.url}/releases.atom"]),
    )
    monkeypatch.setenv("ADVISOR_OLLAMA_HOST", closed_url)  # no Ollama: deterministic
    return db


def _released_recently(db: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update
    from sqlmodel import Session

    from knowledge.db import make_engine
    from knowledge.synced import SyncedModel

    with Session(make_engine(f"sqlite:///{db}")) as session:
        recent = datetime.now(UTC) - timedelta(days=2)
        session.exec(update(SyncedModel).values(created_at=recent))  # type: ignore[call-overload]
        session.commit()


def test_sync_all_then_digest(run_cli, synced_env) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("sync", "all", "--json")
    assert code == 0, err + out
    reports = json.loads(out)
    assert set(reports) == {"hf", "ollama", "feeds"}
    assert reports["hf"]["added"] > 0 and reports["ollama"]["added"] > 0
    again = json.loads(run_cli("sync", "all", "--json")[1])
    assert again["hf"]["added"] == 0 and again["ollama"]["added"] == 0  # incremental
    _released_recently(synced_env)  # recordings carry fixed dates; keep the test date-proof
    code, out, err = run_cli("digest", "--days", "7", "--json")
    assert code == 0, err
    digest = json.loads(out)
    assert digest["tables"] and digest["tables"][0]["rows"]
    assert "commercial use" in digest["answer"].lower()
    assert digest["llm"]["used"] is False  # no Ollama: the summary is deterministic


def test_garbage_from_the_hub_stops_only_the_hub(engine, catalog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.sync_server import Reply
    from tests.ingest.conftest import sync_recordings

    def garbage(method, path, query):  # type: ignore[no-untyped-def]
        return [Reply(200, b"{not json", {"Content-Type": "application/json"})]

    reports = sync_recordings(engine, catalog, tmp_path / "hf", garbage, ("blog/feed.xml",))
    assert not reports["hf"].ok and len(reports["hf"].errors) == 1
    assert "unchanged" in reports["hf"].summary()
    assert reports["ollama"].ok and reports["ollama"].added > 0
    assert reports["feeds"].ok
