"""Trial harness overhead against Ollama's own durations, and a long queue of jobs.

The loopback Ollama server reports durations that match the time it spends per token.
The harness's overhead is the job's wall time minus the time the same generations take
through the bare client in the same process (the server's own time is in both). Then 200 small jobs
go through the queue while resident memory is sampled. Prints figures; asserts nothing.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.llm import Message, OllamaChat  # noqa: E402
from bot.trials.jobs import JobStore, Owner  # noqa: E402
from bot.trials.service import Trials  # noqa: E402
from knowledge.db import make_engine, migrate  # noqa: E402
from knowledge.resolve import Resolver  # noqa: E402
from knowledge.store import load_curated, read_catalog  # noqa: E402
from tests.fakes.ollama_server import FakeModel, FakeOllama, OllamaServer  # noqa: E402

DELAY = 0.02  # seconds per token, also what the server reports


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    load_curated(engine)
    migrate(engine)
    resolver = Resolver(read_catalog(engine))
    with OllamaServer(FakeOllama()) as server:
        server.state.add(
            FakeModel(
                "bench:7b",
                reply=" ".join(["token"] * 50),
                chunk_delay=DELAY,
                eval_ns_per_token=int(DELAY * 1e9),
                load_ns=0,
                prompt_eval_ns=0,
            )
        )
        server.state.add(FakeModel("tiny:1", reply="ok"))
        trials = Trials(server.url, resolver, JobStore(engine))
        owner = Owner("bench")
        runs = 6  # warm-up + 5 runs
        bare = OllamaChat(server.url, "bench:7b")
        start = time.perf_counter()
        for _ in range(runs):
            bare.generate([Message("user", "Summarize.")], {})
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        job_id = trials.submit_trial('bench:7b "Summarize." runs=5', owner).text.split()[1]
        job = trials.runner.wait(job_id, timeout=120)
        wall = time.perf_counter() - start
        arms = job.result["arms"]  # type: ignore[index]
        reported = arms[0]["summary"]["total_s"]["median"] * runs
        print(
            f"trial of {runs} generations: job wall {wall:.2f} s; the same generations through "
            f"the bare client {baseline:.2f} s (server-reported {reported:.2f} s); harness "
            f"overhead {wall - baseline:.3f} s = {(wall - baseline) / wall:.1%} of run time"
        )

        trials.runner.per_user = 1000
        samples = [rss_mb()]
        start = time.perf_counter()
        for _ in range(3):
            ids = [
                trials.submit_trial('tiny:1 "hi" runs=1', owner).text.split()[1] for _ in range(200)
            ]
            for ident in ids:
                trials.runner.wait(ident, timeout=120)
            samples.append(rss_mb())
        elapsed = time.perf_counter() - start
        print(
            f"3 x 200 queued jobs: {600 / elapsed:.1f} jobs/s; peak RSS before and after each "
            f"batch: {' -> '.join(f'{m:.0f}' for m in samples)} MB"
        )


if __name__ == "__main__":
    main()
