"""Recommendations, why-not and compare on the shipped catalog, as a user would judge them."""

from __future__ import annotations

import pytest

from knowledge.catalog import Catalog
from rules.advice import Advice
from rules.engine import Status
from rules.packs import load_rules
from rules.requirements import Requirements


@pytest.fixture(scope="module")
def advisor(catalog: Catalog) -> Advice:
    return Advice(catalog, load_rules())


def test_24gb_card_gets_strong_models_not_only_small_ones(advisor: Advice) -> None:
    rec = advisor.recommend(Requirements(gpu="RTX 4090", commercial=True), limit=10)
    sizes = [advisor.catalog.variants[c.model].params_b or 0 for c in rec.candidates]
    assert any(14 <= s <= 34 for s in sizes), sizes
    big = [c for c in rec.candidates if (advisor.catalog.variants[c.model].params_b or 0) >= 20]
    quantized = {"q4_k_m", "q5_k_m", "q6_k", "mxfp4"}  # mxfp4: gpt-oss ships in it natively
    assert all(c.fit is not None and c.fit.precision in quantized for c in big)
    assert all(c.fit is not None and not c.fit.offload for c in rec.candidates)


def test_recommendations_are_chat_models_from_several_families(advisor: Advice) -> None:
    rec = advisor.recommend(Requirements(vram_gib=24), limit=10)
    variants = [advisor.catalog.variants[c.model] for c in rec.candidates]
    assert all(v.flavor in {"instruct", "chat", "reasoning"} for v in variants)
    assert all(v.architecture != "encoder-only" for v in variants)
    families = [v.family_id for v in variants]
    assert len(set(families)) >= 5
    assert max(families.count(f) for f in families) <= 2
    keys = [(v.family_id, v.params_b) for v in variants]
    assert len(keys) == len(set(keys))  # one entry per model and size


def test_commercial_use_rejects_noncommercial_licenses(advisor: Advice, catalog: Catalog) -> None:
    verdicts = {v.model: v for v in advisor.engine.evaluate(Requirements(commercial=True))}
    for model, verdict in verdicts.items():
        if catalog.licenses[catalog.variants[model].license_id].commercial == "no":
            assert verdict.status == Status.reject, model
    rec = advisor.recommend(Requirements(commercial=True, vram_gib=80), limit=20)
    assert all(
        catalog.licenses[catalog.variants[c.model].license_id].commercial != "no"
        for c in rec.candidates
    )


def test_conditional_license_is_never_a_bare_yes(advisor: Advice) -> None:
    result = advisor.why_not("llama3.1-8b-instruct", Requirements(commercial=True))
    assert result.status == Status.warn
    conditional = [r for r in result.reasons if r.rule == "license.conditional-commercial"]
    assert conditional and "700" in conditional[0].message and "http" in conditional[0].message


def test_license_varies_by_size_inside_a_family(advisor: Advice) -> None:
    req = Requirements(commercial=True)
    verdicts = {v.model: v.status for v in advisor.engine.evaluate(req)}
    assert verdicts["qwen2.5-7b-instruct"] == Status.ok
    assert verdicts["qwen2.5-3b-instruct"] == Status.reject  # Qwen Research License
    assert verdicts["mpt-7b"] == Status.ok
    assert verdicts["mpt-7b-chat"] == Status.reject  # CC BY-NC-SA


def test_creative_commons_licenses_decode_by_their_parts(catalog: Catalog) -> None:
    by = catalog.licenses["cc-by-4.0"]
    assert by.attribution and not (by.noncommercial or by.copyleft or by.no_derivatives)
    nc_sa = catalog.licenses["cc-by-nc-sa-4.0"]
    assert nc_sa.noncommercial and nc_sa.copyleft and nc_sa.commercial == "no"
    nc_nd = catalog.licenses["cc-by-nc-nd-4.0"]
    assert nc_nd.noncommercial and nc_nd.no_derivatives
    assert (
        catalog.licenses["cc-by-sa-4.0"].copyleft
        and catalog.licenses["cc-by-sa-4.0"].commercial == "yes"
    )


def test_user_cap_rejects_with_the_numbers(advisor: Advice) -> None:
    result = advisor.why_not("llama2-70b-chat", Requirements(commercial=True, mau=900_000_000))
    assert result.status == Status.reject
    cap = next(r for r in result.reasons if r.rule == "license.user-cap")
    assert "700,000,000" in cap.message and "900,000,000" in cap.message
    assert result.alternatives


def test_context_requirement_with_unknown_context_is_unknown(
    advisor: Advice, catalog: Catalog
) -> None:
    unknown = [v for v in catalog.variants.values() if v.context_length is None]
    assert unknown
    verdict = advisor.engine.evaluate(Requirements(context=32768), unknown[:1])[0]
    assert verdict.status == Status.unknown
    assert "context_length is not published" in verdict.reasons[0].message


def test_too_short_context_is_rejected_with_source(advisor: Advice) -> None:
    result = advisor.why_not("llama2-7b-chat", Requirements(context=32768))
    reason = next(r for r in result.reasons if r.rule == "capability.context")
    assert "4096" in reason.message and "32768" in reason.message and "http" in reason.message


def test_ranking_is_stable(advisor: Advice) -> None:
    req = Requirements(gpu="RTX 4090", commercial=True)
    first = [c.model for c in advisor.recommend(req).candidates]
    assert first == [c.model for c in advisor.recommend(req).candidates]


def test_compare_has_sourced_rows(advisor: Advice) -> None:
    result = advisor.compare(["llama2", "mistral"], Requirements(gpu="RTX 4090"))
    assert result.models == ["llama2-7b-chat", "mistral-7b-instruct-v0.3"]
    fields = [r.field for r in result.rows]
    for field in (
        "license",
        "params_b",
        "context_length",
        "weights_gib@bf16",
        "weights_gib@q4_k_m",
        "kv_cache_gib@8k",
        "fit on 1x RTX 4090",
        "api_price_per_m",
        "ollama_tags",
        "sources",
    ):
        assert field in fields
    license_row = next(r for r in result.rows if r.field == "license")
    assert license_row.values[0]["commercial"] == "conditional"
    assert license_row.values[1]["id"] == "apache-2.0"


@pytest.mark.parametrize(
    ("hardware", "smallest_b"),
    [({"gpu": "rtx-4090", "gpu_count": 2}, 20), ({"vram_gib": 8.0}, 2)],
)
def test_a_family_name_is_sized_for_the_machine(
    advisor: Advice, hardware: dict[str, object], smallest_b: float
) -> None:
    """'Qwen3.5 on two 4090s' sizes a big Qwen3.5, not the family's 0.8B default."""
    report = advisor.fit("qwen3.5", Requirements.model_validate(hardware))
    chosen = advisor.catalog.variants[report.model]
    assert chosen.family_id == "qwen3.5" and (chosen.params_b or 0) >= smallest_b
    assert report.best is not None and not report.best.offload
    assert "largest that fits" in report.notes[0]
    # A named size is sized as asked, with no substitution.
    assert (
        advisor.fit("qwen3.5-0.8b", Requirements.model_validate(hardware)).model == "qwen3.5-0.8b"
    )
