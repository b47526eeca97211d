"""Catalog tables (sqlmodel).

List-valued facts (aliases, tags, languages, conditions) are JSON columns: they are read
whole and never joined on, and JSON keeps the schema the same on SQLite and PostgreSQL.
Every row has an ``origin`` ("curated" from knowledge/data, or a sync source such as
"hf"), so a curated reload never deletes synced facts and synced facts never overwrite
curated ones. Sources live in their own table, keyed by entity kind and id.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Provider(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    kind: str
    country: str
    url: str
    aliases: list[str] = _json()
    origin: str = "curated"


class License(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    kind: str
    spdx: bool = False
    url: str
    commercial: str
    conditions: list[str] = _json()
    copyleft: bool = False
    noncommercial: bool = False
    no_derivatives: bool = False
    attribution: bool = False
    use_restrictions: list[str] = _json()
    user_cap_mau: int | None = None
    output_training_restriction: bool = False
    naming_duty: str | None = None
    regional_exclusions: list[str] = _json()
    origin: str = "curated"


class Gpu(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    vendor: str
    segment: str
    vram_gib: float
    bandwidth_gbs: float
    unified_memory: bool = False
    aliases: list[str] = _json()
    cloud_price_per_hour: float | None = None
    origin: str = "curated"


class Family(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    provider_id: str = Field(foreign_key="provider.id", index=True)
    description: str
    aliases: list[str] = _json()
    preferred: list[str] = _json()
    origin: str = "curated"


class Variant(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    family_id: str = Field(foreign_key="family.id", index=True)
    provider_id: str = Field(foreign_key="provider.id", index=True)
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
    modalities: list[str] = _json()
    languages: list[str] = _json()
    capabilities: list[str] = _json()
    license_id: str = Field(foreign_key="license.id", index=True)
    hf_repo: str | None = None
    ollama_tags: list[str] = _json()
    aliases: list[str] = _json()
    base_model: str | None = None
    notes: str | None = None
    origin: str = "curated"


class BenchmarkResult(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    variant_id: str = Field(foreign_key="variant.id", index=True)
    name: str
    score: float
    unit: str = "%"
    setting: str | None = None
    source_url: str
    as_of: date
    origin: str = "curated"


class Offering(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    variant_id: str = Field(foreign_key="variant.id", index=True)
    seller_id: str = Field(foreign_key="provider.id")
    input_per_m: float
    output_per_m: float
    cached_input_per_m: float | None = None
    notes: str | None = None
    source_url: str
    as_of: date
    origin: str = "curated"


class Source(SQLModel, table=True):
    """One citation: ``entity_kind`` is provider / license / gpu / variant."""

    id: int | None = Field(default=None, primary_key=True)
    entity_kind: str = Field(index=True)
    entity_id: str = Field(index=True)
    url: str
    as_of: date
    fields: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    note: str | None = None
    origin: str = "curated"


class SchemaMigration(SQLModel, table=True):
    """Named schema steps already applied to this database."""

    name: str = Field(primary_key=True)
    applied_at: str


class TeamProfile(SQLModel, table=True):
    """Defaults a workspace or channel applies to every question asked there.

    ``channel`` is empty for a workspace-wide profile; a channel profile overrides it
    field by field.
    """

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(index=True)
    workspace: str = Field(index=True)
    channel: str = Field(default="", index=True)
    gpu: str | None = None
    gpu_count: int | None = None
    vram_gib: float | None = None
    commercial: bool | None = None
    open_weights: bool | None = None
    language: str | None = None
    ollama_model: str | None = None
    rules_pack: str | None = None
    updated_by: str = ""
    updated_at: str = ""


class Job(SQLModel, table=True):
    """A trial or eval run: queued, running, done, failed, cancelled or interrupted."""

    id: str = Field(primary_key=True)
    kind: str
    status: str = Field(index=True)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    progress: str = ""
    error: str | None = None
    user: str = ""
    platform: str = ""
    channel: str = ""
    thread: str = ""
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    worker: str | None = None  # the worker that claimed it, "host:pid:nonce"
    heartbeat_at: float | None = None  # epoch seconds; the claim lapses without a beat
    cancel_requested: bool = False


class DigestSubscription(SQLModel, table=True):
    """One channel subscribed to the weekly digest."""

    __table_args__ = (UniqueConstraint("platform", "workspace", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(index=True)
    workspace: str = Field(index=True)
    channel: str = Field(index=True)
    language: str = "en"
    created_by: str = ""
    created_at: str = ""  # ISO 8601 in UTC, like the other tables' timestamps
    last_week_key: str = ""  # e.g. "2026-W48"; empty until the first post


class Conversation(SQLModel, table=True):
    """One person's conversation in one chat thread (or DM): what a follow-up refines.

    ``key`` is platform:workspace:channel:thread:user; the state is the advisor's Thread
    (requirements, models, intent, recent messages) as JSON, so restarts and replicas share it.
    """

    key: str = Field(primary_key=True)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: float = Field(default=0.0, index=True)  # seconds since the epoch


class ProcessedEvent(SQLModel, table=True):
    """A chat platform event already answered; a retry or a second replica skips it."""

    id: str = Field(primary_key=True)
    seen_at: float = Field(default=0.0, index=True)


class RateHit(SQLModel, table=True):
    """One question a user asked, for the per-user rate-limit window shared by replicas."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True)
    at: float = Field(index=True)


class JobScope(SQLModel, table=True):
    """Which chat workspace a job belongs to, so /jobs and cancel stay within it."""

    job_id: str = Field(primary_key=True)
    platform: str = Field(index=True)
    workspace: str = Field(index=True)
