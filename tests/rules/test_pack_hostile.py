"""Hostile or broken team packs: each problem one file:line line; nothing leaks or crashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import RuleError
from rules.engine import Engine
from rules.packs import MAX_PACK_BYTES, load_rules, render_message
from rules.requirements import Requirements

RULE = """\
rules:
  - id: {id}
    title: Team check
    description: A team rule.
    require: "{require}"
    severity: reject
    message: "{message}"
    cases:
      - {{name: ok, expect: pass}}
"""


def _pack(directory: Path, name: str = "team.yaml", **fields: str) -> Path:
    values = {"id": "team.check", "require": "true", "message": "{model.name} fails.", **fields}
    path = directory / name
    path.write_text(RULE.format(**values), encoding="utf-8")
    return path


def _problems(directory: Path) -> str:
    with pytest.raises(RuleError) as info:
        load_rules(directory)
    return info.value.user_message


@pytest.mark.parametrize(
    "message",
    [
        "{fit.__getattr__.__globals__[json].codecs.sys.modules[os].environ}",
        "{model.name.__class__}",
        "{model[name]}",
        "{model.name!r}",
        "{x:d}",
        "{model.name:{params.w}}",
        "{model.name",
    ],
)
def test_a_message_template_that_reaches_past_the_facts_is_refused_at_load(
    tmp_path: Path, message: str
) -> None:
    path = _pack(tmp_path, message=message)
    problems = _problems(tmp_path)
    assert f"{path}:" in problems and "rule team.check: message" in problems


def test_a_rendered_message_shows_only_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_SLACK_BOT_TOKEN", "xoxb-secret")
    values = {"model": {"name": "Llama", "params_b": 8.0, "languages": ["en", "zh"]}}
    text = render_message("{model.name} ({model.params_b:.1f}B, {model.languages})", values)
    assert text == "Llama (8.0B, en; zh)"
    assert render_message("{model.missing} {model.params_b:d}", values) == "unknown 8"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"- id: a\n- id: b\n", ":1: a pack is a mapping with `rules:`"),
        (b"rules:\n  - id: caf\xe9\n", ":2: not UTF-8 text (byte 0xe9)"),
        (b"rules: [\n", ": not valid YAML"),
    ],
)
def test_broken_files_are_one_line_each(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "bad.yaml").write_bytes(content)
    assert f"{tmp_path / 'bad.yaml'}{expected}" in _problems(tmp_path) or expected in _problems(
        tmp_path
    )


def test_symlinks_duplicates_yml_and_size(tmp_path: Path) -> None:
    first = _pack(tmp_path, "a.yaml")
    _pack(tmp_path, "b.yml")  # .yml is read: the same id twice is reported with both places
    outside = tmp_path.parent / "outside.yaml"
    outside.write_text("rules: []\n")
    os.symlink(outside, tmp_path / "link.yaml")
    (tmp_path / "huge.yaml").write_bytes(b"#" * (MAX_PACK_BYTES + 1))
    problems = _problems(tmp_path)
    assert f"{tmp_path / 'b.yml'}:2: rule team.check: id: also defined at {first}:2" in problems
    assert f"{tmp_path / 'link.yaml'}:1: is a symbolic link" in problems
    assert f"{tmp_path / 'huge.yaml'}:1: " in problems and "split it" in problems


def test_a_rule_failing_at_run_time_is_named_and_logged_once(
    tmp_path: Path,
    catalog,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    _pack(tmp_path, require="model.params_b / 0.0 > 1.0")
    engine = Engine(catalog, load_rules(tmp_path))
    verdicts = engine.evaluate(Requirements())
    failed = [v for v in verdicts if any(r.rule == "team.check" for r in v.reasons)]
    assert failed, "the rule should fail on every model with a size"
    reason = next(r for r in failed[0].reasons if r.rule == "team.check")
    assert "could not be decided because rule team.check failed" in reason.message
    logged = [r for r in caplog.records if "rule team.check failed at run time" in r.getMessage()]
    assert len(logged) == 1 and f"{tmp_path / 'team.yaml'}:2" in logged[0].getMessage()


def test_rules_check_reports_run_time_failures_with_file_line(
    run_cli,
    advisor_db,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    team = tmp_path / "team"
    team.mkdir()
    path = _pack(team, require="model.params_b / 0.0 > 1.0")
    code, out, _ = run_cli("rules", "check", str(team))
    assert code == 1
    assert f"{path}:2: rule team.check: fails at run time on" in out
