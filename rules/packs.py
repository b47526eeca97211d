"""Rule packs: YAML files of declarative rules, validated and compiled when they load.

A pack is ``{rules: [...], overrides: [...]}``. Built-in packs live in ``rules/packs``;
a team's packs (``ADVISOR_RULES_DIR``) are read after them and may add rules, replace a
built-in rule by reusing its id, or tune one through ``overrides`` (enable/disable, change
severity, weight or params). Every problem — YAML syntax, an unknown field, a bad severity,
a duplicate id, an expression that does not compile or names something unknown — becomes
one line naming file, line and rule id, and loading fails as a whole: a half-applied
policy is worse than the last good one.

Expressions see ``model``, ``license``, ``price``, ``req`` and the rule's own ``params``.
``when`` may only read ``req`` and ``params`` (it is decided once per question); ``require``
decides per model. ``needs`` lists facts that must be known for the rule to decide; when
one is missing, ``on_unknown`` says what happens.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import RuleError
from core.yamlfile import YamlSyntaxError, node_line, read_yaml
from rules.expressions import Expression, ExpressionError, compile_expression
from rules.requirements import Requirements

BUILTIN_DIR = Path(__file__).resolve().parent / "packs"

MODEL_FIELDS = frozenset(
    {
        "id",
        "name",
        "family",
        "provider",
        "params_b",
        "active_params_b",
        "context_length",
        "flavor",
        "availability",
        "architecture",
        "capabilities",
        "languages",
        "modalities",
        "release_year",
        "open_weights",
        "benchmarks",
        "moe",
    }
)
LICENSE_FIELDS = frozenset(
    {
        "id",
        "name",
        "kind",
        "commercial",
        "conditions",
        "copyleft",
        "noncommercial",
        "no_derivatives",
        "attribution",
        "use_restrictions",
        "user_cap_mau",
        "output_training_restriction",
        "naming_duty",
        "regional_exclusions",
    }
)
PRICE_FIELDS = frozenset({"seller", "input_per_m", "output_per_m"})
REQ_FIELDS = frozenset({*Requirements.model_fields, "has_hardware", "hardware"})
#: Functions a rule may call; the engine binds them to each model (see rules/engine.py).
HELPERS = frozenset(
    {
        "fits",
        "fits_in_vram",
        "fit_precision",
        "fit_headroom_gib",
        "api_monthly_usd",
        "selfhost_monthly_usd",
        "monthly_cost_usd",
        "benchmark",
    }
)


class Severity(StrEnum):
    reject = "reject"
    warn = "warn"
    score = "score"


class OnUnknown(StrEnum):
    unknown = "unknown"
    pass_ = "pass"
    warn = "warn"
    reject = "reject"


class Expect(StrEnum):
    pass_ = "pass"
    fail = "fail"
    unknown = "unknown"
    skip = "skip"


class Case(BaseModel):
    """A test case beside its rule: facts that differ from a neutral model, and the outcome."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: dict[str, Any] = {}
    license: dict[str, Any] = {}
    price: dict[str, Any] | None = None
    req: dict[str, Any] = {}
    expect: Expect


class RuleSpec(BaseModel):
    """One rule as written in a pack."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    description: str
    docs: str | None = None
    when: str | None = None
    require: str
    severity: Severity
    weight: float = 0.0
    needs: list[str] = []
    on_unknown: OnUnknown = OnUnknown.unknown
    message: str
    params: dict[str, Any] = {}
    enabled: bool = True
    cases: list[Case] = []


class Override(BaseModel):
    """A team's change to an existing rule, by id."""

    model_config = ConfigDict(extra="forbid")

    id: str
    enabled: bool | None = None
    severity: Severity | None = None
    weight: float | None = None
    params: dict[str, Any] = {}


class PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleSpec] = []
    overrides: list[Override] = []


