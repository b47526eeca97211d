"""The `advisor` command as a user runs it: exit codes, messages and --json shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("advisor_db")

VARIANT_KEYS = {
    "id",
    "name",
    "family",
    "provider",
    "params_b",
    "active_params_b",
    "context_length",
    "license",
    "availability",
    "flavor",
    "release_date",
    "hf_repo",
    "ollama_tags",
    "sources",
}


def _json(run_cli, *args: str):  # type: ignore[no-untyped-def]
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_models_json_shape_and_sources(run_cli) -> None:  # type: ignore[no-untyped-def]
    rows = _json(run_cli, "models")
    assert len(rows) >= 150
    for row in rows:
        assert row.keys() >= VARIANT_KEYS
        assert row["sources"], f"{row['id']} has no source"
        assert all(s["url"].startswith("http") and s["as_of"] for s in row["sources"])


def test_models_filters_combine(run_cli) -> None:  # type: ignore[no-untyped-def]
    rows = _json(run_cli, "models", "--provider", "Meta", "--max-params", "10")
    assert rows and all(r["provider"] == "meta" and r["params_b"] <= 10 for r in rows)
    permissive = _json(run_cli, "models", "--license", "permissive", "--open-weights")
    licenses = {x["id"]: x for x in _json(run_cli, "licenses")}
    assert permissive
    assert all(licenses[r["license"]]["kind"] == "permissive" for r in permissive)
    assert all(r["availability"] == "open-weights" for r in permissive)
    family = _json(run_cli, "models", "--family", "llama 2")
    assert {r["family"] for r in family} == {"llama2"}


def test_models_unknown_license_says_what_to_use(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("models", "--license", "beerware")
    assert code == 1
    assert "Unknown license 'beerware'" in err and "advisor licenses" in err


def test_show_family_expands_licenses(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "show", "llama2")
    assert data["match"] == "family" and data["family"]["id"] == "llama2"
    ids = {v["id"] for v in data["variants"]}
    assert {"llama2-7b", "llama2-7b-chat", "llama2-70b-chat"} <= ids
    lic = data["variants"][0]["license"]
    assert lic["id"] == "llama2" and lic["commercial"] == "conditional" and lic["conditions"]


@pytest.mark.parametrize(
    ("query", "variant"),
    [
        ("meta-llama/Llama-2-7b-chat-hf", "llama2-7b-chat"),
        ("llama2:70b", "llama2-70b-chat"),
        ("Llama 2 70B", "llama2-70b"),
        ("llama2-70b", "llama2-70b"),
    ],
)
def test_show_resolves_every_name_form(run_cli, query: str, variant: str) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "show", query)
    assert data["match"] == "variant"
    assert data["variants"][0]["id"] == variant


def test_show_ambiguous_name_uses_family_default(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "show", "mistral-7b")
    assert data["default"] == "mistral-7b-instruct-v0.3"
    code, out, _ = run_cli("show", "mistral-7b-v0")
    assert code == 0 and "matches several variants" in out


def test_family_alias_llama_2_resolves(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert _json(run_cli, "show", "LLaMA-2")["family"]["id"] == "llama2"


def test_unknown_model_suggests_names(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("show", "llamma-2-7b-chatt")
    assert code == 1 and out == ""
    assert "Did you mean" in err and "llama2-7b-chat" in err


def test_licenses_and_gpus_cover_the_targets(run_cli) -> None:  # type: ignore[no-untyped-def]
    licenses = _json(run_cli, "licenses")
    assert len(licenses) >= 30
    assert all(x["sources"] for x in licenses)
    gpus = _json(run_cli, "gpus")
    assert len(gpus) >= 25
    assert any(g["unified_memory"] for g in gpus)
    assert {"id", "vram_gib", "bandwidth_gbs", "unified_memory", "cloud_price_per_hour"} <= gpus[
        0
    ].keys()


def test_config_masks_secrets(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADVISOR_SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("ADVISOR_DATABASE_URL", "postgresql://bot:hunter2@db.internal/advisor")
    code, out, _ = run_cli("config", "--json")
    assert code == 0
    assert "xoxb-very-secret" not in out and "hunter2" not in out
    view = json.loads(out)
    assert view["slack_bot_token"] == "********"
    assert view["database_url"].startswith("postgresql://bot:***@db.internal")


def test_config_reads_dotenv(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("ADVISOR_OLLAMA_MODEL=llama3.1:8b\n")
    code, out, _ = run_cli("config", "--json")
    assert json.loads(out)["ollama_model"] == "llama3.1:8b"


def test_catalog_check_reports_file_and_line(run_cli, mini_data: Path) -> None:  # type: ignore[no-untyped-def]
    text = (mini_data / "base.yaml").read_text().replace("vram_gib: 24", "vram_gib: lots")
    (mini_data / "base.yaml").write_text(text)
    code, _, err = run_cli("catalog", "check", str(mini_data))
    assert code == 1
    assert "base.yaml:22: gpus[rtx-4090]: vram_gib" in err and "nothing was loaded" in err


def test_catalog_load_twice_changes_nothing(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, _ = run_cli("catalog", "load")
    assert code == 0
    counts = _json(run_cli, "catalog", "load")
    assert all(c["added"] == c["updated"] == c["removed"] == 0 for c in counts.values())
    assert counts["variants"]["unchanged"] >= 150


def test_tables_fit_80_columns(run_cli) -> None:  # type: ignore[no-untyped-def]
    for args in (("models",), ("licenses",), ("gpus",), ("show", "llama2")):
        code, out, _ = run_cli(*args)
        assert code == 0
        assert max(len(line) for line in out.splitlines()) <= 80, args
