"""Synced facts, kept apart from the curated catalog, with their provenance.

Curated rows (knowledge/catalog.py) are written by hand and reviewed; synced rows come from
the Hugging Face Hub, the Ollama library and release feeds, unreviewed. They live in their
own tables so that a sync can never overwrite a curated fact: a synced model that is
already in the catalog only records the link (``variant_id``), and readers choose which
fact to show (curated first). Each row says where it came from (``source``, ``url``,
``raw``), when the source dated it (``created_at``) and when we first and last saw it
(``first_seen`` drives the weekly digest; ``created_at`` is never mistaken for it).

Feed announcements are not models, so they get their own small table, :class:`FeedEntry`,
linked to catalog variants and families by alias.

:func:`upsert` is the one write path every source uses: a new row is added with
``first_seen = now``; a known row keeps its ``first_seen`` and only counts as updated when
one of its facts changed (popularity counters such as likes do not count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import JSON, Column, Engine
from sqlmodel import Field, Session, SQLModel

from bot.errors import AdvisorError
from knowledge.resolve import normalize
from knowledge.store import Catalog


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


# ------------------------------------------------------------------ linking to the catalog

_QUANT = re.compile(
    r"[-_.](gguf|awq|gptq|fp8|fp4|nvfp4|mxfp4|int4|int8|w4a16|w8a8|w8a16|exl2|mlx|bnb|"
    r"4bit|8bit|onnx|ov|openvino)([-_.].*)?$",
    re.IGNORECASE,
)
_SIZE = re.compile(r"(?<![a-z0-9])(\d+x)?\d+(\.\d+)?[bm](?![a-z0-9])|(?<![a-z0-9])[ae]\d+(\.\d+)?b")
_FLAVOR = re.compile(r"(?<![a-z0-9])(instruct|chat|it|base|hf|thinking|reasoning)(?![a-z0-9])")
_DATED = re.compile(r"[-_ ](\d{4}|\d{6}|\d{8})[-_ ]*$")  # Mistral/Qwen "-2506" refreshes


def strip_quant(name: str) -> str:
    """``Qwen3-8B-AWQ`` -> ``Qwen3-8B``: the name a quantized upload was made from."""
    return _QUANT.sub("", name)


def release_key(name: str) -> str:
    """The release a model name belongs to: org, tag, size, flavor and quant removed.

    ``Qwen/Qwen3-8B-Instruct-AWQ``, ``qwen3:8b`` and ``Qwen3 32B`` all give ``qwen3``, so
    one release seen on the Hub, in the Ollama library and in a feed is one digest entry.
    """
    tail = strip_quant(name.split("/")[-1].split(":")[0]).lower()
    tail = _FLAVOR.sub(" ", _SIZE.sub(" ", tail))
    return normalize(_DATED.sub("", tail.strip(" -_")))


@dataclass
class CatalogLinks:
    """Exact and loosely normalised names of catalog variants, for linking synced rows.

    The resolver's prefix matching is deliberately not used: a new "Qwen3.5-9B" must stay
    unlinked rather than be attached to some Qwen3 variant.
    """

    catalog: Catalog
    _names: dict[str, str] = field(default_factory=dict)
    _providers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for v in self.catalog.variants.values():
            names = [v.id, v.name, *v.aliases, *v.ollama_tags]
            if v.hf_repo:
                names += [v.hf_repo, v.hf_repo.split("/")[-1]]
            for name in names:
                self._names.setdefault(normalize(name), v.id)
        for p in self.catalog.providers.values():
            for name in (p.id, p.name, *p.aliases):
                self._providers.setdefault(normalize(name), p.id)

    def variant(self, *names: str) -> str | None:
        """The catalog variant any of ``names`` denotes exactly (after normalising)."""
        for name in names:
            found = self._names.get(normalize(name))
            if found:
                return found
        return None

    def provider(self, org: str) -> str:
        """The catalog provider id for an org name ("Qwen" -> "alibaba"), else the org."""
        return self._providers.get(normalize(org), org)

    def family_of(self, variant_id: str | None) -> str | None:
        """The catalog family of a linked variant."""
        if variant_id is None or variant_id not in self.catalog.variants:
            return None
        return self.catalog.variants[variant_id].family_id
