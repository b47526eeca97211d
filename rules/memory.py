"""How much GPU memory a model needs, and whether it fits given hardware.

Totals are the sum of three parts, all in GiB:

* **weights** = parameters x bits per weight / 8. Bits per weight are real file averages
  from ``rules/data/precisions.yaml`` (a GGUF Q4_K_M file averages about 4.9 bits, not 4).
  MoE models are resident by *total* parameters; only decode speed uses the active ones.
* **KV cache** = 2 (K and V) x layers with attention x KV heads x head dim x context x bytes
  per element. Grouped-query attention comes in through the catalog's KV heads; MLA-style
  caches (DeepSeek) through ``kv_width``; hybrid SSM models (Jamba) through
  ``attention_layers``. Sliding-window models are estimated at full context and noted.
* **overhead** per GPU: the CUDA context plus a compute buffer for one micro-batch of
  activations, logits and attention scores (constants with sources in
  ``rules/data/runtime.yaml``).

The default context is a realistic 8k (or the model's maximum when smaller), never the
maximum context, which is what makes peer tools claim an 8B model "does not fit" 24 GB.
Multi-GPU splits weights and cache evenly by layer and pays the overhead on every card;
Apple unified memory counts only the share macOS lets the GPU use; what does not fit in
VRAM can spill to system RAM (``offload``) with a speed warning. Decode speed is an
estimate from memory bandwidth: every active weight is read once per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from core.errors import CatalogError
from knowledge.catalog import Gpu, Variant

DATA = Path(__file__).resolve().parent / "data"
GIB = 1024**3
DEFAULT_CONTEXT = 8192
#: Precisions tried, best first, when the user does not ask for one.
AUTO_LADDER = ("bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m")


@dataclass(frozen=True)
class Precision:
    """A weight format and its real average bits per weight."""

    id: str
    bits_per_weight: float
    kind: str
    aliases: tuple[str, ...] = ()


@cache
def _data() -> tuple[dict[str, Precision], dict[str, float], dict[str, float]]:
    raw = yaml.safe_load((DATA / "precisions.yaml").read_text(encoding="utf-8"))
    precisions: dict[str, Precision] = {}
    for row in raw["precisions"]:
        p = Precision(
            id=row["id"].lower(),
            bits_per_weight=float(row["bits_per_weight"]),
            kind=row["kind"],
            aliases=tuple(a.lower() for a in row.get("aliases") or ()),
        )
        for name in (p.id, *p.aliases):
            precisions[name] = p
    kv_types = {row["id"].lower(): float(row["bytes_per_element"]) for row in raw["kv_cache_types"]}
    runtime = yaml.safe_load((DATA / "runtime.yaml").read_text(encoding="utf-8"))
    constants = {row["id"]: float(row["value"]) for row in runtime["constants"]}
    return precisions, kv_types, constants


def precision(name: str) -> Precision:
    """Look up a weight precision by id or alias (bf16, fp16, q4_k_m, int4 ...)."""
    table = _data()[0]
    key = name.strip().lower().replace("-", "_")
    if key not in table:
        known = ", ".join(sorted({p.id for p in table.values()}))
        raise CatalogError(f"Unknown precision {name!r}. Use one of: {known}.")
    return table[key]


def kv_bytes(kv_type: str) -> float:
    """Bytes per cached element for a KV cache type (f16, q8_0, q4_0)."""
    table = _data()[1]
    key = kv_type.strip().lower()
    if key not in table:
        raise CatalogError(f"Unknown KV cache type {kv_type!r}. Use one of: {', '.join(table)}.")
    return table[key]


def constant(name: str) -> float:
    """A runtime constant from rules/data/runtime.yaml."""
    return _data()[2][name]


@dataclass(frozen=True)
class Hardware:
    """What a model must fit on: identical GPUs (or one Apple machine), plus optional RAM."""

    name: str
    count: int
    vram_gib_each: float
    bandwidth_gbs: float
    unified: bool = False
    ram_gib: float | None = None
    hourly_usd: float | None = None  # published cloud price of one GPU, for self-hosting cost

    @classmethod
    def from_gpu(cls, gpu: Gpu, count: int = 1, ram_gib: float | None = None) -> Hardware:
        """Hardware made of ``count`` catalog GPUs."""
        return cls(
            gpu.name,
            count,
            gpu.vram_gib,
            gpu.bandwidth_gbs,
            gpu.unified_memory,
            ram_gib,
            gpu.cloud_price_per_hour,
        )

    @classmethod
    def from_vram(cls, vram_gib: float, count: int = 1, ram_gib: float | None = None) -> Hardware:
        """Hardware known only by its memory; bandwidth assumed like a mid-range card."""
        return cls(f"{vram_gib:g} GiB GPU", count, vram_gib, 500.0, False, ram_gib)

    @property
    def usable_gib_each(self) -> float:
        """Memory one GPU may use: all of it, or macOS's share of unified memory."""
        if not self.unified:
            return self.vram_gib_each
        share = (
            "apple_gpu_fraction_small" if self.vram_gib_each <= 36 else "apple_gpu_fraction_large"
        )
        return self.vram_gib_each * constant(share)

    @property
    def usable_gib_total(self) -> float:
        return self.usable_gib_each * self.count


