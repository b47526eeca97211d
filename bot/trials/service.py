"""Trials and evals as the chat and the CLI see them: parse, check, queue, run, render.

Model names are resolved through the catalog to Ollama tags ("mistral" -> "mistral:7b"),
and a tag missing from the Ollama host is reported with the pull command instead of
failing halfway. Results are stored with their job, so /compare can show them as the
team's own evidence beside the catalog's facts.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.answer import Answer, Table
from bot.llm import OllamaChat
from bot.trials.evals import load_suite, run_suite
from bot.trials.hosttags import choose_tag
from bot.trials.inference import TrialSpec, parse_trial, run_trial, typed
from bot.trials.jobs import JobRunner, JobStore, Notify, Owner
from bot.trials.metrics import FIGURES, summarize
from core.errors import JobError
from core.settings import Settings
from knowledge.resolve import Resolver
from knowledge.tables import Job

EVAL_LIMITS = {"n": 50, "votes": 9, "models": 4}
SECONDS_PER_CALL = 5.0  # a job may make at most job_timeout / 5 s model calls
KEEP_ALIVE = "5m"
FIGURE_NAMES = {
    "load_s": "load s",
    "ttft_s": "TTFT s",
    "prompt_tps": "prompt tok/s",
    "output_tps": "output tok/s",
    "tpot_ms": "TPOT ms",
    "total_s": "total s",
    "output_tokens": "output tokens",
}


@contextmanager
def host_lock(host: str, directory: Path | None = None) -> Iterator[None]:
    """One trial at a time per Ollama host, across processes (an flock on a shared file)."""
    name = hashlib.sha256(host.encode()).hexdigest()[:16]
    path = (directory or Path(tempfile.gettempdir())) / f"advisor-ollama-{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Trials:
    """Runs trials and evals against one Ollama host, as persistent jobs."""

    def __init__(
        self,
        host: str,
        resolver: Resolver,
        store: JobStore,
        concurrency: int = 1,
        timeout: float = 120.0,
        headers: Mapping[str, str] | None = None,
        suites_dir: Path | None = None,
        job_timeout: float = 900.0,
        lock_dir: Path | None = None,
        memory_gb: float = 24.0,
    ) -> None:
        self.host = host
        self.resolver = resolver
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.suites_dir = suites_dir
        self.lock_dir = lock_dir
        self.memory_gb = memory_gb
        self.max_calls = int(job_timeout // SECONDS_PER_CALL)
        self.runner = JobRunner(store, self._execute, concurrency=concurrency, timeout=job_timeout)

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver, store: JobStore) -> Trials:
        """Trials on the configured host with its timeout, headers, suites and job limit."""
        return cls(
            settings.ollama_host,
            resolver,
            store,
            timeout=settings.ollama_timeout,
            headers=settings.ollama_header_map(),
            suites_dir=settings.suites_dir,
            job_timeout=settings.job_timeout,
            lock_dir=settings.data_dir,
        )

    def tag(self, name: str) -> str:
        """The Ollama tag for a name, matched against the tags the host has."""
        return choose_tag(name, self._host_tags(), self.resolver, self.memory_gb).tag

    def _host_tags(self) -> list[dict[str, Any]]:
        return self._client("-").installed()

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
        return OllamaChat(self.host, model, self.timeout, self.headers)

    def _resolve(self, names: list[str], question: str) -> tuple[list[str], Answer | None]:
        """Host tags for the names, or an answer saying what to pull (and how big it is)."""
        host = self._host_tags()
        choices = [choose_tag(n, host, self.resolver, self.memory_gb) for n in names]
        absent = [c for c in choices if not c.present]
        if not absent:
            return [c.tag for c in choices], None
        notes = "; ".join(c.note for c in absent if c.note)
        text = (
            "Not on the Ollama host: "
            + ", ".join(f"{c.name} (would pull {c.tag})" for c in absent)
            + f". An admin can fetch it with `/trial pull {absent[0].tag}`, then run it again."
        )
        return [], _text(question, text + (f" Note: {notes}." if notes else ""))

    def submit_trial(self, args: str, owner: Owner, notify: Notify | None = None) -> Answer:
        """Queue a /trial; answer at once with the job id and queue position."""
        spec = parse_trial(args)
        arms = len(spec.compare) or len(spec.models)
        if arms * (spec.runs + 1) > self.max_calls:
            raise JobError(
                f"This trial needs {arms * (spec.runs + 1)} model calls; a job may make at most "
                f"{self.max_calls} in its time limit. Use fewer runs or models."
            )
        tags, refusal = self._resolve(spec.models, args)
        if refusal is not None:
            return refusal
        data = {**asdict(spec), "models": tags}
        job, position = self.runner.submit("trial", data, owner, notify)
        return _text(
            args,
            f"Trial {job.id} queued (position {position}): {', '.join(tags)}, "
            f"{spec.runs} runs each. I'll post the results here.",
        )

    def submit_eval(self, args: str, owner: Owner, notify: Notify | None = None) -> Answer:
        """Queue an /eval: `MODELS suite=math [n=all] [cot=on] [votes=5]` (n: first n cases)."""
        words = shlex.split(args)
        if not words:
            raise JobError("Usage: /eval MODEL[,MODEL] suite=math [n=20] [cot=on] [votes=5]")
        opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        names = [m for m in re.split(r"\s*,\s*", words[0]) if m]
        problems = []
        n: int | None = None
        votes = 1
        for key, default, high in (("n", None, EVAL_LIMITS["n"]), ("votes", "1", 9)):
            raw = opts.get(key, default)
            if raw is None:
                continue
            try:
                value = typed(key, raw, int, 1, high)
            except JobError as exc:
                problems.append(exc.user_message)
                continue
            n, votes = (value, votes) if key == "n" else (n, value)
        if len(names) > EVAL_LIMITS["models"]:
            problems.append(f"Evals take at most {EVAL_LIMITS['models']} models.")
        if opts.get("cot", "off") not in ("on", "off", "yes", "no", "true", "false"):
            problems.append(f"cot must be on or off (got {opts['cot']!r}).")
        if problems:
            raise JobError("Nothing was queued: " + " ".join(problems))
        suite = load_suite(opts.get("suite", "math"), n, self.suites_dir)
        calls = len(names) * len(suite.cases) * votes
        if calls > self.max_calls:
            raise JobError(
                f"This eval needs {calls} model calls; a job may make at most "
                f"{self.max_calls} in its time limit. Lower n or votes."
            )
        models, refusal = self._resolve(names, args)
        if refusal is not None:
            return refusal
        data = {
            "models": models,
            "suite": opts.get("suite", "math"),
            "n": len(suite.cases),
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
            return functools.partial(self._client(model).generate, keep_alive=KEEP_ALIVE)

        with host_lock(self.host, self.lock_dir):
            return self._execute_locked(job, generate_for, progress, cancelled)

    def _model_facts(self, tag: str) -> dict[str, Any]:
        """Digest, quantization and parameter size of a tag, from /api/tags and /api/show."""
        entry = next((e for e in self._host_tags() if e.get("model") == tag), {})
        try:
            details = self._client(tag).show(tag).get("details") or {}
        except JobError:
            details = {}
        except Exception:  # noqa: BLE001 - metadata is best effort, the figures are not
            details = entry.get("details") or {}
        return {
            "digest": (entry.get("digest") or "")[:12] or None,
            "quantization": details.get("quantization_level"),
            "parameter_size": details.get("parameter_size"),
        }

    def _execute_locked(
        self,
        job: Job,
        generate_for: Callable[[str], Any],
        progress: Callable[[str], None],
        cancelled: Callable[[], bool],
    ) -> dict[str, Any]:
        if job.kind == "trial":
            arms = run_trial(TrialSpec(**job.spec), generate_for, progress, cancelled)
            facts = {tag: self._model_facts(tag) for tag in {a.model for a in arms}}
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
                        **facts[a.model],
                    }
                    for a in arms
                ]
            }
        spec: dict[str, Any] = job.spec
        suite = load_suite(spec["suite"], spec["n"], self.suites_dir)
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


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


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
        rows.append(["cold load s", *[_num(a.get("load_s")) for a in arms]])
        rows.append(
            [
                "model",
                *[
                    " ".join(
                        str(x)
                        for x in (a.get("parameter_size"), a.get("quantization"), a.get("digest"))
                        if x
                    )
                    or "?"
                    for a in arms
                ],
            ]
        )
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
