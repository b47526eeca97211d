"""The grounded advisor end to end: Ollama on loopback (or absent), rules, index, threads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.advisor import Advisor, Thread
from bot.grounding import check
from bot.llm import OllamaChat
from knowledge.catalog import Catalog
from knowledge.index import KnowledgeIndex
from rules.packs import load_rules
from tests.fakes.ollama_server import FakeModel

QUESTION = "which open model can we use commercially on one 24 GB GPU for summarization?"


def _advisor(
    catalog: Catalog, index: KnowledgeIndex, url: str | None, model: str = "qwen2.5:7b-instruct"
) -> Advisor:
    llm = OllamaChat(url, model, timeout=5) if url else None
    return Advisor(catalog, load_rules(), index=index, llm=llm)


def _first_candidate(messages: list[dict]) -> str:  # type: ignore[type-arg]
    match = re.search(r"\(`([a-z0-9.\-]+)`\)", messages[0]["content"])
    assert match, "the facts should list candidates"
    return match.group(1)


def test_without_ollama_the_answer_is_deterministic_and_cited(  # type: ignore[no-untyped-def]
    catalog, knowledge_index, closed_url: str
) -> None:
    answer = _advisor(catalog, knowledge_index, closed_url).ask(QUESTION)
    assert not answer.llm.used and "not reachable" in (answer.llm.error or "")
    assert "Deterministic answer" in answer.text
    assert answer.understood.startswith(
        "I read this as: commercial use, open weights, 1x 24 GiB GPU"
    )
    assert answer.citations and all(c.source and c.snippet for c in answer.citations)
    assert answer.data["candidates"] and "Catalog facts as of" in answer.text


def test_grounded_llm_answer_is_used_and_streamed(catalog, knowledge_index, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(
        FakeModel(
            "qwen2.5:7b-instruct",
            reply=lambda m: f"Pick {_first_candidate(m)}; it fits your GPU [1].",
        )
    )
    tokens: list[str] = []
    answer = _advisor(catalog, knowledge_index, ollama_server.url).ask(
        QUESTION, on_token=tokens.append
    )
    assert answer.llm.used and answer.llm.model == "qwen2.5:7b-instruct"
    assert answer.text.startswith("Pick ") and len(tokens) > 1 and "".join(tokens) == answer.text
    _, body = ollama_server.state.requests[-1]
    system = body["messages"][0]["content"]
    assert "Answer in English" in system and "[1]" in system


def test_llm_naming_a_rejected_model_is_replaced(catalog, knowledge_index, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(
        FakeModel("qwen2.5:7b-instruct", reply="Use galactica-120b, it is the best.")
    )
    answer = _advisor(catalog, knowledge_index, ollama_server.url).ask(QUESTION)
    assert not answer.llm.used
    assert "galactica-120b" in (answer.llm.error or "") and answer.llm.replaced
    assert "answer above was withdrawn" in answer.text


def test_llm_inventing_a_figure_is_replaced(catalog, knowledge_index, ollama_server) -> None:  # type: ignore[no-untyped-def]
    ollama_server.state.add(
        FakeModel("qwen2.5:7b-instruct", reply=lambda m: f"{_first_candidate(m)} needs 987 GiB.")
    )
    answer = _advisor(catalog, knowledge_index, ollama_server.url).ask(QUESTION)
    assert not answer.llm.used and "987 GiB" in (answer.llm.error or "")


def test_missing_model_falls_back_with_how_to_pull(catalog, knowledge_index, ollama_server) -> None:  # type: ignore[no-untyped-def]
    answer = _advisor(catalog, knowledge_index, ollama_server.url, model="llama3.1:8b").ask(
        QUESTION
    )
    assert not answer.llm.used and "ollama pull llama3.1:8b" in (answer.llm.error or "")
    assert answer.data["candidates"]


def test_chinese_question_gets_a_chinese_answer(catalog, knowledge_index) -> None:  # type: ignore[no-untyped-def]
    answer = _advisor(catalog, knowledge_index, None).ask(
        "两张4090，商用，中文摘要，32k上下文，推荐哪个模型？"
    )
    assert answer.language == "zh"
    assert answer.text.startswith("我的理解：商用，2x rtx-4090，上下文 32k")
    assert "符合这些要求的模型" in answer.text and "目录数据截至" in answer.text


def test_follow_up_keeps_the_thread_requirements(catalog, knowledge_index) -> None:  # type: ignore[no-untyped-def]
    advisor = _advisor(catalog, knowledge_index, None)
    thread = Thread("t")
    advisor.ask("open model for commercial use on a 4090", thread=thread)
    answer = advisor.ask("and for code at 8-bit?", thread=thread)
    req = answer.data["requirements"]
    assert req["commercial"] and req["gpu"] == "rtx-4090" and req["precision"] == "q8_0"
    assert req["capabilities"] == ["code"]
    assert all(c["fit"]["precision"] == "q8_0" for c in answer.data["candidates"])


def test_explain_question_answers_from_guides(catalog, knowledge_index) -> None:  # type: ignore[no-untyped-def]
    answer = _advisor(catalog, knowledge_index, None).ask(
        "What does Q4_K_M mean and how much memory does it save?"
    )
    assert answer.citations[0].source == "guides/precision-memory-gpus.md"
    assert "[1]" in answer.text


def test_grounding_check_catches_rejected_models_and_invented_numbers(catalog) -> None:  # type: ignore[no-untyped-def]
    from bot.understand import Extractor

    extractor = Extractor(catalog)
    facts = "qwen2.5-7b-instruct: bf16, 16.7 GiB, context 128k"
    good = check("qwen2.5-7b-instruct fits in 16.7 GiB", facts, {"qwen2.5-7b-instruct"}, extractor)
    assert good.ok
    bad = check("Try llama2-70b-chat with 40 GiB", facts, {"qwen2.5-7b-instruct"}, extractor)
    assert bad.unknown_models == ["llama2-70b-chat"] and bad.unsupported_figures == ["40 GiB"]


def test_ask_json_shape(run_cli, knowledge_dir: Path, curated_db: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(knowledge_dir))
    monkeypatch.setenv("ADVISOR_DATABASE_URL", f"sqlite:///{curated_db}")
    code, out, err = run_cli("ask", QUESTION, "--no-llm", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {
        "question",
        "language",
        "requirements",
        "candidates",
        "answer",
        "citations",
        "llm",
    } <= data.keys()
    assert data["language"] == "en" and data["requirements"]["commercial"] is True
    assert data["llm"] == {"used": False, "model": None, "error": None, "replaced": None}
    assert all({"id", "source", "title", "snippet"} <= c.keys() for c in data["citations"])
    assert data["candidates"][0]["status"] in ("ok", "warn")


def test_terminal_chat_survives_bad_input(catalog, knowledge_index) -> None:  # type: ignore[no-untyped-def]
    from io import StringIO

    from rich.console import Console

    from bot.adapters.console import chat
    from bot.chat_service import ChatService
    from bot.profiles import ProfileStore
    from knowledge.db import make_engine, migrate

    engine = make_engine("sqlite://")
    migrate(engine)
    service = ChatService(_advisor(catalog, knowledge_index, None), ProfileStore(engine, catalog))
    lines = iter(
        ["/help", "/fit mixtral", "/compare llama2 mistral", "/bogus", "/trial x", "/quit"]
    )
    buffer = StringIO()
    chat(service, Console(file=buffer, width=120), read=lambda: next(lines))
    printed = buffer.getvalue()
    assert "/why-not MODEL" in printed  # help
    assert "Usage: /fit MODEL HARDWARE" in printed
    assert "llama2-7b-chat" in printed and "mistral-7b-instruct-v0.3" in printed
    assert "Unknown command /bogus" in printed
    assert "Trials need an Ollama server" in printed


@pytest.mark.live
def test_live_ollama_answers(catalog, knowledge_index) -> None:  # type: ignore[no-untyped-def]
    import os

    import httpx

    host = (
        os.environ.get("OLLAMA_HOST_LIVE")
        or os.environ.get("OLLAMA_HOST")
        or "http://127.0.0.1:11434"
    )
    host = host if host.startswith("http") else f"http://{host}"
    model = os.environ.get("ADVISOR_OLLAMA_MODEL", "qwen2.5:7b-instruct")
    try:
        tags = httpx.get(f"{host}/api/tags", timeout=1.0).raise_for_status().json()
    except httpx.HTTPError:
        pytest.skip(f"no Ollama server answers at {host}")
    if model not in {m["name"] for m in tags.get("models", [])}:
        pytest.skip(f"{model} is not pulled on {host} (ollama pull {model})")
    answer = _advisor(catalog, knowledge_index, host, model=model).ask(QUESTION)
    # Used means the live answer passed the grounding check (else the advisor falls back).
    assert answer.llm.used and answer.llm.error is None, answer.llm.error
    assert answer.llm.model == model and "Deterministic answer" not in answer.text
    assert answer.data["candidates"] and answer.citations


def test_follow_ups_are_runnable_next_steps(catalog) -> None:  # type: ignore[no-untyped-def]
    advisor = _advisor(catalog, None, None)  # type: ignore[arg-type]
    answer = advisor.ask("commercial model for code on two 4090s")
    top = answer.data["candidates"][0]["model"]
    kinds = [f.split()[0] for f in answer.follow_ups]
    assert kinds == ["/why-not", "/compare", "/trial", "/fit"]
    assert answer.follow_ups[0] == f"/why-not {top}"
    assert "2x rtx-4090" in answer.follow_ups[3]
    for step in answer.follow_ups:
        if not step.startswith("/trial"):
            assert "Usage" not in advisor.handle(step).text


def test_bare_size_question_fits_a_named_stand_in(catalog) -> None:  # type: ignore[no-untyped-def]
    answer = _advisor(catalog, None, None).ask("24GB显存能跑70B吗")  # type: ignore[arg-type]
    assert "llama3.3-70b-instruct" in answer.understood  # the stand-in is named
    assert answer.data["fit"]["best"] is None
    assert "在尝试的所有精度下都放不下" in answer.text and "符合这些要求的模型" in answer.text
