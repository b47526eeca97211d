"""The grounded advisor's speed and memory: index build, cold start, warm answers, LLM overhead.

Prints figures; asserts nothing. The LLM overhead is measured against the loopback Ollama
wire-protocol server from the tests: the same stream read by the bare `ollama` client is
the baseline, in the same process. Run with `make bench`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stats import peak_rss_mb, percentile  # noqa: E402

from bot.advisor import Advisor  # noqa: E402
from bot.app import rebuild_index  # noqa: E402
from bot.llm import Message, OllamaChat  # noqa: E402
from knowledge.db import make_engine  # noqa: E402
from knowledge.index import KnowledgeIndex  # noqa: E402
from knowledge.store import load_curated, read_catalog  # noqa: E402
from rules.packs import load_rules  # noqa: E402
from tests.fakes.ollama_server import FakeModel, FakeOllama, OllamaServer  # noqa: E402

QUESTIONS = [
    "which open model can we use commercially on one 24 GB GPU for summarization?",
    "两张4090跑Qwen2.5，商用，要中文摘要，32k上下文",
    "/fit mixtral-8x7b 2x4090",
    "/compare llama2 mistral on 4090",
    "can we use llama2 commercially with 900M users?",
    "What does Q4_K_M mean and how much memory does it save?",
    "什么是KV缓存？显存怎么算？",
    "best model for code on an M2 Max 32GB",
    "open model for RAG over our docs, A100 80GB, 128k context",
    "哪个开源模型适合做客服对话，预算每月500美元？",
]


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    engine = make_engine(f"sqlite:///{tmp / 'advisor.db'}")
    load_curated(engine)
    catalog = read_catalog(engine)
    index = KnowledgeIndex(tmp / "index")

    start = time.perf_counter()
    report = rebuild_index(index, catalog)
    build = time.perf_counter() - start
    print(
        f"index build: {report.chunks_embedded} chunks in {build:.1f} s "
        f"({report.chunks_embedded / build:.1f} chunks/s, including model load)"
    )

    env = {**os.environ, "ADVISOR_DATA_DIR": str(tmp), "ADVISOR_OLLAMA_HOST": "http://127.0.0.1:9"}
    start = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "advisor"), "ask", QUESTIONS[0], "--no-llm", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    print(
        f"cold start (`advisor ask --no-llm`, whole process): {time.perf_counter() - start:.2f} s"
    )
    probe = (
        "import sys; sys.path.insert(0, 'bench'); from stats import peak_rss_mb; "
        "from bot.app import build_advisor; from core.settings import load_settings; "
        f"a = build_advisor(load_settings(), use_llm=False); [a.handle(q) for q in {QUESTIONS!r}]; "
        "print(round(peak_rss_mb()))"
    )
    served = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    print(f"peak RSS of an advisor process answering the question set: {served.stdout.strip()} MB")
    # As `serve` does: the index warms in a thread at start-up; "ready" is when serving starts.
    first = (
        "import sys, threading, time; sys.path.insert(0, 'bench'); from stats import peak_rss_mb; "
        "from bot.app import build_advisor, warm_index; from core.settings import load_settings; "
        "a = build_advisor(load_settings(), use_llm=False); "
        "w = threading.Thread(target=warm_index, args=(a.index,), daemon=True); w.start(); "
        f"ready = time.perf_counter(); a.handle({QUESTIONS[0]!r}); "
        "after = time.perf_counter() - ready; "
        "heavy = [m for m in ('scipy', 'sklearn', 'torch', 'transformers') if m in sys.modules]; "
        f"w.join(); a.handle({QUESTIONS[1]!r}); "
        "print(f'{after:.1f}', round(peak_rss_mb()), ','.join(heavy) or 'none')"
    )
    after, peak, heavy = subprocess.run(
        [sys.executable, "-c", first], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    print(
        f"first answer after ready (index warming in a thread): {after} s (target < 10 s), "
        f"loaded by then: {heavy}; peak RSS once warm and answering {peak} MB (target < 700 MB)"
    )

    advisor = Advisor(catalog, load_rules(), index=index)
    advisor.ask(QUESTIONS[0], use_llm=False)  # warm the embedding model and rule contexts
    times = []
    for _ in range(3):
        for question in QUESTIONS:
            start = time.perf_counter()
            advisor.handle(question, use_llm=False)
            times.append((time.perf_counter() - start) * 1000)
    print(
        f"warm answers without LLM over {len(times)} asks: p50 {statistics.median(times):.0f} ms, "
        f"p95 {percentile(times, 0.95):.0f} ms"
    )

    reply = " ".join(["word"] * 120)
    with OllamaServer(FakeOllama()) as server:
        server.state.add(FakeModel("bench", reply=reply, chunk_delay=0.01))
        chat = OllamaChat(server.url, "bench", timeout=60)
        raw = []
        for _ in range(3):
            start = time.perf_counter()
            list(chat.stream([Message("user", "hi")]))
            raw.append(time.perf_counter() - start)
        llm_advisor = Advisor(catalog, load_rules(), index=index, llm=chat)
        full = []
        for _ in range(3):
            start = time.perf_counter()
            llm_advisor.ask(QUESTIONS[0])
            full.append(time.perf_counter() - start)
    stream, answer = statistics.median(raw), statistics.median(full)
    print(
        f"LLM path: bare client stream {stream * 1000:.0f} ms, advisor ask {answer * 1000:.0f} ms, "
        f"overhead {(answer - stream) * 1000:.0f} ms = {(answer - stream) / stream:.1%} of LLM time"
    )
    rss = peak_rss_mb()
    print(f"peak RSS of this benchmark process (it also built the index): {rss:.0f} MB")


if __name__ == "__main__":
    main()
