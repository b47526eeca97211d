"""Evaluate rule packs over the catalog: one explained verdict per model.

What one question costs is set by how little runs per model, since a synthetic catalog
of 10,000 models must be ranked in well under a second (bench/bench_rules.py):

* Each model's facts (``model``, ``license``, ``price``) sit in a CEL context built once
  (``_Facts``; run under a lock, since a CEL context is not thread-safe).
* Each rule is compiled once per question with the ``req.x`` and ``params.x`` it names
  folded in as literals (memoised on those values only). ``when`` reads only
  requirements, so it is decided once per question.
* A rule whose facts are known from its text (``Expression.reads``: no helper calls) is
  decided once per distinct value of those facts: models that agree on every fact such
  rules read share one run, so the license and context rules of 10,000 models run a few
  hundred times. With ``explain=False`` (ranking) a model these rules reject is not
  sized at all: that is the prefilter before any memory fit.
* Rules that call helpers (``fits()``, ``monthly_cost_usd()`` ...) run per model; the
  helpers find the model's ``_Eval`` through a context variable, so two threads never
  see each other's fits. Fits, costs and these rules' results are kept per hardware and
  traffic for the last few such questions (``_Kept``): a team asks about its own GPUs
  again and again, and sizing is the dearest step.

Verdict: any failed ``reject`` rule rejects; otherwise an undecidable ``reject`` rule
(a needed fact is unknown and ``on_unknown`` is ``unknown``) makes the model *unknown*;
otherwise any ``warn`` gives *warn*; else *ok*. ``score`` rules add their weight to the
ranking score (see rules/ranking.py). Every reason carries the rule id, its severity and
a message naming the model, the fact, its source and the requirement.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple

import cel

from knowledge.catalog import Catalog, Variant
from rules import cost as cost_model
from rules.expressions import Expression, Scope
from rules.fit import hardware_for, speed_floor
from rules.memory import FitOption, Hardware, Shape, best_fit
from rules.packs import OnUnknown, Rule, RuleSet, Severity, render_message
from rules.ranking import (
    Evidence,
    fit_score,
    is_coder,
    size_prior,
    static_score,
    task_score,
    wanted_groups,
    wants_reasoning,
)
from rules.requirements import Requirements

log = logging.getLogger("advisor")

_REF = re.compile(r"(?<![\w.])(req|params)\.([A-Za-z_]\w*)")


class Status(StrEnum):
    ok = "ok"
    warn = "warn"
    reject = "reject"
    unknown = "unknown"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a rule spoke about a model."""

    rule: str
    severity: str
    message: str


@dataclass(slots=True)
class Verdict:
    """What the rules decided about one model for one set of requirements.

    A plain dataclass, not a pydantic model nor a frozen one: the engine builds one per
    model per question (10,000 in the benchmark), and validation, or a frozen class's
    slower constructor, would be a third of the run. Each call makes its own verdicts, so
    none is shared; change them with ``dataclasses.replace``.
    """

    model: str
    name: str
    family: str
    status: Status
    reasons: list[Reason]
    fit: FitOption | None = None
    cost: cost_model.CostEstimate | None = None
    score: float = 0.0
    why: str = ""


