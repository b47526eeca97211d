"""Which runtime serves which weight format on which hardware, and how to start it.

Four platforms, each with its own world of formats:

* **datacenter** (catalog segment datacenter / workstation): vLLM or SGLang load
  safetensors at the model's native precision (bf16, or fp8 / mxfp4 / int4 when it ships
  so), fp8 on GPUs with FP8 tensor cores, nvfp4 on Blackwell, and AWQ / GPTQ int4; tensor
  parallel across 1, 2, 4 or 8 GPUs of one node, within ``gpu_memory_utilization``.
* **consumer** NVIDIA / AMD cards: Ollama or llama.cpp with GGUF k-quants, or vLLM with AWQ.
* **apple**: Ollama / llama.cpp (GGUF) or MLX 8-bit / 4-bit, in the share of unified
  memory the GPU may wire.
* **cpu**: llama.cpp GGUF from system RAM.

A precision above the native one is never offered (serving DeepSeek-V3 at bf16 only
doubles its memory). The start commands are generic and correct: an ``ollama run <tag>``
when the model has an Ollama tag (its default tag is Q4_K_M; gpt-oss is MXFP4), a
``vllm serve <repo> --tensor-parallel-size N`` line, an ``mlx_lm`` conversion and server.
A placeholder in angle brackets names a checkpoint the user must pick (an AWQ build).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.yamlfile import parse_yaml

DATA = Path(__file__).resolve().parent / "data"

GGUF_LADDER = ("bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m")
BITS_ORDER = ("fp32", "bf16", "fp8", "q8_0", "mlx_8bit", "int8", "q6_k", "q5_k_m")
#: Runtime names a user may state, by the family of formats each loads.
GGUF_RUNTIMES = frozenset({"ollama", "llama.cpp"})
SERVING_RUNTIMES = frozenset({"vllm", "sglang", "tgi"})
NATIVE_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "mxfp4": 4, "nvfp4": 4, "int4": 4}


@dataclass(frozen=True)
class Candidate:
    """One way to run a model: a weight precision and the runtime that loads it."""

    precision: str
    runtime: str

    @property
    def serving(self) -> bool:
        """vLLM-style: memory reserved by utilisation, tensor parallel, no CPU offload."""
        return self.runtime in SERVING_RUNTIMES


@cache
def _generations() -> tuple[tuple[str, tuple[str, ...], frozenset[str]], ...]:
    raw = parse_yaml((DATA / "runtime.yaml").read_text(encoding="utf-8"))
    return tuple(
        (g["id"], tuple(g["match"]), frozenset(g["formats"])) for g in raw["gpu_generations"]
    )


def gpu_generation(gpu_id: str) -> tuple[str, frozenset[str]]:
    """The architecture generation of a catalog GPU id and the low-bit formats it runs."""
    for name, patterns, formats in _generations():
        if any(p in gpu_id for p in patterns):
            return name, formats
    return "unknown", frozenset({"awq", "gptq"})


def platform_of(segment: str, vendor: str, cpu_only: bool = False) -> str:
    """datacenter, consumer, apple or cpu, from a catalog GPU's segment and vendor."""
    if cpu_only:
        return "cpu"
    if vendor == "apple" or segment == "apple":
        return "apple"
    if segment in ("datacenter", "workstation"):
        return "datacenter"
    return "consumer"


def _not_above_native(precisions: tuple[str, ...], native: str) -> tuple[str, ...]:
    limit = NATIVE_BITS.get(native, 16)
    bits = {"fp32": 32, "bf16": 16, "fp8": 8, "q8_0": 8, "mlx_8bit": 8, "int8": 8}
    return tuple(p for p in precisions if bits.get(p, 6) <= limit)


