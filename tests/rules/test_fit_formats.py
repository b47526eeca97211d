"""Fit with the formats and runtimes teams use in 2026: mxfp4, fp8, MLX, vLLM tensor parallel."""

from __future__ import annotations

import pytest

from knowledge.catalog import Catalog
from rules.fit import FitReport, fit_report
from rules.memory import Hardware, Shape, kv_cache_gib, weights_gib
from rules.requirements import Requirements


def _fit(catalog: Catalog, model: str, **req: object) -> FitReport:
    return fit_report(catalog, catalog.variants[model], Requirements(**req))  # type: ignore[arg-type]


def test_gpt_oss_20b_fits_16gb_at_its_native_mxfp4_with_an_ollama_command(
    catalog: Catalog,
) -> None:
    report = _fit(catalog, "gpt-oss-20b", vram_gib=16)
    best = report.best
    assert best is not None and best.precision == "mxfp4" and not best.offload
    assert best.total_gib <= 16
    assert [o.precision for o in report.options] == ["mxfp4"]  # never upcast to bf16
    assert best.command == "ollama run gpt-oss:20b"


def test_gpt_oss_120b_fits_one_80gb_card_served_by_vllm(catalog: Catalog) -> None:
    best = _fit(catalog, "gpt-oss-120b", gpu="H100 SXM").best
    assert best is not None and best.precision == "mxfp4" and best.runtime == "vllm"
    assert best.total_gib <= 0.9 * 80  # within gpu_memory_utilization
    assert best.command.startswith("vllm serve openai/gpt-oss-120b --tensor-parallel-size 1")


def test_70b_at_8bit_does_not_fit_a_64gb_mac_but_4bit_does(catalog: Catalog) -> None:
    eight = _fit(catalog, "llama3.3-70b-instruct", gpu="m1-max-64gb", precision="q8_0")
    four = _fit(catalog, "llama3.3-70b-instruct", gpu="m1-max-64gb", precision="q4_k_m")
    assert eight.hardware.usable_gib_total == pytest.approx(48)
    assert eight.best is None and eight.options[0].total_gib > 48
    assert four.best is not None and four.best.total_gib <= 48
    mlx = _fit(catalog, "llama3.3-70b-instruct", gpu="m1-max-64gb", precision="mlx_4bit").best
    assert mlx is not None and mlx.runtime == "mlx" and "mlx_lm.server" in mlx.command


def test_apple_gpu_share_is_configurable(catalog: Catalog) -> None:
    gpu = catalog.gpus["m1-max-64gb"]
    assert Hardware.from_gpu(gpu).usable_gib_total == pytest.approx(48)
    assert Hardware.from_gpu(gpu, gpu_fraction=0.9).usable_gib_total == pytest.approx(57.6)
    assert Hardware.from_gpu(catalog.gpus["m2-max-32gb"]).usable_gib_total < 0.7 * 32


def test_deepseek_v3_fp8_does_not_fit_8x_h100_but_fits_8x_h200(catalog: Catalog) -> None:
    h100 = _fit(catalog, "deepseek-v3.1", gpu="H100 SXM", gpu_count=8, precision="fp8")
    h200 = _fit(catalog, "deepseek-v3.1", gpu="H200", gpu_count=8, precision="fp8")
    assert h100.best is None and h100.options[0].total_gib > 8 * 80 * 0.9
    assert h200.best is not None and h200.best.tensor_parallel == 8
    assert h200.best.command.startswith("vllm serve deepseek-ai/DeepSeek-V3.1")
    assert "--tensor-parallel-size 8" in h200.best.command
    assert "--quantization" not in h200.best.command  # fp8 is how it ships
    auto = _fit(catalog, "deepseek-v3.1", gpu="H200", gpu_count=8).best
    assert auto is not None and auto.precision == "fp8"  # native is full quality; no bf16


def test_datacenter_never_offers_gguf_and_uses_fp8_only_where_supported(catalog: Catalog) -> None:
    h100 = _fit(catalog, "llama3.3-70b-instruct", gpu="H100 SXM", gpu_count=2)
    a100 = _fit(catalog, "llama3.3-70b-instruct", gpu="A100 80GB", gpu_count=2)
    assert {o.runtime for o in h100.options + a100.options} == {"vllm"}
    assert "fp8" in [o.precision for o in h100.options]
    assert "fp8" not in [o.precision for o in a100.options]
    fp8 = next(o for o in h100.options if o.precision == "fp8")
    assert fp8.command.endswith("--quantization fp8")