def cel_literal(value: Any) -> str:
    """A Python value as CEL source: numbers as doubles, None as null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cel_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))}: {cel_literal(v)}" for k, v in value.items())
            + "}"
        )
    raise TypeError(f"cannot express {type(value).__name__} in CEL")


@lru_cache(maxsize=4096)
def _specialise(source: str, bindings: str) -> Any:
    values: dict[str, dict[str, Any]] = json.loads(bindings)
    folded = _REF.sub(lambda m: cel_literal(values[m.group(1)].get(m.group(2))), source)
    return cel.compile(folded)


def _program(expression: Expression, activation: dict[str, Any], params: dict[str, Any]) -> Any:
    """``expression`` compiled with the requirements and params it names folded in.

    Only the names it uses (``Expression.folds``) go into the cache key, so a rule about
    the GPU keeps its compiled program (and the results kept for it) when a question
    changes the license.
    """
    groups = {"req": activation, "params": params}
    used: dict[str, dict[str, Any]] = {"req": {}, "params": {}}
    for group, name in expression.folds:
        used[group][name] = groups[group].get(name)
    return _specialise(expression.source, json.dumps(used, sort_keys=True))


@dataclass(frozen=True, slots=True)
class _Failed:
    """A rule that raised while running: its outcome is unknown."""

    error: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Spoke:
    """A rule that spoke about a model, before any sentence is written.

    ``severity`` is the reason's; ``effect`` what it does to the status (reject, unknown,
    warn, or "" for nothing). Holding no model name, one can be shared by every model
    with the same facts.
    """

    rule: Rule
    severity: str
    effect: str
    missing: tuple[str, ...] = ()
    failure: _Failed | None = None


@lru_cache(maxsize=1024)
def _bare(rule: str, severity: str) -> Reason:
    """A reason without its sentence, as ranking reports it; immutable, so shared."""
    return Reason(rule, severity, "")


#: Statuses by rank, so the worse of two is a ``max`` of small ints (enum hashing and member
#: look-ups are slow in the 10,000-model loop). One reject rejects; else one undecidable
#: reject rule makes the model unknown; else one warning warns.
_BY_RANK = (Status.ok, Status.warn, Status.unknown, Status.reject)
_RANK = {"": 0, "warn": 1, "unknown": 2, "reject": 3}
_REJECTED = 3


@dataclass(frozen=True, slots=True)
class _Decided:
    """What a list of rules said about one model; names no model, so models with the
    same facts share it."""

    spoke: tuple[_Spoke, ...]
    bare: tuple[Reason, ...]
    rank: int  # the status, as a position in ``_BY_RANK``
    bonus: float
    failed: bool


def _listed(values: list[str] | None) -> list[str] | None:
    """A copy of a list fact; None stays None (unknown), unlike an empty list."""
    return None if values is None else list(values)


_ABSENT = object()


def _frozen(value: Any) -> Any:
    """A fact value as a hashable key: lists become tuples, dicts sorted item tuples."""
    if isinstance(value, list):
        return tuple(_frozen(x) for x in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


class _Dot(dict[str, Any]):
    """Dict with attribute access, so message templates can say {model.name}."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        if isinstance(value, dict):
            return _Dot(value)
        if isinstance(value, list):
            return "; ".join(str(x) for x in value) or "none"
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return "unknown" if value is None else value


