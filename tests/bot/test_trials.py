"""Trials and evals against the loopback Ollama server, as persistent jobs."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from bot.trials.assertions import check, final_answer
from bot.trials.evals import COT_SUFFIX, load_suite, math_suite
from bot.trials.inference import parse_trial
from bot.trials.jobs import JobRunner, JobStore, Owner
from bot.trials.service import Trials, render_job
from core.errors import JobError, LLMUnavailable
from knowledge.db import make_engine, migrate
from knowledge.resolve import Resolver
from knowledge.tables import Job
from tests.fakes.ollama_server import FakeModel

OWNER = Owner("U1", "slack", "C1", "t1")


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    return JobStore(engine)


@pytest.fixture
def trials(ollama_server, catalog, store: JobStore) -> Trials:  # type: ignore[no-untyped-def]
    return Trials(ollama_server.url, Resolver(catalog), store, timeout=5)


def _run(trials: Trials, answer_text: str) -> Job:
    job_id = answer_text.split()[1]
    return trials.runner.wait(job_id, timeout=30)


def test_trial_metrics_come_from_ollama_durations(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(
        FakeModel("qwen2.5:7b", reply=" ".join(["tok"] * 20), chunk_delay=0.005)
    )
    queued = trials.submit_trial('qwen2.5:7b "Summarize this." runs=3', OWNER)
    assert "queued (position 1)" in queued.text
    job = _run(trials, queued.text)
    assert job.status == "done", job.error
    arm = job.result["arms"][0]  # type: ignore[index]
    s = arm["summary"]
    assert s["output_tps"]["median"] == pytest.approx(100.0)  # 10 ms per token
    assert s["tpot_ms"]["median"] == pytest.approx(10.0)
    assert s["prompt_tps"]["median"] == pytest.approx(600.0)  # 12 tokens in 20 ms
    assert s["output_tokens"]["median"] == 20 and s["ttft_s"]["median"] > 0
    assert arm["load_s"] == pytest.approx(0.05) and s["ttft_s"]["n"] == 3
    rendered = render_job(job)
    assert rendered.tables[0].rows[3][:2] == ["output tok/s", "100"]
    body = [b for p, b in ollama_server.state.requests if p == "/api/chat"][-1]
    assert body["stream"] is True and body["keep_alive"] == "5m"
    assert body["options"]["num_ctx"] >= 2048 and body["options"]["num_predict"] == 256
    assert rendered.tables[0].rows[-2] == ["cold load s", "0.05"]
    assert rendered.tables[0].rows[-1] == ["model", "7.6B Q4_K_M 6a0746a1ec1a"]


def test_missing_fields_are_reported_not_zero(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(
        FakeModel("m:1", reply="a b c", omit_metrics=("load_duration", "prompt_eval_duration"))
    )
    job = _run(trials, trials.submit_trial('m:1 "hi" runs=1', OWNER).text)
    arm = job.result["arms"][0]  # type: ignore[index]
    assert arm["summary"]["prompt_tps"]["median"] is None and "prompt_tps" in arm["missing"]
    assert "Not reported by Ollama" in render_job(job).text


def test_catalog_name_resolves_to_tag_and_missing_model_offers_pull(trials: Trials) -> None:
    assert trials.tag("mistral-7b-instruct-v0.3").startswith("mistral")
    answer = trials.submit_trial('llama3.1:8b "hi"', OWNER)
    assert "Not on the Ollama host" in answer.text and "/trial pull llama3.1:8b" in answer.text


def test_pull_streams_progress_and_failures_say_why(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.pullable["phi4:14b"] = FakeModel("phi4:14b")
    lines: list[str] = []
    done = trials.pull("phi4:14b", lines.append)
    assert (
        lines[0] == "pulling manifest" and "success" in lines[-1] and any("50%" in x for x in lines)
    )
    assert "now on the Ollama host" in done.text and "phi4:14b" in ollama_server.state.models
    ollama_server.state.pullable["gemma2:9b"] = FakeModel("gemma2:9b")
    ollama_server.state.pull_fails = True
    with pytest.raises(LLMUnavailable) as caught:
        trials.pull("gemma2:9b", lines.append)
    assert "max retries exceeded" in caught.value.user_message


def test_mid_stream_error_fails_the_job_with_the_reason(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("bad:1", reply="one two three four", error_after=2))
    job = _run(trials, trials.submit_trial('bad:1 "hi" runs=1', OWNER).text)
    assert job.status == "failed" and "unexpected EOF" in (job.error or "")


def test_slow_model_times_out(ollama_server, catalog, store: JobStore) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("slow:1", reply="a b c d e f", chunk_delay=1.0))
    trials = Trials(ollama_server.url, Resolver(catalog), store, timeout=0.6)
    job = _run(trials, trials.submit_trial('slow:1 "hi" runs=1', OWNER).text)
    assert job.status == "failed" and "0.6 s" in (job.error or "")


def test_cancel_queued_and_running_jobs(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("slowish:1", reply="a b c d", chunk_delay=0.1))
    first = trials.submit_trial('slowish:1 "hi" runs=5', OWNER).text.split()[1]
    second = trials.submit_trial('slowish:1 "hi" runs=5', OWNER).text.split()[1]
    assert trials.runner.cancel(second).status == "cancelled"
    deadline = time.monotonic() + 10
    while trials.runner.store.get(first).status != "running":  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    trials.runner.cancel(first)
    assert trials.runner.wait(first, 30).status == "cancelled"
    with pytest.raises(JobError, match="already cancelled"):
        trials.runner.cancel(first)


def test_running_jobs_are_interrupted_by_a_restart(store: JobStore) -> None:
    job = store.create("trial", {"models": ["m"]}, OWNER)
    store.update(job.id, status="running")
    runner = JobRunner(store, lambda job, progress, cancelled: {})
    assert runner.recover() == [job.id]
    assert store.get(job.id).status == "interrupted"  # type: ignore[union-attr]


def test_per_user_limit(store: JobStore) -> None:
    runner = JobRunner(store, lambda job, progress, cancelled: time.sleep(0.5) or {}, per_user=1)
    runner.submit("trial", {}, OWNER)
    with pytest.raises(JobError, match="already have 1 jobs"):
        runner.submit("trial", {}, OWNER)


def test_trial_limits_explain_themselves() -> None:
    with pytest.raises(JobError, match="at most 4 models"):
        parse_trial('a,b,c,d,e "hi"')
    with pytest.raises(JobError, match="exactly one model"):
        parse_trial('a,b "hi" compare=greedy,top_p=0.9')
    with pytest.raises(JobError, match="Usage"):
        parse_trial("a")


def test_decoding_comparison_reports_repeatability(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("mistral:7b", reply="same answer"))
    job = _run(
        trials,
        trials.submit_trial('mistral:7b "hi" runs=3 compare=greedy,temperature=1.2', OWNER).text,
    )
    labels = [a["label"] for a in job.result["arms"]]  # type: ignore[index]
    assert sorted(labels) == ["greedy", "temperature=1.2"]
    assert all(a["repeatability"] == 1.0 for a in job.result["arms"])  # type: ignore[index]
    sent = [b["options"] for p, b in ollama_server.state.requests if p == "/api/chat"]
    assert any(o["temperature"] == 0.0 and o["top_k"] == 1 for o in sent)
    assert any(o["temperature"] == 1.2 for o in sent)


@pytest.mark.parametrize(
    ("spec", "output", "passed"),
    [
        ({"type": "equals", "value": "Paris"}, " paris ", True),
        ({"type": "equals", "value": "HELLO", "case_sensitive": True}, "hello", False),
        ({"type": "contains", "value": ["red", "blue"], "mode": "all"}, "Red and BLUE", True),
        ({"type": "contains", "value": ["red", "blue"], "mode": "all"}, "red only", False),
        ({"type": "contains", "value": ["red", "blue"]}, "just blue", True),
        ({"type": "regex", "value": r"^\d{4}-\d{2}-\d{2}$"}, "2026-03-02", True),
        ({"type": "numeric", "value": 1250.5, "tolerance": 0.01}, "Total: 1,250.50 EUR", True),
        ({"type": "numeric", "value": 42}, "It is 41.", False),
        (
            {"type": "choice", "value": "billing", "options": ["billing", "technical"]},
            "Billing",
            True,
        ),
        (
            {"type": "choice", "value": "billing", "options": ["billing", "technical"]},
            "billing or technical",
            False,
        ),
        (
            {"type": "is-json", "schema": {"type": "object", "required": ["a"]}},
            '```json\n{"a": 1}\n```',
            True,
        ),
        ({"type": "is-json", "schema": {"type": "object", "required": ["a"]}}, '{"b": 1}', False),
        ({"type": "is-json"}, "not json", False),
        ({"type": "not", "assert": {"type": "contains", "value": "sorry"}}, "Here you go", True),
        (
            {"type": "not", "assert": {"type": "contains", "value": "sorry"}},
            "Sorry, I can't",
            False,
        ),
    ],
)
def test_every_assertion_type(spec: dict, output: str, passed: bool) -> None:  # type: ignore[type-arg]
    assert check(spec, output).passed is passed


def test_votes_and_cot_on_the_math_suite(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    suite = math_suite(3)
    truth = {c.prompt + COT_SUFFIX: c.checks[0]["value"] for c in suite.cases}
    calls = itertools.count()

    def reply(messages: list[dict]) -> str:  # type: ignore[type-arg]
        right = truth[messages[-1]["content"]]
        wrong = next(calls) % 5 in (0, 3)  # two of every five samples are wrong
        return f"Let me think.\nAnswer: {right + 1 if wrong else right}"

    ollama_server.state.add(FakeModel("math:1", reply=reply))
    voted = _run(trials, trials.submit_eval("math:1 suite=math n=3 cot=on votes=5", OWNER).text)
    score = voted.result["scores"][0]  # type: ignore[index]
    assert score["accuracy"] == 1.0 and score["n"] == 3
    table = render_job(voted).tables[0]
    assert table.rows[0][:3] == ["math:1", "100%", "0%"]


def test_suites_load_and_report_errors(tmp_path: Path) -> None:
    assert [c.id for c in math_suite(2).cases] == ["math-1", "math-2"]
    assert (
        math_suite(4).cases[2].prompt == math_suite(4).cases[2].prompt
    )  # same seed, same questions
    for name in ("format", "extraction", "classification", "chinese", "summarization"):
        assert load_suite(name).cases
    team = tmp_path / "ours.jsonl"
    team.write_text('{"id": "q1", "prompt": "2+2?", "assert": {"type": "numeric", "value": 4}}\n')
    checks = load_suite("ours", suites_dir=tmp_path).cases[0].checks
    assert checks == [{"type": "numeric", "value": 4.0, "tolerance": 0.0}]
    with pytest.raises(JobError, match="Available suites: math"):
        load_suite("nope")
    assert final_answer("reasoning...\nAnswer: 12") == "12"


def test_trial_results_show_as_team_evidence_in_compare(  # type: ignore[no-untyped-def]
    trials: Trials, ollama_server, catalog, store: JobStore
) -> None:
    from bot.advisor import Advisor
    from bot.chat_service import ChatContext, ChatService
    from bot.profiles import ProfileStore
    from rules.packs import load_rules

    ollama_server.state.add(FakeModel("mistral:7b", reply=" ".join(["x"] * 10)))
    _run(trials, trials.submit_trial('mistral:7b "hi" runs=2', OWNER).text)
    service = ChatService(
        Advisor(catalog, load_rules()), ProfileStore(store.engine, catalog), trials=trials
    )
    answer = service.handle(ChatContext("slack", "T", "C", "U", "t"), "/compare mistral llama2")
    assert "Team evidence (your trials):" in answer.text
    assert "mistral-7b-instruct-v0.3 (`mistral:7b`): 100 tok/s" in answer.text
