"""The memory estimator against published figures, and the facts an expert would check."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.catalog import Catalog
from rules.memory import (
    GIB,
    Hardware,
    Shape,
    best_option,
    compute_buffer_gib,
    fit_option,
    fit_options,
    kv_cache_gib,
    precision,
    weights_gib,
)

REFERENCE = yaml.safe_load((Path(__file__).parent / "memory_reference.yaml").read_text())["rows"]
TOLERANCE = {"weights": 0.10, "kv_cache": 0.10, "total": 0.15}


def _shape(catalog: Catalog, model: str) -> Shape:
    shape = Shape.of(catalog.variants[model])
    assert shape is not None, model
    return shape


@pytest.mark.parametrize(
    "row",
    REFERENCE,
    ids=[f"{r['model']}:{r['what']}:{r.get('precision') or r.get('context')}" for r in REFERENCE],
)
def test_estimate_matches_published_figure(catalog: Catalog, row: dict) -> None:  # type: ignore[type-arg]
    shape = _shape(catalog, row["model"])
    if row["what"] == "weights":
        estimate = weights_gib(shape.params_b, row["precision"])
    elif row["what"] == "kv_cache":
        estimate = kv_cache_gib(shape, row["context"], row.get("kv_type", "f16"))
    else:  # llama.cpp's own buffers: weights + KV + compute, no driver context
        kv = kv_cache_gib(shape, row["context"], row.get("kv_type", "f16"))
        assert kv is not None
        estimate = (
            weights_gib(shape.params_b, row["precision"])
            + kv
            + compute_buffer_gib(shape, row["context"])
        )
    assert estimate is not None
    error = abs(estimate - row["value_gib"]) / row["value_gib"]
    assert error <= TOLERANCE[row["what"]], (
        f"{row['model']} {row['what']}: estimated {estimate:.2f} GiB, "
        f"published {row['value_gib']} GiB ({error:.1%} off; {row['source']['url']})"
    )


def test_reference_table_is_sourced_and_broad() -> None:
    assert len(REFERENCE) >= 20
    assert all(r["source"]["url"].startswith("http") for r in REFERENCE)
    kinds = {r["what"] for r in REFERENCE}
    assert kinds == {"weights", "kv_cache", "total"}


def test_7b_needs_about_14_gb_at_bf16_and_7_at_8bit(catalog: Catalog) -> None:
    shape = _shape(catalog, "llama2-7b")
    assert 13.0e9 <= weights_gib(shape.params_b, "bf16") * GIB <= 14.5e9
    assert 6.5e9 <= weights_gib(shape.params_b, "int8") * GIB <= 7.5e9


def test_70b_at_4bit_needs_two_24gb_cards(catalog: Catalog) -> None:
    shape = _shape(catalog, "llama3.1-70b-instruct")
    one = Hardware("RTX 4090", 1, 24, 1008)
    two = Hardware("RTX 4090", 2, 24, 1008)
    assert not fit_option(shape, one, "q4_k_m", 8192).fits
    assert fit_option(shape, two, "q4_k_m", 8192).fits


def test_8b_fits_24gb_at_full_precision_with_realistic_context(catalog: Catalog) -> None:
    shape = _shape(catalog, "llama3.1-8b-instruct")
    best = best_option(fit_options(shape, Hardware("RTX 4090", 1, 24, 1008)))
    assert best is not None and best.precision == "bf16" and not best.offload
    assert shape.default_context() == 8192  # not the 128k maximum


def test_moe_is_resident_by_total_parameters(catalog: Catalog) -> None:
    shape = _shape(catalog, "mixtral-8x7b-instruct")
    q4 = weights_gib(shape.params_b, "q4_k_m")
    assert 25 <= q4 <= 28  # the whole 46.7B, not the 12.9B active
    on_4090 = fit_option(shape, Hardware("RTX 4090", 1, 24, 1008), "q4_k_m", 8192)
    assert not on_4090.fits


def test_offload_uses_system_ram_and_is_slower(catalog: Catalog) -> None:
    shape = _shape(catalog, "mixtral-8x7b-instruct")
    with_ram = Hardware("RTX 4090", 1, 24, 1008, ram_gib=64)
    best = best_option(fit_options(shape, with_ram))
    assert best is not None and best.offload and best.precision == "q4_k_m"
    small = best_option(fit_options(_shape(catalog, "mistral-7b-instruct-v0.3"), with_ram))
    assert (
        small is not None
        and best.est_tokens_per_s is not None
        and small.est_tokens_per_s is not None
    )
    assert best.est_tokens_per_s < small.est_tokens_per_s


def test_apple_unified_memory_counts_only_the_gpu_share(catalog: Catalog) -> None:
    mac = Hardware.from_gpu(catalog.gpus["m2-max-32gb"])
    assert mac.unified and 20 <= mac.usable_gib_each <= 22.5
    shape = _shape(catalog, "qwen2.5-32b-instruct")
    assert not fit_option(shape, mac, "q4_k_m", 8192).fits  # 19 GiB of weights + cache > ~21 GiB


def test_kv_cache_grows_with_context_and_shrinks_with_quantised_cache(catalog: Catalog) -> None:
    shape = _shape(catalog, "llama3.1-8b-instruct")
    f16 = kv_cache_gib(shape, 32768)
    assert f16 is not None and abs(f16 - 4.0) < 0.01  # 2 x 32 x 8 x 128 x 32768 x 2 bytes
    q8 = kv_cache_gib(shape, 32768, "q8_0")
    assert q8 is not None and abs(q8 / f16 - 34 / 64) < 1e-6


def test_mla_cache_uses_the_latent_width(catalog: Catalog) -> None:
    v = catalog.variants["deepseek-v3"]
    shape = Shape.of(v)
    assert shape is not None and v.kv_width
    kv = kv_cache_gib(shape, 8192)
    assert kv is not None and kv == pytest.approx(v.layers * v.kv_width * 8192 * 2 / GIB)  # type: ignore[operator]


def test_unknown_precision_lists_the_known_ones() -> None:
    with pytest.raises(Exception, match="Unknown precision 'q4'.*q4_k_m"):
        precision("q4")
    assert precision("Q4_K_M").id == "q4_k_m" and precision("fp16").id == "bf16"
