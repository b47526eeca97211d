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

from pydantic import BaseModel, ConfigDict

from core.errors import CatalogError
from core.yamlfile import parse_yaml
from knowledge.catalog import Gpu, Variant
from rules.runtimes import (
    GGUF_LADDER,
    Candidate,
    Weights,
    candidates,
    gpu_generation,
    platform_of,
    runtime_for,
    start,
    tensor_parallel_sizes,
)

DATA = Path(__file__).resolve().parent / "data"
GIB = 1024**3
DEFAULT_CONTEXT = 8192
#: GGUF precisions tried, best first, on consumer GPUs when the user does not ask for one.
AUTO_LADDER = GGUF_LADDER


@dataclass(frozen=True)
class Precision:
    """A weight format and its real average bits per weight."""

    id: str
    bits_per_weight: float
    kind: str
    aliases: tuple[str, ...] = ()


@cache
def _data() -> tuple[dict[str, Precision], dict[str, float], dict[str, float]]:
    raw = parse_yaml((DATA / "precisions.yaml").read_text(encoding="utf-8"))
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
    runtime = parse_yaml((DATA / "runtime.yaml").read_text(encoding="utf-8"))
    constants = {row["id"]: float(row["value"]) for row in runtime["constants"]}
    return precisions, kv_types, constants


@cache
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
    """What a model must fit on: identical GPUs of one node, an Apple machine, or a CPU.

    ``platform`` (datacenter, consumer, apple, cpu) decides which runtimes and formats are
    offered (rules/runtimes.py); ``formats`` are the low-bit formats the GPU runs natively;
    ``gpu_fraction`` overrides the share of unified memory the GPU may wire.
    """

    name: str
    count: int
    vram_gib_each: float
    bandwidth_gbs: float
    unified: bool = False
    ram_gib: float | None = None
    hourly_usd: float | None = None  # published cloud price of one GPU, for self-hosting cost
    platform: str = "consumer"
    formats: frozenset[str] = frozenset({"awq", "gptq"})
    gpu_fraction: float | None = None

    @classmethod
    def from_gpu(
        cls,
        gpu: Gpu,
        count: int = 1,
        ram_gib: float | None = None,
        vram_gib: float | None = None,
        gpu_fraction: float | None = None,
    ) -> Hardware:
        """Hardware made of ``count`` catalog GPUs; a stated ``vram_gib`` wins over the SKU's."""
        memory = vram_gib or gpu.vram_gib
        name = (
            gpu.name if vram_gib is None or vram_gib == gpu.vram_gib else f"{gpu.name} {memory:g}GB"
        )
        return cls(
            name,
            count,
            memory,
            gpu.bandwidth_gbs,
            gpu.unified_memory,
            ram_gib,
            gpu.cloud_price_per_hour,
            platform_of(gpu.segment, gpu.vendor),
            gpu_generation(gpu.id)[1],
            gpu_fraction,
        )

    @classmethod
    def from_vram(cls, vram_gib: float, count: int = 1, ram_gib: float | None = None) -> Hardware:
        """Hardware known only by its memory; bandwidth assumed like a mid-range card."""
        return cls(f"{vram_gib:g} GiB GPU", count, vram_gib, 500.0, False, ram_gib)

    @classmethod
    def cpu(cls, ram_gib: float) -> Hardware:
        """A CPU-only server: the model runs from system RAM at RAM bandwidth."""
        bandwidth = constant("system_ram_bandwidth_gbs")
        return cls(f"CPU only, {ram_gib:g} GiB RAM", 1, ram_gib, bandwidth, platform="cpu")

    @property
    def usable_gib_each(self) -> float:
        """Memory one GPU may use: all of it, the GPU's share of unified memory, or RAM's."""
        if self.platform == "cpu":
            return self.vram_gib_each * constant("cpu_ram_usable_fraction")
        if not self.unified:
            return self.vram_gib_each
        if self.gpu_fraction is not None:
            return self.vram_gib_each * self.gpu_fraction
        share = (
            "apple_gpu_fraction_small" if self.vram_gib_each <= 36 else "apple_gpu_fraction_large"
        )
        return self.vram_gib_each * constant(share)

    @property
    def usable_gib_total(self) -> float:
        return self.usable_gib_each * self.count


