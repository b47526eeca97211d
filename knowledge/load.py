"""Write validated records into the catalog tables as one idempotent upsert.

Rows are compared field by field, so a reload reports what really changed (added,
updated, unchanged, removed). Only rows of the same ``origin`` are removed when they
disappear from the input, so reloading curated files never touches synced facts.
Everything happens in one transaction: an error leaves the catalog as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, delete, select

from knowledge import tables
from knowledge.curated import CuratedData
from knowledge.db import session_scope
from knowledge.records import Source as SourceRecord


@dataclass
class KindCount:
    """What one upsert did to one kind of row."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


@dataclass
class LoadReport:
    """Counts per kind, in load order."""

    kinds: dict[str, KindCount] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.added or c.updated or c.removed for c in self.kinds.values())


def _sources(
    kind: str, entity_id: str, sources: Iterable[SourceRecord], origin: str
) -> list[tables.SourceRow]:
    return [
        tables.SourceRow(
            entity_kind=kind,
            entity_id=entity_id,
            url=s.url,
            as_of=s.as_of,
            fields=s.fields,
            note=s.note,
            origin=origin,
        )
        for s in sources
    ]


def _same(row: SQLModel, new: SQLModel) -> bool:
    return row.model_dump() == new.model_dump()


def _upsert(
    session: Session, table: type[SQLModel], rows: Sequence[SQLModel], origin: str
) -> tuple[KindCount, list[str]]:
    """Add and update ``rows``; return the counts and the ids of this origin now gone."""
    count = KindCount()
    existing: dict[str, Any] = {r.id: r for r in session.exec(select(table))}  # type: ignore[attr-defined]
    wanted = {r.id for r in rows}  # type: ignore[attr-defined]
    for row in rows:
        old = existing.get(row.id)  # type: ignore[attr-defined]
        if old is None:
            session.add(row)
            count.added += 1
        elif _same(old, row):
            count.unchanged += 1
        else:
            for name, value in row.model_dump().items():
                setattr(old, name, value)
            count.updated += 1
    session.flush()
    stale = [i for i, r in existing.items() if i not in wanted and r.origin == origin]
    count.removed = len(stale)
    return count, stale


def _fingerprint(row: SQLModel) -> str:
    """A row's content without its surrogate key, comparable across loads."""
    return json.dumps(row.model_dump(exclude={"id"}), sort_keys=True, default=str)


def _replace(
    session: Session, table: type[SQLModel], rows: Sequence[SQLModel], origin: str
) -> KindCount:
    """Replace all rows of one origin: for child facts that have no natural key."""
    before = {
        _fingerprint(r)
        for r in session.exec(select(table).where(table.origin == origin))  # type: ignore[attr-defined]
    }
    session.exec(delete(table).where(table.origin == origin))  # type: ignore[attr-defined]
    session.add_all(rows)
    session.flush()
    after = {_fingerprint(r) for r in rows}
    return KindCount(
        added=len(after - before), unchanged=len(after & before), removed=len(before - after)
    )


def load_records(engine: Engine, data: CuratedData, origin: str = "curated") -> LoadReport:
    """Upsert every record of ``data`` in one transaction and report the counts."""
    providers = [
        tables.ProviderRow(**p.model_dump(exclude={"sources"}), origin=origin)
        for p in data.providers
    ]
    licenses = [
        tables.LicenseRow(**lic.model_dump(exclude={"sources"}), origin=origin)
        for lic in data.licenses
    ]
    gpus = [tables.GpuRow(**g.model_dump(exclude={"sources"}), origin=origin) for g in data.gpus]
    families = [
        tables.FamilyRow(
            id=f.id,
            name=f.name,
            provider_id=f.provider,
            description=f.description,
            aliases=f.aliases,
            preferred=f.preferred,
            origin=origin,
        )
        for f in data.families
    ]
    variants, benchmarks, sources = [], [], []
    for f in data.families:
        for v in f.variants:
            fields = v.model_dump(exclude={"sources", "benchmarks", "provider", "license"})
            variants.append(
                tables.VariantRow(
                    **fields,
                    family_id=f.id,
                    provider_id=v.provider,
                    license_id=v.license,
                    origin=origin,
                )
            )
            benchmarks += [
                tables.BenchmarkResultRow(
                    variant_id=v.id,
                    name=b.name,
                    score=b.score,
                    unit=b.unit,
                    setting=b.setting,
                    source_url=b.source.url,
                    as_of=b.source.as_of,
                    origin=origin,
                )
                for b in v.benchmarks
            ]
            sources += _sources("variant", v.id, v.sources, origin)
    offerings = [
        tables.OfferingRow(
            variant_id=o.variant,
            seller_id=o.seller,
            input_per_m=o.input_per_m,
            output_per_m=o.output_per_m,
            cached_input_per_m=o.cached_input_per_m,
            notes=o.notes,
            source_url=o.source.url,
            as_of=o.source.as_of,
            origin=origin,
        )
        for o in data.offerings
    ]
    for kind, items in (
        ("provider", data.providers),
        ("license", data.licenses),
        ("gpu", data.gpus),
    ):
        for item in items:
            sources += _sources(kind, item.id, item.sources, origin)

    report = LoadReport()
    parents: list[tuple[str, type[SQLModel], Sequence[SQLModel]]] = [
        ("providers", tables.ProviderRow, providers),
        ("licenses", tables.LicenseRow, licenses),
        ("gpus", tables.GpuRow, gpus),
        ("families", tables.FamilyRow, families),
        ("variants", tables.VariantRow, variants),
    ]
    children: list[tuple[str, type[SQLModel], Sequence[SQLModel]]] = [
        ("benchmarks", tables.BenchmarkResultRow, benchmarks),
        ("offerings", tables.OfferingRow, offerings),
        ("sources", tables.SourceRow, sources),
    ]
    with session_scope(engine) as session:
        # Parents are written first and removed last, so foreign keys hold at every flush.
        stale: list[tuple[type[SQLModel], list[str]]] = []
        for name, table, rows in parents:
            report.kinds[name], gone = _upsert(session, table, rows, origin)
            stale.append((table, gone))
        for name, table, rows in children:
            report.kinds[name] = _replace(session, table, rows, origin)
        for table, gone in reversed(stale):
            if gone:
                session.exec(delete(table).where(table.id.in_(gone)))  # type: ignore[attr-defined]
    return report
