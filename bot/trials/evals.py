"""Quick evals: small suites run against Ollama models, scored with assertions.

Suites are YAML (``bot/trials/suites/*.yaml``, or a team's own YAML/JSONL file): a name,
a version, and cases of ``prompt`` plus ``assert`` checks (bot/trials/assertions.py). A case
may keep ``expected`` and ``wrong`` reference answers beside it (the bundled suites all do, and
a test runs every case against both); the runner ignores them. The ``math`` suite is
generated: arithmetic word problems with known answers from a fixed seed, so every run of
version N asks the same questions. Every bundled suite has at least 20 cases, in English and
Chinese.

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
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.llm import Message
from bot.trials.assertions import (
    check_all,
    final_answer,
    last_number,
    typed_check,
    validate_check,
)
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


MATH_EN = " Give the final answer on the last line as 'Answer: <number>'."
MATH_ZH = "请在最后一行写出最终答案，格式为“Answer: <数字>”。"


def math_suite(n: int = 20, seed: int = 7) -> Suite:
    """Word problems with known integer answers, the same for a given n and seed.

    English and Chinese problems alternate; each asks for the final answer after "Answer:",
    the marker the numeric check reads first. ``change`` templates draw c above a*b, the
    others c below it, so every answer is a positive whole number.
    """
    rng = random.Random(seed)
    templates: list[tuple[str, Callable[[int, int, int], int], bool]] = [
        (
            "A shop sells pens at {a} dollars each. Sam buys {b} pens and pays with a "
            "{c} dollar note. How many dollars of change does he get?" + MATH_EN,
            lambda a, b, c: c - a * b,
            True,
        ),
        (
            "一支笔 {a} 元，小林买了 {b} 支，付了 {c} 元，应找回多少元？" + MATH_ZH,
            lambda a, b, c: c - a * b,
            True,
        ),
        (
            "A train travels {a} km per hour for {b} hours, then {c} km more. "
            "How many km in total?" + MATH_EN,
            lambda a, b, c: a * b + c,
            False,
        ),
        (
            "一辆车每小时行驶 {a} 公里，开了 {b} 小时，之后又开了 {c} 公里。一共开了多少公里？"
            + MATH_ZH,
            lambda a, b, c: a * b + c,
            False,
        ),
        (
            "A box holds {a} apples. There are {b} boxes and {c} apples are eaten. "
            "How many apples are left?" + MATH_EN,
            lambda a, b, c: a * b - c,
            False,
        ),
        (
            "每箱有 {a} 个橙子，一共 {b} 箱，吃掉了 {c} 个。还剩多少个橙子？" + MATH_ZH,
            lambda a, b, c: a * b - c,
            False,
        ),
        (
            "Each of {b} teams has {a} players; {c} more players join later. "
            "How many players are there now?" + MATH_EN,
            lambda a, b, c: a * b + c,
            False,
        ),
        (
            "学校有 {b} 个班，每班 {a} 名学生，后来又转来 {c} 名学生。现在一共有多少名学生？"
            + MATH_ZH,
            lambda a, b, c: a * b + c,
            False,
        ),
    ]
    cases = []
    for i in range(n):
        text, answer, change = templates[i % len(templates)]
        a, b = rng.randint(3, 19), rng.randint(2, 9)
        c = rng.randint(a * b + 1, a * b + 60) if change else rng.randint(1, a * b - 1)
        cases.append(
            Case(
                f"math-{i + 1}",
                text.format(a=a, b=b, c=c),
                [{"type": "numeric", "value": answer(a, b, c), "tolerance": 0}],
            )
        )
    return Suite("math", 2, "Arithmetic word problems, English and Chinese (seed 7).", cases)


_SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _available(suites_dir: Path | None) -> dict[str, Path]:
    """Suite name -> file: the bundled set, then the team's directory (which may override)."""
    found = {p.stem: p for p in sorted(SUITES_DIR.glob("*.yaml"))}
    if suites_dir is not None and suites_dir.is_dir():
        for pattern in ("*.yaml", "*.yml", "*.jsonl"):
            found.update({p.stem: p for p in sorted(suites_dir.glob(pattern))})
    return found


def load_suite(name: str, n: int | None = None, suites_dir: Path | None = None) -> Suite:
    """A suite by name, from the bundled set or the team's suite directory, validated whole.

    Names are plain words; a path (``/etc/passwd``) is refused with the same message as an
    unknown name, so nothing about the server's files is revealed.
    """
    if name == "math":
        return math_suite(n or 20)
    available = _available(suites_dir)
    if not _SUITE_NAME.match(name) or name not in available:
        known = ", ".join(["math", *sorted(available)])
        raise JobError(f"No eval suite called {name!r}. Available suites: {known}.")
    path = available[name]
    meta, rows = read_suite_file(path)
    cases = [_case(row) for row, _ in rows]
    suite = Suite(
        str(meta.get("name", path.stem)),
        int(meta.get("version", 1)),
        str(meta.get("description", "")),
        cases,
    )
    return Suite(suite.name, suite.version, suite.description, cases[:n] if n else cases)


def _case(raw: dict[str, Any]) -> Case:
    checks = raw["assert"] if isinstance(raw["assert"], list) else [raw["assert"]]
    return Case(str(raw.get("id")), str(raw["prompt"]), [typed_check(c) for c in checks])


def read_suite_file(path: Path) -> tuple[dict[str, Any], list[tuple[dict[str, Any], int]]]:
    """(metadata, [(case, line)]) after checking every case; JobError lists file:line issues."""
    problems: list[str] = []
    rows: list[tuple[Any, int]] = []
    meta: dict[str, Any] = {"name": path.stem, "version": 1, "description": ""}
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".jsonl":
        for i, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                rows.append((json.loads(raw), i))
            except json.JSONDecodeError as exc:
                problems.append(f"{path.name}:{i}: not a JSON object ({exc.msg})")
    else:
        try:
            # BaseLoader keeps every scalar a string ("yes" stays "yes", not True).
            node = yaml.compose(text, Loader=yaml.BaseLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = mark.line + 1 if mark else 1
            raise JobError(f"{path.name}:{at}: not valid YAML ({exc})") from None
        data = yaml.load(text, Loader=yaml.BaseLoader) or {}
        if node is None or not isinstance(data, dict) or not isinstance(data.get("cases"), list):
            raise JobError(f"{path.name}:1: a suite needs name, version and a list of cases")
        meta = {k: v for k, v in data.items() if k != "cases"}
        cases_node = next(v for k, v in node.value if k.value == "cases")
        rows = [
            (row, item.start_mark.line + 1)
            for row, item in zip(data["cases"], cases_node.value, strict=False)
        ]
    if not str(meta.get("version", "1")).isdigit():
        problems.append(f"{path.name}:1: version must be a whole number")
    seen: set[str] = set()
    for i, (row, line) in enumerate(rows, 1):
        where = f"{path.name}:{line}"
        if not isinstance(row, dict) or "prompt" not in row or "assert" not in row:
            problems.append(f"{where}: each case needs a prompt and an assert list")
            continue
        row.setdefault("id", f"case-{i}")
        if row["id"] in seen:
            problems.append(f"{where}: duplicate case id {row['id']!r}")
        seen.add(str(row["id"]))
        checks = row["assert"] if isinstance(row["assert"], list) else [row["assert"]]
        for spec in checks:
            problems += [f"{where}: {p}" for p in validate_check(spec)]
    if problems:
        raise JobError(f"The suite {path.name} has problems:\n" + "\n".join(problems))
    return meta, rows


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
