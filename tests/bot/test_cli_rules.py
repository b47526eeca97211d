"""fit / recommend / compare / why-not / rules as a user runs them: exit codes and JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("advisor_db")


def _json(run_cli, *args: str):  # type: ignore[no-untyped-def]
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_fit_json_shape(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "fit", "llama3.1:70b", "--gpu", "RTX 4090", "--gpus", "2")
    assert data["model"] == "llama3.1-70b-instruct"
    assert data["hardware"]["gpu"] == "NVIDIA GeForce RTX 4090" and data["hardware"]["count"] == 2
    assert data["hardware"]["vram_gib_total"] == 48
    assert data["context"] == 8192
    option_keys = {
        "precision",
        "weights_gib",
        "kv_cache_gib",
        "overhead_gib",
        "total_gib",
        "fits",
        "headroom_gib",
        "offload",
        "est_tokens_per_s",
    }
    assert all(option_keys <= o.keys() for o in data["options"])
    assert data["best"]["precision"] == "q4_k_m" and data["notes"]


def test_fit_with_vram_context_and_precision(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(
        run_cli, "fit", "llama2-7b", "--vram", "24", "--context", "4096", "--precision", "bf16"
    )
    assert [o["precision"] for o in data["options"]] == ["bf16"]
    assert data["options"][0]["kv_cache_gib"] == 2.0


def test_fit_unknown_gpu_suggests(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("fit", "mistral", "--gpu", "RTX 4909")
    assert code == 1 and "Did you mean" in err and "rtx-4090" in err


def test_fit_needs_hardware(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("fit", "mistral")
    assert code == 1 and "--gpu" in err


def test_recommend_json_shape(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "recommend", "--gpu", "4090", "--commercial", "--task", "code")
    assert data["requirements"]["commercial"] is True
    assert data["candidates"]
    first = data["candidates"][0]
    assert {"model", "status", "score", "reasons", "fit", "cost"} <= first.keys()
    assert all(
        {"rule", "severity", "message"} <= r.keys()
        for c in data["candidates"]
        for r in c["reasons"]
    )
    assert all(c["status"] in ("ok", "warn") for c in data["candidates"])


def test_recommend_all_includes_rejected(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "recommend", "--commercial", "--vram", "8", "--all", "--limit", "400")
    assert any(c["status"] == "reject" for c in data["candidates"])


def test_why_not_json_shape(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "why-not", "galactica-120b", "--commercial", "--gpu", "RTX 4090")
    assert data["model"] == "galactica-120b" and data["status"] == "reject"
    rules = {r["rule"] for r in data["reasons"]}
    assert {"license.commercial-use", "hardware.fits"} <= rules


def test_compare_json_shape(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli, "compare", "llama2", "mistral", "--gpu", "RTX 4090")
    assert data["models"] == ["llama2-7b-chat", "mistral-7b-instruct-v0.3"]
    assert all(
        {"field", "values"} <= row.keys() and len(row["values"]) == 2 for row in data["rows"]
    )


def test_compare_needs_two_to_four(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("compare", "llama2")
    assert code != 0 and "two to four" in err


def test_rules_list_and_check(run_cli) -> None:  # type: ignore[no-untyped-def]
    rows = _json(run_cli, "rules", "list")
    assert len(rows) >= 20 and {"id", "severity", "pack"} <= rows[0].keys()
    code, out, _ = run_cli("rules", "check")
    assert code == 0 and "cases pass" in out


def test_rules_check_bad_pack_exits_nonzero(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    team = tmp_path / "team"
    team.mkdir()
    (team / "bad.yaml").write_text(
        "rules:\n  - id: team.bad\n    title: t\n    description: d\n"
        "    require: model.params_b >\n    severity: reject\n    message: m\n"
    )
    code, _, err = run_cli("rules", "check", str(team))
    assert code == 1 and "bad.yaml:5: rule team.bad: require: syntax error" in err


def test_rules_check_flags_rules_without_cases(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    team = tmp_path / "team"
    team.mkdir()
    (team / "nocases.yaml").write_text(
        "rules:\n  - id: team.nocases\n    title: t\n    description: d\n"
        "    require: model.open_weights\n    severity: warn\n    message: m\n"
    )
    code, out, _ = run_cli("rules", "check", str(team))
    assert code == 1 and "team.nocases: has no test cases" in out