class FitOption(BaseModel):
    """One precision's memory bill on given hardware, with the runtime that would run it."""

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
    runtime: str = ""
    command: str = ""
    tensor_parallel: int = 1
    budget_gib: float = 0.0


@dataclass(frozen=True)
class Shape:
    """The numbers memory depends on, with the catalog's gaps made explicit, and the weights."""

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
    native_precision: str = "bf16"
    weights: Weights = Weights("model", None, None)

    @classmethod
    def of(cls, v: Variant) -> Shape | None:
        """The shape of a catalog variant, or None when its size is unpublished."""
        if v.params_b is None:
            return None
        head_dim = v.head_dim
        if head_dim is None and v.hidden_size and v.attention_heads:
            head_dim = v.hidden_size // v.attention_heads
        native = v.native_precision or "bf16"
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
            native_precision=native,
            weights=Weights(v.name, v.hf_repo, v.ollama_tags[0] if v.ollama_tags else None, native),
        )

    def default_context(self) -> int:
        """A realistic working context: 8k, or the model's maximum when smaller."""
        return min(DEFAULT_CONTEXT, self.max_context or DEFAULT_CONTEXT)

    @property
    def kv_capped(self) -> bool:
        """True when sliding-window layers are known and capped at the window."""
        return bool(self.sliding_window and self.attention_layers and self.layers)


def weights_gib(params_b: float, precision_id: str) -> float:
    """Memory of the weights alone."""
    return params_b * 1e9 * precision(precision_id).bits_per_weight / 8 / GIB


def kv_cache_gib(shape: Shape, context: int, kv_type: str = "f16") -> float | None:
    """KV cache for ``context`` tokens, or None when the architecture numbers are unknown.

    Only full-attention layers (``attention_layers`` in hybrids, else every layer) hold a
    cache that grows with the context; when the catalog also gives a sliding window, the
    remaining layers hold at most the window. Linear-attention / SSM layers keep a small
    fixed state, left out.
    """
    layers = shape.attention_layers or shape.layers
    if layers is None:
        return None
    if shape.kv_width is not None:
        per_token_layer = float(shape.kv_width)
    elif shape.kv_heads is not None and shape.head_dim is not None:
        per_token_layer = 2.0 * shape.kv_heads * shape.head_dim
    else:
        return None
    tokens = layers * context
    if shape.kv_capped and shape.layers and shape.sliding_window:
        tokens += max(0, shape.layers - layers) * min(context, shape.sliding_window)
    return tokens * per_token_layer * kv_bytes(kv_type) / GIB


def compute_buffer_gib(shape: Shape, context: int, ubatch: float | None = None) -> float:
    """Scratch memory for one micro-batch: logits and activations, plus attention scores.

    Without flash attention the f32 score matrix (micro-batch x context x heads) is the
    large part at long contexts; we assume it, since that is what default llama.cpp logs
    show. With flash attention on, real use is lower. ``ubatch`` set means a serving
    engine's profile step: flash attention, no score matrix.
    """
    width = (shape.vocab_size or 32000) + 4 * (shape.hidden_size or 4096)
    if ubatch is not None:
        return ubatch * width * 4 / GIB
    scores = context * (shape.attention_heads or 32)
    return constant("compute_ubatch_tokens") * (width + scores) * 4 / GIB


