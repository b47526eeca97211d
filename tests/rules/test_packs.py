"""Rule packs: every shipped rule's cases, load-time errors with file/line/rule, team packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import RuleError
from rules.cases import run_case
from rules.packs import BUILTIN_DIR, RuleBook, load_rules

TEAM_EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "team-examples"
BUILTIN = load_rules()
CASES = [(rule, case) for rule in BUILTIN.rules for case in rule.spec.cases]


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r.id}:{c.name}" for r, c in CASES])
def test_rule_case(rule, case) -> None:  # type: ignore[no-untyped-def]
    assert run_case(rule, case) == case.expect.value


@pytest.mark.parametrize("rule", BUILTIN.rules, ids=[r.id for r in BUILTIN.rules])
def test_every_rule_has_pass_fail_and_unknown_cases(rule) -> None:  # type: ignore[no-untyped-def]
    expected = {c.expect.value for c in rule.spec.cases}
    assert {"pass", "fail"} <= expected, f"{rule.id} needs a passing and a failing case"
    if rule.spec.on_unknown.value == "pass":
        return  # unknown facts pass by design; the 'pass' case without the fact covers it
    assert "unknown" in expected, f"{rule.id} needs a case with an unknown fact"


def test_builtin_packs_cover_the_four_areas() -> None:
    assert {p.name for p in BUILTIN.files} >= {
        "license.yaml",
        "hardware.yaml",
        "cost.yaml",
        "capability.yaml",
    }


def _team(tmp_path: Path, text: str) -> Path:
    team = tmp_path / "team"
    team.mkdir(exist_ok=True)
    (team / "policy.yaml").write_text(text)
    return team


RULE = """\
rules:
  - id: team.example
    title: Example
    description: An example.
    require: {require}
    severity: {severity}
    message: "{{model.name}} fails."
    cases: []
"""


def _error(tmp_path: Path, require: str = "model.open_weights", severity: str = "reject") -> str:
    with pytest.raises(RuleError) as caught:
        load_rules(_team(tmp_path, RULE.format(require=require, severity=severity)))
    return caught.value.user_message


def test_syntax_error_names_file_line_rule_and_column(tmp_path: Path) -> None:
    message = _error(tmp_path, require='"model.params_b > "')
    assert "policy.yaml:5: rule team.example: require: syntax error" in message
    assert "column" in message


def test_unknown_field_and_function_are_caught_at_load(tmp_path: Path) -> None:
    assert "unknown field model.parameters" in _error(tmp_path, require='"model.parameters > 7.0"')
    assert "unknown function 'fits_gpu'" in _error(tmp_path, require='"fits_gpu()"')
    assert "unknown name 'modle'" in _error(tmp_path, require='"modle.open_weights"')


def test_bad_severity_and_unknown_key(tmp_path: Path) -> None:
    message = _error(tmp_path, severity="block")
    assert "policy.yaml:6: rule team.example: severity" in message and "'block'" in message
    team = _team(
        tmp_path,
        RULE.format(require="'true'", severity="warn").replace("cases:", "colour: red\n    cases:"),
    )
    with pytest.raises(RuleError, match="rule team.example: colour: unknown field"):
        load_rules(team)


def test_duplicate_id_inside_a_pack(tmp_path: Path) -> None:
    text = RULE.format(require="'true'", severity="warn")
    body = text.split("rules:\n", 1)[1]
    with pytest.raises(RuleError, match="rule team.example: id: duplicate id"):
        load_rules(_team(tmp_path, text + body))


def test_team_pack_replaces_and_overrides_builtin_rules(tmp_path: Path) -> None:
    team = _team(
        tmp_path,
        """\
rules:
  - id: capability.context
    title: Context, team version
    description: Team wording.
    when: req.context != null
    require: model.context_length >= req.context
    needs: [model.context_length]
    severity: warn
    message: "{model.name} is short on context."
    cases: []
overrides:
  - id: license.naming-duty
    enabled: false
  - id: hardware.headroom-bonus
    params: {min_headroom_gib: 4.0}
""",
    )
    rules = load_rules(team)
    assert rules.get("capability.context").spec.severity.value == "warn"  # type: ignore[union-attr]
    assert not rules.get("license.naming-duty").spec.enabled  # type: ignore[union-attr]
    assert rules.get("hardware.headroom-bonus").spec.params == {"min_headroom_gib": 4.0}  # type: ignore[union-attr]
    assert len(rules.rules) == len(BUILTIN.rules)


def test_override_of_a_missing_rule_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="override nope: no rule with this id"):
        load_rules(_team(tmp_path, "overrides:\n  - id: nope\n    enabled: false\n"))


def test_shipped_team_examples_load_and_their_cases_pass() -> None:
    rules = load_rules(TEAM_EXAMPLES)
    team_rules = [r for r in rules.rules if r.id.startswith("team.")]
    assert {r.id for r in team_rules} == {
        "team.no-noncommercial-or-share-alike",
        "team.approved-providers",
        "team.max-output-price",
    }
    for rule in team_rules:
        assert rule.spec.cases
        for case in rule.spec.cases:
            assert run_case(rule, case) == case.expect.value, (rule.id, case.name)


def test_rulebook_keeps_the_last_good_rules(tmp_path: Path) -> None:
    team = _team(tmp_path, "rules: []\n")
    book = RuleBook(team)
    before = book.current
    (team / "policy.yaml").write_text(RULE.format(require="model.", severity="reject"))
    assert book.reload() == "kept"
    assert book.current is before
    assert book.last_error is not None and "policy.yaml" in book.last_error


def test_builtin_dir_is_the_packaged_one() -> None:
    assert (BUILTIN_DIR / "license.yaml").is_file()
