"""Database engine, sessions and ordered schema migrations.

The default is a SQLite file in the data directory; any SQLAlchemy URL (PostgreSQL in
production) works unchanged. Schema changes are named steps recorded in
``schemamigration``; :func:`migrate` applies the missing ones in order and never drops a
user's data to upgrade it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine, select

from knowledge import catalog  # noqa: F401 - registers the tables on SQLModel.metadata
from knowledge.catalog import SchemaMigration

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


def _create_catalog_tables(engine: Engine) -> None:
    SQLModel.metadata.create_all(
        engine, tables=[SQLModel.metadata.tables[name] for name in CATALOG_TABLES]
    )


def _create_profile_table(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["teamprofile"]])


def _create_synced_tables(engine: Engine) -> None:
    from knowledge.synced import create_tables

    create_tables(engine)


def _create_subscription_table(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["digestsubscription"]])


def _create_job_table(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["job"]])


def _add_native_precision(engine: Engine) -> None:
    """Variants learn the format their official weights ship in (fp8, mxfp4, ...)."""
    columns = {c["name"] for c in inspect(engine).get_columns("variant")}
    if "native_precision" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE variant ADD COLUMN native_precision VARCHAR"))


def _create_chat_tables(engine: Engine) -> None:
    """Conversations, processed event ids, rate-limit windows and job workspaces (chat)."""
    names = ("conversation", "processedevent", "ratehit", "jobscope")
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables[n] for n in names])


MIGRATIONS: list[tuple[str, Callable[[Engine], None]]] = [
    ("0001_catalog_tables", _create_catalog_tables),
    ("0002_team_profiles", _create_profile_table),
    ("0003_synced", _create_synced_tables),
    ("0004_subscriptions", _create_subscription_table),
    ("0005_jobs", _create_job_table),
    ("0006_variant_native_precision", _add_native_precision),
    ("0007_chat_state", _create_chat_tables),
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
            cursor.close()

    return engine


def migrate(engine: Engine) -> list[str]:
    """Apply the schema steps this database has not seen yet; return their names."""
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["schemamigration"]])
    with Session(engine) as session:
        done = set(session.exec(select(SchemaMigration.name)).all())
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        step(engine)
        with Session(engine) as session:
            session.add(SchemaMigration(name=name, applied_at=datetime.now(UTC).isoformat()))
            session.commit()
        applied.append(name)
    return applied


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