def overhead_gib(shape: Shape, context: int, serving: bool = False) -> float:
    """Per-GPU overhead: CUDA context plus compute buffer, or a serving engine's activations."""
    if serving:  # the CUDA context sits outside vLLM's gpu_memory_utilization share
        return compute_buffer_gib(shape, context, constant("serving_batched_tokens"))
    return constant("cuda_context_gib") + compute_buffer_gib(shape, context)


def decode_tokens_per_s(
    shape: Shape,
    precision_id: str,
    kv_gib: float,
    hw: Hardware,
    offload_gib: float,
    tensor_parallel: int = 1,
) -> float:
    """Bandwidth-bound decode estimate: bytes read per token over usable bandwidth."""
    active_weights = weights_gib(shape.active_params_b, precision_id)
    total_weights = weights_gib(shape.params_b, precision_id)
    per_token_gib = active_weights + kv_gib
    efficiency = constant("decode_bandwidth_efficiency")
    bandwidth = hw.bandwidth_gbs * tensor_parallel ** constant("tp_speedup_exponent")
    if shape.active_params_b < shape.params_b:
        efficiency *= constant("moe_decode_efficiency")
    gpu_seconds = per_token_gib * GIB / (bandwidth * 1e9 * efficiency)
    if offload_gib > 0 and total_weights > 0:
        spilled = per_token_gib * min(1.0, offload_gib / total_weights)
        ram_bw = constant("system_ram_bandwidth_gbs") * 1e9 * efficiency
        gpu_seconds = (per_token_gib - spilled) * GIB / (hw.bandwidth_gbs * 1e9 * efficiency)
        gpu_seconds += spilled * GIB / ram_bw
    return round(1.0 / gpu_seconds, 1) if gpu_seconds > 0 else 0.0


def ladder(
    shape: Shape, hw: Hardware, precision_id: str | None = None, runtime: str | None = None
) -> tuple[Candidate, ...]:
    """The candidates tried on ``hw``: the one precision asked for, or the platform's ladder."""
    if precision_id:
        p = precision(precision_id)
        chosen = runtime or runtime_for(p.id, p.kind, hw.platform)
        return (Candidate(p.id, chosen),)
    return candidates(hw.platform, hw.formats, shape.native_precision, runtime)


def _plan(
    shape: Shape,
    hw: Hardware,
    c: Candidate,
    context: int,
    kv: float,
    allow_offload: bool,
) -> tuple[float, float, float, float, int, bool, float]:
    """Weights, overhead, total, budget, TP size, offload and spilled GiB: plain arithmetic."""
    weights = weights_gib(shape.params_b, c.precision)
    per_gpu = overhead_gib(shape, context, c.serving)
    if c.serving:
        share = hw.usable_gib_each * constant("gpu_memory_utilization")
        sizes = tensor_parallel_sizes(hw.count)
        tp = next((n for n in sizes if weights + kv + per_gpu * n <= share * n), sizes[-1])
        budget, overhead = share * tp, per_gpu * tp
    else:
        tp, budget, overhead = 1, hw.usable_gib_total, per_gpu * hw.count
    total = weights + kv + overhead
    spilled = max(0.0, total - budget)
    offload = (
        allow_offload
        and spilled > 0
        and not c.serving
        and hw.platform != "cpu"
        and hw.ram_gib is not None
        and spilled <= hw.ram_gib * 0.8
    )
    return weights, overhead, total, budget, tp, offload, spilled


def fit_option(
    shape: Shape,
    hw: Hardware,
    precision_id: str | Candidate,
    context: int,
    kv_type: str = "f16",
    allow_offload: bool = True,
) -> FitOption:
    """The memory bill of one candidate on ``hw``, with fit, headroom, offload and command."""
    c = precision_id if isinstance(precision_id, Candidate) else ladder(shape, hw, precision_id)[0]
    kv = kv_cache_gib(shape, context, kv_type) or 0.0
    return _option(shape, hw, c, context, kv, _plan(shape, hw, c, context, kv, allow_offload))


