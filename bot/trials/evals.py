"""Quick evals: small suites run against Ollama models, scored with assertions.

Suites are YAML (``bot/trials/suites/*.yaml``, or a team's own YAML/JSONL file): a name,
a version, and cases of ``prompt`` plus ``assert`` checks (bot/trials/assertions.py). The
``math`` suite is generated: arithmetic word problems with known answers from a fixed seed,
so every run of version N asks the same questions.

Two options follow the evaluation literature for fair comparisons: ``cot`` asks for
step-by-step reasoning and scores only the final "Answer:" line, and ``votes`` samples N
answers at a moderate temperature and scores the majority answer (self-consistency).
Accuracy is reported with its standard error, sqrt(p(1-p)/n), so two models whose
difference is within noise are not ranked as if it were real.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.llm import Message
from bot.trials.assertions import check_all, final_answer, last_number
from bot.trials.metrics import RunMetrics
from core.errors import JobError

SUITES_DIR = Path(__file__).resolve().parent / "suites"
COT_SUFFIX = (
    "\n\nThink step by step, then give the final answer on the last line as 'Answer: <answer>'."
)
VOTE_TEMPERATURE = 0.7
Generate = Callable[[list[Message], dict[str, Any]], tuple[str, float | None, dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    id: str
    prompt: str
    checks: list[dict[str, Any]]


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    description: str
    cases: list[Case]


@dataclass
class ModelScore:
    """One model's result on one suite."""

    model: str
    passed: dict[str, bool] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    metrics: list[RunMetrics] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(self.passed.values()) / len(self.passed) if self.passed else 0.0

    @property
    def stderr(self) -> float:
        n = len(self.passed)
        return math.sqrt(self.accuracy * (1 - self.accuracy) / n) if n else 0.0


def math_suite(n: int = 20, seed: int = 7) -> Suite:
    """Word problems with known integer answers, the same for a given n and seed."""
    rng = random.Random(seed)
    templates = [
        (
            "A shop sells pens at {a} dollars each. Sam buys {b} pens and pays with a "
            "{c} dollar note. How many dollars of change does he get?",
            lambda a, b, c: c - a * b,
        ),
        (
            "A train travels {a} km per hour for {b} hours, then {c} km more. "
            "How many km in total?",
            lambda a, b, c: a * b + c,
        ),
        (
            "A box holds {a} apples. There are {b} boxes and {c} apples are eaten. "
            "How many apples are left?",
            lambda a, b, c: a * b - c,
        ),
        (
            "Each of {b} teams has {a} players; {c} more players join later. "
            "How many players are there now?",
            lambda a, b, c: a * b + c,
        ),
    ]
    cases = []
    for i in range(n):
        text, answer = templates[i % len(templates)]
        a, b = rng.randint(3, 19), rng.randint(2, 9)
        c = rng.randint(a * b + 1, a * b + 60) if "change" in text else rng.randint(1, a * b - 1)
        cases.append(
            Case(
                f"math-{i + 1}",
                text.format(a=a, b=b, c=c) + " Reply with the number.",
                [{"type": "numeric", "value": answer(a, b, c), "tolerance": 0}],
            )
        )
    return Suite("math", 1, "Arithmetic word problems with known answers (seed 7).", cases)


def _case(raw: dict[str, Any], where: str) -> Case:
    if "prompt" not in raw or "assert" not in raw:
        raise JobError(f"{where}: each case needs a prompt and an assert list.")
    checks = raw["assert"] if isinstance(raw["assert"], list) else [raw["assert"]]
    return Case(str(raw.get("id") or where), str(raw["prompt"]), checks)


def load_suite(name_or_path: str, n: int | None = None) -> Suite:
    """A bundled suite by name (math, format, extraction, classification, chinese,
    summarization) or a team suite file (.yaml / .jsonl)."""
    if name_or_path == "math":
        return math_suite(n or 20)
    path = Path(name_or_path)
    if not path.exists():
        path = SUITES_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(["math", *sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))])
        raise JobError(f"No eval suite called {name_or_path!r}. Bundled suites: {known}.")
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        meta: dict[str, Any] = {"name": path.stem, "version": 1, "description": ""}
    else:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        rows = meta.get("cases") or []
    cases = [_case(row, f"{path.name} case {i + 1}") for i, row in enumerate(rows)]
    suite = Suite(
        str(meta.get("name", path.stem)),
        int(meta.get("version", 1)),
        str(meta.get("description", "")),
        cases,
    )
    return Suite(suite.name, suite.version, suite.description, cases[:n] if n else cases)


def _normalise(answer: str) -> str:
    number = last_number(answer)
    return f"{number:g}" if number is not None else answer.strip().lower()[:200]


def run_suite(
    suite: Suite,
    models: dict[str, Generate],
    cot: bool = False,
    votes: int = 1,
    options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[ModelScore]:
    """Score every model on every case; votes > 1 scores the majority answer."""
    scores = []
    base = {"temperature": 0.0, "seed": 7, **(options or {})}
    for model, generate in models.items():
        score = ModelScore(model)
        for i, case in enumerate(suite.cases, 1):
            if cancelled():
                raise JobError("The eval was cancelled.")
            prompt = case.prompt + (COT_SUFFIX if cot else "")
            samples = []
            for v in range(votes):
                opts = {
                    **base,
                    **({"temperature": VOTE_TEMPERATURE, "seed": 7 + v} if votes > 1 else {}),
                }
                text, ttft, final = generate([Message("user", prompt)], opts)
                score.metrics.append(RunMetrics.from_final(final, ttft))
                samples.append(final_answer(text) if cot else text)
            if votes > 1:
                winner, _ = Counter(_normalise(s) for s in samples).most_common(1)[0]
                answer = next(s for s in samples if _normalise(s) == winner)
            else:
                answer = samples[0]
            outcome = check_all(case.checks, answer)
            score.passed[case.id], score.why[case.id] = outcome.passed, outcome.why
            if progress:
                progress(f"{model}: {i}/{len(suite.cases)} cases")
        scores.append(score)
    return scores
