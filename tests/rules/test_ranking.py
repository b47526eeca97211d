"""Rankings from evidence: the task asked, the stated hardware's speed, the right runtime."""

from __future__ import annotations

import pytest

from knowledge.catalog import Catalog
from rules.advice import Advice
from rules.packs import load_rules
from rules.ranking import is_coder
from rules.requirements import Requirements

GGUF = {"q8_0", "q6_k", "q5_k_m", "q4_k_m"}


@pytest.fixture(scope="module")
def advice(catalog: Catalog) -> Advice:
    return Advice(catalog, load_rules())


def test_24gb_card_and_code_puts_a_coder_in_the_top_three(advice: Advice) -> None:
    rec = advice.recommend(Requirements(gpu="RTX 4090", capabilities=["code"], commercial=True))
    top = [advice.catalog.variants[c.model] for c in rec.candidates[:3]]
    assert any(is_coder(v) for v in top), [v.id for v in top]
    coder = next(c for c in rec.candidates if is_coder(advice.catalog.variants[c.model]))
    assert "code specialist" in coder.why


def test_64gb_mac_top_pick_is_fast_enough_and_not_a_small_bf16_model(advice: Advice) -> None:
    rec = advice.recommend(Requirements(gpu="m1-max-64gb", commercial=True))
    top = rec.candidates[0]
    assert top.fit is not None and (top.fit.est_tokens_per_s or 0) >= 10
    bigger_quantised = [
        c
        for c in rec.candidates
        if c.fit is not None and c.fit.precision in {"q6_k", "q5_k_m", "q4_k_m", "mlx_4bit"}
    ]
    if top.fit.precision == "bf16":
        size = advice.catalog.variants[top.model].params_b or 0
        assert not any(
            (advice.catalog.variants[c.model].params_b or 0) > size for c in bigger_quantised
        )
    assert all(c.fit is not None and c.fit.total_gib <= 48 for c in rec.candidates)


def test_8x_h100_chinese_customer_service_is_served_not_gguf_and_no_slow_reasoner_first(
    advice: Advice,
) -> None:
    req = Requirements(
        gpu="H100 SXM", gpu_count=8, languages=["zh"], tasks=["customer service"], commercial=True
    )
    rec = advice.recommend(req)
    first = advice.catalog.variants[rec.candidates[0].model]
    assert first.flavor != "reasoning"
    for c in rec.candidates:
        assert c.fit is not None and c.fit.precision not in GGUF, (c.model, c.fit.precision)
        assert c.fit.runtime in {"vllm", "sglang"}
        assert c.fit.command.startswith("vllm serve ")


def test_reasoning_models_lead_when_math_is_asked(advice: Advice) -> None:
    plain = advice.recommend(Requirements(gpu="H100 SXM", gpu_count=8), limit=5)
    math = advice.recommend(Requirements(gpu="H100 SXM", gpu_count=8, tasks=["math"]), limit=5)
    flavors = [advice.catalog.variants[c.model].flavor for c in math.candidates]
    plain_flavors = [advice.catalog.variants[c.model].flavor for c in plain.candidates]
    assert flavors.count("reasoning") > plain_flavors.count("reasoning")


def test_offload_only_when_nothing_else_fits(advice: Advice) -> None:
    rec = advice.recommend(Requirements(vram_gib=12, ram_gib=64), limit=10)
    assert not any(c.fit is not None and c.fit.offload for c in rec.candidates[:5])


def test_every_pick_has_a_one_line_reason_and_a_runtime_command(advice: Advice) -> None:
    rec = advice.recommend(Requirements(gpu="RTX 4090"), limit=5)
    for c in rec.candidates:
        assert c.why and "\n" not in c.why
        assert c.fit is not None and c.fit.runtime and c.fit.command


def test_no_embedding_or_speech_model_for_chat(advice: Advice) -> None:
    rec = advice.recommend(Requirements(), limit=30)
    for c in rec.candidates:
        assert not any(w in c.model for w in ("embed", "whisper", "tts", "rerank")), c.model
