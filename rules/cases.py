"""Run the test cases written beside each rule, through the real engine.

A case describes a model by how it differs from a neutral one (a 7B open-weights instruct
model under Apache-2.0 with a 32k context), plus requirements and the outcome expected:
``pass`` (the rule is satisfied), ``fail`` (it speaks: reject or warn), ``unknown`` (a
needed fact is missing) or ``skip`` (its ``when`` does not hold). ``model`` keys are catalog
variant fields (plus ``benchmarks: {name: score}``), ``license`` keys license fields, and
``price`` an API price per 1M tokens.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from knowledge.catalog import BenchmarkResult, Catalog, License, Offering, Provider, Variant
from rules.engine import Engine
from rules.packs import Case, Rule, RuleSet, Severity
from rules.requirements import Requirements

Outcome = Literal["pass", "fail", "unknown", "skip"]

NEUTRAL_MODEL: dict[str, object] = {
    "id": "case-model",
    "name": "Case Model 7B",
    "family_id": "case",
    "provider_id": "acme",
    "release_date": date(2025, 1, 1),
    "availability": "open-weights",
    "flavor": "instruct",
    "architecture": "decoder-only",
    "params_b": 7.0,
    "layers": 32,
    "attention_heads": 32,
    "kv_heads": 8,
    "head_dim": 128,
    "hidden_size": 4096,
    "vocab_size": 32000,
    "context_length": 32768,
    "modalities": ["text"],
    "languages": ["en"],
    "capabilities": [],
    "license_id": "case-license",
}
NEUTRAL_LICENSE: dict[str, object] = {
    "id": "case-license",
    "name": "Case License",
    "kind": "permissive",
    "url": "https://example.org/l",
    "commercial": "yes",
    "attribution": True,
}


def case_catalog(case: Case) -> Catalog:
    """A one-model catalog built from the neutral model and the case's differences."""
    model = dict(case.model)
    scores = model.pop("benchmarks", {})
    # Unvalidated on purpose: a case may give a fact a value the catalog would refuse
    # (``availability: null``) to show how the rule copes with it at run time.
    variant = Variant.model_construct(**{**NEUTRAL_MODEL, **model})
    lic = License.model_construct(**{**NEUTRAL_LICENSE, **case.license, "id": "case-license"})
    offerings = []
    if case.price is not None:
        offerings.append(
            Offering(
                variant_id=variant.id,
                seller_id="acme",
                input_per_m=case.price.get("input_per_m", 0.0),
                output_per_m=case.price.get("output_per_m", 0.0),
                source_url="https://example.org/p",
                as_of=date(2026, 1, 1),
            )
        )
    provider = Provider(
        id="acme", name="Acme", kind="company", country="US", url="https://example.org"
    )
    benchmarks = [
        BenchmarkResult(
            variant_id=variant.id,
            name=name,
            score=score,
            source_url="https://example.org/b",
            as_of=date(2026, 1, 1),
        )
        for name, score in scores.items()
    ]
    return Catalog(
        providers={"acme": provider},
        licenses={lic.id: lic},
        gpus={},
        families={},
        variants={variant.id: variant},
        offerings={variant.id: offerings} if offerings else {},
        benchmarks={variant.id: benchmarks} if benchmarks else {},
    )


def run_case(rule: Rule, case: Case) -> Outcome:
    """What ``rule`` decides for ``case`` when evaluated by the engine."""
    catalog = case_catalog(case)
    req = Requirements(**case.req)
    engine = Engine(catalog, RuleSet(rules=[rule]))
    if not engine.applicable(req):
        return "skip"
    verdict = engine.evaluate(req)[0]
    reasons = [r for r in verdict.reasons if r.rule == rule.id]
    if rule.spec.severity == Severity.score and not reasons:
        baseline = Engine(catalog, RuleSet()).evaluate(req)[0].score
        return "pass" if verdict.score > baseline else "fail"
    if not reasons:
        return "pass"
    return "unknown" if reasons[0].severity == "unknown" else "fail"
