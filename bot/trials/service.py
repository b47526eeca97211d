"""Trials and evals as the chat and the CLI see them: parse, check, queue, run, render.

Model names are resolved through the catalog to Ollama tags ("mistral" -> "mistral:7b"),
and a tag missing from the Ollama host is reported with the pull command instead of
failing halfway. Results are stored with their job, so /compare can show them as the
team's own evidence beside the catalog's facts.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bot.answer import Answer, Table
from bot.llm import OllamaChat
from bot.trials.evals import load_suite, run_suite
from bot.trials.inference import TrialSpec, parse_trial, run_trial
from bot.trials.jobs import JobRunner, JobStore, Notify, Owner
from bot.trials.metrics import FIGURES, summarize
from core.errors import CatalogError, JobError
from knowledge.catalog import Job
from knowledge.resolve import Resolver

EVAL_LIMITS = {"n": 50, "votes": 9, "models": 4}
FIGURE_NAMES = {
    "load_s": "load s",
    "ttft_s": "TTFT s",
    "prompt_tps": "prompt tok/s",
    "output_tps": "output tok/s",
    "tpot_ms": "TPOT ms",
    "total_s": "total s",
    "output_tokens": "output tokens",
}


class Trials:
    """Runs trials and evals against one Ollama host, as persistent jobs."""

    def __init__(
        self,
        host: str,
        resolver: Resolver,
        store: JobStore,
        concurrency: int = 1,
        timeout: float = 120.0,
    ) -> None:
        self.host = host
        self.resolver = resolver
        self.timeout = timeout
        self.runner = JobRunner(store, self._execute, concurrency=concurrency)

    def tag(self, name: str) -> str:
        """The Ollama tag for a catalog name (tags pass through unchanged)."""
        if ":" in name:
            return name
        try:
            variant = self.resolver.resolve(name).variant
        except CatalogError:
            return name
        return variant.ollama_tags[0] if variant.ollama_tags else name

    def evidence(self, tags: list[str]) -> dict[str, str]:
        """The latest finished trial figures per Ollama tag: the team's own evidence."""
        found: dict[str, str] = {}
        for job in self.runner.store.recent(200):
            if job.kind != "trial" or job.status != "done" or not job.result:
                continue
            for arm in job.result["arms"]:
                tag = arm["model"]
                if tag in tags and tag not in found and arm["label"] == tag:
                    summary = arm["summary"]
                    found[tag] = (
                        f"{_fmt(summary['output_tps'])} tok/s, TTFT {_fmt(summary['ttft_s'])} s "
                        f"(trial {job.id}, {job.created_at[:10]}, {len(arm['outputs'])} runs)"
                    )
        return found

    def _client(self, model: str) -> OllamaChat:
        return OllamaChat(self.host, model, self.timeout)

    def missing(self, tags: list[str]) -> list[str]:
        """Tags not on the Ollama host (``name`` and ``name:latest`` are the same)."""
        installed = set(self._client("-").installed())
        installed |= {t.removesuffix(":latest") for t in installed}
        return [t for t in tags if t not in installed]

    def submit_trial(self, args: str, owner: Owner, notify: Notify | None = None) -> Answer:
        """Queue a /trial; answer at once with the job id and queue position."""
        spec = parse_trial(args)
        tags = [self.tag(m) for m in spec.models]
        absent = self.missing(tags)
        if absent:
            return _text(
                args,
                (
                    f"Not on the Ollama host {self.host}: {', '.join(absent)}. An admin can "
                    f"fetch it with `/trial pull {absent[0]}`, then run the trial again."
                ),
            )
        data = {**asdict(spec), "models": tags}
        job, position = self.runner.submit("trial", data, owner, notify)
        return _text(
            args,
            f"Trial {job.id} queued (position {position}): {', '.join(tags)}, "
            f"{spec.runs} runs each. I'll post the results here.",
        )

    def submit_eval(self, args: str, owner: Owner, notify: Notify | None = None) -> Answer:
        """Queue an /eval: `MODELS suite=math [n=20] [cot=on] [votes=5]`."""
        words = shlex.split(args)
        if not words:
            raise JobError("Usage: /eval MODEL[,MODEL] suite=math [n=20] [cot=on] [votes=5]")
        opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        models = [self.tag(m) for m in re.split(r"[,\s]+", words[0]) if m]
        n, votes = int(opts.get("n", 20)), int(opts.get("votes", 1))
        if (
            len(models) > EVAL_LIMITS["models"]
            or n > EVAL_LIMITS["n"]
            or votes > EVAL_LIMITS["votes"]
        ):
            raise JobError(
                f"Evals take at most {EVAL_LIMITS['models']} models, n={EVAL_LIMITS['n']} cases "
                f"and votes={EVAL_LIMITS['votes']}."
            )
        suite = load_suite(opts.get("suite", "math"), n)
        absent = self.missing(models)
        if absent:
            return _text(
                args,
                f"Not on the Ollama host: {', '.join(absent)}. An admin can run "
                f"`/trial pull {absent[0]}` first.",
            )
        data = {
            "models": models,
            "suite": opts.get("suite", "math"),
            "n": n,
            "cot": opts.get("cot", "off") in ("on", "yes", "true"),
            "votes": votes,
            "version": suite.version,
        }
        job, position = self.runner.submit("eval", data, owner, notify)
        return _text(
            args,
            f"Eval {job.id} queued (position {position}): {', '.join(models)} on "
            f"{suite.name} v{suite.version}, {len(suite.cases)} cases.",
        )

    def pull(self, tag: str, progress: Callable[[str], None]) -> Answer:
        """Download a model to the Ollama host, reporting progress."""
        last = ""
        for status, done, total in self._client(tag).pull(tag):
            line = f"{status} {100 * done // total}%" if done is not None and total else status
            if line != last:
                progress(line)
                last = line
        return _text(f"pull {tag}", f"{tag} is now on the Ollama host.")

    def _execute(
        self, job: Job, progress: Callable[[str], None], cancelled: Callable[[], bool]
    ) -> dict[str, Any]:
        def generate_for(model: str) -> Any:
            return self._client(model).generate

        if job.kind == "trial":
            arms = run_trial(TrialSpec(**job.spec), generate_for, progress, cancelled)
            return {
                "arms": [
                    {
                        "label": a.label,
                        "model": a.model,
                        "options": a.options,
                        "summary": {k: vars(v) for k, v in a.summary.items()},
                        "missing": sorted({m for r in a.runs for m in r.missing()}),
                        "repeatability": a.repeatability,
                        "outputs": a.outputs,
                        "load_s": a.warmup.load_s if a.warmup else None,
                    }
                    for a in arms
                ]
            }
        spec: dict[str, Any] = job.spec
        suite = load_suite(spec["suite"], spec["n"])
        scores = run_suite(
            suite,
            {m: generate_for(m) for m in spec["models"]},
            spec["cot"],
            spec["votes"],
            progress=progress,
            cancelled=cancelled,
        )
        return {
            "suite": suite.name,
            "version": suite.version,
            "scores": [
                {
                    "model": s.model,
                    "accuracy": s.accuracy,
                    "stderr": s.stderr,
                    "n": len(s.passed),
                    "passed": s.passed,
                    "why": s.why,
                    "summary": {k: vars(v) for k, v in summarize(s.metrics).items()},
                }
                for s in scores
            ],
        }


