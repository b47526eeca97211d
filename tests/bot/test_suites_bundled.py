"""Every bundled eval suite: 20+ cases, English and Chinese, and every case can pass and fail.

Each case in ``bot/trials/suites/*.yaml`` keeps a reference answer (``expected``) and a
plausible wrong one (``wrong``) beside it; the generated ``math`` suite is checked against an
independent solver of its word problems. A default eval of each suite then runs end to end
against the loopback Ollama server, with one model answering right and one answering wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.trials.assertions import check_all
from bot.trials.evals import SUITES_DIR, Case, load_suite, math_suite, read_suite_file
from bot.trials.jobs import JobStore, Owner
from bot.trials.service import EVAL_LIMITS, Trials
from knowledge.db import make_engine, migrate
from knowledge.resolve import Resolver
from tests.fakes.ollama_server import FakeModel

BUNDLED = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
ALL_SUITES = ["math", *BUNDLED]
CJK = re.compile(r"[\u4e00-\u9fff]")
MIN_CASES = 20
MIN_PER_LANGUAGE = 5


def _is_chinese(case: Case) -> bool:
    return bool(CJK.search(case.prompt))


def _references(name: str) -> dict[str, tuple[str, str]]:
    """Case id -> (expected, wrong) as written beside each case in the suite file."""
    _, rows = read_suite_file(SUITES_DIR / f"{name}.yaml")
    return {
        str(row["id"]): (str(row.get("expected", "")), str(row.get("wrong", ""))) for row, _ in rows
    }


def _solve(prompt: str) -> int:
    """The math suite's answer worked out from the prompt's own numbers, not the generator."""
    x, y, z = (int(v) for v in re.findall(r"\d+", prompt))
    if "change" in prompt or "找回" in prompt:
        return z - x * y
    if "eaten" in prompt or "吃掉" in prompt:
        return x * y - z
    return x * y + z


def _answers(name: str) -> dict[str, tuple[str, str]]:
    """Prompt -> (right reply, wrong reply) for every case of a suite."""
    if name == "math":
        return {
            c.prompt: (
                f"{c.prompt[:12]} ... so 3 steps.\nAnswer: {_solve(c.prompt)}",
                f"Answer: {_solve(c.prompt) + 1}\nThat took 2 steps.",
            )
            for c in math_suite().cases
        }
    refs = _references(name)
    return {c.prompt: refs[c.id] for c in load_suite(name).cases}


@pytest.mark.parametrize("name", ALL_SUITES)
def test_each_bundled_suite_has_20_cases_in_english_and_chinese(name: str) -> None:
    cases = load_suite(name).cases  # the validator used before any job starts
    chinese = [c.id for c in cases if _is_chinese(c)]
    english = [c.id for c in cases if not _is_chinese(c)]
    assert len(cases) >= MIN_CASES, f"{name} has {len(cases)} cases"
    if name == "chinese":
        assert english == [], f"cases without Chinese in the chinese suite: {english}"
    else:
        assert len(english) >= MIN_PER_LANGUAGE and len(chinese) >= MIN_PER_LANGUAGE, (
            f"{name}: {len(english)} English, {len(chinese)} Chinese"
        )


@pytest.mark.parametrize("name", BUNDLED)
def test_every_case_passes_its_reference_answer_and_fails_the_wrong_one(name: str) -> None:
    refs = _references(name)
    for case in load_suite(name).cases:
        expected, wrong = refs[case.id]
        assert expected and wrong, f"{name}/{case.id} needs an expected and a wrong answer"
        right_outcome, wrong_outcome = (
            check_all(case.checks, expected),
            check_all(case.checks, wrong),
        )
        assert right_outcome.passed, f"{name}/{case.id}: reference failed: {right_outcome.why}"
        assert not wrong_outcome.passed, f"{name}/{case.id}: wrong answer passed"


def test_math_cases_ask_for_answer_and_score_the_marked_number() -> None:
    cases = math_suite().cases
    assert len({c.prompt for c in cases}) == len(cases)  # no repeated question
    for case in cases:
        assert "Answer: <" in case.prompt
        right = _solve(case.prompt)
        assert right > 0
        # numbers after the marker win over numbers in the working, and vice versa
        assert check_all(case.checks, f"{right + 7} minus 7 gives\nAnswer: {right}").passed
        assert not check_all(case.checks, f"Answer: {right + 1}, not {right}").passed


@pytest.fixture
def trials(ollama_server, catalog, tmp_path: Path) -> Trials:  # type: ignore[no-untyped-def]
    """Trials with the default job time limit, so its call budget is the one users get."""
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    return Trials(ollama_server.url, Resolver(catalog), JobStore(engine), timeout=5)


@pytest.mark.parametrize("name", ALL_SUITES)
def test_a_default_eval_runs_the_whole_suite_and_scores_right_and_wrong(  # type: ignore[no-untyped-def]
    trials: Trials, ollama_server, name: str
) -> None:
    answers = _answers(name)
    models = ["right:1", "wrong:1"]
    for model in models:
        pick = 0 if model.startswith("right") else 1
        ollama_server.state.add(
            FakeModel(model, reply=lambda messages, p=pick: answers[messages[-1]["content"]][p])
        )
    queued = trials.submit_eval(f"{','.join(models)} suite={name}", Owner("U1"))
    assert f"{len(answers)} cases." in queued.text, queued.text  # all of them, within the budget
    job = trials.runner.wait(queued.text.split()[1], timeout=60)
    assert job.status == "done", job.error
    scores = {s["model"]: s for s in job.result["scores"]}  # type: ignore[index]
    for model in models:
        assert scores[model]["n"] == len(answers)
        failed = {k: v for k, v in scores[model]["why"].items() if not scores[model]["passed"][k]}
        assert scores[model]["accuracy"] == (1.0 if model == "right:1" else 0.0), (model, failed)


def test_the_default_job_budget_allows_every_bundled_suite_with_the_most_models(
    trials: Trials,
) -> None:
    largest = max(len(load_suite(name).cases) for name in ALL_SUITES)
    assert EVAL_LIMITS["models"] * largest <= trials.max_calls
