"""The release digest over data synced from the recorded sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, delete

from bot.digest import build_digest
from core.errors import LLMUnavailable
from ingest.digest import Digest, DigestEntry
from knowledge.synced import SyncedModel
from tests.ingest.conftest import set_first_seen, sync_recordings

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
RTX_4090 = {"gpu": "rtx-4090", "gpu_count": 1}


@pytest.fixture
def synced(engine: Engine, catalog: Any, tmp_path: Path) -> Engine:
    """Every source synced from the recordings, all rows first seen two days before NOW."""
    reports = sync_recordings(engine, catalog, tmp_path / "hf")
    assert all(r.ok for r in reports.values())
    set_first_seen(engine, NOW - timedelta(days=2))
    _first_sync_before(engine, NOW - timedelta(days=30))
    return engine


def _first_sync_before(engine: Engine, when: Any) -> None:
    """Each source had a first sync earlier (what it learnt then is not news)."""
    with Session(engine) as session:
        for source in ("hf", "ollama"):
            session.add(
                SyncedModel(
                    id=f"{source}:baseline",
                    source=source,
                    external_id="baseline",
                    url="https://example.invalid/baseline",
                    name="baseline",
                    first_seen=when,
                    last_seen=when,
                    digest_key="baseline",
                )
            )
        session.commit()


def test_the_first_sync_and_non_llm_models_are_not_news(synced, catalog):
    with Session(synced) as session:
        session.exec(delete(SyncedModel).where(SyncedModel.id.like("%baseline")))  # type: ignore[attr-defined]
        session.commit()
    first = [e.name for e in _digest(synced, catalog).entries]
    _first_sync_before(synced, NOW - timedelta(days=30))
    later = [e.name for e in _digest(synced, catalog).entries]
    assert len(first) < len(later)  # undated rows of the first sync are not announced
    with Session(synced) as session:
        session.add(
            SyncedModel(
                id="ollama:nomic-embed-text:latest",
                source="ollama",
                external_id="nomic-embed-text:latest",
                url="https://ollama.com/library/nomic-embed-text",
                name="nomic-embed-text:latest",
                capabilities=["embedding"],
                first_seen=NOW - timedelta(days=1),
                last_seen=NOW - timedelta(days=1),
                digest_key="nomic-embed-text",
            )
        )
        session.commit()
    assert "nomic-embed-text" not in str(_digest(synced, catalog).entries)


def _digest(engine: Engine, catalog: Any, **kw: Any) -> Digest:
    digest = build_digest(engine, catalog, **{"now": NOW, **kw}).data["digest"]
    assert isinstance(digest, Digest)
    return digest


def _entry(digest: Digest, name: str) -> DigestEntry:
    return next(e for e in digest.entries if e.name == name)


def test_one_entry_per_release_across_sources(synced, catalog):
    digest = _digest(synced, catalog, profile=RTX_4090)
    names = [e.name for e in digest.entries]
    assert names.count("Qwen3.5") == 1
    qwen = _entry(digest, "Qwen3.5")
    assert [v.name for v in qwen.variants] == ["Qwen3.5-9B", "Qwen3.5-35B-A3B"]
    assert qwen.ollama_tags == ("qwen3.5:9b", "qwen3.5:35b")
    assert qwen.folded == ("Qwen3.5-9B-AWQ", "Qwen3.5-9B-GGUF")  # quants under the base
    assert {t for t, _ in qwen.announcements} == {
        "Welcome Qwen3.5: dense and MoE models on the Hub", "v0.14.2"}  # fmt: skip
    assert not any("AWQ" in n or "GGUF" in n for n in names)
    ministral = _entry(digest, "Ministral-4-14B-Instruct-2611")
    assert ministral.ollama_tags == ("ministral-4:14b",)


def test_window_filters_by_first_seen_and_release_date(synced, catalog):
    assert "Qwen3" not in [e.name for e in _digest(synced, catalog).entries]  # 2025 model
    set_first_seen(synced, NOW - timedelta(days=10), "hf:google/gemma-4-12b-it")
    names = [e.name for e in _digest(synced, catalog).entries]  # the catalog names the release
    assert "Gemma 4" not in names and "Qwen3.5" in names
    assert "Gemma 4" in [e.name for e in _digest(synced, catalog, days=14).entries]
    assert _digest(synced, catalog, now=NOW - timedelta(days=20)).entries == ()


def test_grouped_by_provider(synced, catalog):
    groups = _digest(synced, catalog).by_provider()
    alibaba = catalog.providers["alibaba"].name
    assert list(groups) == sorted(groups)
    assert {e.name for e in groups[alibaba]} == {"Qwen3.5", "Qwen3.5-Omni-Preview", "QwQ-2-32B"}
    assert [e.name for e in groups[catalog.providers["mistral"].name]] == [
        "Ministral-4-14B-Instruct-2611"]  # fmt: skip


def test_fit_on_profile_and_ready_trial_command(synced, catalog):
    digest = _digest(synced, catalog, profile=RTX_4090)
    qwen = _entry(digest, "Qwen3.5")
    assert [v.fit for v in qwen.variants] == ["bf16", "q4_k_m"]
    assert qwen.fits == "35B @ q4_k_m"  # curated sizes win over the Hub's safetensors count
    assert qwen.trial is not None and qwen.trial.startswith('/trial qwen3.5:35b "')
    small = _digest(synced, catalog, profile={"vram_gib": 8})
    assert _entry(small, "Qwen3.5").fits.startswith("9B @ q")
    assert _entry(small, "QwQ-2-32B").fits == "no"
    assert _entry(_digest(synced, catalog), "Qwen3.5").fits == "no profile"


def test_cloud_only_release_has_no_trial(synced, catalog):
    kimi = _entry(_digest(synced, catalog, profile=RTX_4090), "kimi-k3")
    assert kimi.ollama_tags == () and kimi.cloud_only_tags == ("kimi-k3:1t-cloud",)
    assert kimi.trial is None and kimi.fits == "cloud only"


def test_rendered_answer_text_table_and_citations(synced, catalog):
    answer = build_digest(synced, catalog, now=NOW, profile=RTX_4090)
    text = answer.text
    assert "commercial use: yes" in text
    assert "commercial use: no (Mistral AI Research License (MRL))" in text
    # Gemma 4 is curated (Apache-2.0): the catalog's license wins over the Hub card's.
    gemma = next(e for e in answer.data["digest"].entries if e.name == "Gemma 4")
    assert gemma.license.startswith("commercial use: yes")
    assert "commercial use: unknown (license 'qwen-omni-preview'" in text
    assert "context 262,144 tokens" in text
    assert '`/trial qwen3.5:35b "' in text
    assert "cloud only (not runnable locally): kimi-k3:1t-cloud" in text
    table = answer.tables[0]
    assert table.columns == [
        "provider", "model", "date", "params", "license", "context", "fits", "ollama"]  # fmt: skip
    row = next(r for r in table.rows if r[1] == "Qwen3.5")
    assert row[2:] == [
        "2026-11-18", "9B, 35B", "yes", "262,144", "35B @ q4_k_m",
        "qwen3.5:9b, qwen3.5:35b"]  # fmt: skip
    sources = [c.source for c in answer.citations]
    assert "https://huggingface.co/Qwen/Qwen3.5-9B" in sources
    assert "https://huggingface.co/blog/qwen3-5" in sources
    assert [c.id for c in answer.citations] == list(range(1, len(sources) + 1))


def test_summary_deterministic_or_written_by_the_llm(synced, catalog):
    first = build_digest(synced, catalog, now=NOW, profile=RTX_4090)
    second = build_digest(synced, catalog, now=NOW, profile=RTX_4090)
    assert first.text == second.text and not first.llm.used
    summary = first.data["digest"].summary
    assert summary.startswith("6 new release(s) in the last 7 days from 4 provider(s)")
    assert "Usable commercially without conditions: Qwen3.5, Gemma 4." in summary
    seen: list[str] = []

    def llm(text: str) -> str:
        seen.append(text)
        return "A busy week for Qwen."

    written = build_digest(synced, catalog, now=NOW, summarize=llm)
    assert written.llm.used and "A busy week for Qwen." in written.text and "Qwen3.5" in seen[0]

    def down(_text: str) -> str:
        raise LLMUnavailable("Ollama is not running.")

    fallback = build_digest(synced, catalog, now=NOW, summarize=down)
    assert not fallback.llm.used and fallback.llm.error == "Ollama is not running."
    assert "6 new release(s)" in fallback.text


def test_catalog_benchmarks_with_source(engine, catalog):
    with Session(engine) as session:
        session.add(
            SyncedModel(
                id="hf:Qwen/Qwen2.5-Math-7B-Instruct", source="hf",
                external_id="Qwen/Qwen2.5-Math-7B-Instruct", name="Qwen2.5-Math-7B-Instruct",
                provider="alibaba", url="https://huggingface.co/Qwen/Qwen2.5-Math-7B-Instruct",
                created_at=NOW - timedelta(days=1), first_seen=NOW - timedelta(days=1),
                last_seen=NOW, variant_id="qwen2.5-math-7b-instruct", digest_key="qwen2.5math",
            )
        )  # fmt: skip
        session.commit()
    entry = _digest(engine, catalog).entries[0]
    figure, source = entry.benchmarks[0]
    assert figure.startswith("MATH 85.3%") and source.startswith("https://")
    assert entry.license.startswith("commercial use:")  # from the curated variant


def test_empty_window(engine, catalog):
    answer = build_digest(engine, catalog, now=NOW)
    assert "No new model releases" in answer.text and answer.tables == []
