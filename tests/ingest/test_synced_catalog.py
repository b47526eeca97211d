"""Synced models in the catalog: `advisor sync` on loopback, then show / fit / compare them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def synced_db(curated_db: Path, tmp_path: Path, monkeypatch, hub, ollama_site, closed_url, run_cli):  # type: ignore[no-untyped-def]
    """A private catalog after `advisor sync hf ollama` against the recorded sources."""
    db = tmp_path / "advisor.db"
    shutil.copy(curated_db, db)
    monkeypatch.setenv("ADVISOR_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("ADVISOR_HF_ENDPOINT", hub.url)
    monkeypatch.setenv("ADVISOR_OLLAMA_LIBRARY_URL", ollama_site.url)
    monkeypatch.setenv("ADVISOR_OLLAMA_HOST", closed_url)
    code, out, err = run_cli("sync", "hf", "ollama", "--json")
    assert code == 0, err + out
    return db


def _synced(db: Path) -> dict[str, object]:
    """The synced variants of the catalog at ``db``, by HF repo (or id), read as users would."""
    from knowledge.db import make_engine
    from knowledge.store import read_catalog

    cat = read_catalog(make_engine(f"sqlite:///{db}"))
    return {v.hf_repo or v.id: v for v in cat.variants.values() if v.origin == "synced"}


def test_a_synced_repo_resolves_by_repo_id_and_ollama_tag(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    synced = _synced(synced_db)
    assert "Qwen/QwQ-2-32B" in synced  # recorded on the Hub, not curated
    variant = synced["mistralai/Ministral-4-14B-Instruct-2611"]
    for name in ("mistralai/Ministral-4-14B-Instruct-2611", variant.id, "ministral-4:14b"):  # type: ignore[attr-defined]
        code, out, err = run_cli("show", name, "--json")
        assert code == 0, err + out
        shown = json.loads(out)
        assert shown["default"] == variant.id, name  # type: ignore[attr-defined]
        (entry,) = shown["variants"]
        assert entry["origin"] == "synced from the Hub, not reviewed"
        assert entry["license"]["id"] == "mistral-mrl"  # mapped from the card's license_name
    code, out, _ = run_cli("show", "Qwen/QwQ-2-32B")
    assert "not reviewed" in out and "https://huggingface.co/Qwen/QwQ-2-32B" in out


def test_a_card_without_a_known_license_is_unknown_never_allowed(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("show", "Qwen/Qwen3.5-Omni-Preview", "--json")
    assert code == 0, err + out
    lic = json.loads(out)["variants"][0]["license"]
    assert lic["id"] == "unknown" and lic["commercial"] == "unknown"
    code, out, err = run_cli("why-not", "Qwen/Qwen3.5-Omni-Preview", "--commercial", "--json")
    assert code == 0, err + out
    verdict = json.loads(out)
    assert verdict["status"] == "unknown", verdict  # never "ok" on an unread license
    reasons = {r["rule"]: r["severity"] for r in verdict["reasons"]}
    assert reasons["license.commercial-use"] == "unknown"


def test_a_synced_model_is_fitted_from_its_parameter_count(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("fit", "Qwen/QwQ-2-32B", "--vram", "24", "--json")
    assert code == 0, err + out
    report = json.loads(out)
    by_precision = {o["precision"]: o for o in report["options"]}
    # 32.8B at bf16 is ~61 GiB of weights: far over 24 GiB; a 4-bit quant fits.
    assert by_precision["bf16"]["fits"] is False and by_precision["q4_k_m"]["fits"] is True
    assert 60 < by_precision["bf16"]["weights_gib"] < 62
    code, out, _ = run_cli("fit", "Qwen/QwQ-2-32B", "--vram", "24")
    assert "synced from the Hub, not reviewed" in " ".join(out.split())


def test_compare_marks_the_synced_model(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("compare", "qwen3-8b", "Qwen/QwQ-2-32B", "--json")
    assert code == 0, err + out
    rows = {r["field"]: r["values"] for r in json.loads(out)["rows"]}
    assert rows["origin"] == ["curated", "synced from the Hub, not reviewed"]
    assert rows["params_b"][1] == 32.8  # the Hub's safetensors total


def test_a_curated_model_linked_by_a_synced_row_keeps_curated_facts(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    synced = _synced(synced_db)
    assert "Qwen/Qwen3-8B" not in synced  # the Hub row links to the curated qwen3-8b
    code, out, err = run_cli("show", "Qwen/Qwen3-8B", "--json")
    assert code == 0, err + out
    (entry,) = json.loads(out)["variants"]
    assert entry["id"] == "qwen3-8b" and entry["origin"] == "curated"
    assert entry["context_length"] and entry["sources"]  # curated numbers and citations


def test_an_unknown_name_is_never_answered_as_another_model(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("show", "Zorblax-Ultra-13B")
    assert code == 1
    assert "I don't know a model called 'Zorblax-Ultra-13B'" in out + err
    code, out, err = run_cli("fit", "Zorblax-Ultra-13B", "--vram", "24")
    assert code == 1 and "I don't know a model called" in out + err


def test_a_partial_match_says_what_it_matched(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("show", "qwen3.5:35b", "--json")  # Ollama's short tag
    assert code == 0, err + out
    shown = json.loads(out)
    assert shown["notes"] and f"`{shown['default']}`" in shown["notes"][0]


def test_sync_links_only_to_curated_variants(synced_db, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A second sync sees synced variants in the catalog but never links rows to them."""
    from sqlmodel import Session, select

    from knowledge.db import make_engine
    from knowledge.synced import SyncedModel

    code, out, err = run_cli("sync", "hf", "ollama", "--json")
    assert code == 0, err + out
    with Session(make_engine(f"sqlite:///{synced_db}")) as session:
        row = session.get(SyncedModel, "hf:Qwen/QwQ-2-32B")
        assert row is not None and row.variant_id is None
        tags = session.exec(select(SyncedModel).where(SyncedModel.id == "ollama:ministral-4:14b"))
        assert next(iter(tags)).variant_id is None
    assert "Qwen/QwQ-2-32B" in _synced(synced_db)
