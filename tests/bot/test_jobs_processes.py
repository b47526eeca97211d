"""Jobs shared by several processes on one database: leases, kill -9, cancel from elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.trials.jobs import JobRunner, JobStore, Owner
from core.errors import JobError
from knowledge.db import make_engine, migrate

ROOT = Path(__file__).resolve().parents[2]


def _replica(url: str, user: str, count: int) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bot.job_worker", url, user, str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    ids = []
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, ids
        ids.append(line.strip())
    raise AssertionError(f"replica exited with {proc.wait()}")


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_kill_9_interrupts_only_the_dead_workers_job(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'advisor.db'}"
    engine = make_engine(url)
    migrate(engine)
    store = JobStore(engine, lease=2.0)
    first, first_ids = _replica(url, "ann", 2)  # one runs, one waits in the queue
    second, second_ids = _replica(url, "bob", 1)
    procs = [first, second]
    try:
        jobs = first_ids + second_ids
        _until(lambda: sum(store.get(j).status == "running" for j in jobs) == 2)  # type: ignore[union-attr]
        # A third process starting up (advisor chat, digest, a replica) touches no live job.
        observer = JobRunner(store, lambda job, progress, cancelled: {})
        assert observer.recover() == []
        running = {j: store.get(j) for j in jobs if store.get(j).status == "running"}  # type: ignore[union-attr]
        victim = next(j for j, row in running.items() if f":{first.pid}:" in str(row.worker))
        survivor = next(j for j in running if j != victim)
        queued = next(j for j in jobs if j not in running)

        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        _until(lambda: store.get(victim).status == "interrupted")  # type: ignore[union-attr]
        assert "worker running this job stopped" in str(store.get(victim).error)  # type: ignore[union-attr]
        assert store.get(survivor).status == "running"  # type: ignore[union-attr]
        # ann's queued job no longer counts as hers until someone adopts it, and is re-queued.
        observer.cancel(survivor)  # cancel from a process that does not run the job
        _until(lambda: store.get(survivor).status == "cancelled")  # type: ignore[union-attr]
        _until(lambda: store.get(queued).status == "running")  # type: ignore[union-attr]
        assert f":{second.pid}:" in str(store.get(queued).worker)  # type: ignore[union-attr]
        observer.cancel(queued)
        _until(lambda: store.get(queued).status == "cancelled")  # type: ignore[union-attr]
        with pytest.raises(JobError, match="already cancelled"):
            observer.cancel(queued)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_dead_users_jobs_stop_counting_against_the_limit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'advisor.db'}")
    migrate(engine)
    store = JobStore(engine, lease=0.5)
    owner = Owner("cy")
    for _ in range(3):
        store.create("trial", {}, owner, worker="gone-host:1:x")
    runner = JobRunner(store, lambda job, progress, cancelled: {}, per_user=3)
    with pytest.raises(JobError, match="already have 3 jobs"):
        runner.submit("trial", {}, owner)
    time.sleep(0.6)
    job, _ = runner.submit("trial", {}, owner)  # the three lapsed: only live jobs count
    assert runner.wait(job.id, 10).status == "done"
    runner.close()
