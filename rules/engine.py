"""Evaluate rule packs over the catalog: one explained verdict per model.

The engine keeps no state between calls. Shared are only immutable things: each model's
facts (``model``, ``license``, ``price``) in a CEL context built once (run under a lock,
since a CEL context is not thread-safe) and compiled programs. The requirements are the
same for every model in one evaluation, so each rule's ``require`` is specialised for
them: ``req.x`` and ``params.x`` are folded in as literals and the result compiled once
(and memoised). ``when`` reads only requirements, so it is decided once per question.
Per question, a ``_Question`` holds the requirements, hardware and applicable rules, and
each model gets an ``_Eval`` that memoises its fit and cost; the helper functions rules
call (``fits()``, ``monthly_cost_usd()`` ...) find it through a context variable, so two
threads never see each other's fits. Rules that read only license facts are decided once
per license per question; with ``explain=False`` a model stops at its first rejection.

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
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import cel

from knowledge.catalog import Catalog, Variant
from rules import cost as cost_model
from rules.expressions import Scope
from rules.fit import hardware_for, speed_floor
from rules.memory import FitOption, Hardware, Shape, best_fit
from rules.packs import OnUnknown, Rule, RuleSet, Severity, render_message
from rules.ranking import (
    Evidence,
    hardware_score,
    is_coder,
    question_score,
    size_prior,
    static_score,
    wanted_groups,
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


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules decided about one model for one set of requirements.

    A plain dataclass, not a pydantic model: the engine builds one per model per question
    (10,000 in the benchmark) and validation would dominate the run.
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


@dataclass(frozen=True, slots=True)
class _Failed:
    """A rule that raised while running: its outcome is unknown."""

    error: str
    detail: str = ""


def _license_only(rule: Rule, program: Any) -> bool:
    """True when a rule reads only license facts: decided once per license per question."""
    needs_license = all(f.startswith("license.") for f in rule.spec.needs)
    helpers = set(program.functions()) & set(_HELPERS)
    return needs_license and set(program.variables()) <= {"license"} and not helpers


def _listed(values: list[str] | None) -> list[str] | None:
    """A copy of a list fact; None stays None (unknown), unlike an empty list."""
    return None if values is None else list(values)


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
        self.scope = Scope(dict(self.facts), _HELPERS)
        self.lock = threading.Lock()

    def missing_for(self, rule: Rule) -> tuple[str, ...]:
        """The facts ``rule`` needs that this model lacks (facts never change, so cached)."""
        found = self.missing.get(rule.id)
        if found is None:
            found = tuple(f for f in rule.spec.needs if not self.known(f))
            self.missing[rule.id] = found
        return found

    def known(self, fact: str) -> bool:
        var, _, attribute = fact.partition(".")
        group = self.facts.get(var)
        return group is not None and group.get(attribute) is not None

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
    groups: tuple[str, ...]
    rules: list[tuple[Rule, Any, bool]]


class _Eval:
    """One model under one question: the fit and cost, each computed at most once."""

    __slots__ = ("_cost", "_fit", "facts", "q")

    def __init__(self, q: _Question, facts: _Facts) -> None:
        self.q, self.facts = q, facts
        self._fit: tuple[FitOption | None] | None = None
        self._cost: cost_model.CostEstimate | None = None

    def fit(self) -> FitOption | None:
        """The best fit on the question's hardware."""
        if self._fit is None:
            best = None
            q, shape = self.q, self.facts.shape
            if q.hw is not None and shape is not None:
                best = best_fit(
                    shape,
                    q.hw,
                    q.req.context,
                    q.req.precision,
                    runtime=q.req.runtime,
                    min_tokens_per_s=q.floor,
                    allow_offload=q.req.offload is not False,
                )
            self._fit = (best,)
        return self._fit[0]

    def cost(self) -> cost_model.CostEstimate:
        """API and self-hosting cost for the question's traffic."""
        if self._cost is None:
            q = self.q
            open_weights = self.facts.facts["model"]["open_weights"]
            hourly = q.hw.hourly_usd if q.hw and open_weights else None
            count = q.hw.count if q.hw else q.req.gpu_count
            self._cost = cost_model.estimate(
                self.facts.offerings,
                q.req.requests_per_day,
                q.req.tokens_in,
                q.req.tokens_out,
                hourly,
                count,
            )
        return self._cost


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
    """Rules x catalog -> verdicts. Stateless between calls.

    Shared across calls (and threads) are only things that never change: each model's
    facts and CEL context (``_Facts``), compiled programs (``_specialise``) and benchmark
    percentiles. Everything about a question lives in a ``_Question`` and per-model
    ``_Eval`` objects made by that call.
    """

    def __init__(
        self, catalog: Catalog, ruleset: RuleSet, apple_gpu_fraction: float | None = None
    ) -> None:
        self.catalog = catalog
        self.ruleset = ruleset
        self.apple_gpu_fraction = apple_gpu_fraction
        self.evidence = Evidence(catalog)
        self._facts: dict[str, _Facts] = {}
        self._build = threading.Lock()
        self.failures: dict[str, list[str]] = {}  # rule id -> models it failed on at run time
        self._failures_lock = threading.Lock()

    def _model(self, v: Variant) -> _Facts:
        found = self._facts.get(v.id)
        if found is None or found.variant is not v:
            with self._build:
                found = self._facts.get(v.id)
                if found is None or found.variant is not v:
                    found = self._facts[v.id] = _Facts(v, self.catalog, self.evidence)
        return found

    def applicable(self, req: Requirements) -> list[tuple[Rule, Any]]:
        """Enabled rules whose ``when`` holds, each with ``require`` specialised for ``req``."""
        activation = self._activation(req, hardware_for(self.catalog, req, self.apple_gpu_fraction))
        return [(rule, program) for rule, program, _ in self._applicable(activation)]

    def _activation(self, req: Requirements, hw: Hardware | None) -> dict[str, Any]:
        activation = req.activation()
        activation["has_hardware"] = hw is not None
        activation["hardware"] = req.hardware_label() or (hw.name if hw else None)
        return activation

    def _applicable(self, activation: dict[str, Any]) -> list[tuple[Rule, Any, bool]]:
        chosen = []
        for rule in self.ruleset.enabled:
            bindings = json.dumps({"req": activation, "params": rule.spec.params}, sort_keys=True)
            if (
                rule.when is not None
                and _specialise(rule.when.source, bindings).execute({}) is not True
            ):
                continue
            program = _specialise(rule.require.source, bindings)
            chosen.append((rule, program, _license_only(rule, program)))
        return chosen

    def evaluate(
        self,
        req: Requirements,
        variants: Iterable[Variant] | None = None,
        explain: bool = True,
    ) -> list[Verdict]:
        """Verdicts for ``variants`` (default: the whole catalog), best score first.

        With ``explain=False`` reasons keep their rule and severity but no message, and a
        model stops at its first rejecting rule: ranking a whole catalog only to show ten
        models should not render thousands of sentences nor run rules on rejected models.
        """
        hw = hardware_for(self.catalog, req, self.apple_gpu_fraction)
        activation = self._activation(req, hw)
        q = _Question(
            req, activation, hw, speed_floor(req), wanted_groups(req), self._applicable(activation)
        )
        by_license: dict[tuple[str, str], Any] = {}
        verdicts = []
        for v in variants if variants is not None else self.catalog.variants.values():
            verdicts.append(self._judge(_Eval(q, self._model(v)), explain, by_license))
        return sorted(verdicts, key=lambda x: (-x.score, x.model))

    def _judge(self, ev: _Eval, explain: bool, by_license: dict[tuple[str, str], Any]) -> Verdict:
        state, q = ev.facts, ev.q
        reasons: list[Reason] = []
        rejected = undecided = warned = False
        bonus = 0.0
        lic = state.facts["license"]["id"]
        token = _CURRENT.set(ev)
        try:
            for rule, program, license_only in q.rules:
                if rejected and not explain:
                    break
                spec = rule.spec
                missing = state.missing_for(rule)
                if missing:
                    outcome = spec.on_unknown
                    if outcome == OnUnknown.pass_:
                        continue
                    message = (
                        f"{state.ident[1]}: {', '.join(missing)} is not published, so "
                        f"'{spec.title}' cannot be checked."
                    )
                    severity = {"unknown": "unknown", "warn": "warn", "reject": "reject"}[
                        outcome.value
                    ]
                    reasons.append(Reason(rule=spec.id, severity=severity, message=message))
                    rejected |= outcome == OnUnknown.reject
                    warned |= outcome == OnUnknown.warn
                    undecided |= outcome == OnUnknown.unknown and spec.severity == Severity.reject
                    continue
                key = (spec.id, lic)
                if license_only and key in by_license:
                    result = by_license[key]
                else:
                    result = self._run(state, program)
                    if license_only:
                        by_license[key] = result
                if isinstance(result, _Failed):
                    self._failed(rule, state.ident[0], result)
                    reasons.append(
                        Reason(
                            rule=spec.id,
                            severity="unknown",
                            message=(
                                f"{state.ident[1]}: could not be decided because rule "
                                f"{spec.id} failed ({result.error})."
                            ),
                        )
                    )
                    undecided |= spec.severity == Severity.reject
                    continue
                if spec.severity == Severity.score:
                    value = float(result) if isinstance(result, int | float | bool) else 0.0
                    bonus += spec.weight * value
                    continue
                if result is True:
                    continue
                message = self._explain(ev, rule) if explain else ""
                reasons.append(Reason(rule=spec.id, severity=spec.severity.value, message=message))
                rejected |= spec.severity == Severity.reject
                warned |= spec.severity == Severity.warn
            fit = ev.fit()
            priced = q.req.requests_per_day is not None or (q.hw and q.hw.hourly_usd)
            cost = ev.cost() if priced else None
        finally:
            _CURRENT.reset(token)
        status = (
            Status.reject
            if rejected
            else Status.unknown
            if undecided
            else Status.warn
            if warned
            else Status.ok
        )
        ident, flavor = state.ident[:3], state.ident[3]
        extra = question_score(
            flavor, state.coder, state.prior, state.evidence, q.groups, q.req, fit, q.floor
        )
        return Verdict(
            model=ident[0],
            name=ident[1],
            family=ident[2],
            status=status,
            reasons=reasons,
            fit=fit,
            cost=cost,
            score=round(
                state.static_score + hardware_score(fit, q.hw is not None) + extra + bonus, 4
            ),
        )

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