class FitOption(BaseModel):
    """One precision's memory bill on given hardware."""

    model_config = ConfigDict(frozen=True)

    precision: str
    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float
    total_gib: float
    fits: bool
    headroom_gib: float
    offload: bool
    offload_gib: float
    est_tokens_per_s: float | None


@dataclass(frozen=True)
class Shape:
    """The architecture numbers memory depends on, with the catalog's gaps made explicit."""

    params_b: float
    active_params_b: float
    layers: int | None
    attention_heads: int | None
    kv_heads: int | None
    head_dim: int | None
    hidden_size: int | None
    vocab_size: int | None
    kv_width: int | None
    attention_layers: int | None
    sliding_window: int | None
    max_context: int | None

    @classmethod
    def of(cls, v: Variant) -> Shape | None:
        """The shape of a catalog variant, or None when its size is unpublished."""
        if v.params_b is None:
            return None
        head_dim = v.head_dim
        if head_dim is None and v.hidden_size and v.attention_heads:
            head_dim = v.hidden_size // v.attention_heads
        return cls(
            params_b=v.params_b,
            active_params_b=v.active_params_b or v.params_b,
            layers=v.layers,
            attention_heads=v.attention_heads,
            kv_heads=v.kv_heads or v.attention_heads,
            head_dim=head_dim,
            hidden_size=v.hidden_size,
            vocab_size=v.vocab_size,
            kv_width=v.kv_width,
            attention_layers=v.attention_layers,
            sliding_window=v.sliding_window,
            max_context=v.context_length,
        )

    def default_context(self) -> int:
        """A realistic working context: 8k, or the model's maximum when smaller."""
        return min(DEFAULT_CONTEXT, self.max_context or DEFAULT_CONTEXT)


def weights_gib(params_b: float, precision_id: str) -> float:
    """Memory of the weights alone."""
    return params_b * 1e9 * precision(precision_id).bits_per_weight / 8 / GIB


def kv_cache_gib(shape: Shape, context: int, kv_type: str = "f16") -> float | None:
    """KV cache for ``context`` tokens, or None when the architecture numbers are unknown."""
    layers = shape.attention_layers or shape.layers
    if layers is None:
        return None
    if shape.kv_width is not None:
        per_token_layer = float(shape.kv_width)
    elif shape.kv_heads is not None and shape.head_dim is not None:
        per_token_layer = 2.0 * shape.kv_heads * shape.head_dim
    else:
        return None
    return layers * per_token_layer * context * kv_bytes(kv_type) / GIB


def compute_buffer_gib(shape: Shape, context: int) -> float:
    """Scratch memory for one micro-batch: logits and activations, plus attention scores.

    Without flash attention the f32 score matrix (micro-batch x context x heads) is the
    large part at long contexts; we assume it, since that is what default llama.cpp logs
    show. With flash attention on, real use is lower.
    """
    ubatch = constant("compute_ubatch_tokens")
    width = (shape.vocab_size or 32000) + 4 * (shape.hidden_size or 4096)
    scores = context * (shape.attention_heads or 32)
    return ubatch * (width + scores) * 4 / GIB


def overhead_gib(shape: Shape, context: int) -> float:
    """Per-GPU runtime overhead: the CUDA context plus the compute buffer."""
    return constant("cuda_context_gib") + compute_buffer_gib(shape, context)


