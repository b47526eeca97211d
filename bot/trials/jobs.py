"""Persistent jobs for trials and evals, on a Huey queue, owned by the worker that claims them.

A job is a row (knowledge.tables.Job) from the moment it is asked for; the queue only
carries its id. The queue is Huey's (a kept, small library with embedded and server
storage): by default it lives beside the database, a SQLite file next to a SQLite database
(nothing to start) or ``huey_*`` tables in the same PostgreSQL database, so every replica
that shares the database shares the queue; ``ADVISOR_JOBS_QUEUE_URL=redis://...`` moves it
to Redis. Workers are Huey consumer threads, started on the first submit (or by
``advisor worker``), because the Ollama client and the scoring are blocking.

Correctness across processes lives in the row, not in memory:

- a worker claims a job with one conditional UPDATE (``queued`` -> ``running``, its id in
  ``worker``) and beats ``heartbeat_at`` every ``lease / 3`` seconds while it runs; the
  submitter beats its queued jobs the same way;
- any process marks a *running* job interrupted only once its heartbeat is older than the
  lease (the worker is gone), and takes over a *queued* job whose submitter is gone by
  re-queueing it; a live job in another process is never touched;
- cancel sets ``cancel_requested`` in the row (or cancels a queued row at once), so it works
  from any process; the running worker sees it at its next step;
- the per-user limit counts only live rows (fresh heartbeat).

Progress reaches the caller through ``notify`` at most once a second, from whichever process
runs the job; the final result always does.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, PostgresHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy import Engine, func, or_, update
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from core.errors import AdvisorError, JobError
from knowledge.db import session_scope
from knowledge.tables import Job

log = logging.getLogger("advisor")
ACTIVE = ("queued", "running")
Execute = Callable[[Job, Callable[[str], None], Callable[[], bool]], dict[str, Any]]
Notify = Callable[[Job], None]
LEASE_S = 30.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def make_queue(engine: Engine, url: str | None = None) -> Huey:
    """The Huey queue for ``url``, or the default one beside the database."""
    name = "advisor-jobs"
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False, utc=True)
    target = make_url(url) if url else engine.url
    backend = target.get_backend_name()
    if backend == "postgresql":
        dsn = target.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresHuey(name, dsn=dsn, results=False, utc=True)
    if backend == "sqlite" and target.database not in (None, "", ":memory:"):
        path = Path(target.database or "")
        if not url:
            path = path.with_name("jobs-queue.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(path), results=False, utc=True, timeout=30)
    return MemoryHuey(name, results=False, utc=True)


@dataclass(frozen=True)
class Owner:
    user: str
    platform: str = "terminal"
    channel: str = ""
    thread: str = ""


class JobStore:
    """Job rows: create, claim, beat, update, read; ``lease`` seconds make a worker gone."""

    def __init__(self, engine: Engine, queue_url: str | None = None, lease: float = LEASE_S):
        self.engine = engine
        self.queue_url = queue_url
        self.lease = lease

    def create(self, kind: str, spec: dict[str, Any], owner: Owner, worker: str = "") -> Job:
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
            worker=worker or None,
            heartbeat_at=time.time() if worker else None,
        )
        with session_scope(self.engine) as session:
            session.add(job)
        return job

    def _set(self, job_id: str, where: list[Any], **values: Any) -> bool:
        """One conditional UPDATE; True when it changed the row."""
        with session_scope(self.engine) as session:
            statement = update(Job).where(col(Job.id) == job_id, *where).values(**values)
            return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]

    def claim(self, job_id: str, worker: str) -> bool:
        """Take a queued job for ``worker``; False when it is no longer queued."""
        return self._set(
            job_id,
            [col(Job.status) == "queued"],
            status="running",
            worker=worker,
            heartbeat_at=time.time(),
            started_at=_now(),
            progress="starting",
        )

    def beat(self, worker: str) -> None:
        """Renew the lease of every live job ``worker`` holds."""
        with session_scope(self.engine) as session:
            session.execute(
                update(Job)
                .where(col(Job.worker) == worker, col(Job.status).in_(ACTIVE))
                .values(heartbeat_at=time.time())
            )

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
            rows = select(Job).order_by(col(Job.created_at).desc()).limit(limit)
            return list(session.exec(rows))

    def _live(self) -> Any:
        fresh = col(Job.heartbeat_at) >= time.time() - self.lease
        return col(Job.status).in_(ACTIVE), fresh

    def active_for(self, user: str) -> int:
        """The user's live jobs: queued or running with a fresh heartbeat."""
        with Session(self.engine) as session:
            query = select(func.count()).select_from(Job).where(Job.user == user, *self._live())
            return int(session.exec(query).one())

    def queued_count(self) -> int:
        """Live queued jobs, for a new job's queue position."""
        with Session(self.engine) as session:
            fresh = col(Job.heartbeat_at) >= time.time() - self.lease
            query = select(func.count()).select_from(Job).where(Job.status == "queued", fresh)
            return int(session.exec(query).one())

    def _stale(self) -> Any:
        beat = col(Job.heartbeat_at)
        return or_(beat.is_(None), beat < time.time() - self.lease)

    def interrupt_running(self) -> list[str]:
        """Running jobs whose worker stopped beating can no longer finish: mark them."""
        stale = self._stale()
        with session_scope(self.engine) as session:
            rows = list(session.exec(select(Job).where(Job.status == "running", stale)))
            for job in rows:
                job.status, job.finished_at = "interrupted", _now()
                job.error = "The worker running this job stopped; run it again."
                session.add(job)
            return [job.id for job in rows]

    def orphaned_queued(self) -> list[str]:
        """Queued jobs whose submitter stopped beating (their queue message may be lost)."""
        stale = self._stale()
        with Session(self.engine) as session:
            return list(session.exec(select(Job.id).where(Job.status == "queued", stale)))


