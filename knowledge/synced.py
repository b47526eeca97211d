"""Synced facts, kept apart from the curated catalog, with their provenance.

Curated rows (knowledge/tables.py) are written by hand and reviewed; synced rows come from
the Hugging Face Hub, the Ollama library and release feeds, unreviewed. They live in their
own tables so that a sync can never overwrite a curated fact: a synced model that is
already in the catalog only records the link (``variant_id``), and readers choose which
fact to show (curated first). Each row says where it came from (``source``, ``url``,
``raw``), when the source dated it (``created_at``) and when we first and last saw it
(``first_seen`` drives the weekly digest; ``created_at`` is never mistaken for it).

Feed announcements are not models, so they get their own small table, :class:`FeedEntry`,
linked to catalog variants and families by alias. This module imports no catalog code, so
knowledge/db.py can import :func:`create_tables` for its migration without a cycle;
linking to the catalog lives in ingest/linking.py.

:func:`upsert` is the one write path of the model sources: a new row is added with
``first_seen = now``; a known row keeps its ``first_seen`` and only counts as updated when
one of its facts changed (popularity counters such as likes do not count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import JSON, Column, Engine
from sqlmodel import Field, Session, SQLModel

from core.errors import AdvisorError


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def utcnow() -> datetime:
    """Now, timezone-aware UTC (sqlmodel refuses naive datetimes)."""
    return datetime.now(UTC)


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
@overload
def aware(moment: datetime | None) -> datetime | None: ...
def aware(moment: datetime | None) -> datetime | None:
    """A naive datetime (from a caller or an older driver) as aware UTC, so comparisons work."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class SyncError(AdvisorError):
    """A source could not be read; what was stored before is unchanged."""


class SyncedModel(SQLModel, table=True):
    """One model (an HF repo or an Ollama tag) as a sync source reported it."""

    id: str = Field(primary_key=True)  # "hf:Qwen/Qwen3-8B", "ollama:qwen3:8b"
    source: str = Field(index=True)  # "hf" | "ollama"
    external_id: str = Field(index=True)
    name: str
    provider: str | None = Field(default=None, index=True)  # catalog provider id, else the org
    url: str
    created_at: datetime | None = None  # as the source dates it
    first_seen: datetime = Field(index=True)
    last_seen: datetime
    params_b: float | None = None
    active_params_b: float | None = None
    context_length: int | None = None
    architecture: str | None = None  # "dense" | "moe"
    model_type: str | None = None  # config.json model_type, e.g. "qwen3"
    layers: int | None = None
    attention_heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    hidden_size: int | None = None
    vocab_size: int | None = None
    experts: int | None = None
    experts_active: int | None = None
    license_id: str | None = None  # catalog license id
    license_raw: str | None = None  # what the source said
    license_flag: str | None = None  # "unknown" when it could not be mapped
    gated: bool = False
    tags: list[str] = _json_list()
    capabilities: list[str] = _json_list()
    relation: str = "base"  # "base" | "finetune" | "quantized" | "adapter" | "merge"
    base_model: str | None = Field(default=None, index=True)  # external id of the base
    folded: bool = False  # a quant or fine-tune shown under its base, not as a release
    variant_id: str | None = Field(default=None, index=True)  # catalog link (provenance)
    ollama_tags: list[str] = _json_list()
    cloud_only: bool = False  # an Ollama cloud tag: not runnable locally
    likes: int | None = None
    downloads: int | None = None
    raw: dict[str, Any] = _json_dict()
    digest_key: str = Field(index=True)  # same release across sources -> same key


class FeedEntry(SQLModel, table=True):
    """One announcement from an RSS/Atom feed, linked to catalog models by alias."""

    id: str = Field(primary_key=True)  # the entry's guid or link
    feed_url: str = Field(index=True)
    title: str
    link: str
    published: datetime | None = None
    summary: str = ""
    variant_ids: list[str] = _json_list()
    family_ids: list[str] = _json_list()
    first_seen: datetime = Field(index=True)
    last_seen: datetime


class SyncState(SQLModel, table=True):
    """Where each source's last sync ended, so the next one is incremental and resumable."""

    source: str = Field(primary_key=True)
    cursor: datetime | None = None  # newest source date fully synced
    last_sync: datetime | None = None  # when a sync last finished without error
    position: dict[str, Any] = _json_dict()  # per-source progress (per org, per feed)
    last_error: str | None = None
    updated_at: datetime | None = None


SYNC_TABLES = ("syncedmodel", "feedentry", "syncstate")


def create_tables(engine: Engine) -> None:
    """Create the synced tables only (migration step "0003_synced")."""
    SQLModel.metadata.create_all(
        engine, tables=[SQLModel.metadata.tables[name] for name in SYNC_TABLES]
    )


@dataclass(slots=True)
class SyncReport:
    """What one sync of one source changed; errors are user-facing sentences."""

    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    folded: int = 0
    unknown_licenses: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the source was read without error."""
        return not self.errors

    def summary(self) -> str:
        """One line for `advisor sync`: counts, then any errors."""
        line = (
            f"{self.source}: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.folded} folded ({self.duration:.1f}s)"
        )
        if self.unknown_licenses:
            line += f"; unknown licenses: {', '.join(sorted(set(self.unknown_licenses)))}"
        if self.errors:
            line += "; errors: " + " | ".join(self.errors)
        return line


# Facts compared to decide "updated"; counters (likes, downloads) and times are not facts.
_VOLATILE = {"first_seen", "last_seen", "likes", "downloads", "raw"}


def upsert(session: Session, rows: list[SyncedModel], now: datetime, report: SyncReport) -> None:
    """Add new rows, refresh known ones, and count what changed into ``report``."""
    for row in rows:
        existing = session.get(SyncedModel, row.id)
        if row.folded:
            report.folded += 1
        if existing is None:
            row.first_seen = row.last_seen = now
            session.add(row)
            report.added += 1
            continue
        changed = False
        for name in SyncedModel.model_fields:
            if name in _VOLATILE or name == "id":
                continue
            new = getattr(row, name)
            if name == "created_at":
                new = new or existing.created_at
            old = getattr(existing, name)
            if isinstance(old, datetime) and isinstance(new, datetime):
                old, new = aware(old), aware(new)
            if old != new:
                setattr(existing, name, new)
                changed = True
        existing.likes, existing.downloads, existing.raw = row.likes, row.downloads, row.raw
        existing.last_seen = now
        session.add(existing)
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1


def load_state(session: Session, source: str) -> SyncState:
    """The stored state of ``source``, or a fresh one."""
    return session.get(SyncState, source) or SyncState(source=source)


def record_failure(engine: Engine, source: str, message: str) -> None:
    """Remember the last error of a source without touching its cursor or data."""
    with Session(engine) as session:
        state = load_state(session, source)
        state.last_error, state.updated_at = message, utcnow()
        session.add(state)
        session.commit()
