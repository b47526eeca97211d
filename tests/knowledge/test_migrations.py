"""Schema migrations: concurrent starts, legacy databases, PostgreSQL (started by the test)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bot.trials.jobs import JobRunner, JobStore, Owner
from knowledge.db import make_engine, migrate
from tests.servers import postgres_server

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = (
    "import sys; from knowledge.db import make_engine, migrate; migrate(make_engine(sys.argv[1]))"
)


def _migrate_together(url: str, n: int = 3) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, url], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(120), "", p.stderr.read()) for p in procs]  # type: ignore[union-attr]


def _head(url: str) -> str:
    with make_engine(url).connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())


def test_processes_migrating_an_empty_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'advisor.db'}"
    results = _migrate_together(url)
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-500:] for r in results]
    assert _head(url) == "0008"


def test_a_database_from_the_old_step_table_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'advisor.db'}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:  # roll the file back to what the step table produced
        conn.execute(text("DROP TABLE alembic_version"))
        for column in ("worker", "heartbeat_at", "cancel_requested"):
            conn.execute(text(f"ALTER TABLE job DROP COLUMN {column}"))
        conn.execute(
            text(
                "INSERT INTO job (id, kind, status, spec, progress, user, platform, channel, "
                "thread, created_at) VALUES ('old1', 'trial', 'done', '{}', '', 'ann', '', '', "
                "'', '2026-01-01')"
            )
        )
    assert migrate(engine) == ["0007_job_leases", "0008_chat_state"]
    assert {"worker", "heartbeat_at"} <= {c["name"] for c in inspect(engine).get_columns("job")}
    assert JobStore(engine).get("old1").user == "ann"  # type: ignore[union-attr]
    assert migrate(engine) == []


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def test_postgres_replicas_migrate_together_and_share_jobs(pg_url: str) -> None:
    results = _migrate_together(pg_url)
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-500:] for r in results]
    assert _head(pg_url) == "0008"
    engine = make_engine(pg_url)
    store = JobStore(engine, lease=2.0)

    def slow(job, progress, cancelled):  # type: ignore[no-untyped-def]
        from core.errors import JobError

        while not cancelled():
            time.sleep(0.05)
        raise JobError("Cancelled.")

    worker = JobRunner(store, slow)
    other = JobRunner(JobStore(make_engine(pg_url), lease=2.0), slow)  # a second replica
    job, _ = worker.submit("trial", {"models": ["m"]}, Owner("ann"))
    deadline = time.monotonic() + 30
    while store.get(job.id).status != "running":  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert other.recover() == []
    other.cancel(job.id)
    assert worker.wait(job.id, 30).status == "cancelled"
    worker.close()
    other.close()
