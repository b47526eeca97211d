"""The shipped catalog: coverage targets, sources for every fact, and sane, consistent numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from knowledge.catalog import Catalog, Variant

FACT_FIELDS = (
    "params_b",
    "active_params_b",
    "layers",
    "attention_heads",
    "kv_heads",
    "head_dim",
    "hidden_size",
    "intermediate_size",
    "vocab_size",
    "context_length",
    "sliding_window",
)


def test_coverage_targets(catalog: Catalog) -> None:
    assert len(catalog.variants) >= 150
    assert len(catalog.families) >= 40
    assert len(catalog.licenses) >= 30
    assert len(catalog.gpus) >= 25
    assert any(g.unified_memory for g in catalog.gpus.values())
    kinds = {p.kind for p in catalog.providers.values()}
    assert {"company", "nonprofit", "academic", "government"} <= kinds


@pytest.mark.parametrize(
    "family",
    [
        "bert",
        "t5",
        "flan-t5",
        "gpt2",
        "gpt-3",
        "gpt-3.5",
        "gpt-4",
        "claude",
        "claude-2",
        "llama1",
        "llama2",
        "opt",
        "galactica",
        "bloom",
        "pythia",
        "gpt-j",
        "gpt-neo",
        "gpt-neox",
        "cerebras-gpt",
        "btlm",
        "mpt",
        "dolly",
        "stablelm",
        "redpajama-incite",
        "open-llama",
        "falcon",
        "persimmon",
        "xgen",
        "chatglm",
        "glm-4",
        "mistral-7b",
        "zephyr",
        "gemma",
        "grok",
        "jurassic",
        "titan",
        "cohere-command",
        "palm2",
        "gemini",
        "biomedlm",
        "bloomberggpt",
        "finbert",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "mixtral",
        "codestral",
        "qwen2.5",
        "qwen3",
        "gemma2",
        "gemma3",
        "phi",
        "deepseek-v3",
        "deepseek-r1",
        "olmo",
        "falcon3",
        "command-r",
        "yi",
        "jamba",
    ],
)
def test_landscape_family_is_present(catalog: Catalog, family: str) -> None:
    assert family in catalog.families, f"missing family {family}"


def test_every_fact_has_a_dated_source(catalog: Catalog) -> None:
    for v in catalog.variants.values():
        sources = catalog.sources_of("variant", v.id)
        assert sources, v.id
        general = any(s.fields is None for s in sources)
        covered = {f for s in sources for f in (s.fields or [])}
        for name in FACT_FIELDS:
            if getattr(v, name) is not None:
                assert general or name in covered, f"{v.id}.{name} has no source"
    for kind, table in (
        ("license", catalog.licenses),
        ("gpu", catalog.gpus),
        ("provider", catalog.providers),
    ):
        for ident in table:
            assert catalog.sources_of(kind, ident), f"{kind} {ident} has no source"
    # No calendar: a mistyped year (2062 for 2026) stands out from the catalog's own dates.
    dates = sorted(s.as_of for group in catalog.sources.values() for s in group)
    horizon = dates[int(0.9 * (len(dates) - 1))] + timedelta(days=366)
    for group in catalog.sources.values():
        for s in group:
            assert date(2015, 1, 1) <= s.as_of <= horizon, (s.url, s.as_of)


def test_release_dates_are_plausible(catalog: Catalog) -> None:
    """A release is no newer than the newest page cited for it (dates from the data, not today)."""
    for v in catalog.variants.values():
        newest_source = max(s.as_of for s in catalog.sources_of("variant", v.id))
        assert date(2017, 1, 1) <= v.release_date <= newest_source, v.id


def test_numbers_are_in_sane_ranges(catalog: Catalog) -> None:
    for v in catalog.variants.values():
        if v.params_b is not None:
            assert 0.01 <= v.params_b <= 2500, v.id
        if v.context_length is not None:
            assert 256 <= v.context_length <= 10_500_000, v.id
        if v.kv_heads and v.attention_heads:
            assert v.attention_heads % v.kv_heads == 0, f"{v.id}: heads not a multiple of kv heads"
        if v.active_params_b is not None:
            assert v.params_b is not None and v.active_params_b < v.params_b, v.id
        if v.experts_active is not None:
            assert v.experts is not None and v.experts_active <= v.experts, v.id
        if v.architecture == "moe":
            assert v.active_params_b is not None or v.availability != "open-weights", v.id


def _dense_estimate(v: Variant) -> tuple[float, float] | None:
    """Parameters from the architecture numbers: (tied, untied embeddings), billions."""
    needed = (v.layers, v.hidden_size, v.intermediate_size, v.vocab_size, v.attention_heads)
    if v.architecture != "decoder-only" or any(x is None for x in needed) or v.gated_ffn is None:
        return None
    assert v.layers and v.hidden_size and v.intermediate_size and v.vocab_size and v.attention_heads
    head_dim = v.head_dim or v.hidden_size // v.attention_heads
    kv = v.kv_heads or v.attention_heads
    attention = v.hidden_size * head_dim * (2 * v.attention_heads + 2 * kv)
    mlp = (3 if v.gated_ffn else 2) * v.hidden_size * v.intermediate_size
    body = v.layers * (attention + mlp)
    embed = v.vocab_size * v.hidden_size
    return (body + embed) / 1e9, (body + 2 * embed) / 1e9


def test_parameter_counts_match_the_architecture(catalog: Catalog) -> None:
    checked, off = 0, []
    for v in catalog.variants.values():
        estimate = _dense_estimate(v)
        if estimate is None or v.params_b is None:
            continue
        checked += 1
        low, high = estimate
        if not (low * 0.85 <= v.params_b <= high * 1.15):
            off.append(f"{v.id}: card {v.params_b}B, config gives {low:.2f}-{high:.2f}B")
    assert checked >= 60
    assert not off, "\n".join(off)


@pytest.mark.parametrize(
    ("variant", "field", "value"),
    [
        ("llama3.1-8b-instruct", "context_length", 131072),  # 128k, not 1M
        ("llama2-7b", "kv_heads", 32),
        ("llama2-70b", "kv_heads", 8),  # grouped-query attention
        ("llama3.1-70b-instruct", "layers", 80),
        ("mistral-7b-instruct-v0.3", "vocab_size", 32768),
    ],
)
def test_known_facts(catalog: Catalog, variant: str, field: str, value: int) -> None:
    assert getattr(catalog.variants[variant], field) == value


def test_mixtral_is_sized_by_all_experts(catalog: Catalog) -> None:
    v = catalog.variants["mixtral-8x7b-instruct"]
    assert v.params_b is not None and 46 <= v.params_b <= 47.5
    assert v.active_params_b is not None and 12 <= v.active_params_b <= 13.5


def test_license_varies_by_size_inside_a_family(catalog: Catalog) -> None:
    qwen = {v.id: v.license_id for v in catalog.family_variants("qwen2.5")}
    assert qwen["qwen2.5-7b-instruct"] == "apache-2.0"
    assert qwen["qwen2.5-72b-instruct"] == "qwen"
    assert qwen["qwen2.5-3b-instruct"] == "qwen-research"


def test_preferred_defaults_are_chat_style(catalog: Catalog) -> None:
    for family in catalog.families.values():
        for pref in family.preferred:
            assert catalog.variants[pref].family_id == family.id
