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

import logging
import re
import string
import threading
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

log = logging.getLogger("advisor")

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


TEMPLATE_ROOTS = frozenset({"model", "license", "price", "req", "params", "source", "fit", "cost"})
_FIELD = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_SPEC = re.compile(r"^([^{}]?[<>^=])?[+\- ]?#?0?\d{0,3}[,_]?(\.\d{1,2})?[bcdeEfFgGnosxX%]?$")
MAX_PACK_BYTES = 1_000_000
MAX_RULES = 2_000


def _template_fields(template: str) -> list[tuple[str, str]]:
    """The (field, format spec) pairs of a message; ExpressionError on anything else.

    Messages use ``str.format`` syntax but are never given to ``str.format``: a field is a
    dotted path of lower-case names under one of TEMPLATE_ROOTS (no indexing, no
    conversions, no ``_`` names), so a pack cannot reach an object's attributes.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ExpressionError(f"message is not a valid template ({exc})") from None
    fields = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _FIELD.match(name) or name.split(".")[0] not in TEMPLATE_ROOTS:
            raise ExpressionError(
                f"message field {{{name}}} is not allowed; use model.NAME, license.NAME, "
                "req.NAME, params.NAME, price., fit., cost. or source"
            )
        if conversion:
            raise ExpressionError(
                f"message field {{{name}!{conversion}}}: conversions are not allowed"
            )
        if spec and not _SPEC.match(spec):
            raise ExpressionError(f"message field {{{name}:{spec}}}: unsupported format {spec!r}")
        fields.append((name, spec or ""))
    return fields


def _check_template(template: str, params: dict[str, Any]) -> None:
    fields = _fields(params)
    for name, _spec in _template_fields(template):
        root, _, attribute = name.partition(".")
        known = fields.get(root)
        if attribute and known is not None and attribute.split(".")[0] not in known:
            raise ExpressionError(f"message names unknown field {{{name}}}")


def _present(value: Any) -> Any:
    if value is None:
        return "unknown"
    if isinstance(value, list | tuple):
        return "; ".join(str(x) for x in value) or "none"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return "…"
    return value if isinstance(value, int | float | str | bool) else str(value)


def render_message(template: str, values: dict[str, Any]) -> str:
    """Fill a rule message from plain fact dicts only (see _template_fields)."""
    out: list[str] = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value: Any = values
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        shown = _present(value)
        try:
            out.append(format(shown, spec or ""))
        except (ValueError, TypeError):
            out.append(str(shown))
    return "".join(out)


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
    if path.is_symlink():
        return PackFile(), None, [f"{path}:1: is a symbolic link; copy the pack file in instead"]
    size = path.stat().st_size
    if size > MAX_PACK_BYTES:
        return (
            PackFile(),
            None,
            [
                f"{path}:1: {size:,} bytes is over the {MAX_PACK_BYTES:,}-byte limit for a pack; "
                "split it into several files"
            ],
        )
    try:
        raw, root = read_yaml(path)
    except YamlSyntaxError as exc:
        return PackFile(), None, [f"{path}:{exc.line}: {exc}"]
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return (
            PackFile(),
            None,
            [f"{path}:{line}: not UTF-8 text (byte {exc.object[exc.start]:#x}); save it as UTF-8"],
        )
    except OSError as exc:
        return PackFile(), None, [f"{path}:1: cannot be read ({exc.strerror or exc})"]
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        return (
            PackFile(),
            root,
            [f"{path}:1: a pack is a mapping with `rules:` (and `overrides:`), not a {kind}"],
        )
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
    found = [*directory.glob("*.yaml"), *directory.glob("*.yml")]
    return sorted(p for p in found if p.is_file() or p.is_symlink())


def load_rules(team_dir: Path | None = None, builtin_dir: Path = BUILTIN_DIR) -> RuleSet:
    """Load built-in packs, then a team's; raise RuleError listing every problem."""
    problems: list[str] = []
    ruleset = RuleSet()
    order: list[str] = []
    by_id: dict[str, Rule] = {}
    overrides: list[tuple[Override, Path]] = []
    team_ids: dict[str, str] = {}  # rule id -> "file:line" of its first definition by a team
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
                if is_team:
                    at = f"{path}:{node_line(root, ('rules', i, 'id'))}"
                    if spec.id in team_ids:
                        problems.append(
                            f"{at}: rule {spec.id}: id: also defined at {team_ids[spec.id]}; "
                            "rename one (or use `overrides:` to tune a rule)"
                        )
                        continue
                    team_ids[spec.id] = at
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
    if len(order) > MAX_RULES:
        problems.append(f"{len(order)} rules is over the limit of {MAX_RULES}")
    if problems:
        raise RuleError(
            "The rule packs have problems; nothing was changed:\n"
            + "\n".join(f"  {p}" for p in problems),
            problems=problems,
        )
    ruleset.rules = [by_id[i] for i in order]
    return ruleset


class RuleBook:
    """The rules a running advisor uses; edited packs take effect on the next question.

    :meth:`refresh` compares the pack files' names, sizes and modification times with the
    last load (a few ``stat`` calls, cheap enough for every question) and loads them again
    when anything changed. A set that fails to load leaves the last good rules in force;
    ``last_error`` says which file, line and field, until the files change again.
    """

    def __init__(self, team_dir: Path | None = None, builtin_dir: Path = BUILTIN_DIR) -> None:
        self.team_dir = team_dir
        self.builtin_dir = builtin_dir
        self._lock = threading.Lock()
        self._seen = self._fingerprint()
        self.current = load_rules(team_dir, builtin_dir)
        self._failure: RuleError | None = None  # why the last reload kept the rules

    @property
    def last_error(self) -> str | None:
        """The message of the last failed reload; None once the packs load again."""
        return self._failure.user_message if self._failure else None

    @property
    def problems(self) -> list[str]:
        """Each problem of the last failed reload (file:line: rule: field: what), or none."""
        return self._failure.problems if self._failure else []

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        found = []
        for directory in (self.builtin_dir, self.team_dir):
            if directory is None or not directory.is_dir():
                continue
            for path in pack_files(directory):
                try:
                    st = path.stat()
                except OSError:  # a dangling link or a file being replaced: changed
                    found.append((str(path), -1, -1))
                    continue
                found.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(found)

    def refresh(self) -> bool:
        """Reload when a pack file was added, removed or changed; True if the rules changed."""
        seen = self._fingerprint()
        if seen == self._seen:
            return False
        with self._lock:
            if seen == self._seen:  # another thread reloaded meanwhile
                return False
            self._seen = seen
            return self.reload() == "reloaded"

    def reload(self) -> Literal["reloaded", "kept"]:
        """Load the packs again; on any problem keep the current rules and remember why."""
        try:
            self.current = load_rules(self.team_dir, self.builtin_dir)
        except RuleError as exc:
            self._failure = exc
            log.error("rule packs not reloaded, the last good rules stay in force: %s", exc)
            return "kept"
        self._failure = None
        log.info("rule packs reloaded: %d rules", len(self.current.rules))
        return "reloaded"
