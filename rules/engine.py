"""Evaluate rule packs over the catalog: one explained verdict per model.

Speed comes from two caches. Each model's facts (``model``, ``license``, ``price``) go
into a CEL context once and are reused for every question. The requirements are the same
for every model in one evaluation, so each rule's ``require`` is specialised for them:
``req.x`` and ``params.x`` are folded in as literals and the result compiled once (and
memoised), leaving per-model work to a single call into compiled CEL. ``when`` reads only
requirements, so it is decided once per question, not once per model.

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
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import cel

from knowledge.catalog import Variant
from knowledge.store import Catalog
from rules import cost as cost_model
from rules.expressions import Scope
from rules.fit import hardware_for
from rules.memory import AUTO_LADDER, FitOption, Hardware, Shape, best_fit
from rules.packs import OnUnknown, Rule, RuleSet, Severity, render_message
from rules.ranking import hardware_score, static_score
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


class _Model:
    """One variant's cached facts, CEL scope and per-question memo."""

    def __init__(self, v: Variant, catalog: Catalog) -> None:
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
            },
            "license": {
                "id": lic.id,
                "name": lic.name,
                "kind": lic.kind,
                "commercial": lic.commercial,
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
        self.req: Requirements = Requirements()
        self.hw: Hardware | None = None
        self.activation: dict[str, Any] = {}
        self._missing: dict[str, list[str]] = {}
        self._fit: tuple[FitOption | None] | None = None
        self._cost: cost_model.CostEstimate | None = None
        self.scope = Scope(dict(self.facts), self._helpers())

    def start(self, req: Requirements, activation: dict[str, Any], hw: Hardware | None) -> None:
        """Prepare for a new question: new requirements, forget the last fit and cost."""
        self.req, self.activation, self.hw = req, activation, hw
        self._fit = None
        self._cost = None

    def fit(self) -> FitOption | None:
        """The best fit on the question's hardware (memoised per question)."""
        if self._fit is None:
            best = None
            if self.hw is not None and self.shape is not None:
                ladder = (self.req.precision,) if self.req.precision else AUTO_LADDER
                best = best_fit(self.shape, self.hw, self.req.context, ladder)
            self._fit = (best,)
        return self._fit[0]

    def cost(self) -> cost_model.CostEstimate:
        """API and self-hosting cost for the question's traffic (memoised per question)."""
        if self._cost is None:
            self._cost = self._estimate_cost()
        return self._cost

    def _estimate_cost(self) -> cost_model.CostEstimate:
        hourly = self.hw.hourly_usd if self.hw and self.facts["model"]["open_weights"] else None
        count = self.hw.count if self.hw else self.req.gpu_count
        return cost_model.estimate(
            self.offerings,
            self.req.requests_per_day,
            self.req.tokens_in,
            self.req.tokens_out,
            hourly,
            count,
        )

    def _helpers(self) -> dict[str, Any]:
        def fits() -> bool:
            return self.fit() is not None

        def fits_in_vram() -> bool:
            best = self.fit()
            return best is not None and not best.offload

        def fit_precision() -> str:
            best = self.fit()
            return best.precision if best else ""

        def fit_headroom_gib() -> float:
            best = self.fit()
            return best.headroom_gib if best else -1.0

        def api_monthly_usd() -> float | None:
            return self.cost().api_monthly_usd

        def selfhost_monthly_usd() -> float | None:
            return self.cost().selfhost_monthly_usd

        def monthly_cost_usd() -> float | None:
            estimate = self.cost()
            known = [
                c
                for c in (estimate.api_monthly_usd, estimate.selfhost_monthly_usd)
                if c is not None
            ]
            return min(known) if known else None

        def benchmark(name: str) -> float | None:
            return self.facts["model"]["benchmarks"].get(name)

        return {
            "fits": fits,
            "fits_in_vram": fits_in_vram,
            "fit_precision": fit_precision,
            "fit_headroom_gib": fit_headroom_gib,
            "api_monthly_usd": api_monthly_usd,
            "selfhost_monthly_usd": selfhost_monthly_usd,
            "monthly_cost_usd": monthly_cost_usd,
            "benchmark": benchmark,
        }

    def missing(self, rule: Rule) -> list[str]:
        """The facts ``rule`` needs that this model lacks (facts never change, so cached)."""
        found = self._missing.get(rule.id)
        if found is None:
            found = self._missing[rule.id] = [f for f in rule.spec.needs if not self.known(f)]
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


class Engine:
    """Rules x catalog -> verdicts, reusing compiled rules and per-model contexts."""

    def __init__(self, catalog: Catalog, ruleset: RuleSet) -> None:
        self.catalog = catalog
        self.ruleset = ruleset
        self._models: dict[str, _Model] = {}
        self.failures: dict[str, list[str]] = {}  # rule id -> models it failed on at run time

    def _model(self, v: Variant) -> _Model:
        state = self._models.get(v.id)
        if state is None:
            state = self._models[v.id] = _Model(v, self.catalog)
        return state

    def applicable(self, req: Requirements) -> list[tuple[Rule, Any]]:
        """Enabled rules whose ``when`` holds, each with ``require`` specialised for ``req``."""
        activation = req.activation()
        chosen = []
        for rule in self.ruleset.enabled:
            bindings = json.dumps({"req": activation, "params": rule.spec.params}, sort_keys=True)
            if (
                rule.when is not None
                and _specialise(rule.when.source, bindings).execute({}) is not True
            ):
                continue
            chosen.append((rule, _specialise(rule.require.source, bindings)))
        return chosen

    def evaluate(
        self,
        req: Requirements,
        variants: Iterable[Variant] | None = None,
        explain: bool = True,
    ) -> list[Verdict]:
        """Verdicts for ``variants`` (default: the whole catalog), best score first.

        With ``explain=False`` reasons keep their rule and severity but no message: ranking
        a whole catalog only to show ten models should not render thousands of sentences.
        """
        rules = self.applicable(req)
        activation = req.activation()
        hw = hardware_for(self.catalog, req)
        verdicts = []
        for v in variants if variants is not None else self.catalog.variants.values():
            state = self._model(v)
            state.start(req, activation, hw)
            verdicts.append(self._judge(state, rules, explain))
        return sorted(verdicts, key=lambda x: (-x.score, x.model))

    def _judge(self, state: _Model, rules: list[tuple[Rule, Any]], explain: bool) -> Verdict:
        reasons: list[Reason] = []
        rejected = undecided = warned = False
        bonus = 0.0
        for rule, program in rules:
            spec = rule.spec
            missing = state.missing(rule)
            if missing:
                outcome = spec.on_unknown
                if outcome == OnUnknown.pass_:
                    continue
                message = (
                    f"{state.variant.name}: {', '.join(missing)} is not published, so "
                    f"'{spec.title}' cannot be checked."
                )
                severity = {"unknown": "unknown", "warn": "warn", "reject": "reject"}[outcome.value]
                reasons.append(Reason(rule=spec.id, severity=severity, message=message))
                rejected |= outcome == OnUnknown.reject
                warned |= outcome == OnUnknown.warn
                undecided |= outcome == OnUnknown.unknown and spec.severity == Severity.reject
                continue
            try:
                result = state.scope.run(program)
            except Exception as exc:  # noqa: BLE001 - a fact of the wrong shape is "unknown"
                self._failed(rule, state.variant.id, exc)
                reasons.append(
                    Reason(
                        rule=spec.id,
                        severity="unknown",
                        message=(
                            f"{state.variant.name}: could not be decided because rule "
                            f"{spec.id} failed ({type(exc).__name__})."
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
            message = self._explain(state, rule) if explain else ""
            reasons.append(Reason(rule=spec.id, severity=spec.severity.value, message=message))
            rejected |= spec.severity == Severity.reject
            warned |= spec.severity == Severity.warn
        status = (
            Status.reject
            if rejected
            else Status.unknown
            if undecided
            else Status.warn
            if warned
            else Status.ok
        )
        fit = state.fit()
        return Verdict(
            model=state.variant.id,
            name=state.variant.name,
            family=state.variant.family_id,
            status=status,
            reasons=reasons,
            fit=fit,
            cost=state.cost(),
            score=round(state.static_score + hardware_score(fit, state.req) + bonus, 4),
        )

    def _failed(self, rule: Rule, model: str, exc: Exception) -> None:
        """Remember a run-time failure; log it once per rule, with file:line."""
        seen = self.failures.setdefault(rule.id, [])
        if not seen:
            log.error(
                "%s:%s: rule %s failed at run time on %s: %s: %s",
                rule.path,
                rule.line,
                rule.id,
                model,
                type(exc).__name__,
                exc,
            )
        seen.append(model)

    def _explain(self, state: _Model, rule: Rule) -> str:
        fit = state.fit()
        values = {
            **{k: _Dot(v) if isinstance(v, dict) else v for k, v in state.facts.items()},
            "req": _Dot(state.activation),
            "params": _Dot(rule.spec.params),
            "source": state.source_for(rule.spec.needs),
            "fit": _Dot(fit.model_dump() if fit else {}),
            "cost": _Dot(state.cost().model_dump()),
        }
        if values["price"] is None:
            values["price"] = _Dot({})
        return render_message(rule.spec.message, values)