def _text(question: str, text: str) -> Answer:
    return Answer(question=question, language="en", text=text)


def _fmt(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("median") is None:
        return "n/a"
    median, low, high = cell["median"], cell["low"], cell["high"]
    return f"{median:.3g}" if low == high else f"{median:.3g} ({low:.3g}–{high:.3g})"


def render_job(job: Job, full_text: bool = False) -> Answer:
    """A finished (or failed) job as an answer with its tables."""
    head = f"{job.kind.title()} {job.id}: {job.status}"
    if job.status != "done" or not job.result:
        detail = job.error or job.progress
        return _text(job.id, f"{head}{' — ' + detail if detail else ''}")
    if job.kind == "trial":
        arms = job.result["arms"]
        columns = ["metric", *[a["label"] for a in arms]]
        rows = [[FIGURE_NAMES[f], *[_fmt(a["summary"][f]) for a in arms]] for f in FIGURES]
        rows.append(["repeatable outputs", *[f"{a['repeatability']:.0%}" for a in arms]])
        limit = None if full_text else 160
        outputs = "\n".join(
            f"- **{a['label']}**: {a['outputs'][0][:limit] if a['outputs'] else ''}" for a in arms
        )
        missing = [f"{a['label']}: no {', '.join(a['missing'])}" for a in arms if a["missing"]]
        text = (
            f"{head}. Ranked by {job.spec.get('rank_by', 'output_tps')}; median (range) over "
            f"{job.spec['runs']} runs after a warm-up.\n\n{outputs}"
        )
        if missing:
            text += "\n\nNot reported by Ollama: " + "; ".join(missing)
        return Answer(
            question=job.id,
            language="en",
            text=text,
            tables=[Table(f"Trial {job.id}", columns, rows)],
        )
    scores = job.result["scores"]
    summary = Table(
        f"Eval {job.id}: {job.result['suite']} v{job.result['version']}",
        ["model", "accuracy", "± s.e.", "cases", "latency s", "output tok/s"],
        [
            [
                s["model"],
                f"{s['accuracy']:.0%}",
                f"{s['stderr']:.0%}",
                str(s["n"]),
                _fmt(s["summary"]["total_s"]),
                _fmt(s["summary"]["output_tps"]),
            ]
            for s in scores
        ],
    )
    cases = list(scores[0]["passed"]) if scores else []
    matrix = Table(
        "Cases",
        ["case", *[s["model"] for s in scores]],
        [[c, *["✓" if s["passed"][c] else "✗" for s in scores]] for c in cases],
    )
    text = (
        f"{head}. Accuracy with its standard error; CoT {'on' if job.spec['cot'] else 'off'}, "
        f"votes {job.spec['votes']}."
    )
    return Answer(question=job.id, language="en", text=text, tables=[summary, matrix])