class _Facts:
    """One variant's immutable facts and CEL context, built once and shared by all questions.

    The CEL context is not thread-safe, so running it takes ``lock``; its helper functions
    read the question being answered from a context variable, never from this object.
    """

    def __init__(self, v: Variant, catalog: Catalog, evidence: Evidence) -> None:
        self.variant = v
        lic = catalog.licenses[v.license_id]
        offers = catalog.offerings.get(v.id, [])
        cheapest = min(offers, key=lambda o: (o.output_per_m, o.input_per_m), default=None)
        self.offerings = offers
        self.facts: dict[str, Any] = {
            "model": {
                "id": v.id,
                "name": v.name,
                "family": v.family_id,
                "provider": v.provider_id,
                "params_b": v.params_b,
                "active_params_b": v.active_params_b,
                "context_length": float(v.context_length) if v.context_length else None,
                "flavor": v.flavor,
                "availability": v.availability,
                "architecture": v.architecture or "",
                "capabilities": _listed(v.capabilities),
                "languages": _listed(v.languages),
                "modalities": _listed(v.modalities),
                "release_year": float(v.release_date.year),
                "open_weights": v.availability == "open-weights",
                "benchmarks": {b.name: b.score for b in catalog.benchmarks.get(v.id, [])},
                "moe": v.architecture == "moe" or v.experts is not None,
                "native_precision": v.native_precision or "bf16",
            },
            "license": {
                "id": lic.id,
                "name": lic.name,
                # A synced model's unread license: unknown, so rules say "unknown", never "ok".
                "kind": None if lic.kind == "unknown" else lic.kind,
                "commercial": None if lic.commercial == "unknown" else lic.commercial,
                "conditions": _listed(lic.conditions),
                "copyleft": lic.copyleft,
                "noncommercial": lic.noncommercial,
                "no_derivatives": lic.no_derivatives,
                "attribution": lic.attribution,
                "use_restrictions": _listed(lic.use_restrictions),
                "user_cap_mau": float(lic.user_cap_mau) if lic.user_cap_mau else None,
                "output_training_restriction": lic.output_training_restriction,
                "naming_duty": lic.naming_duty,
                "regional_exclusions": _listed(lic.regional_exclusions),
            },
            "price": (
                {
                    "seller": cheapest.seller_id,
                    "input_per_m": cheapest.input_per_m,
                    "output_per_m": cheapest.output_per_m,
                }
                if cheapest
                else None
            ),
        }
        self.sources = {
            "variant": catalog.sources_of("variant", v.id),
            "license": catalog.sources_of("license", lic.id),
        }
        self.shape = Shape.of(v) if v.availability == "open-weights" else None
        self.static_score = static_score(v, catalog)
        self.evidence = evidence.groups(v.id)
        self.ident = (v.id, v.name, v.family_id, v.flavor)
        self.coder, self.prior = is_coder(v), size_prior(v)
        self.missing: dict[str, tuple[str, ...]] = {}
        self.keys: dict[tuple[str, ...], int] = {}  # fact names -> ``Engine._number``
        self.tasks: dict[int, float] = {}
        self.scope = Scope(dict(self.facts), _HELPERS)
        self.lock = threading.Lock()

    def missing_for(self, rule: Rule) -> tuple[str, ...]:
        """The facts ``rule`` needs that this model lacks (facts never change, so cached)."""
        found = self.missing.get(rule.id)
        if found is None:
            found = tuple(f for f in rule.spec.needs if not self.known(f))
            self.missing[rule.id] = found
        return found

    def values_of(self, facts: tuple[str, ...]) -> tuple[Any, ...]:
        """This model's values of ``facts``, hashable."""
        return tuple(_frozen(self.value(f)) for f in facts)

    def value(self, fact: str) -> Any:
        """A fact's value; ``_ABSENT`` when its group (no price at all) is missing."""
        var, _, attribute = fact.partition(".")
        group = self.facts.get(var)
        return _ABSENT if group is None else group.get(attribute, _ABSENT)

    def known(self, fact: str) -> bool:
        return self.value(fact) not in (None, _ABSENT)

    def source_for(self, facts: list[str]) -> str:
        """The URL backing the first fact a rule needs (the license text for license facts)."""
        for fact in facts or ["model."]:
            var, _, attribute = fact.partition(".")
            if var == "license" and self.sources["license"]:
                return self.sources["license"][0].url
            for s in self.sources["variant"]:
                if s.fields is None or attribute in s.fields:
                    return s.url
        return self.sources["variant"][0].url if self.sources["variant"] else "no source"


@dataclass(frozen=True)
class _Question:
    """Everything one evaluation needs about the question; built per call, never shared."""

    req: Requirements
    activation: dict[str, Any]
    hw: Hardware | None
    floor: float | None
    by_facts: list[tuple[Rule, Any]]  # rules decided by facts alone (``Expression.reads``)
    per_model: list[tuple[Rule, Any]]  # rules that call helpers: run for each model
    signature: tuple[str, ...]  # every fact ``by_facts`` reads or needs
    order: dict[str, int]  # rule id -> position in the packs, for the order of reasons
    tasks: tuple[tuple[str, ...], bool]  # benchmark groups asked, reasoning wanted
    tasks_key: int  # ``tasks`` interned, for the per-model task score kept in ``_Facts``
    priced: bool  # traffic or a GPU price given: every model gets a cost estimate
    unsized: float  # ``fit_score`` of a model left unsized
    sized: dict[str, _Sized]  # kept per model for this hardware, traffic and rules (``_Kept``)