def _option(
    shape: Shape,
    hw: Hardware,
    c: Candidate,
    context: int,
    kv: float,
    plan: tuple[float, float, float, float, int, bool, float],
) -> FitOption:
    weights, overhead, total, budget, tp, offload, spilled = plan
    fits = total <= budget or offload
    speed = decode_tokens_per_s(shape, c.precision, kv, hw, spilled if offload else 0.0, tp)
    runtime, cmd = start(c, shape.weights, tp, context, offload, hw.platform == "cpu")
    return FitOption.model_construct(
        precision=precision(c.precision).id,
        weights_gib=round(weights, 2),
        kv_cache_gib=round(kv, 2),
        overhead_gib=round(overhead, 2),
        total_gib=round(total, 2),
        fits=fits,
        headroom_gib=round(budget - total, 2),
        offload=offload,
        offload_gib=round(spilled, 2) if offload else 0.0,
        est_tokens_per_s=speed if fits else None,
        runtime=runtime,
        command=cmd,
        tensor_parallel=tp,
        budget_gib=round(budget, 2),
    )


def fit_options(
    shape: Shape,
    hw: Hardware,
    context: int | None = None,
    precision_id: str | None = None,
    kv_type: str = "f16",
    runtime: str | None = None,
    allow_offload: bool = True,
) -> list[FitOption]:
    """Fit of every candidate on ``hw``, best quality first."""
    ctx = context or shape.default_context()
    return [
        fit_option(shape, hw, c, ctx, kv_type, allow_offload)
        for c in ladder(shape, hw, precision_id, runtime)
    ]


def best_option(
    options: list[FitOption], min_tokens_per_s: float | None = None
) -> FitOption | None:
    """The best candidate: highest quality in VRAM that meets the speed floor.

    When none in VRAM meets the floor, the fastest in VRAM; when nothing fits in VRAM, the
    fastest with CPU offload, since decode speed is then set by how much spills to system
    RAM (an expert would pick Q4_K_M, not Q8_0).
    """
    in_vram = [o for o in options if o.fits and not o.offload]
    floor = min_tokens_per_s or 0.0
    quick = next((o for o in in_vram if (o.est_tokens_per_s or 0.0) >= floor), None)
    if quick is not None:
        return quick
    pool = in_vram or [o for o in options if o.fits]
    return max(pool, key=lambda o: o.est_tokens_per_s or 0.0) if pool else None


def best_fit(
    shape: Shape,
    hw: Hardware,
    context: int | None = None,
    precision_id: str | None = None,
    kv_type: str = "f16",
    runtime: str | None = None,
    min_tokens_per_s: float | None = None,
    allow_offload: bool = True,
) -> FitOption | None:
    """Same answer as ``best_option(fit_options(...))``, computing only what it must.

    Rule evaluation asks this for every model in the catalog: a model whose smallest weights
    exceed every budget is out at once, and candidates are tried best first, stopping at the
    first that fits in memory at the speed floor.
    """
    ctx = context or shape.default_context()
    tried = ladder(shape, hw, precision_id, runtime)
    if not tried:
        return None
    smallest = min(precision(c.precision).bits_per_weight for c in tried)
    room = hw.usable_gib_total + (hw.ram_gib or 0.0) * (0.8 if allow_offload else 0.0)
    if shape.params_b * 1e9 * smallest / 8 / GIB > room:
        return None
    kv = kv_cache_gib(shape, ctx, kv_type) or 0.0
    floor = min_tokens_per_s or 0.0
    options: list[FitOption] = []
    for c in tried:
        plan = _plan(shape, hw, c, ctx, kv, allow_offload)
        if plan[2] > plan[3] and not plan[5]:
            continue  # does not fit at all: no option object needed
        option = _option(shape, hw, c, ctx, kv, plan)
        if not option.offload and (option.est_tokens_per_s or 0.0) >= floor:
            return option
        options.append(option)
    return best_option(options, min_tokens_per_s)
