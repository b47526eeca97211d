"""The catalog's facts as plain models: what every reader of the catalog works with.

These are the one definition of each fact's fields. The database tables in
knowledge/tables.py inherit them and add only storage details (keys, indexes, JSON
columns), and the catalog snapshot (knowledge/snapshot.py) stores them as JSON. Keeping
the read side free of SQLAlchemy is what lets a command such as ``advisor fit`` answer
from the snapshot without importing the ORM at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from pydantic import BaseModel, Field

#: The ``origin`` of entries made in memory from synced rows (knowledge/synced_view.py).
SYNCED = "synced"


class Provider(BaseModel):
    id: str
    name: str
    kind: str
    country: str
    url: str
    aliases: list[str] = Field(default_factory=list)
    origin: str = "curated"


class License(BaseModel):
    id: str
    name: str
    kind: str
    spdx: bool = False
    url: str
    commercial: str
    conditions: list[str] = Field(default_factory=list)
    copyleft: bool = False
    noncommercial: bool = False
    no_derivatives: bool = False
    attribution: bool = False
    use_restrictions: list[str] = Field(default_factory=list)
    user_cap_mau: int | None = None
    output_training_restriction: bool = False
    naming_duty: str | None = None
    regional_exclusions: list[str] = Field(default_factory=list)
    origin: str = "curated"


class Gpu(BaseModel):
    id: str
    name: str
    vendor: str
    segment: str
    vram_gib: float
    bandwidth_gbs: float
    unified_memory: bool = False
    aliases: list[str] = Field(default_factory=list)
    cloud_price_per_hour: float | None = None
    origin: str = "curated"


class Family(BaseModel):
    id: str
    name: str
    provider_id: str
    description: str
    aliases: list[str] = Field(default_factory=list)
    preferred: list[str] = Field(default_factory=list)
    origin: str = "curated"


class Variant(BaseModel):
    id: str
    name: str
    family_id: str
    provider_id: str
    release_date: date
    availability: str
    flavor: str
    architecture: str | None = None
    params_b: float | None = None
    active_params_b: float | None = None
    layers: int | None = None
    attention_heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    hidden_size: int | None = None
    intermediate_size: int | None = None
    gated_ffn: bool | None = None
    experts: int | None = None
    experts_active: int | None = None
    vocab_size: int | None = None
    context_length: int | None = None
    sliding_window: int | None = None
    attention_layers: int | None = None
    kv_width: int | None = None
    native_precision: str | None = None  # bf16 when unset; fp8 / mxfp4 / nvfp4 / int4 ship smaller
    modalities: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list)
    license_id: str
    hf_repo: str | None = None
    ollama_tags: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    base_model: str | None = None
    notes: str | None = None
    origin: str = "curated"


class BenchmarkResult(BaseModel):
    id: int | None = None
    variant_id: str
    name: str
    score: float
    unit: str = "%"
    setting: str | None = None
    source_url: str
    as_of: date
    origin: str = "curated"


class Offering(BaseModel):
    id: int | None = None
    variant_id: str
    seller_id: str
    input_per_m: float
    output_per_m: float
    cached_input_per_m: float | None = None
    notes: str | None = None
    source_url: str
    as_of: date
    origin: str = "curated"


class Source(BaseModel):
    """One citation: ``entity_kind`` is provider / license / gpu / variant."""

    id: int | None = None
    entity_kind: str
    entity_id: str
    url: str
    as_of: date
    fields: list[str] | None = None
    note: str | None = None
    origin: str = "curated"


@dataclass(frozen=True)
class Catalog:
    """Everything in the catalog, indexed by id."""

    providers: dict[str, Provider]
    licenses: dict[str, License]
    gpus: dict[str, Gpu]
    families: dict[str, Family]
    variants: dict[str, Variant]
    benchmarks: dict[str, list[BenchmarkResult]] = field(default_factory=dict)
    offerings: dict[str, list[Offering]] = field(default_factory=dict)
    sources: dict[tuple[str, str], list[Source]] = field(default_factory=dict)

    def family_variants(self, family_id: str) -> list[Variant]:
        """The variants of one family, smallest first, then by release date."""
        found = [v for v in self.variants.values() if v.family_id == family_id]
        return sorted(found, key=lambda v: (v.params_b or 0.0, v.release_date, v.id))

    def sources_of(self, kind: str, entity_id: str) -> list[Source]:
        """Citations for one entity (kind: provider, license, gpu, variant)."""
        return self.sources.get((kind, entity_id), [])

    @cached_property
    def as_of(self) -> date | None:
        """The newest date any fact was read: how fresh the catalog is."""
        dates = [s.as_of for group in self.sources.values() for s in group if s.origin != SYNCED]
        return max(dates) if dates else None