def decode_tokens_per_s(
    shape: Shape, precision_id: str, kv_gib: float, hw: Hardware, offload_gib: float
) -> float:
    """Bandwidth-bound decode estimate: bytes read per token over usable bandwidth."""
    active_weights = weights_gib(shape.active_params_b, precision_id)
    total_weights = weights_gib(shape.params_b, precision_id)
    per_token_gib = active_weights + kv_gib
    efficiency = constant("decode_bandwidth_efficiency")
    gpu_seconds = per_token_gib * GIB / (hw.bandwidth_gbs * 1e9 * efficiency)
    if offload_gib > 0 and total_weights > 0:
        spilled = per_token_gib * min(1.0, offload_gib / total_weights)
        ram_bw = constant("system_ram_bandwidth_gbs") * 1e9 * efficiency
        gpu_seconds = (per_token_gib - spilled) * GIB / (hw.bandwidth_gbs * 1e9 * efficiency)
        gpu_seconds += spilled * GIB / ram_bw
    return round(1.0 / gpu_seconds, 1) if gpu_seconds > 0 else 0.0


def _bill(
    shape: Shape, hw: Hardware, precision_id: str, context: int, kv_type: str
) -> tuple[float, float, float, float]:
    """Weights, KV cache, overhead and total in GiB: the arithmetic behind every fit."""
    weights = weights_gib(shape.params_b, precision_id)
    kv = kv_cache_gib(shape, context, kv_type) or 0.0
    overhead = overhead_gib(shape, context) * hw.count
    return weights, kv, overhead, weights + kv + overhead


def fit_option(
    shape: Shape, hw: Hardware, precision_id: str, context: int, kv_type: str = "f16"
) -> FitOption:
    """The memory bill of one precision on ``hw``, with fit, headroom and offload."""
    p = precision(precision_id)
    weights, kv, overhead, total = _bill(shape, hw, p.id, context, kv_type)
    spare = hw.usable_gib_total - total
    offload_gib = max(0.0, -spare)
    offload = offload_gib > 0 and hw.ram_gib is not None and offload_gib <= hw.ram_gib * 0.8
    fits = spare >= 0 or offload
    speed = decode_tokens_per_s(shape, p.id, kv, hw, offload_gib) if fits else None
    return FitOption.model_construct(
        precision=p.id,
        weights_gib=round(weights, 2),
        kv_cache_gib=round(kv, 2),
        overhead_gib=round(overhead, 2),
        total_gib=round(total, 2),
        fits=fits,
        headroom_gib=round(spare, 2),
        offload=offload,
        offload_gib=round(offload_gib, 2) if offload else 0.0,
        est_tokens_per_s=speed,
    )


def best_fit(
    shape: Shape,
    hw: Hardware,
    context: int | None = None,
    precisions: tuple[str, ...] = AUTO_LADDER,
    kv_type: str = "f16",
) -> FitOption | None:
    """Same answer as ``best_option(fit_options(...))``, computing only what it must.

    Rule evaluation asks this for every model in the catalog, so precisions are tried
    best first with plain arithmetic and stop at the first that fits in VRAM.
    """
    ctx = context or shape.default_context()
    for p in precisions:
        if _bill(shape, hw, precision(p).id, ctx, kv_type)[3] <= hw.usable_gib_total:
            return fit_option(shape, hw, p, ctx, kv_type)
    if hw.ram_gib is None:
        return None
    return best_option([fit_option(shape, hw, p, ctx, kv_type) for p in precisions])


def fit_options(
    shape: Shape,
    hw: Hardware,
    context: int | None = None,
    precisions: tuple[str, ...] = AUTO_LADDER,
    kv_type: str = "f16",
) -> list[FitOption]:
    """Fit at each precision, best quality first."""
    ctx = context or shape.default_context()
    return [fit_option(shape, hw, p, ctx, kv_type) for p in precisions]


def best_option(options: list[FitOption]) -> FitOption | None:
    """The highest-quality precision that fits in VRAM, else the fastest one with offload.

    With offload, decode speed is set by how much spills to system RAM, so the smaller
    precision usually wins by a wide margin (an expert would pick Q4_K_M, not Q8_0).
    """
    in_vram = [o for o in options if o.fits and not o.offload]
    if in_vram:
        return in_vram[0]
    spilled = [o for o in options if o.fits]
    return max(spilled, key=lambda o: o.est_tokens_per_s or 0.0) if spilled else None
