"""A replica for the cross-process job tests: submits jobs that run until cancelled."""

from __future__ import annotations

import sys
import time

from bot.trials.jobs import JobRunner, JobStore, Owner
from knowledge.db import make_engine, migrate


def _execute(job, progress, cancelled):  # type: ignore[no-untyped-def]
    from core.errors import JobError

    step = 0
    while not cancelled():
        step += 1
        progress(f"step {step}")
        time.sleep(0.1)
    raise JobError("Cancelled.")


def main() -> None:
    """Usage: job_worker DB_URL USER COUNT (prints one job id per line, then serves)."""
    url, user, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = make_engine(url)
    migrate(engine)
    runner = JobRunner(JobStore(engine, lease=2.0), _execute)
    for _ in range(count):
        job, _position = runner.submit("trial", {"models": ["m"]}, Owner(user))
        print(job.id, flush=True)
    print("ready", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