class _Sized(NamedTuple):
    """What one model's hardware part of a question came to (kept by ``_Kept``)."""

    facts: _Facts  # the facts it was computed for: rebuilt facts are sized afresh
    decided: _Decided | None  # the helper-calling rules' results (None: there were none)
    fit: FitOption | None
    cost: cost_model.CostEstimate | None
    score: float  # ``fit_score`` of the fit


class _Kept:
    """Per-model sizing that depends on only part of a question, kept for recent questions.

    A fit, and the rules that read it, depend on the hardware, context, precision, runtime,
    speed floor, offload and traffic, not on the license or task asked; a team asks about its
    own GPUs again and again, and sizing is the dearest step of judging a model. So each
    model's ``_Sized`` is kept per such key (with the compiled helper rules) for the last
    ``size`` keys. Dict reads and writes are atomic; two threads sizing the same model at
    once store equal values.
    """

    def __init__(self, size: int = 4) -> None:
        self._slots: OrderedDict[Hashable, dict[str, _Sized]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def slot(self, key: Hashable) -> dict[str, _Sized]:
        """The per-model results for ``key``, most recently used last."""
        with self._lock:
            found = self._slots.get(key)
            if found is None:
                found = self._slots[key] = {}
                if len(self._slots) > self._size:
                    self._slots.popitem(last=False)
            else:
                self._slots.move_to_end(key)
            return found


_UNSET: Any = object()


class _Eval:
    """One model under one question: its fit and cost, each computed at most once."""

    __slots__ = ("_cost", "_fit", "facts", "q")

    def __init__(self, q: _Question, facts: _Facts, fit: Any = _UNSET, cost: Any = _UNSET) -> None:
        self.q, self.facts = q, facts
        self._fit, self._cost = fit, cost

    def fit(self) -> FitOption | None:
        """The best fit on the question's hardware."""
        if self._fit is _UNSET:
            state, q = self.facts, self.q
            self._fit = None
            if q.hw is not None and state.shape is not None:
                self._fit = best_fit(
                    state.shape,
                    q.hw,
                    q.req.context,
                    q.req.precision,
                    runtime=q.req.runtime,
                    min_tokens_per_s=q.floor,
                    allow_offload=q.req.offload is not False,
                )
        best: FitOption | None = self._fit
        return best

    def cost(self) -> cost_model.CostEstimate:
        """API and self-hosting cost for the question's traffic."""
        if self._cost is _UNSET:
            state, q = self.facts, self.q
            open_weights = state.facts["model"]["open_weights"]
            self._cost = cost_model.estimate(
                state.offerings,
                q.req.requests_per_day,
                q.req.tokens_in,
                q.req.tokens_out,
                q.hw.hourly_usd if q.hw and open_weights else None,
                q.hw.count if q.hw else q.req.gpu_count,
            )
        estimate: cost_model.CostEstimate = self._cost
        return estimate


_CURRENT: ContextVar[_Eval] = ContextVar("rules_engine_current")


def _fits() -> bool:
    return _CURRENT.get().fit() is not None


def _fits_in_vram() -> bool:
    best = _CURRENT.get().fit()
    return best is not None and not best.offload


def _fit_precision() -> str:
    best = _CURRENT.get().fit()
    return best.precision if best else ""


def _fit_headroom_gib() -> float:
    best = _CURRENT.get().fit()
    return best.headroom_gib if best else -1.0


def _api_monthly_usd() -> float | None:
    return _CURRENT.get().cost().api_monthly_usd


def _selfhost_monthly_usd() -> float | None:
    return _CURRENT.get().cost().selfhost_monthly_usd


def _monthly_cost_usd() -> float | None:
    estimate = _CURRENT.get().cost()
    known = [c for c in (estimate.api_monthly_usd, estimate.selfhost_monthly_usd) if c is not None]
    return min(known) if known else None


def _benchmark(name: str) -> float | None:
    value: float | None = _CURRENT.get().facts.facts["model"]["benchmarks"].get(name)
    return value


_HELPERS: dict[str, Any] = {
    "fits": _fits,
    "fits_in_vram": _fits_in_vram,
    "fit_precision": _fit_precision,
    "fit_headroom_gib": _fit_headroom_gib,
    "api_monthly_usd": _api_monthly_usd,
    "selfhost_monthly_usd": _selfhost_monthly_usd,
    "monthly_cost_usd": _monthly_cost_usd,
    "benchmark": _benchmark,
}


class Engine:
    """Rules x catalog -> verdicts; the same question always gets the same answer.

    Shared across calls (and threads) are things that never change, or are keyed by all
    they depend on: each model's facts and CEL context (``_Facts``), compiled programs
    (``_specialise``), benchmark percentiles, and fits, costs and helper-rule results per
    hardware and traffic (``_Kept``). Everything else about a question lives in a
    ``_Question`` and per-model ``_Eval`` objects made by that call.
    """

    def __init__(
        self, catalog: Catalog, ruleset: RuleSet, apple_gpu_fraction: float | None = None
    ) -> None:
        self.catalog = catalog
        self.ruleset = ruleset
        self.apple_gpu_fraction = apple_gpu_fraction
        self.evidence = Evidence(catalog)
        self._facts: dict[str, _Facts] = {}
        self._every: list[_Facts] | None = None
        self._kept = _Kept()
        self._intern: dict[tuple[Any, ...], int] = {}  # fact values -> small number
        self._build = threading.Lock()
        self.failures: dict[str, list[str]] = {}  # rule id -> models it failed on at run time
        self._failures_lock = threading.Lock()

    def _catalog_facts(self) -> list[_Facts]:
        """Every catalog model's facts, in catalog order (built once: the catalog is fixed)."""
        if self._every is None:
            every = [self._model(v) for v in self.catalog.variants.values()]
            self._every = every
        return self._every

    def _model(self, v: Variant) -> _Facts:
        found = self._facts.get(v.id)
        if found is None or found.variant is not v:
            with self._build:
                found = self._facts.get(v.id)
                if found is None or found.variant is not v:
                    found = self._facts[v.id] = _Facts(v, self.catalog, self.evidence)
        return found

    def _number(self, values: tuple[Any, ...]) -> int:
        """A small number for ``values``: equal values, equal numbers (hashed in no time,
        where a tuple of capability lists would be hashed on every look-up)."""
        with self._build:
            return self._intern.setdefault(values, len(self._intern))

    def applicable(self, req: Requirements) -> list[tuple[Rule, Any]]:
        """Enabled rules whose ``when`` holds, each with ``require`` specialised for ``req``."""
        activation = self._activation(req, hardware_for(self.catalog, req, self.apple_gpu_fraction))
        return self._applicable(activation)

    def _activation(self, req: Requirements, hw: Hardware | None) -> dict[str, Any]:
        activation = req.activation()
        activation["has_hardware"] = hw is not None
        activation["hardware"] = req.hardware_label() or (hw.name if hw else None)
        return activation

    def _applicable(self, activation: dict[str, Any]) -> list[tuple[Rule, Any]]:
        chosen = []
        for rule in self.ruleset.enabled:
            params = rule.spec.params
            if (
                rule.when is not None
                and _program(rule.when, activation, params).execute({}) is not True
            ):
                continue
            chosen.append((rule, _program(rule.require, activation, params)))
        return chosen

    def evaluate(
        self,
        req: Requirements,
        variants: Iterable[Variant] | None = None,
        explain: bool = True,
    ) -> list[Verdict]:
        """Verdicts for ``variants`` (default: the whole catalog), best score first.

        With ``explain=False`` reasons keep their rule and severity but no message, a
        model stops at its first rejecting rule, and a rejected model is not sized (its
        ``fit`` is None): ranking a whole catalog only to show ten models should not render
        thousands of sentences nor run rules and fits on models already ruled out.
        """
        hw = hardware_for(self.catalog, req, self.apple_gpu_fraction)
        activation = self._activation(req, hw)
        rules = self._applicable(activation)
        by_facts = [pair for pair in rules if pair[0].require.reads is not None]
        signature = sorted(
            {f for rule, _ in by_facts for f in (*(rule.require.reads or ()), *rule.spec.needs)}
        )
        floor = speed_floor(req)
        sizing = (
            hw,
            req.context,
            req.precision,
            req.runtime,
            floor,
            req.offload,
            req.gpu_count,
            req.requests_per_day,
            req.tokens_in,
            req.tokens_out,
        )
        per_model = [pair for pair in rules if pair[0].require.reads is None]
        tasks = (wanted_groups(req), wants_reasoning(req))
        q = _Question(
            req,
            activation,
            hw,
            floor,
            by_facts,
            per_model,
            tuple(signature),
            {rule.id: i for i, (rule, _) in enumerate(rules)},
            tasks,
            self._number(tasks),
            req.requests_per_day is not None or bool(hw and hw.hourly_usd),
            fit_score(None, hw is not None, floor, req.offload is True),
            self._kept.slot((sizing, tuple(p for _, p in per_model), explain)),
        )
        memo: dict[int, _Decided] = {}
        models = (
            [self._model(v) for v in variants] if variants is not None else self._catalog_facts()
        )
        verdicts = [self._judge(q, state, explain, memo) for state in models]
        verdicts.sort(key=attrgetter("model"))
        verdicts.sort(key=attrgetter("score"), reverse=True)  # stable: ties stay by id
        return verdicts

    def _judge(
        self, q: _Question, state: _Facts, explain: bool, memo: dict[int, _Decided]
    ) -> Verdict:
        # Models with equal values of every fact the fact-decided rules read share one run.
        key = state.keys.get(q.signature)
        if key is None:
            key = state.keys[q.signature] = self._number(state.values_of(q.signature))
        decided = memo.get(key)
        if decided is None:
            decided = memo[key] = self._speak(state, q.by_facts, stop=not explain)
        rank, bonus, spoke, bare = decided.rank, decided.bonus, decided.spoke, decided.bare
        failed = decided.failed
        fit = cost = None
        hardware = q.unsized  # a model ranking rejects is not sized
        if explain or rank != _REJECTED:
            sized = q.sized.get(state.ident[0])
            if sized is None or sized.facts is not state:
                sized = q.sized[state.ident[0]] = self._size(q, state, explain)
            _, more, fit, cost, hardware = sized
            if more is not None:
                spoke, bare = spoke + more.spoke, bare + more.bare
                rank = max(rank, more.rank)
                bonus += more.bonus
                failed |= more.failed
        if failed:
            for s in spoke:
                if s.failure is not None:
                    self._failed(s.rule, state.ident[0], s.failure)
        if explain:
            ev = _Eval(q, state, fit, _UNSET if cost is None else cost)  # messages may cost
            order = sorted(spoke, key=lambda s: q.order[s.rule.id])
            reasons = [Reason(s.rule.id, s.severity, self._message(ev, s)) for s in order]
        else:
            reasons = list(bare)
        tasks = state.tasks.get(q.tasks_key)
        if tasks is None:
            tasks = state.tasks[q.tasks_key] = task_score(
                state.ident[3], state.coder, state.prior, state.evidence, *q.tasks
            )
        model, name, family, _ = state.ident
        score = round(state.static_score + hardware + tasks + bonus, 4)
        return Verdict(model, name, family, _BY_RANK[rank], reasons, fit, cost, score)

    def _size(self, q: _Question, state: _Facts, explain: bool) -> _Sized:
        """Fit, cost and the helper-calling rules for one model (kept by the caller)."""
        ev = _Eval(q, state)
        decided = None
        if q.per_model:
            token = _CURRENT.set(ev)  # the helpers rules call find this model's fit through it
            try:
                decided = self._speak(state, q.per_model, stop=not explain)
            finally:
                _CURRENT.reset(token)
        fit = ev.fit() if q.hw is not None else None
        cost = ev.cost() if q.priced else None
        score = fit_score(fit, q.hw is not None, q.floor, q.req.offload is True)
        return _Sized(state, decided, fit, cost, score)

    def _speak(self, state: _Facts, rules: list[tuple[Rule, Any]], stop: bool) -> _Decided:
        """Run ``rules`` on one model: the rules that spoke against it, and the score bonus.

        With ``stop`` the run ends at the first rejection (ranking needs no more).
        """
        spoke: list[_Spoke] = []
        bonus = 0.0
        for rule, program in rules:
            spec = rule.spec
            missing = state.missing_for(rule)
            if missing:
                outcome = spec.on_unknown
                if outcome == OnUnknown.pass_:
                    continue
                undecided = outcome == OnUnknown.unknown and spec.severity == Severity.reject
                effect = (
                    "unknown"
                    if undecided
                    else ""
                    if outcome == OnUnknown.unknown
                    else outcome.value
                )
                spoke.append(_Spoke(rule, outcome.value, effect, missing=missing))
            else:
                result = self._run(state, program)
                if isinstance(result, _Failed):
                    effect = "unknown" if spec.severity == Severity.reject else ""
                    spoke.append(_Spoke(rule, "unknown", effect, failure=result))
                elif spec.severity == Severity.score:
                    value = float(result) if isinstance(result, int | float | bool) else 0.0
                    bonus += spec.weight * value
                elif result is not True:
                    spoke.append(_Spoke(rule, spec.severity.value, spec.severity.value))
            if stop and spoke and spoke[-1].effect == "reject":
                break
        return _Decided(
            tuple(spoke),
            tuple(_bare(s.rule.id, s.severity) for s in spoke),
            max((_RANK[s.effect] for s in spoke), default=0),
            bonus,
            any(s.failure is not None for s in spoke),
        )

    def _message(self, ev: _Eval, s: _Spoke) -> str:
        """The sentence for one rule that spoke: unknown fact, failed rule, or its message."""
        name, spec = ev.facts.ident[1], s.rule.spec
        if s.missing:
            missing = ", ".join(s.missing)
            return f"{name}: {missing} is not published, so '{spec.title}' cannot be checked."
        if s.failure is not None:
            return (
                f"{name}: could not be decided because rule {spec.id} failed ({s.failure.error})."
            )
        return self._explain(ev, s.rule)

    @staticmethod
    def _run(state: _Facts, program: Any) -> Any:
        with state.lock:
            try:
                return state.scope.run(program)
            except Exception as exc:  # noqa: BLE001 - a fact of the wrong shape is "unknown"
                return _Failed(type(exc).__name__, str(exc))

    def _failed(self, rule: Rule, model: str, failure: _Failed) -> None:
        """Remember a run-time failure; log it once per rule, with file:line."""
        with self._failures_lock:
            seen = self.failures.setdefault(rule.id, [])
            first = not seen
            seen.append(model)
        if first:
            log.error(
                "%s:%s: rule %s failed at run time on %s: %s: %s",
                rule.path,
                rule.line,
                rule.id,
                model,
                failure.error,
                failure.detail,
            )

    def _explain(self, ev: _Eval, rule: Rule) -> str:
        fit, state = ev.fit(), ev.facts
        values = {
            **{k: _Dot(v) if isinstance(v, dict) else v for k, v in state.facts.items()},
            "req": _Dot(ev.q.activation),
            "params": _Dot(rule.spec.params),
            "source": state.source_for(rule.spec.needs),
            "fit": _Dot(fit.model_dump() if fit else {}),
            "cost": _Dot(ev.cost().model_dump()),
        }
        if values["price"] is None:
            values["price"] = _Dot({})
        return render_message(rule.spec.message, values)