class _Consumer(Consumer):
    """Huey's consumer without signal handlers: it runs inside a chat process."""

    def _set_signal_handlers(self) -> None:
        return None


class JobRunner:
    """Submit jobs to the queue, run them on ``concurrency`` consumer threads, watch them."""

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
        self.concurrency = concurrency
        self.per_user = per_user
        self.timeout = timeout
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.queue = make_queue(store.engine, store.queue_url)
        self._task = self.queue.task(name="advisor_job")(self._run_id)
        self._watch: dict[str, tuple[Notify, str, float]] = {}
        self._lock = threading.Lock()
        self._consumer: _Consumer | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Start the consumer threads and the heartbeat (idempotent)."""
        with self._lock:
            if self._consumer is not None:
                return
            self._consumer = _Consumer(
                self.queue,
                workers=self.concurrency,
                periodic=False,
                initial_delay=0.05,
                max_delay=0.5,
                check_worker_health=False,
            )
            self._consumer.start()
            threading.Thread(target=self._supervise, name="job-heartbeat", daemon=True).start()
        atexit.register(self.close)

    def close(self) -> None:
        """Stop consuming; jobs this process was running are marked interrupted now."""
        if self._consumer is None or self._stop.is_set():
            return
        self._stop.set()
        self._consumer.stop(graceful=False)
        with session_scope(self.store.engine) as session:
            session.execute(
                update(Job)
                .where(col(Job.worker) == self.worker, col(Job.status) == "running")
                .values(
                    status="interrupted",
                    finished_at=_now(),
                    error="The advisor stopped while this job ran; run it again.",
                )
            )

    def recover(self) -> list[str]:
        """Mark jobs whose worker is gone as interrupted and re-queue orphaned queued ones."""
        interrupted = self.store.interrupt_running()
        for job_id in self.store.orphaned_queued():
            adopted = self.store._set(
                job_id, [Job.status == "queued"], worker=self.worker, heartbeat_at=time.time()
            )
            if adopted:
                self.start()
                self._task(job_id)
                log.info("job %s re-queued: the process that queued it stopped", job_id)
        return interrupted

    def submit(
        self, kind: str, spec: dict[str, Any], owner: Owner, notify: Notify | None = None
    ) -> tuple[Job, int]:
        """Queue a job; return it and its position (1 = next to run)."""
        if self.store.active_for(owner.user) >= self.per_user:
            raise JobError(
                f"You already have {self.per_user} jobs queued or running; wait for one to finish "
                "or cancel one with /trial cancel ID."
            )
        self.start()
        job = self.store.create(kind, spec, owner, worker=self.worker)
        if notify:
            with self._lock:
                self._watch[job.id] = (notify, "", 0.0)
        self._task(job.id)
        return job, self.store.queued_count()

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, a running one at its next step (from any process)."""
        job = self.store.get(job_id)
        if job is None:
            raise JobError(f"No job {job_id}. `advisor jobs` lists recent jobs.")
        if job.status not in ACTIVE:
            raise JobError(f"Job {job_id} is already {job.status}.")
        if self.store._set(
            job_id, [Job.status == "queued"], status="cancelled", finished_at=_now()
        ):
            return self.store.get(job_id) or job
        self.store._set(job_id, [Job.status == "running"], cancel_requested=True)
        return self.store.get(job_id) or job

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job has ended (for the terminal and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.store.get(job_id)
            if job is not None and job.status not in ACTIVE:
                return job
            time.sleep(0.05)
        raise JobError(f"Job {job_id} did not finish within {timeout:g} s.")

    def _supervise(self) -> None:
        """Beat this worker's leases, recover others' lapsed ones, pass progress to notify."""
        last_beat = last_recover = 0.0
        while not self._stop.wait(0.2):
            try:
                now = time.monotonic()
                if now - last_beat >= self.store.lease / 3:
                    self.store.beat(self.worker)
                    last_beat = now
                if now - last_recover >= self.store.lease:
                    self.recover()
                    last_recover = now
                self._notify_watchers()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the heartbeat
                log.exception("job heartbeat failed; retrying")

    def _notify_watchers(self) -> None:
        with self._lock:
            watched = dict(self._watch)
        for job_id, (notify, seen, at) in watched.items():
            job = self.store.get(job_id)
            if job is None:
                continue
            ended = job.status not in ACTIVE
            if ended or (job.progress != seen and time.monotonic() - at >= 1.0):
                with self._lock:
                    if ended:
                        self._watch.pop(job_id, None)
                    else:
                        self._watch[job_id] = (notify, job.progress, time.monotonic())
                notify(job)

    def _run_id(self, job_id: str) -> None:
        if self.store.claim(job_id, self.worker):
            self._run(job_id)

    def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        assert job is not None
        deadline = time.monotonic() + self.timeout
        checked = [0.0, False]

        def progress(text: str) -> None:
            self.store._set(job_id, [Job.worker == self.worker], progress=text)

        def cancelled() -> bool:
            if time.monotonic() > deadline:
                raise JobError(f"The job ran longer than {self.timeout:g} s and was stopped.")
            if time.monotonic() - float(checked[0]) >= 0.25:
                row = self.store.get(job_id)
                checked[:] = [time.monotonic(), bool(row and row.cancel_requested)]
            return bool(checked[1])

        mine = [Job.worker == self.worker, Job.status == "running"]
        try:
            result = self.execute(job, progress, cancelled)
            self.store._set(job_id, mine, status="done", result=result, finished_at=_now())
        except AdvisorError as exc:  # cancelled, timed out, Ollama failed: all say why
            row = self.store.get(job_id)
            status = "cancelled" if row and row.cancel_requested else "failed"
            self.store._set(job_id, mine, status=status, error=exc.user_message, finished_at=_now())
        except Exception as exc:  # noqa: BLE001 - a job's failure must not kill the worker
            log.exception("job %s failed", job_id)
            self.store._set(
                job_id,
                mine,
                status="failed",
                error=f"Unexpected error ({type(exc).__name__}); see the log.",
                finished_at=_now(),
            )
