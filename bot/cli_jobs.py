"""CLI commands for trials, evals and jobs; registered by bot/cli.py.

In the terminal a trial runs as the same persistent job as in chat, and the command
waits for it, printing progress, so `advisor jobs` shows it afterwards too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.console import JsonOpt, out, print_json
from core.errors import JobError

if TYPE_CHECKING:
    from bot.trials.service import Trials

USER = "terminal-user"


def _owner() -> Any:
    from bot.trials.jobs import Owner

    return Owner(USER)


def _trials() -> Trials:
    from bot.app import build_trials
    from core.settings import load_settings
    from knowledge.snapshot import open_catalog

    settings = load_settings()
    return build_trials(settings, open_catalog(settings))


def _run(trials: Trials, queued_text: str, as_json: bool, full: bool) -> None:
    from bot.adapters.render_terminal import render_terminal
    from bot.trials.service import render_job

    if "queued" not in queued_text:
        raise JobError(queued_text)
    if not as_json:  # --json prints one JSON document and nothing else
        out.print(queued_text, markup=False)
    job_id = queued_text.split()[1]
    job = trials.runner.wait(job_id, timeout=3600)
    if as_json:
        print_json(
            {
                "id": job.id,
                "kind": job.kind,
                "status": job.status,
                "spec": job.spec,
                "result": job.result,
                "error": job.error,
            }
        )
        return
    out.print(render_terminal(render_job(job, full_text=full)))
    if job.status != "done":
        raise typer.Exit(1)


def trial(
    args: Annotated[
        list[str], typer.Argument(help='MODEL[,MODEL] "PROMPT" [runs=3] [temperature=0.2] ...')
    ],
    full: Annotated[bool, typer.Option("--full", help="Show whole outputs.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a prompt on models through Ollama: TTFT, tokens/s, time per token, outputs."""
    trials = _trials()
    quoted = [f'"{a}"' if " " in a else a for a in args]
    _run(trials, trials.submit_trial(" ".join(quoted), _owner()).text, as_json, full)


def eval_(
    args: Annotated[
        list[str], typer.Argument(help="MODEL[,MODEL] suite=math [n=20] [cot=on] [votes=5]")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Score models on an eval suite: accuracy with standard error, per-case matrix."""
    trials = _trials()
    _run(trials, trials.submit_eval(" ".join(args), _owner()).text, as_json, False)


def worker(
    threads: Annotated[int, typer.Option(min=1, max=64, help="Jobs this worker runs at once.")] = 1,
) -> None:
    """Run queued trials and evals on this host until stopped (any number of hosts may)."""
    import time

    trials = _trials()
    trials.runner.concurrency = threads
    recovered = trials.runner.recover()
    trials.runner.start()
    out.print(
        f"Worker {trials.runner.worker} is taking jobs"
        + (f"; marked interrupted: {', '.join(recovered)}" if recovered else "")
        + ". Ctrl-C stops it.",
        markup=False,
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        trials.runner.close()


def jobs(
    cancel: Annotated[str | None, typer.Option(help="Cancel this job id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recent trial and eval jobs."""
    trials = _trials()
    store = trials.runner.store
    if cancel:
        trials.runner.cancel(cancel)
    rows = store.recent(20)
    if as_json:
        print_json(
            [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "status": j.status,
                    "progress": j.progress,
                    "created_at": j.created_at,
                    "error": j.error,
                }
                for j in rows
            ]
        )
        return
    for j in rows:
        out.print(
            f"{j.id}  {j.kind:<5} {j.status:<11} {j.created_at}  {j.progress or j.error or ''}",
            markup=False,
        )
    if not rows:
        out.print("No jobs yet.")
