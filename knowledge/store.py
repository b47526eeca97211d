"""Reading the catalog tables into memory, and loading the curated files into them.

Commands read the whole catalog once (a few hundred rows) and then answer from memory:
rules evaluate every variant, resolution scans every name, and neither should issue a
query per model. Synced models not linked to a curated variant join the snapshot as
``origin="synced"`` entries (knowledge/synced_view.py); curated facts always win.
Commands open the catalog through :func:`knowledge.snapshot.open_catalog`, which calls
this module only when its JSON snapshot is stale.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine, inspect
from sqlmodel import Session, SQLModel, select

from knowledge.catalog import (
    BenchmarkResult,
    Catalog,
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
from knowledge.synced import SyncedModel
from knowledge.synced_view import SyncedEntries, build
from knowledge.tables import CATALOG_ROWS, VariantRow

Fact = TypeVar("Fact", bound=BaseModel)


def _facts(session: Session, fact: type[Fact]) -> list[Fact]:
    """Every row of ``fact``'s table, as the plain model readers use."""
    table: type[SQLModel] = CATALOG_ROWS[fact]
    return [fact.model_validate(row.model_dump()) for row in session.exec(select(table))]


def _synced(
    session: Session,
    providers: dict[str, Provider],
    licenses: dict[str, License],
    variants: dict[str, Variant],
) -> SyncedEntries:
    """Synced rows (Hub rows first) as catalog entries; linked rows are read too (one query)."""
    if not inspect(session.connection()).has_table("syncedmodel"):
        return SyncedEntries()
    query = select(SyncedModel).where(SyncedModel.folded == False)  # noqa: E712 - SQL false
    rows = sorted(session.exec(query), key=lambda r: (r.source != "hf", r.id))
    return build(rows, providers, licenses, variants)


def read_catalog(engine: Engine) -> Catalog:
    """Snapshot every catalog table into memory."""
    with Session(engine) as session:
        benchmarks: dict[str, list[BenchmarkResult]] = defaultdict(list)
        for b in _facts(session, BenchmarkResult):
            benchmarks[b.variant_id].append(b)
        offerings: dict[str, list[Offering]] = defaultdict(list)
        for o in _facts(session, Offering):
            offerings[o.variant_id].append(o)
        sources: dict[tuple[str, str], list[Source]] = defaultdict(list)
        for s in _facts(session, Source):
            sources[(s.entity_kind, s.entity_id)].append(s)
        providers = {p.id: p for p in _facts(session, Provider)}
        licenses = {x.id: x for x in _facts(session, License)}
        variants = {v.id: v for v in _facts(session, Variant)}
        synced = _synced(session, providers, licenses, variants)
        return Catalog(
            providers={**providers, **synced.providers},
            licenses={**licenses, **synced.licenses},
            gpus={g.id: g for g in _facts(session, Gpu)},
            families={**{f.id: f for f in _facts(session, Family)}, **synced.families},
            variants={**variants, **synced.variants},
            benchmarks=dict(benchmarks),
            offerings=dict(offerings),
            sources={**sources, **synced.sources},
        )


def load_curated(engine: Engine, directory: Path = DATA_DIR) -> LoadReport:
    """Validate the curated files in ``directory`` and upsert them (all or nothing)."""
    migrate(engine)
    return load_records(engine, read_curated(directory))


def prepare(db_url: str) -> Engine:
    """The database at ``db_url``, migrated, with the curated catalog loaded if it was empty."""
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as session:
        empty = session.exec(select(VariantRow.id).limit(1)).first() is None
    if empty:
        load_curated(engine)
    return engine
