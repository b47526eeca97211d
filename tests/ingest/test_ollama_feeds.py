"""Ollama library and feed syncs through httpx and feedparser against loopback servers."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from ingest.feeds import sync_feeds
from ingest.ollama_lib import parse_search, size_b, sync_ollama
from ingest.sync import sync
from knowledge.synced import FeedEntry, SyncedModel, SyncError
from tests.fakes.sync_server import Reply, SyncServer
from tests.ingest.conftest import SYNC


def _ollama_rows(engine: Engine) -> dict[str, SyncedModel]:
    with Session(engine) as session:
        query = select(SyncedModel).where(SyncedModel.source == "ollama")
        return {r.external_id: r for r in session.exec(query)}


def test_search_page_parsed_with_sizes_and_capabilities():
    models = parse_search((SYNC / "ollama" / "search-newest.html").read_text())
    assert [m.name for m in models] == ["qwen3.5", "ministral-4", "kimi-k3", "qwen3"]
    assert models[0].sizes == ("9b", "35b") and models[0].capabilities == ("tools", "thinking")
    assert models[2].cloud and not models[0].cloud
    assert (size_b("270m"), size_b("1t"), size_b("latest")) == (0.27, 1000.0, None)


def test_search_page_without_test_markers_still_lists_models():
    html = (
        '<ul><li><a href="/library/granite5">granite5</a></li><li><a href="/blog">x</a></li></ul>'
    )
    assert [m.name for m in parse_search(html)] == ["granite5"]


def test_ollama_sync_marks_cloud_tags_not_runnable_and_links(engine, catalog, ollama_site):
    with httpx.Client() as client:
        report = sync_ollama(engine, catalog, client, base_url=ollama_site.url)
    assert report.ok, report.errors
    rows = _ollama_rows(engine)
    assert set(rows) == {
        "qwen3.5:9b", "qwen3.5:35b", "ministral-4:14b", "kimi-k3:1t-cloud",
        "qwen3:8b", "qwen3:235b", "qwen3:235b-cloud",
    }  # fmt: skip
    kimi = rows["kimi-k3:1t-cloud"]
    assert kimi.cloud_only and kimi.ollama_tags == []
    assert rows["qwen3:235b-cloud"].cloud_only and not rows["qwen3:235b"].cloud_only
    assert (
        rows["qwen3:8b"].ollama_tags == ["qwen3:8b"] and rows["qwen3:8b"].variant_id == "qwen3-8b"
    )
    assert rows["qwen3:8b"].provider == "alibaba"
    # Qwen3.5 is curated now: the tag links to the catalog's variant, not to Qwen3.
    assert rows["qwen3.5:9b"].params_b == 9.0 and rows["qwen3.5:9b"].variant_id == "qwen3.5-9b"
    assert rows["qwen3.5:9b"].capabilities == ["tools", "thinking"]
    with httpx.Client() as client:
        again = sync_ollama(engine, catalog, client, base_url=ollama_site.url)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 7)


def test_ollama_failure_reports_and_keeps_rows(engine, catalog, ollama_site):
    with httpx.Client() as client:
        sync_ollama(engine, catalog, client, base_url=ollama_site.url)
        before = {k: r.model_dump() for k, r in _ollama_rows(engine).items()}
        with SyncServer(lambda *_: [Reply(500, b"oops")]) as broken:
            failed = sync_ollama(engine, catalog, client, base_url=broken.url)
        ollama_site.stop()
        offline = sync_ollama(engine, catalog, client, base_url=ollama_site.url)
    assert "HTTP 500" in failed.errors[0] and "Could not reach" in offline.errors[0]
    assert {k: r.model_dump() for k, r in _ollama_rows(engine).items()} == before


def test_feeds_link_entries_and_report_a_broken_feed(engine, catalog, feed_site):
    urls = [
        f"{feed_site.url}/blog/feed.xml",
        f"{feed_site.url}/releases.atom",
        f"{feed_site.url}/missing.xml",
    ]
    report = sync_feeds(engine, catalog, urls)
    assert report.added == 3 and len(report.errors) == 1 and "missing.xml" in report.errors[0]
    with Session(engine) as session:
        entries = {e.link: e for e in session.exec(select(FeedEntry))}
    llama = entries["https://huggingface.co/blog/trl-llama31"]
    assert llama.variant_ids == ["llama3.1-8b"]
    newer = entries["https://huggingface.co/blog/qwen3-5"]  # "Qwen3.5" is not a Qwen3 post
    assert newer.family_ids == ["qwen3.5"] and not any(
        v.startswith("qwen3-") for v in newer.variant_ids
    )
    release = entries["https://github.com/ollama/ollama/releases/tag/v0.14.2"]
    assert release.title == "v0.14.2" and "Ministral 4" in release.summary
    assert release.published is not None and release.published.day == 19
    assert sync_feeds(engine, catalog, urls[:2]).added == 0


def test_sync_all_runs_every_source(engine, catalog, hub, ollama_site, feed_site, tmp_path):
    from huggingface_hub import HfApi

    with httpx.Client() as client:
        reports = sync(
            engine,
            catalog,
            ["all"],
            hf_api=HfApi(endpoint=hub.url, token=False),
            hf_options={"orgs": ("google",), "cache_dir": tmp_path / "hf"},
            ollama_client=client,
            ollama_url=ollama_site.url,
            feed_urls=[f"{feed_site.url}/releases.atom"],
        )
    assert list(reports) == ["hf", "ollama", "feeds"]
    assert all(r.ok for r in reports.values())
    assert [r.added for r in reports.values()] == [1, 7, 1]
    assert reports["hf"].summary().startswith("hf: 1 added, 0 updated")


def test_unknown_sync_source_is_refused(engine, catalog):
    with pytest.raises(SyncError, match="use hf, ollama, feeds or all"):
        sync(engine, catalog, ["pypi"])