@cache
def candidates(
    platform: str, formats: frozenset[str], native: str, runtime: str | None = None
) -> tuple[Candidate, ...]:
    """The ways to run a model of ``native`` precision on a platform, best quality first."""
    native = "bf16" if native in ("fp16", "fp32") else native
    found: list[Candidate] = []
    if platform == "datacenter":
        engine = runtime if runtime in SERVING_RUNTIMES else "vllm"
        found.append(Candidate(native, engine))
        if native == "bf16" and "fp8" in formats:
            found.append(Candidate("fp8", engine))
        if native in ("bf16", "fp8"):
            found += [Candidate(p, engine) for p in ("nvfp4", "awq") if p in formats]
    elif platform in ("consumer", "apple", "cpu"):
        gguf = "llama.cpp" if runtime == "llama.cpp" or platform == "cpu" else "ollama"
        if native == "mxfp4":
            found.append(Candidate("mxfp4", gguf))
        elif native == "int4":
            found.append(Candidate("q4_k_m", gguf))
        else:
            found += [Candidate(p, gguf) for p in _not_above_native(GGUF_LADDER, native)]
        if platform == "apple":
            mlx = [p for p in ("mlx_8bit", "mlx_4bit") if native != "mxfp4" or p == "mlx_4bit"]
            found += [Candidate(p, "mlx") for p in _not_above_native(tuple(mlx), native)]
        if platform == "consumer" and native in ("bf16", "fp8"):
            found.append(Candidate("awq", "vllm"))
    if runtime:
        wanted = _runtime_family(runtime)
        found = [c for c in found if _runtime_family(c.runtime) == wanted]
    return tuple(sorted(found, key=lambda c: _quality_rank(c.precision)))


def _runtime_family(runtime: str) -> str:
    if runtime in GGUF_RUNTIMES:
        return "gguf"
    if runtime in SERVING_RUNTIMES:
        return "serving"
    return runtime


def _quality_rank(precision: str) -> int:
    order = (*BITS_ORDER, "mxfp4", "nvfp4", "q4_k_m", "mlx_4bit", "awq", "gptq", "int4")
    return order.index(precision) if precision in order else len(order)


def runtime_for(precision: str, kind: str, platform: str) -> str:
    """The natural runtime for a precision asked for by name (its format decides)."""
    if kind == "mlx":
        return "mlx"
    local = platform in ("consumer", "apple", "cpu")
    if kind == "gguf" or (local and precision in ("bf16", "fp32", "mxfp4")):
        return "llama.cpp" if platform == "cpu" else "ollama"
    return "vllm"


def tensor_parallel_sizes(count: int) -> tuple[int, ...]:
    """Tensor-parallel sizes a node of ``count`` GPUs allows: 1, 2, 4, 8 up to the count."""
    return tuple(n for n in (1, 2, 4, 8) if n <= count) or (1,)


@dataclass(frozen=True)
class Weights:
    """Where a model's weights come from, for start commands."""

    name: str
    hf_repo: str | None
    ollama_tag: str | None
    native: str = "bf16"


def start(
    c: Candidate, w: Weights, tp: int, context: int, offload: bool = False, on_cpu: bool = False
) -> tuple[str, str]:
    """The runtime that will actually run ``c`` and the command that starts it."""
    repo = w.hf_repo or f"<Hugging Face repository of {w.name}>"
    if c.runtime in GGUF_RUNTIMES:
        repo = w.hf_repo or w.name
        if c.runtime == "ollama" and w.ollama_tag and c.precision in ("q4_k_m", "mxfp4"):
            return "ollama", f"ollama run {w.ollama_tag}"
        layers = "0" if on_cpu else "<as many as fit>" if offload else "99"
        gguf = f"<{c.precision.upper()} GGUF of {repo}>"
        return "llama.cpp", f"llama-server -m {gguf} -c {context} --n-gpu-layers {layers}"
    if c.runtime == "mlx":
        bits = 8 if c.precision == "mlx_8bit" else 4
        return "mlx", (
            f"mlx_lm.convert --hf-path {repo} -q --q-bits {bits} && mlx_lm.server --model mlx_model"
        )
    source = repo
    if c.precision in ("awq", "gptq", "nvfp4", "int4") and c.precision != w.native:
        source = f"<{c.precision.upper()} checkpoint of {w.hf_repo or w.name}>"
    quantize = " --quantization fp8" if c.precision == "fp8" and w.native != "fp8" else ""
    if c.runtime == "sglang":
        return "sglang", f"python -m sglang.launch_server --model-path {source} --tp {tp}{quantize}"
    return "vllm", (
        f"vllm serve {source} --tensor-parallel-size {tp} --max-model-len {context}{quantize}"
    )