def test_hybrid_attention_kv_is_smaller_than_a_dense_model_of_the_same_size(
    catalog: Catalog,
) -> None:
    hybrid = Shape.of(catalog.variants["qwen3-next-80b-a3b-instruct"])
    dense = Shape.of(catalog.variants["llama3.3-70b-instruct"])
    assert hybrid is not None and dense is not None
    kv_hybrid, kv_dense = kv_cache_gib(hybrid, 32768), kv_cache_gib(dense, 32768)
    assert kv_hybrid is not None and kv_dense is not None
    assert kv_hybrid < kv_dense / 4
    # Only the 12 full-attention layers of 48 hold a cache: 12 x 2 x 2 x 256 x 32768 x 2 bytes.
    assert kv_hybrid == pytest.approx(12 * 2 * 2 * 256 * 32768 * 2 / 1024**3)


def test_sliding_window_layers_are_capped_at_the_window(catalog: Catalog) -> None:
    shape = Shape.of(catalog.variants["gpt-oss-120b"])
    assert shape is not None and shape.kv_capped
    short, long = kv_cache_gib(shape, 8192), kv_cache_gib(shape, 65536)
    assert short is not None and long is not None
    full_only = 18 * 2 * 8 * 64 * 2 / 1024**3  # per token, the 18 full-attention layers
    assert long - short == pytest.approx(full_only * (65536 - 8192))


def test_mixtral_8x7b_is_sized_by_all_experts_not_3_5_gb(catalog: Catalog) -> None:
    shape = Shape.of(catalog.variants["mixtral-8x7b-instruct"])
    assert shape is not None
    assert weights_gib(shape.params_b, "q4_k_m") > 25
    assert _fit(catalog, "mixtral-8x7b-instruct", gpu="RTX 4090").best is None


def test_kv_is_sized_at_the_asked_context_else_8k_never_the_maximum(catalog: Catalog) -> None:
    default = _fit(catalog, "llama3.1-8b-instruct", gpu="RTX 4090")
    asked = _fit(catalog, "llama3.1-8b-instruct", gpu="RTX 4090", context=32768)
    assert default.context == 8192 and asked.context == 32768
    assert asked.options[0].kv_cache_gib == pytest.approx(4 * default.options[0].kv_cache_gib)


def test_cpu_only_runs_gguf_from_ram_with_llama_cpp(catalog: Catalog) -> None:
    report = _fit(catalog, "qwen2.5-coder-32b-instruct", cpu_only=True, ram_gib=64)
    assert report.hardware.platform == "cpu"
    assert {o.runtime for o in report.options} == {"llama.cpp"}
    best = report.best
    assert best is not None and best.fits and "--n-gpu-layers 0" in best.command
    assert best.est_tokens_per_s is not None and best.est_tokens_per_s < 5


def test_stated_memory_wins_over_the_sku(catalog: Catalog) -> None:
    stated = _fit(catalog, "llama3.1-8b-instruct", gpu="m3-max-128gb", vram_gib=64)
    assert stated.hardware.vram_gib_total == 64 and stated.hardware.usable_gib_total == 48


def test_consumer_card_offers_ollama_tag_and_vllm_awq(catalog: Catalog) -> None:
    report = _fit(catalog, "qwen2.5-coder-32b-instruct", gpu="RTX 4090", batch=True)
    q4 = next(o for o in report.options if o.precision == "q4_k_m")
    assert q4.command == "ollama run qwen2.5-coder:32b"
    awq = next(o for o in report.options if o.precision == "awq")
    assert awq.runtime == "vllm" and "AWQ checkpoint" in awq.command


def test_speed_floor_picks_a_faster_precision_unless_batch(catalog: Catalog) -> None:
    interactive = _fit(catalog, "qwen2.5-32b-instruct", gpu="m1-max-64gb").best
    batch = _fit(catalog, "qwen2.5-32b-instruct", gpu="m1-max-64gb", batch=True).best
    assert interactive is not None and batch is not None
    assert (interactive.est_tokens_per_s or 0) >= 10
    assert batch.precision in ("q8_0", "mlx_8bit") and (batch.est_tokens_per_s or 0) < 10
