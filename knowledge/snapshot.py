"""The catalog as one JSON file beside a SQLite database, so a command can skip the ORM.

A command such as ``advisor fit`` needs the whole catalog and nothing else from the
database; importing SQLAlchemy and reading a few thousand rows through the ORM cost it
most of a second. :func:`open_catalog` therefore keeps the snapshot it reads in
``<database>.catalog.json`` and, next time, answers from that file when it is still
current. Current means the stamp matches: the database file's SQLite change counter
(bumped by every committed write), size and modification time, those of its ``-wal``
file, and the code that builds a catalog (the knowledge package's files). Any write to
the database, any sync and any upgrade of the code therefore falls back to a full read,
which writes a fresh snapshot.

Only a local SQLite file gets a snapshot: a server database can change under another
machine's process, and a file stamp cannot see that.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ValidationError

from core.settings import Settings
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

log = logging.getLogger(__name__)
_CODE = Path(__file__).parent
_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


class _Snapshot(BaseModel):
    """The file's shape: the stamp it was written under and every fact, as lists."""

    stamp: str
    providers: list[Provider]
    licenses: list[License]
    gpus: list[Gpu]
    families: list[Family]
    variants: list[Variant]
    benchmarks: list[BenchmarkResult]
    offerings: list[Offering]
    sources: list[Source]


def sqlite_file(db_url: str) -> Path | None:
    """The database file of a SQLite URL, or None for memory and server databases."""
    for prefix in _SQLITE_PREFIXES:
        if db_url.startswith(prefix):
            path = db_url.removeprefix(prefix).split("?", 1)[0]
            return Path(path) if path and path != ":memory:" else None
    return None


def _file_stamp(path: Path) -> str:
    """Change counter, size and mtime of one file; "-" when it does not exist."""
    try:
        with path.open("rb") as fh:
            header = fh.read(28)
        stat = path.stat()
    except OSError:
        return "-"
    return f"{header[24:28].hex()}:{stat.st_size}:{stat.st_mtime_ns}"


def stamp(database: Path) -> str:
    """What must be unchanged for a snapshot of ``database`` to be current."""
    code = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _CODE.glob("*.py"))
    parts = [_file_stamp(database), _file_stamp(database.with_name(database.name + "-wal"))]
    return hashlib.sha256(repr((parts, code)).encode()).hexdigest()


def snapshot_path(database: Path) -> Path:
    """Where the snapshot of ``database`` is kept."""
    return database.with_name(database.name + ".catalog.json")


def read_snapshot(database: Path) -> Catalog | None:
    """The snapshot of ``database`` if it is current, else None (missing, stale, damaged)."""
    path = snapshot_path(database)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        snap = _Snapshot.model_validate_json(data)
    except ValidationError:
        log.warning("ignoring the damaged catalog snapshot %s", path)
        return None
    if snap.stamp != stamp(database):
        return None
    benchmarks: dict[str, list[BenchmarkResult]] = defaultdict(list)
    for b in snap.benchmarks:
        benchmarks[b.variant_id].append(b)
    offerings: dict[str, list[Offering]] = defaultdict(list)
    for o in snap.offerings:
        offerings[o.variant_id].append(o)
    sources: dict[tuple[str, str], list[Source]] = defaultdict(list)
    for s in snap.sources:
        sources[(s.entity_kind, s.entity_id)].append(s)
    return Catalog(
        providers={p.id: p for p in snap.providers},
        licenses={x.id: x for x in snap.licenses},
        gpus={g.id: g for g in snap.gpus},
        families={f.id: f for f in snap.families},
        variants={v.id: v for v in snap.variants},
        benchmarks=dict(benchmarks),
        offerings=dict(offerings),
        sources=dict(sources),
    )


def write_snapshot(catalog: Catalog, database: Path, under: str) -> None:
    """Keep ``catalog`` beside ``database``, stamped ``under`` (taken before it was read).

    Written to a temporary file and renamed, so a reader never sees half a file; a data
    directory that cannot be written only costs the next command a full read.
    """
    snap = _Snapshot(
        stamp=under,
        providers=list(catalog.providers.values()),
        licenses=list(catalog.licenses.values()),
        gpus=list(catalog.gpus.values()),
        families=list(catalog.families.values()),
        variants=list(catalog.variants.values()),
        benchmarks=[b for group in catalog.benchmarks.values() for b in group],
        offerings=[o for group in catalog.offerings.values() for o in group],
        sources=[s for group in catalog.sources.values() for s in group],
    )
    path = snapshot_path(database)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(snap.model_dump_json(), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.info("could not keep the catalog snapshot %s: %s", path, exc)
        tmp.unlink(missing_ok=True)


def open_catalog(settings: Settings) -> Catalog:
    """The configured catalog: the current snapshot, else a full read of the database.

    The full read migrates the database and, on a fresh data directory, loads the curated
    files, so the first command just works.
    """
    database = sqlite_file(settings.db_url)
    if database is not None and (catalog := read_snapshot(database)) is not None:
        return catalog
    # Only here: the ORM and the migrations are the cost the snapshot exists to skip.
    from knowledge.store import prepare, read_catalog

    engine = prepare(settings.db_url)
    if database is None:
        return read_catalog(engine)
    under = stamp(database)  # after any migration or first load, before the read
    catalog = read_catalog(engine)
    if stamp(database) == under:  # nothing wrote while we read
        write_snapshot(catalog, database, under)
    return catalog
