"""Trials match the host's tags; bad parameters and bad suites are refused before queueing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.trials.evals import load_suite
from bot.trials.hosttags import choose_tag
from bot.trials.inference import parse_trial
from bot.trials.jobs import JobStore, Owner
from bot.trials.service import Trials
from core.errors import JobError
from knowledge.db import make_engine, migrate
from knowledge.resolve import Resolver
from tests.fakes.ollama_server import FakeModel


def _tag(name: str, gb: float, digest: str = "d1") -> dict:  # type: ignore[type-arg]
    return {"model": name, "size": int(gb * 1e9), "digest": digest * 6}


HOST = [
    _tag("mistral:latest", 4.1, "aa"),
    _tag("llama3.1:8b", 4.9, "bb"),
    _tag("qwen2.5:7b", 4.7, "cc"),
    _tag("deepseek-r1:8b", 5.2, "dd"),
]

# (requested, tag used, present on host)
TABLE = [
    ("mistral", "mistral:latest", True),
    ("mistral:latest", "mistral:latest", True),
    ("llama3.1:latest", "llama3.1:8b", True),
    ("llama3.1", "llama3.1:8b", True),
    ("Llama 3.1 8B", "llama3.1:8b", True),
    ("llama-3.1-8b", "llama3.1:8b", True),
    ("qwen2.5", "qwen2.5:7b", True),
    ("deepseek-r1", "deepseek-r1:8b", True),
]


@pytest.mark.parametrize(("name", "tag", "present"), TABLE)
def test_names_resolve_to_the_hosts_tags(catalog, name: str, tag: str, present: bool) -> None:  # type: ignore[no-untyped-def]
    choice = choose_tag(name, HOST, Resolver(catalog))
    assert (choice.tag, choice.present) == (tag, present)


def test_pull_proposals_fit_the_memory_budget(catalog) -> None:  # type: ignore[no-untyped-def]
    resolver = Resolver(catalog)
    r1 = choose_tag("deepseek-r1", [], resolver, memory_gb=24)
    assert not r1.present and r1.tag != "deepseek-r1:671b"
    qwen = choose_tag("qwen2.5", [], resolver, memory_gb=24)
    assert qwen.tag == "qwen2.5:latest"
    big = choose_tag("deepseek-r1:671b", [], resolver, memory_gb=24)
    assert "more than the 24 GB memory budget" in big.note


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ('m "p" runs=abc', "runs must be a whole number from 1 to 10 (got 'abc')"),
        ('m "p" temperature=hot', "temperature must be a number from 0 to 2 (got 'hot')"),
        ('m "p" max_tokens=-5', "max_tokens must be a whole number from 1 to 1024"),
    ],
)
def test_bad_trial_parameters_have_one_clear_message(args: str, says: str) -> None:
    with pytest.raises(JobError) as caught:
        parse_trial(args)
    assert says in caught.value.user_message and "Nothing was queued" in caught.value.user_message


def test_quoted_display_name_is_one_model() -> None:
    assert parse_trial('"Llama 3.1 8B" "hi"').models == ["Llama 3.1 8B"]


@pytest.fixture
def trials(ollama_server, catalog, tmp_path: Path) -> Trials:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    return Trials(
        ollama_server.url,
        Resolver(catalog),
        JobStore(engine),
        timeout=5,
        suites_dir=tmp_path,
        lock_dir=tmp_path,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ("m suite=math n=0", "n must be a whole number from 1 to 50 (got '0')"),
        ("m suite=math votes=0", "votes must be a whole number from 1 to 9 (got '0')"),
    ],
)
def test_bad_eval_parameters_are_refused(trials: Trials, args: str, says: str) -> None:
    with pytest.raises(JobError) as caught:
        trials.submit_eval(args, Owner("U1"))
    assert says in caught.value.user_message


def test_eval_over_the_job_time_budget_is_refused(trials: Trials) -> None:
    with pytest.raises(JobError, match="model calls"):
        trials.submit_eval("a,b,c,d suite=math n=50 votes=9", Owner("U1"))


def test_a_transient_500_is_retried_within_the_run(trials: Trials, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(FakeModel("qwen2.5:7b", reply="a b c", failure="5xx", fail_times=1))
    queued = trials.submit_trial('qwen2.5:7b "hi" runs=2', Owner("U1"))
    job = trials.runner.wait(queued.text.split()[1], timeout=30)
    assert job.status == "done", job.error
    assert len(job.result["arms"][0]["outputs"]) == 2  # type: ignore[index]


@pytest.mark.parametrize("name", ["/etc/passwd", "../../etc/passwd", "/nonexistent/x"])
def test_suite_paths_are_refused_without_revealing_existence(name: str) -> None:
    with pytest.raises(JobError) as caught:
        load_suite(name)
    assert caught.value.user_message.startswith(f"No eval suite called {name!r}.")


BAD = """name: team
version: 1
cases:
  - id: a
    prompt: hi
    assert:
      - {type: fuzzy, value: x}
  - id: b
    prompt: hi
    assert:
      - {type: regex, value: '(unclosed'}
  - id: c
    prompt: hi
    assert:
      - {type: numeric}
  - id: d
    prompt: hi
    assert:
      - {type: is-json, schema: {type: 12}}
"""


def test_every_problem_in_a_suite_is_listed_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "team.yaml").write_text(BAD)
    with pytest.raises(JobError) as caught:
        load_suite("team", suites_dir=tmp_path)
    text = caught.value.user_message
    assert "team.yaml:4: unknown assertion type 'fuzzy'" in text
    assert "team.yaml:8: invalid regex" in text
    assert "team.yaml:12: numeric needs a value" in text
    assert "team.yaml:16: invalid JSON Schema" in text


def test_bad_yaml_and_bad_jsonl_lines_are_located(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: x\ncases: [\n  - {id: a\n")
    with pytest.raises(JobError, match=r"broken.yaml:\d+: not valid YAML"):
        load_suite("broken", suites_dir=tmp_path)
    (tmp_path / "lines.jsonl").write_text(
        '{"prompt": "1+1?", "assert": {"type": "numeric", "value": 2}}\n{"prompt": oops}\n'
    )
    with pytest.raises(JobError, match="lines.jsonl:2: not a JSON object"):
        load_suite("lines", suites_dir=tmp_path)


def test_yes_and_no_stay_strings_and_numeric_uses_the_final_answer(tmp_path: Path) -> None:
    from bot.trials.assertions import check

    (tmp_path / "yn.yaml").write_text(
        "name: yn\nversion: 1\ncases:\n  - id: q\n    prompt: ok?\n    assert:\n"
        "      - {type: choice, value: yes, options: [yes, no]}\n"
    )
    spec = load_suite("yn", suites_dir=tmp_path).cases[0].checks[0]
    assert spec["value"] == "yes" and spec["options"] == ["yes", "no"]
    assert check(spec, "Yes").passed
    numeric = {"type": "numeric", "value": 12.0, "tolerance": 0.0}
    assert check(numeric, "Step 1: 7+5. Answer: 12. (That took 3 steps.)").passed
