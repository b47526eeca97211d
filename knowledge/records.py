"""The shape of curated catalog data, as pydantic models.

Every YAML file under ``knowledge/data`` is one :class:`DataFile`: any of the sections
``providers``, ``licenses``, ``gpus``, ``families`` and ``offerings``. Validation is strict
(unknown fields and wrong types are errors) because these files are edited by hand and a
typo that silently drops a fact would make the advisor wrong without anyone noticing.

Each entry carries ``sources``: a list of ``{url, as_of, fields?}``. A source without
``fields`` backs the whole entry; one with ``fields`` backs only those fields, so a variant
can cite its config.json for architecture numbers and its model card for the license.
A family's ``defaults`` are merged into each of its variants before validation, so shared
facts (provider, license, architecture) are written once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from knowledge.vocab import (
    ArchitectureKind,
    Availability,
    Capability,
    Commercial,
    Flavor,
    GpuSegment,
    GpuVendor,
    LicenseKind,
    NativePrecision,
    ProviderKind,
)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._+-]*$", max_length=80)]


class Strict(BaseModel):
    """Base for curated records: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where a fact comes from and when it was read."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    as_of: date
    fields: list[str] | None = None
    note: str | None = None


class Provider(Strict):
    id: Slug
    name: str
    kind: ProviderKind
    country: str
    url: str
    aliases: list[str] = []
    sources: list[Source] = Field(min_length=1)


class License(Strict):
    id: Slug
    name: str
    kind: LicenseKind
    spdx: bool = False
    url: str
    commercial: Commercial
    conditions: list[str] = []
    copyleft: bool = False
    noncommercial: bool = False
    no_derivatives: bool = False
    attribution: bool = False
    use_restrictions: list[str] = []
    user_cap_mau: int | None = None
    output_training_restriction: bool = False
    naming_duty: str | None = None
    regional_exclusions: list[str] = []
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _conditional_needs_conditions(self) -> License:
        if self.commercial == Commercial.conditional and not self.conditions:
            raise ValueError("a conditional license must list its conditions")
        return self


class Gpu(Strict):
    id: Slug
    name: str
    vendor: GpuVendor
    segment: GpuSegment
    vram_gib: float = Field(gt=0)
    bandwidth_gbs: float = Field(gt=0)
    unified_memory: bool = False
    aliases: list[str] = []
    cloud_price_per_hour: float | None = Field(default=None, gt=0)
    sources: list[Source] = Field(min_length=1)


class Benchmark(Strict):
    """One published score, e.g. MMLU 5-shot 68.4 from the model card."""

    name: str
    score: float
    unit: str = "%"
    setting: str | None = None
    source: Source


class Variant(Strict):
    id: Slug
    name: str
    provider: Slug
    release_date: date
    availability: Availability
    flavor: Flavor
    architecture: ArchitectureKind | None = None
    params_b: float | None = Field(default=None, gt=0)
    active_params_b: float | None = Field(default=None, gt=0)
    layers: int | None = Field(default=None, gt=0)
    attention_heads: int | None = Field(default=None, gt=0)
    kv_heads: int | None = Field(default=None, gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    hidden_size: int | None = Field(default=None, gt=0)
    intermediate_size: int | None = Field(default=None, gt=0)
    gated_ffn: bool | None = None
    experts: int | None = Field(default=None, gt=0)
    experts_active: int | None = Field(default=None, gt=0)
    vocab_size: int | None = Field(default=None, gt=0)
    context_length: int | None = Field(default=None, gt=0)
    sliding_window: int | None = Field(default=None, gt=0)
    attention_layers: int | None = Field(default=None, gt=0)
    kv_width: int | None = Field(default=None, gt=0)
    native_precision: NativePrecision | None = None
    modalities: list[str] = ["text"]
    languages: list[str] = []
    capabilities: list[Capability] = []
    license: Slug
    hf_repo: str | None = None
    ollama_tags: list[str] = []
    aliases: list[str] = []
    base_model: Slug | None = None
    benchmarks: list[Benchmark] = []
    notes: str | None = None
    sources: list[Source] = Field(min_length=1)


class Family(Strict):
    id: Slug
    name: str
    provider: Slug
    description: str
    aliases: list[str] = []
    preferred: list[Slug] = []
    defaults: dict[str, object] = {}
    variants: list[Variant] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: object) -> object:
        """Give each variant the family's provider and defaults unless it sets its own."""
        if not isinstance(data, dict) or not isinstance(data.get("variants"), list):
            return data
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            return data
        base = {"provider": data.get("provider"), **defaults}
        merged = [
            {**base, **variant} if isinstance(variant, dict) else variant
            for variant in data["variants"]
        ]
        return {**data, "variants": merged}


class Offering(Strict):
    """A price for one variant from one API seller, per million tokens in US dollars."""

    variant: Slug
    seller: Slug
    input_per_m: float = Field(ge=0)
    output_per_m: float = Field(ge=0)
    cached_input_per_m: float | None = Field(default=None, ge=0)
    notes: str | None = None
    source: Source


class DataFile(Strict):
    providers: list[Provider] = []
    licenses: list[License] = []
    gpus: list[Gpu] = []
    families: list[Family] = []
    offerings: list[Offering] = []
