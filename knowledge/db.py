"""Database engine, sessions and ordered schema migrations (Alembic).

The default is a SQLite file in the data directory; any SQLAlchemy URL (PostgreSQL in
production, ``postgresql+psycopg://user:pass@host/db``) works unchanged. The schema is an
Alembic revision chain in ``knowledge/migrations`` (SQLite runs in batch mode, so columns
can be altered there too). The first six revisions are the named steps of the earlier
hand-rolled table (``MIGRATIONS``); each still records its name in ``schemamigration``, and a
database migrated before Alembic is stamped at the last step it had, then upgraded.

:func:`migrate` runs under a lock (a file lock beside a SQLite file, a transaction-scoped
advisory lock on PostgreSQL), so two processes starting on an empty database at once are
fine: the second waits, then finds nothing to do. A user's data is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock
from sqlalchemy import Connection, Engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine

from knowledge import tables  # noqa: F401 - registers the tables on SQLModel.metadata
from knowledge.tables import SchemaMigration

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LOCK_KEY = 7_301_113  # the advisory lock id every advisor process agrees on
CATALOG_TABLES = (
    "provider",
    "license",
    "gpu",
    "family",
    "variant",
    "benchmarkresult",
    "offering",
    "source",
)


def _create(bind: Connection, *names: str) -> None:
    SQLModel.metadata.create_all(bind, tables=[SQLModel.metadata.tables[n] for n in names])


def _create_catalog_tables(bind: Connection) -> None:
    _create(bind, *CATALOG_TABLES)


def _create_profile_table(bind: Connection) -> None:
    _create(bind, "teamprofile")


def _create_synced_tables(bind: Connection) -> None:
    from knowledge.synced import SYNC_TABLES

    _create(bind, *SYNC_TABLES)


def _create_subscription_table(bind: Connection) -> None:
    _create(bind, "digestsubscription")


def _create_job_table(bind: Connection) -> None:
    _create(bind, "job")


def _add_native_precision(bind: Connection) -> None:
    """Variants learn the format their official weights ship in (fp8, mxfp4, ...)."""
    columns = {c["name"] for c in inspect(bind).get_columns("variant")}
    if "native_precision" not in columns:
        bind.execute(text("ALTER TABLE variant ADD COLUMN native_precision VARCHAR"))


# The named steps, in order. Each of the first six is also an Alembic revision (see
# knowledge/migrations/versions); a step appended here without a revision still runs, after
# the Alembic chain, and is recorded by name.
MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("0001_catalog_tables", _create_catalog_tables),
    ("0002_team_profiles", _create_profile_table),
    ("0003_synced", _create_synced_tables),
    ("0004_subscriptions", _create_subscription_table),
    ("0005_jobs", _create_job_table),
    ("0006_variant_native_precision", _add_native_precision),
]


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their directory created and foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def run_step(name: str, bind: Connection) -> None:
    """Apply the named legacy step on ``bind`` and record it (called by its revision)."""
    _create(bind, "schemamigration")
    dict(MIGRATIONS)[name](bind)
    done = bind.execute(text("SELECT name FROM schemamigration WHERE name = :n"), {"n": name})
    if done.first() is None:
        bind.execute(
            SchemaMigration.__table__.insert().values(  # type: ignore[attr-defined]
                name=name, applied_at=datetime.now(UTC).isoformat()
            )
        )


def _config(bind: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = bind
    return config


@contextmanager
def _migration_lock(engine: Engine, bind: Connection) -> Iterator[None]:
    """Serialise migrations across processes sharing this database."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        bind.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        yield
    elif backend == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with FileLock(f"{engine.url.database}.migrate.lock", timeout=120):
            yield
    else:
        yield


def _legacy_names(bind: Connection) -> set[str]:
    if not inspect(bind).has_table("schemamigration"):
        return set()
    return {row[0] for row in bind.execute(text("SELECT name FROM schemamigration"))}


def _stamp_legacy(config: Config, bind: Connection, done: set[str]) -> None:
    """A database migrated by the old step table starts at the last step it had."""
    from alembic import command
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    last = None
    for revision in reversed(list(script.walk_revisions())):
        if revision.doc and revision.doc.split()[0] in done:
            last = revision.revision
        else:
            break
    if last is not None:
        command.stamp(config, last)


def _head_revision() -> str:
    """The newest revision id, read from the revision files' names (the chain is linear)."""
    names = (p.name for p in (MIGRATIONS_DIR / "versions").glob("r[0-9][0-9][0-9][0-9]_*.py"))
    return max(name[1:5] for name in names)


def _up_to_date(engine: Engine) -> bool:
    """True when the database is already at the newest revision with every named step."""
    try:
        with engine.connect() as bind:
            if not inspect(bind).has_table("alembic_version"):
                return False
            current = bind.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return current == _head_revision() and {n for n, _ in MIGRATIONS} <= _legacy_names(bind)
    except Exception:  # noqa: BLE001 - anything odd: let the full migration decide and report
        return False


def migrate(engine: Engine) -> list[str]:
    """Bring the schema to the newest revision under a lock; return what was applied."""
    if _up_to_date(engine):
        return []  # the common case: no lock, no alembic import (fast CLI start)
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as bind, _migration_lock(engine, bind):
        config = _config(bind)
        before = MigrationContext.configure(bind).get_current_revision()
        done = _legacy_names(bind)
        if before is None and done:
            _stamp_legacy(config, bind, done)
            before = MigrationContext.configure(bind).get_current_revision()
        script = ScriptDirectory.from_config(config)
        command.upgrade(config, "head")
        applied = [r.doc.split()[0] for r in script.iterate_revisions("head", before or "base")][
            ::-1
        ]
        done = _legacy_names(bind)
        for name, _step in MIGRATIONS:
            if name not in done:
                run_step(name, bind)
                applied.append(name)
        bind.commit()
    return applied


def schema_problem(engine: Engine) -> str | None:
    """Why this database cannot be used as it is (missing, damaged, not migrated), or None."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as bind:
            current = MigrationContext.configure(bind).get_current_revision()
            if engine.url.get_backend_name() == "sqlite":
                check = bind.execute(text("PRAGMA quick_check")).scalar()
                if check != "ok":
                    return f"the database fails its integrity check ({check})"
    except Exception as exc:  # noqa: BLE001 - any driver error means the same to the operator
        return f"the database cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    head = _head_revision()
    if current != head:
        return f"the database schema is at {current or 'nothing'}, not {head}"
    return None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


__all__ = ["MIGRATIONS", "make_engine", "migrate", "run_step", "schema_problem", "session_scope"]
