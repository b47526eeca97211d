"""A read-only, in-memory snapshot of the catalog.

Commands read the whole catalog once (a few hundred rows) and then answer from memory:
rules evaluate every variant, resolution scans every name, and neither should issue a
query per model. :func:`open_catalog` is the one way in: it migrates the database and,
on a fresh data directory, loads the curated files so the first command just works.
Synced models not linked to a curated variant join the snapshot as ``origin="synced"``
entries (knowledge/synced_view.py); curated facts always win.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from knowledge.catalog import (
    BenchmarkResult,
    Family,
    Gpu,
    License,
    Offering,
    Provider,
    Source,
    Variant,
)
from knowledge.curated import DATA_DIR, read_curated
from knowledge.db import make_engine, migrate
from knowledge.load import LoadReport, load_records
from knowledge.synced_view import SYNCED, read_synced


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


def read_catalog(engine: Engine) -> Catalog:
    """Snapshot every catalog table into memory."""
    with Session(engine) as session:
        benchmarks: dict[str, list[BenchmarkResult]] = defaultdict(list)
        for b in session.exec(select(BenchmarkResult)):
            benchmarks[b.variant_id].append(b)
        offerings: dict[str, list[Offering]] = defaultdict(list)
        for o in session.exec(select(Offering)):
            offerings[o.variant_id].append(o)
        sources: dict[tuple[str, str], list[Source]] = defaultdict(list)
        for s in session.exec(select(Source)):
            sources[(s.entity_kind, s.entity_id)].append(s)
        providers = {p.id: p for p in session.exec(select(Provider))}
        licenses = {x.id: x for x in session.exec(select(License))}
        variants = {v.id: v for v in session.exec(select(Variant))}
        synced = read_synced(session, providers, licenses, variants)
        snapshot = Catalog(
            providers={**providers, **synced.providers},
            licenses={**licenses, **synced.licenses},
            gpus={g.id: g for g in session.exec(select(Gpu))},
            families={**{f.id: f for f in session.exec(select(Family))}, **synced.families},
            variants={**variants, **synced.variants},
            benchmarks=dict(benchmarks),
            offerings=dict(offerings),
            sources={**sources, **synced.sources},
        )
        session.expunge_all()
    return snapshot


def load_curated(engine: Engine, directory: Path = DATA_DIR) -> LoadReport:
    """Validate the curated files in ``directory`` and upsert them (all or nothing)."""
    migrate(engine)
    return load_records(engine, read_curated(directory))


def open_catalog(settings: Settings) -> Catalog:
    """Open the configured database, loading the curated catalog into an empty one."""
    engine = make_engine(settings.db_url)
    migrate(engine)
    with Session(engine) as session:
        empty = session.exec(select(Variant.id).limit(1)).first() is None
    if empty:
        load_curated(engine)
    return read_catalog(engine)
