"""Hardware fit for one model: memory at each precision, the best choice, and notes.

This is what ``advisor fit`` prints and what the hardware rules consult: the hardware is
resolved from the requirements (a catalog GPU and count, or bare VRAM), the context is the
one asked for or a realistic default, and each option says whether it fits, with how much
headroom, whether it needs CPU offload, and an estimated decode speed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from core.errors import CatalogError
from knowledge.catalog import Catalog, Variant
from knowledge.resolve import resolve_gpu
from rules.memory import FitOption, Hardware, Shape, best_option, fit_options
from rules.requirements import Requirements

#: Decode speed below which an interactive user waits on every sentence (tokens/s).
INTERACTIVE_FLOOR = 10.0


class HardwareView(BaseModel):
    model_config = ConfigDict(frozen=True)

    gpu: str
    count: int
    vram_gib_total: float
    usable_gib_total: float
    unified_memory: bool
    ram_gib: float | None
    platform: str = "consumer"


class FitReport(BaseModel):
    """The memory bill of one model on one machine."""

    model_config = ConfigDict(frozen=True)

    model: str
    hardware: HardwareView
    context: int
    options: list[FitOption]
    best: FitOption | None
    notes: list[str]


def hardware_for(
    catalog: Catalog, req: Requirements, apple_gpu_fraction: float | None = None
) -> Hardware | None:
    """The machine described by the requirements, or None when none was given.

    Stated memory wins over the catalog SKU's; ``apple_gpu_fraction`` overrides the share
    of unified memory the GPU may wire (default: about 2/3 up to 36 GB, 3/4 above).
    """
    if req.gpu:
        gpu = resolve_gpu(catalog, req.gpu)
        return Hardware.from_gpu(gpu, req.gpu_count, req.ram_gib, req.vram_gib, apple_gpu_fraction)
    if req.vram_gib:
        return Hardware.from_vram(req.vram_gib, req.gpu_count, req.ram_gib)
    if req.cpu_only and req.ram_gib:
        return Hardware.cpu(req.ram_gib)
    return None


def speed_floor(req: Requirements) -> float | None:
    """The decode speed a pick must reach: stated, else interactive unless batch work."""
    if req.min_tokens_per_s is not None:
        return req.min_tokens_per_s
    return None if req.batch else INTERACTIVE_FLOOR


def _notes(
    v: Variant,
    shape: Shape,
    hw: Hardware,
    context: int,
    best: FitOption | None,
    options: list[FitOption],
) -> list[str]:
    notes: list[str] = []
    if shape.max_context and context > shape.max_context:
        notes.append(
            f"{v.name} supports {shape.max_context} tokens; {context} is beyond its context."
        )
    if shape.kv_heads is None or shape.layers is None:
        notes.append(
            "KV cache not estimated: the catalog lacks this model's layer or KV-head count."
        )
    if shape.sliding_window and not shape.kv_capped:
        notes.append(
            f"Sliding-window attention ({shape.sliding_window} tokens): runtimes that cache "
            "only the window need less KV memory than shown."
        )
    if v.architecture == "moe" and v.active_params_b:
        notes.append(
            f"Mixture of experts: all {v.params_b:g}B parameters must be resident; "
            f"speed follows the {v.active_params_b:g}B active per token."
        )
    if shape.attention_layers and shape.layers and shape.attention_layers < shape.layers:
        notes.append(
            f"Only {shape.attention_layers} of {shape.layers} layers use full attention, so only "
            "they hold a KV cache that grows with the context."
        )
    if hw.unified and hw.platform == "apple":
        notes.append(
            f"Apple unified memory: macOS lets the GPU use about {hw.usable_gib_each:.0f} of "
            f"{hw.vram_gib_each:g} GiB by default (raise it with sysctl iogpu.wired_limit_mb)."
        )
    if best is not None and best.runtime in ("vllm", "sglang"):
        notes.append(
            f"Served with {best.runtime} (SGLang works the same way): weights, activations and "
            f"the KV pool within 90 % of each GPU's memory, tensor parallel over "
            f"{best.tensor_parallel} of {hw.count} GPU(s)."
        )
    if v.native_precision and v.native_precision not in ("bf16", "fp16"):
        notes.append(f"{v.name} ships natively in {v.native_precision}: that is full quality.")
    if best is not None and best.offload:
        notes.append(
            f"Needs {best.offload_gib:g} GiB offloaded to system RAM: "
            "expect decode several times slower."
        )
    if best is None and not options:
        notes.append(f"No runtime serves this model on {hw.name} with the format asked for.")
    elif best is None:
        notes.append(
            "Does not fit at any precision tried; more or larger GPUs, or a smaller context."
        )
    notes.append("Memory and speed are estimates (weights + KV cache + runtime overhead).")
    return notes


def fit_report(
    catalog: Catalog, v: Variant, req: Requirements, apple_gpu_fraction: float | None = None
) -> FitReport:
    """Fit ``v`` on the requirements' hardware at their context and precision."""
    hw = hardware_for(catalog, req, apple_gpu_fraction)
    if hw is None:
        raise CatalogError(
            "Say which hardware: a GPU (--gpu 'RTX 4090' [--gpus 2]), memory (--vram 24) "
            "or CPU only with its RAM."
        )
    if v.availability != "open-weights":
        raise CatalogError(
            f"{v.name} has no downloadable weights ({v.availability}); it cannot be self-hosted."
        )
    shape = Shape.of(v)
    if shape is None:
        raise CatalogError(
            f"{v.name} has no published parameter count, so its memory cannot be estimated."
        )
    context = req.context or shape.default_context()
    options = fit_options(
        shape,
        hw,
        context,
        req.precision,
        runtime=req.runtime,
        allow_offload=req.offload is not False,
    )
    best = best_option(options, speed_floor(req))
    view = HardwareView(
        gpu=hw.name,
        count=hw.count,
        vram_gib_total=round(hw.vram_gib_each * hw.count, 2),
        usable_gib_total=round(hw.usable_gib_total, 2),
        unified_memory=hw.unified,
        ram_gib=hw.ram_gib,
        platform=hw.platform,
    )
    return FitReport(
        model=v.id,
        hardware=view,
        context=context,
        options=options,
        best=best,
        notes=_notes(v, shape, hw, context, best, options),
    )
