"""What a team needs from a model: the one typed object every entry point builds.

Unset fields mean "no requirement", and a rule whose ``when`` mentions an unset field does
not apply. :meth:`Requirements.activation` is the view rule expressions see as ``req``:
every number a float (CEL does not mix int and double) and every unset value null.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from knowledge.vocab import Capability


class Deployment(StrEnum):
    self_host = "self-host"
    api = "api"
    either = "either"


class Requirements(BaseModel):
    """Constraints and preferences for choosing a model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commercial: bool | None = Field(default=None, description="Will it be used commercially?")
    open_weights: bool | None = Field(default=None, description="Only downloadable weights")
    deployment: Deployment = Deployment.either
    licenses_allowed: list[str] = Field(default_factory=list, description="License ids or kinds")
    licenses_denied: list[str] = Field(default_factory=list, description="License ids or kinds")
    providers_allowed: list[str] = Field(default_factory=list)
    providers_denied: list[str] = Field(default_factory=list)
    gpu: str | None = Field(default=None, description="GPU id from the catalog")
    gpu_count: int = Field(default=1, ge=1, le=64)
    vram_gib: float | None = Field(
        default=None,
        gt=0,
        description="Memory per GPU as stated; with a gpu id it wins over that SKU's memory",
    )
    ram_gib: float | None = Field(default=None, gt=0, description="System RAM for CPU offload")
    cpu_only: bool = Field(default=False, description="No GPU: run from system RAM")
    offload: bool | None = Field(default=None, description="CPU offload allowed (None: if needed)")
    runtime: str | None = Field(default=None, description="ollama, llama.cpp, mlx, vllm, sglang")
    precision: str | None = Field(default=None, description="bf16, fp8, awq, q8_0, q4_k_m ...")
    batch: bool = Field(default=False, description="Offline/batch work: no interactive speed floor")
    min_tokens_per_s: float | None = Field(
        default=None, gt=0, description="Stated speed floor; interactive default about 10"
    )
    context: int | None = Field(default=None, gt=0, description="Context length needed, tokens")
    capabilities: list[Capability] = Field(default_factory=list)
    tasks: list[str] = Field(
        default_factory=list, description="summarization, translation, chat, qa, extraction ..."
    )
    languages: list[str] = Field(default_factory=list, description="ISO codes, e.g. en, zh")
    flavors: list[str] = Field(
        default_factory=list, description="Wanted flavours; default chat-style"
    )
    min_scores: dict[str, float] = Field(default_factory=dict, description="Benchmark -> minimum")
    max_input_price: float | None = Field(default=None, ge=0, description="US$ per 1M input tokens")
    max_output_price: float | None = Field(
        default=None, ge=0, description="US$ per 1M output tokens"
    )
    monthly_budget: float | None = Field(default=None, ge=0, description="US$ per month")
    requests_per_day: float | None = Field(default=None, ge=0)
    tokens_in: float = Field(default=1000, ge=0, description="Input tokens per request")
    tokens_out: float = Field(default=300, ge=0, description="Output tokens per request")
    mau: int | None = Field(default=None, ge=0, description="Monthly active users of the product")
    train_on_outputs: bool | None = Field(
        default=None, description="Will outputs train other models?"
    )

    @property
    def has_hardware(self) -> bool:
        return self.gpu is not None or self.vram_gib is not None

    def activation(self) -> dict[str, Any]:
        """The ``req`` value rule expressions read: floats for numbers, null when unset."""
        data = self.model_dump(mode="json")
        for key, value in data.items():
            if isinstance(value, int) and not isinstance(value, bool):
                data[key] = float(value)
        data["min_scores"] = {k: float(v) for k, v in self.min_scores.items()}
        data["has_hardware"] = self.has_hardware
        data["hardware"] = self.hardware_label()
        return data

    def hardware_label(self) -> str | None:
        """The hardware in words: "2x rtx-4090", "1x m3-max-128gb with 64 GiB", "CPU only"."""
        if self.gpu:
            stated = f" with {self.vram_gib:g} GiB" if self.vram_gib else ""
            return f"{self.gpu_count}x {self.gpu}{stated}"
        if self.vram_gib:
            return f"{self.gpu_count}x {self.vram_gib:g} GiB GPU"
        if self.cpu_only:
            ram = f", {self.ram_gib:g} GiB RAM" if self.ram_gib else ""
            return f"CPU only{ram}"
        return None

    def described(self, lang: str = "en") -> list[str]:
        """Short phrases for what was asked ("commercial use", "1x rtx-4090", "context 32k")."""
        zh = lang == "zh"
        parts: list[str] = []
        if self.commercial:
            parts.append("商用" if zh else "commercial use")
        if self.open_weights:
            parts.append("开放权重" if zh else "open weights")
        if self.deployment != Deployment.either:
            parts.append(
                {"self-host": "本地部署", "api": "API"}[self.deployment.value]
                if zh
                else self.deployment.value
            )
        label = self.hardware_label()
        if label:
            parts.append(label)
        if self.ram_gib and not self.cpu_only:
            parts.append(f"内存 {self.ram_gib:g} GiB" if zh else f"{self.ram_gib:g} GiB RAM")
        if self.context:
            size = f"{self.context // 1024}k" if self.context >= 1024 else str(self.context)
            parts.append(f"上下文 {size}" if zh else f"context {size}")
        parts += self.tasks
        parts += [c.value for c in self.capabilities if c.value not in self.tasks]
        if self.languages:
            parts.append(("语言 " if zh else "languages ") + ", ".join(self.languages))
        if self.max_output_price is not None:
            parts.append(f"at most ${self.max_output_price:g}/1M output tokens")
        if self.monthly_budget is not None:
            parts.append(f"budget ${self.monthly_budget:g}/month")
        if self.mau is not None:
            parts.append(f"{self.mau:,} monthly users")
        if self.requests_per_day is not None:
            parts.append(
                f"{self.requests_per_day:,.0f} requests/day "
                f"({self.tokens_in:,.0f} in / {self.tokens_out:,.0f} out tokens)"
            )
        return parts
