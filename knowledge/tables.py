"""The database tables (sqlmodel): the catalog's facts as stored, and the advisor's state.

A catalog table inherits its fields from the plain model in knowledge/catalog.py and adds
only what storage needs: keys, foreign keys, indexes and JSON columns. List-valued facts
(aliases, tags, languages, conditions) are JSON columns: they are read whole and never
joined on, and JSON keeps the schema the same on SQLite and PostgreSQL. Every catalog row
has an ``origin`` ("curated" from knowledge/data, or a sync source such as "hf"), so a
curated reload never deletes synced facts and synced facts never overwrite curated ones.
Sources live in their own table, keyed by entity kind and id.

The rest are the advisor's own state: team profiles, jobs, digest subscriptions and the
chat tables that restarts and replicas share.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from knowledge import catalog


def _json() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ProviderRow(SQLModel, catalog.Provider, table=True):
    __tablename__ = "provider"
    id: str = Field(primary_key=True)
    aliases: list[str] = _json()


class LicenseRow(SQLModel, catalog.License, table=True):
    __tablename__ = "license"
    id: str = Field(primary_key=True)
    conditions: list[str] = _json()
    use_restrictions: list[str] = _json()
    regional_exclusions: list[str] = _json()


class GpuRow(SQLModel, catalog.Gpu, table=True):
    __tablename__ = "gpu"
    id: str = Field(primary_key=True)
    aliases: list[str] = _json()


class FamilyRow(SQLModel, catalog.Family, table=True):
    __tablename__ = "family"
    id: str = Field(primary_key=True)
    provider_id: str = Field(foreign_key="provider.id", index=True)
    aliases: list[str] = _json()
    preferred: list[str] = _json()


class VariantRow(SQLModel, catalog.Variant, table=True):
    __tablename__ = "variant"
    id: str = Field(primary_key=True)
    family_id: str = Field(foreign_key="family.id", index=True)
    provider_id: str = Field(foreign_key="provider.id", index=True)
    license_id: str = Field(foreign_key="license.id", index=True)
    modalities: list[str] = _json()
    languages: list[str] = _json()
    capabilities: list[str] = _json()
    ollama_tags: list[str] = _json()
    aliases: list[str] = _json()


class BenchmarkResultRow(SQLModel, catalog.BenchmarkResult, table=True):
    __tablename__ = "benchmarkresult"
    id: int | None = Field(default=None, primary_key=True)
    variant_id: str = Field(foreign_key="variant.id", index=True)


class OfferingRow(SQLModel, catalog.Offering, table=True):
    __tablename__ = "offering"
    id: int | None = Field(default=None, primary_key=True)
    variant_id: str = Field(foreign_key="variant.id", index=True)
    seller_id: str = Field(foreign_key="provider.id")


class SourceRow(SQLModel, catalog.Source, table=True):
    __tablename__ = "source"
    id: int | None = Field(default=None, primary_key=True)
    entity_kind: str = Field(index=True)
    entity_id: str = Field(index=True)
    fields: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


#: Each catalog fact and the table that stores it, in the order parents come first.
CATALOG_ROWS: dict[type[BaseModel], type[SQLModel]] = {
    catalog.Provider: ProviderRow,
    catalog.License: LicenseRow,
    catalog.Gpu: GpuRow,
    catalog.Family: FamilyRow,
    catalog.Variant: VariantRow,
    catalog.BenchmarkResult: BenchmarkResultRow,
    catalog.Offering: OfferingRow,
    catalog.Source: SourceRow,
}


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
