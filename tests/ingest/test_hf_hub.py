"""Hub sync through the real huggingface_hub client against recorded API responses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import HfApi
from sqlalchemy import Engine
from sqlmodel import Session, select

from ingest.hf_hub import map_license, sync_hf
from knowledge.synced import SyncedModel, SyncReport, SyncState
from knowledge.tables import VariantRow
from tests.fakes.sync_server import Reply, SyncServer
from tests.ingest.conftest import ORGS, hub_router


def _run(engine: Engine, catalog: Any, url: str, tmp_path: Path, **kw: Any) -> SyncReport:
    api = HfApi(endpoint=url, token=False)
    return sync_hf(
        engine, catalog, api=api, orgs=kw.pop("orgs", ORGS), cache_dir=tmp_path / "hf",
        sleep=kw.pop("sleep", lambda _s: None), **kw,
    )  # fmt: skip


def _rows(engine: Engine) -> dict[str, SyncedModel]:
    with Session(engine) as session:
        return {r.external_id: r for r in session.exec(select(SyncedModel))}


def test_sync_maps_params_license_context_and_folds(engine, catalog, hub, tmp_path):
    report = _run(engine, catalog, hub.url, tmp_path)
    assert report.ok, report.errors
    rows = _rows(engine)
    assert "Qwen/Qwen-Tiny-Test" not in rows  # below the likes/downloads floor
    base = rows["Qwen/Qwen3.5-9B"]
    assert base.params_b == 9.65 and base.license_id == "apache-2.0"
    assert (base.context_length, base.layers, base.kv_heads, base.head_dim) == (262144, 36, 8, 128)
    assert not base.folded and base.digest_key == "qwen3.5"
    moe = rows["Qwen/Qwen3.5-35B-A3B"]
    assert (moe.architecture, moe.experts, moe.experts_active) == ("moe", 128, 8)
    assert rows["google/gemma-4-12b-it"].context_length == 131072  # from text_config
    assert rows["google/gemma-4-12b-it"].license_id == "gemma"
    assert not rows["google/gemma-4-12b-it"].folded  # the official instruct release
    awq, gguf = rows["Qwen/Qwen3.5-9B-AWQ"], rows["Qwen/Qwen3.5-9B-GGUF"]
    assert awq.folded and awq.relation == "quantized" and awq.base_model == "Qwen/Qwen3.5-9B"
    assert gguf.folded and gguf.base_model == "Qwen/Qwen3.5-9B" and gguf.params_b == 9.65
    assert report.folded == 2
    # other + license_name: known names map, unknown ones are flagged, not guessed
    assert rows["Qwen/QwQ-2-32B"].license_id == "qwen"
    assert rows["mistralai/Ministral-4-14B-Instruct-2611"].license_id == "mistral-mrl"
    omni = rows["Qwen/Qwen3.5-Omni-Preview"]
    assert omni.license_id is None and omni.license_flag == "unknown"
    assert omni.license_raw == "qwen-omni-preview"
    assert "qwen-omni-preview" in report.unknown_licenses
    gated = rows["mistralai/Ministral-4-14B-Instruct-2611"]
    assert gated.gated and gated.context_length is None  # config.json of gated repos skipped
    assert not any(
        "mistralai/Ministral" in target for _m, target in hub.requests if "resolve" in target
    )


def test_only_config_json_is_downloaded(engine, catalog, hub, tmp_path):
    _run(engine, catalog, hub.url, tmp_path)
    files = {t.split("/resolve/main/")[1] for _m, t in hub.requests if "/resolve/" in t}
    assert files == {"config.json"}
    listing = [t for _m, t in hub.requests if t.startswith("/api/models")]
    assert all("pipeline_tag=text-generation" in t and "sort=createdAt" in t for t in listing)
    assert all("expand=baseModels" in t or "expand%5B%5D=baseModels" in t for t in listing)


def test_curated_rows_untouched_and_linked(engine, catalog, hub, tmp_path):
    with Session(engine) as session:
        before = session.get(VariantRow, "qwen3-8b").model_dump()  # type: ignore[union-attr]
    _run(engine, catalog, hub.url, tmp_path)
    with Session(engine) as session:
        after = session.get(VariantRow, "qwen3-8b").model_dump()  # type: ignore[union-attr]
        variants = session.exec(select(VariantRow.id)).all()
    assert before == after and after["origin"] == "curated"
    assert len(variants) == len(catalog.variants)
    row = _rows(engine)["Qwen/Qwen3-8B"]
    assert row.variant_id == "qwen3-8b" and row.provider == "alibaba"
    assert not row.folded  # the lab's own post-trained model, tuned from its -Base
    assert row.url == "https://huggingface.co/Qwen/Qwen3-8B"


def test_second_sync_is_incremental(engine, catalog, hub, tmp_path):
    first = _run(engine, catalog, hub.url, tmp_path)
    assert first.added == 9  # ten listed, the tiny one filtered out
    second = _run(engine, catalog, hub.url, tmp_path)
    assert (second.added, second.updated) == (0, 0)
    with Session(engine) as session:
        state = session.get(SyncState, "hf")
    assert state is not None and state.position["Qwen"].startswith("2026-11-18T09:30")
    assert state.last_error is None


def test_rate_limit_is_retried_after_retry_after(engine, catalog, tmp_path):
    calls: dict[str, int] = {}

    def limited(method: str, path: str, query: dict[str, list[str]]) -> list[Reply] | None:
        if path == "/api/models":
            calls["list"] = calls.get("list", 0) + 1
            return [Reply(429, b'{"error": "rate limited"}', {"Retry-After": "2"}), *(
                hub_router(method, path, query) or [])]  # fmt: skip
        return hub_router(method, path, query)

    waits: list[float] = []
    with SyncServer(limited) as server:
        report = _run(engine, catalog, server.url, tmp_path, orgs=("google",), sleep=waits.append)
    assert report.ok and report.added == 1
    assert waits == [2.0]


def test_network_failure_leaves_data_intact(engine, catalog, hub, tmp_path):
    _run(engine, catalog, hub.url, tmp_path)
    before = {k: r.model_dump() for k, r in _rows(engine).items()}

    def broken(method: str, path: str, query: dict[str, list[str]]) -> list[Reply] | None:
        return [Reply(500, b'{"error": "internal"}', {"Content-Type": "application/json"})]

    with SyncServer(broken) as server:
        failed = _run(engine, catalog, server.url, tmp_path, since=None)
    assert not failed.ok and "HTTP 500" in failed.errors[0] and "unchanged" in failed.errors[0]
    hub.stop()
    offline = _run(engine, catalog, hub.url, tmp_path)
    assert not offline.ok and "Could not reach" in offline.errors[0]
    assert {k: r.model_dump() for k, r in _rows(engine).items()} == before
    with Session(engine) as session:
        state = session.get(SyncState, "hf")
    assert state is not None and state.last_error is not None


def test_license_mapping_table(catalog):
    assert map_license(catalog, "apache-2.0", None, []) == ("apache-2.0", "apache-2.0", None)
    assert map_license(catalog, None, None, ["license:llama3.1"])[0] == "llama3.1"
    assert map_license(catalog, "other", "tongyi-qianwen", [])[0] == "qwen"
    assert map_license(catalog, ["other"], "mnpl", [])[0] == "mistral-mnpl"
    assert map_license(catalog, "other", "nvidia-open-model-license", []) == (
        None, "nvidia-open-model-license", "unknown")  # fmt: skip
    assert map_license(catalog, None, None, []) == (None, None, "unknown")


def test_failed_org_is_resumed_by_the_next_sync(engine, catalog, hub, tmp_path):
    def mistral_down(method: str, path: str, query: dict[str, list[str]]) -> list[Reply] | None:
        if query.get("author") == ["mistralai"]:
            return [Reply(503, b'{"error": "unavailable"}', {"Content-Type": "application/json"})]
        return hub_router(method, path, query)

    with SyncServer(mistral_down) as server:
        partial = _run(engine, catalog, server.url, tmp_path)
    assert "HTTP 503" in partial.errors[0] and partial.added == 7  # Qwen done, then stopped
    with Session(engine) as session:
        state = session.get(SyncState, "hf")
    assert state is not None and list(state.position) == ["Qwen"] and state.last_sync is None
    resumed = _run(engine, catalog, hub.url, tmp_path)
    # Qwen resumes from its cursor: its 2025 model is older than cursor - lookback
    assert resumed.ok and resumed.added == 2 and resumed.unchanged == 6
