"""Persistent jobs for trials and evals, run by a small worker pool.

A job is a row (knowledge.catalog.Job) from the moment it is asked for, so ``advisor
jobs`` and ``/trial cancel ID`` work across processes and a restart cannot lose one: at
start-up, jobs left running are marked *interrupted* and can be run again. Workers are
threads, not asyncio tasks, because the Ollama client and the scoring are blocking; a
pool of ``concurrency`` workers is the limit per Ollama host. Progress reaches the caller
through ``notify`` at most once a second; the final result always does.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.errors import AdvisorError, JobError
from knowledge.catalog import Job
from knowledge.db import session_scope

log = logging.getLogger("advisor")
ACTIVE = ("queued", "running")
Execute = Callable[[Job, Callable[[str], None], Callable[[], bool]], dict[str, Any]]
Notify = Callable[[Job], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Owner:
    user: str
    platform: str = "terminal"
    channel: str = ""
    thread: str = ""


class JobStore:
    """Job rows: create, update, read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, kind: str, spec: dict[str, Any], owner: Owner) -> Job:
        job = Job(
            id=uuid.uuid4().hex[:8],
            kind=kind,
            status="queued",
            spec=spec,
            user=owner.user,
            platform=owner.platform,
            channel=owner.channel,
            thread=owner.thread,
            created_at=_now(),
        )
        with session_scope(self.engine) as session:
            session.add(job)
        return job

    def update(self, job_id: str, **fields: Any) -> Job:
        with session_scope(self.engine) as session:
            job = session.get(Job, job_id)
            if job is None:
                raise JobError(f"No job {job_id}.")
            for key, value in fields.items():
                setattr(job, key, value)
            session.add(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Job, job_id)

    def recent(self, limit: int = 20) -> list[Job]:
        with Session(self.engine) as session:
            return list(session.exec(select(Job).order_by(Job.created_at.desc()).limit(limit)))  # type: ignore[attr-defined]

    def active_for(self, user: str) -> int:
        with Session(self.engine) as session:
            rows = session.exec(select(Job).where(Job.user == user, Job.status.in_(ACTIVE)))  # type: ignore[attr-defined]
            return len(list(rows))

    def interrupt_running(self) -> list[str]:
        """At start-up: jobs a previous process left running can no longer finish."""
        with session_scope(self.engine) as session:
            rows = list(session.exec(select(Job).where(Job.status == "running")))
            for job in rows:
                job.status, job.finished_at = "interrupted", _now()
                job.error = "The advisor restarted while this job ran; run it again."
                session.add(job)
            return [job.id for job in rows]


class JobRunner:
    """A FIFO queue drained by ``concurrency`` worker threads."""

    def __init__(
        self,
        store: JobStore,
        execute: Execute,
        concurrency: int = 1,
        per_user: int = 3,
        timeout: float = 900.0,
    ) -> None:
        self.store = store
        self.execute = execute
        self.per_user = per_user
        self.timeout = timeout
        self._queue: queue.Queue[tuple[str, Notify | None]] = queue.Queue()
        self._waiting: list[str] = []
        self._cancel: set[str] = set()
        self._lock = threading.Lock()
        self._workers = [
            threading.Thread(target=self._work, name=f"job-worker-{i}", daemon=True)
            for i in range(concurrency)
        ]
        for worker in self._workers:
            worker.start()

    def recover(self) -> list[str]:
        """Mark jobs a previous serving process left running as interrupted (call at start)."""
        return self.store.interrupt_running()

    def submit(
        self, kind: str, spec: dict[str, Any], owner: Owner, notify: Notify | None = None
    ) -> tuple[Job, int]:
        """Queue a job; return it and its position (1 = next to run)."""
        if self.store.active_for(owner.user) >= self.per_user:
            raise JobError(
                f"You already have {self.per_user} jobs queued or running; wait for one to finish "
                "or cancel one with /trial cancel ID."
            )
        job = self.store.create(kind, spec, owner)
        with self._lock:
            self._waiting.append(job.id)
            position = len(self._waiting)
        self._queue.put((job.id, notify))
        return job, position

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, a running one at its next step."""
        job = self.store.get(job_id)
        if job is None:
            raise JobError(f"No job {job_id}. `advisor jobs` lists recent jobs.")
        if job.status not in ACTIVE:
            raise JobError(f"Job {job_id} is already {job.status}.")
        self._cancel.add(job_id)
        if job.status == "queued":
            return self.store.update(job_id, status="cancelled", finished_at=_now())
        return job

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job has ended (for the terminal and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.store.get(job_id)
            if job is not None and job.status not in ACTIVE:
                return job
            time.sleep(0.05)
        raise JobError(f"Job {job_id} did not finish within {timeout:g} s.")

    def _work(self) -> None:
        while True:
            job_id, notify = self._queue.get()
            with self._lock:
                if job_id in self._waiting:
                    self._waiting.remove(job_id)
            job = self.store.get(job_id)
            if job is None or job.status != "queued":
                continue
            self._run(job, notify)

    def _run(self, job: Job, notify: Notify | None) -> None:
        job = self.store.update(job.id, status="running", started_at=_now(), progress="starting")
        deadline = time.monotonic() + self.timeout
        last = [0.0]

        def progress(text: str) -> None:
            self.store.update(job.id, progress=text)
            if notify and time.monotonic() - last[0] >= 1.0:
                last[0] = time.monotonic()
                notify(self.store.update(job.id))

        def cancelled() -> bool:
            if time.monotonic() > deadline:
                raise JobError(f"The job ran longer than {self.timeout:g} s and was stopped.")
            return job.id in self._cancel

        try:
            result = self.execute(job, progress, cancelled)
            final = self.store.update(job.id, status="done", result=result, finished_at=_now())
        except AdvisorError as exc:  # cancelled, timed out, Ollama failed: all say why
            status = "cancelled" if job.id in self._cancel else "failed"
            final = self.store.update(
                job.id, status=status, error=exc.user_message, finished_at=_now()
            )
        except Exception as exc:  # noqa: BLE001 - a job's failure must not kill the worker
            log.exception("job %s failed", job.id)
            final = self.store.update(
                job.id,
                status="failed",
                error=f"Unexpected error ({type(exc).__name__}); see the log.",
                finished_at=_now(),
            )
        if notify:
            notify(final)