@dataclass(frozen=True)
class Rule:
    """A loaded rule: its spec, where it came from, and its checked expressions."""

    spec: RuleSpec
    path: Path
    line: int
    require: Expression
    when: Expression | None

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass
class RuleSet:
    """The rules in force, in load order, with the files they came from."""

    rules: list[Rule] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, if any."""
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.spec.enabled]


def _fields(params: dict[str, Any]) -> dict[str, frozenset[str] | None]:
    return {
        "model": MODEL_FIELDS,
        "license": LICENSE_FIELDS,
        "price": PRICE_FIELDS,
        "req": REQ_FIELDS,
        "params": frozenset(params),
    }


def _check_template(template: str, params: dict[str, Any]) -> None:
    roots = {"model", "license", "price", "req", "params", "source", "fit", "cost"}
    fields = _fields(params)
    for _, name, _, _ in string.Formatter().parse(template):
        if not name:
            continue
        root, _, attribute = name.partition(".")
        if root not in roots:
            raise ExpressionError(
                f"message names unknown {{{name}}}; use model., license., req. ..."
            )
        known = fields.get(root)
        if attribute and known is not None and attribute.split(".")[0] not in known:
            raise ExpressionError(f"message names unknown field {{{name}}}")


def _compile(spec: RuleSpec, path: Path, root: yaml.Node | None, index: int) -> Rule:
    where = ("rules", index)
    line = node_line(root, where) or 1

    def located(part: str, exc: ExpressionError) -> RuleError:
        base = node_line(root, (*where, part)) or line
        at = f"{path}:{base + exc.line - 1}"
        col = f" (column {exc.column})" if exc.column else ""
        return RuleError(f"{at}: rule {spec.id}: {part}: {exc.message}{col}")

    fields = _fields(spec.params)
    try:
        require = compile_expression(spec.require, fields, HELPERS)
    except ExpressionError as exc:
        raise located("require", exc) from None
    when = None
    if spec.when:
        try:
            when = compile_expression(
                spec.when, {"req": REQ_FIELDS, "params": fields["params"]}, frozenset()
            )
        except ExpressionError as exc:
            raise located("when", exc) from None
    for fact in spec.needs:
        var, _, attribute = fact.partition(".")
        known = fields.get(var)
        if var not in ("model", "license", "price") or (
            known is not None and attribute not in known
        ):
            raise located("needs", ExpressionError(f"unknown fact {fact!r}"))
    try:
        _check_template(spec.message, spec.params)
    except ExpressionError as exc:
        raise located("message", exc) from None
    if spec.severity == Severity.score and spec.weight == 0:
        raise located("weight", ExpressionError("a score rule needs a non-zero weight"))
    return Rule(spec, path, line, require, when)


def _read(path: Path) -> tuple[PackFile, yaml.Node | None, list[str]]:
    try:
        raw, root = read_yaml(path)
    except YamlSyntaxError as exc:
        return PackFile(), None, [f"{path}:{exc.line}: {exc}"]
    raw = raw or {}
    try:
        return PackFile.model_validate(raw), root, []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            rule_id = "?"
            if len(loc) >= 2 and loc[0] in ("rules", "overrides") and isinstance(loc[1], int):
                entries = raw.get(loc[0]) or []
                if loc[1] < len(entries) and isinstance(entries[loc[1]], dict):
                    rule_id = str(entries[loc[1]].get("id", "?"))
            field_name = ".".join(str(p) for p in loc[2:]) or str(loc[0])
            message = err["msg"]
            if message == "Extra inputs are not permitted":
                message = "unknown field"
            elif err["type"] == "enum":
                message = f"{message} (got {err.get('input')!r})"
            problems.append(
                f"{path}:{node_line(root, loc)}: rule {rule_id}: {field_name}: {message}"
            )
        return PackFile(), root, problems


def pack_files(directory: Path) -> list[Path]:
    """The pack files of a directory, in name order."""
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def load_rules(team_dir: Path | None = None, builtin_dir: Path = BUILTIN_DIR) -> RuleSet:
    """Load built-in packs, then a team's; raise RuleError listing every problem."""
    problems: list[str] = []
    ruleset = RuleSet()
    order: list[str] = []
    by_id: dict[str, Rule] = {}
    overrides: list[tuple[Override, Path]] = []
    dirs = [builtin_dir] + ([team_dir] if team_dir is not None else [])
    for directory in dirs:
        if not directory.is_dir():
            problems.append(f"{directory}: rules directory not found")
            continue
        is_team = directory != builtin_dir
        for path in pack_files(directory):
            pack, root, errors = _read(path)
            problems += errors
            ruleset.files.append(path)
            seen_here: set[str] = set()
            for i, spec in enumerate(pack.rules):
                if spec.id in seen_here or (spec.id in by_id and not is_team):
                    line = node_line(root, ("rules", i, "id"))
                    problems.append(f"{path}:{line}: rule {spec.id}: id: duplicate id")
                    continue
                seen_here.add(spec.id)
                try:
                    rule = _compile(spec, path, root, i)
                except RuleError as exc:
                    problems.append(exc.user_message)
                    continue
                if spec.id not in by_id:
                    order.append(spec.id)
                by_id[spec.id] = rule
            overrides += [(o, path) for o in pack.overrides]
    for override, path in overrides:
        target = by_id.get(override.id)
        if target is None:
            problems.append(f"{path}: override {override.id}: no rule with this id")
            continue
        changes: dict[str, Any] = {
            k: v for k, v in override.model_dump(exclude={"id", "params"}).items() if v is not None
        }
        unknown = set(override.params) - set(target.spec.params)
        if unknown:
            problems.append(f"{path}: override {override.id}: unknown params {sorted(unknown)}")
            continue
        changes["params"] = {**target.spec.params, **override.params}
        by_id[override.id] = Rule(
            target.spec.model_copy(update=changes),
            target.path,
            target.line,
            target.require,
            target.when,
        )
    if problems:
        raise RuleError(
            "The rule packs have problems; nothing was changed:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    ruleset.rules = [by_id[i] for i in order]
    return ruleset


class RuleBook:
    """The rules the bot uses now; a failed reload keeps the last good set."""

    def __init__(self, team_dir: Path | None = None) -> None:
        self.team_dir = team_dir
        self.current = load_rules(team_dir)
        self.last_error: str | None = None

    def reload(self) -> Literal["reloaded", "kept"]:
        """Load the packs again; on any problem keep the current rules and remember why."""
        try:
            self.current = load_rules(self.team_dir)
        except RuleError as exc:
            self.last_error = exc.user_message
            return "kept"
        self.last_error = None
        return "reloaded"
