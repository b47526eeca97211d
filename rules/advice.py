"""The four questions the rules answer, as typed results: fit, recommend, compare, why-not.

The CLI prints these as tables or JSON, and the chat advisor phrases them; neither
decides anything itself. Model names are resolved through the catalog so every command
accepts the same spellings (ids, aliases, HF repos, Ollama tags).
"""

from __future__ import annotations

from copy import copy
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict

from knowledge.catalog import Catalog, Variant
from knowledge.resolve import Resolution, Resolver
from knowledge.synced_view import origin_label
from knowledge.views import license_brief
from rules.engine import Engine, Reason, Status, Verdict
from rules.fit import FitReport, fit_report
from rules.memory import Shape, kv_cache_gib, weights_gib
from rules.packs import RuleSet
from rules.ranking import CHAT_FLAVORS, PRECISION_QUALITY, pick
from rules.requirements import Requirements

COMPARE_PRECISIONS = ("bf16", "q8_0", "q4_k_m")


class Recommendation(BaseModel):
    model_config = ConfigDict(frozen=True)

    requirements: dict[str, Any]
    understood: list[str]
    candidates: list[Verdict]
    considered: int
    rejected: int


class WhyNot(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    status: Status
    reasons: list[Reason]
    alternatives: list[str]


class Row(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    values: list[Any]


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    models: list[str]
    rows: list[Row]


class Advice:
    """Catalog + rules, answering the four deterministic questions."""

    def __init__(
        self, catalog: Catalog, ruleset: RuleSet, apple_gpu_fraction: float | None = None
    ) -> None:
        self.catalog = catalog
        self.resolver = Resolver(catalog)
        self.apple_gpu_fraction = apple_gpu_fraction
        self.engine = Engine(catalog, ruleset, apple_gpu_fraction)

    def with_rules(self, ruleset: RuleSet) -> Advice:
        """The same advice under other rules; the name lookup (catalog only) is kept."""
        changed = copy(self)
        changed.engine = Engine(self.catalog, ruleset, self.apple_gpu_fraction)
        return changed

    def variant(self, name: str) -> Variant:
        """The single variant a name stands for (the family default when ambiguous)."""
        return self.resolver.resolve(name).variant

    def fit(self, name: str, req: Requirements) -> FitReport:
        """Memory at each precision of one model on the requested hardware.

        A family name ("Qwen3.5") means the size that suits the machine: the largest of
        the family's preferred sizes whose best fit keeps a quality precision (4-bit or
        better) at the interactive speed floor, else the family default.
        """
        res = self.resolver.resolve(name)
        if res.match == "family":
            sized = self._sized_for(res, req)
            if sized is not None:
                return sized
        return fit_report(self.catalog, res.variant, req, self.apple_gpu_fraction)

    def _sized_for(self, res: Resolution, req: Requirements) -> FitReport | None:
        """The family's largest chat size that fits well, with a note; None when none does."""
        sizes = [
            self.catalog.variants[i] for i in res.family.preferred if i in self.catalog.variants
        ]
        for v in sorted(sizes or res.variants, key=lambda v: v.params_b or 0.0, reverse=True):
            if v.flavor not in CHAT_FLAVORS and v.flavor != "code":
                continue
            report = fit_report(self.catalog, v, req, self.apple_gpu_fraction)
            fit = report.best
            if fit is None or fit.offload or PRECISION_QUALITY.get(fit.precision, 0) < 0.75:
                continue
            if v.id == res.variant.id:
                return report
            note = (
                f"{res.family.name} comes in several sizes; {v.name} is the largest that fits "
                "this machine well, so it is the one sized here."
            )
            return report.model_copy(update={"notes": [note, *report.notes]})
        return None

    def recommend(
        self,
        req: Requirements,
        limit: int = 10,
        include_rejected: bool = False,
        families: frozenset[str] = frozenset(),
    ) -> Recommendation:
        """The best allowed models for the requirements, ranked and spread over families."""
        verdicts = self.engine.evaluate(req, explain=False)
        picked = pick(
            verdicts, self.catalog, req, limit, include_rejected, families, self.engine.evidence
        )
        explained = {
            v.model: v
            for v in self.engine.evaluate(req, [self.catalog.variants[p.model] for p in picked])
        }
        return Recommendation(
            requirements=req.model_dump(mode="json", exclude_defaults=True),
            understood=req.described(),
            candidates=[replace(explained[p.model], why=p.why) for p in picked],
            considered=len(verdicts),
            rejected=sum(v.status == Status.reject for v in verdicts),
        )

    def why_not(self, name: str, req: Requirements) -> WhyNot:
        """Every rule that speaks against one model, and allowed alternatives."""
        v = self.variant(name)
        verdict = self.engine.evaluate(req, [v])[0]
        alternatives = []
        if verdict.status in (Status.reject, Status.unknown):
            alternatives = [c.model for c in self.recommend(req, limit=3).candidates]
        return WhyNot(
            model=v.id, status=verdict.status, reasons=verdict.reasons, alternatives=alternatives
        )

    def compare(self, names: list[str], req: Requirements) -> Comparison:
        """Side-by-side facts, memory, fit, prices and benchmarks, each with its source."""
        variants = [self.variant(n) for n in names]
        cat = self.catalog
        rows: list[Row] = []

        def add(field: str, values: list[Any]) -> None:
            rows.append(Row(field=field, values=values))

        add("name", [v.name for v in variants])
        add("origin", [origin_label(v) for v in variants])
        add("provider", [cat.providers[v.provider_id].name for v in variants])
        add("license", [license_brief(cat.licenses[v.license_id]) for v in variants])
        add("availability", [v.availability for v in variants])
        add("flavor", [v.flavor for v in variants])
        add("release_date", [v.release_date.isoformat() for v in variants])
        add("params_b", [v.params_b for v in variants])
        add("active_params_b", [v.active_params_b for v in variants])
        add("context_length", [v.context_length for v in variants])
        add("architecture", [v.architecture for v in variants])
        add("layers / kv_heads / head_dim", [[v.layers, v.kv_heads, v.head_dim] for v in variants])
        for p in COMPARE_PRECISIONS:
            add(f"weights_gib@{p}", [_weights(v, p) for v in variants])
        add("kv_cache_gib@8k", [_kv(v) for v in variants])
        if req.has_hardware:
            verdicts = {x.model: x for x in self.engine.evaluate(req, variants)}
            add(f"fit on {req.hardware_label()}", [_fit_words(verdicts[v.id]) for v in variants])
        add("api_price_per_m", [_prices(cat, v) for v in variants])
        names_seen = sorted({b.name for v in variants for b in cat.benchmarks.get(v.id, [])})
        for bench in names_seen:
            add(f"benchmark:{bench}", [_bench(cat, v, bench) for v in variants])
        add("ollama_tags", [v.ollama_tags for v in variants])
        add("sources", [[s.url for s in cat.sources_of("variant", v.id)] for v in variants])
        return Comparison(models=[v.id for v in variants], rows=rows)


def _weights(v: Variant, precision: str) -> float | None:
    return round(weights_gib(v.params_b, precision), 1) if v.params_b else None


def _kv(v: Variant) -> float | None:
    shape = Shape.of(v)
    if shape is None:
        return None
    kv = kv_cache_gib(shape, shape.default_context())
    return round(kv, 2) if kv is not None else None


def _fit_words(verdict: Verdict) -> str:
    if verdict.fit is None:
        return "does not fit"
    f = verdict.fit
    words = f"{f.precision}, {f.total_gib:g} GiB, {f.headroom_gib:g} GiB free"
    return words + (" (CPU offload)" if f.offload else "")


def _prices(cat: Catalog, v: Variant) -> list[dict[str, Any]]:
    return [
        {
            "seller": o.seller_id,
            "input": o.input_per_m,
            "output": o.output_per_m,
            "as_of": o.as_of.isoformat(),
            "source": o.source_url,
        }
        for o in cat.offerings.get(v.id, [])
    ]


def _bench(cat: Catalog, v: Variant, name: str) -> dict[str, Any] | None:
    for b in cat.benchmarks.get(v.id, []):
        if b.name == name:
            return {
                "score": b.score,
                "setting": b.setting,
                "source": b.source_url,
                "as_of": b.as_of.isoformat(),
            }
    return None
