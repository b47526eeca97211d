"""20 concurrent chat questions with the language model on: how far apart do answers land?

Each question goes through the chat service's answer pool (the path Slack and Discord use)
to a loopback Ollama fake that streams 40 tokens at 50 ms each (~2 s per answer). With one
answer worker the last user waits ~20x that; with the bounded pool they are answered side
by side. Prints the spread (first, median, p95, last answer) per pool size; asserts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stats import percentile  # noqa: E402

from bot.advisor import Advisor  # noqa: E402
from bot.chat_service import ChatContext, ChatService, RateLimiter  # noqa: E402
from bot.llm import OllamaChat  # noqa: E402
from bot.profiles import ProfileStore  # noqa: E402
from knowledge.db import make_engine, migrate  # noqa: E402
from knowledge.store import load_curated, read_catalog  # noqa: E402
from rules.packs import load_rules  # noqa: E402
from tests.fakes.ollama_server import FakeModel, FakeOllama, OllamaServer  # noqa: E402

QUESTIONS = 20
REPLY = " ".join(["Qwen2.5 7B fits one 24 GB GPU."] * 8)


async def burst(service: ChatService) -> list[float]:
    loop = asyncio.get_running_loop()
    start = time.perf_counter()

    async def one(i: int) -> float:
        ctx = ChatContext("slack", "T1", "C1", f"U{i}", f"t{i}")
        await loop.run_in_executor(
            service.pool, service.handle, ctx, "which model for code on a 4090?", None, None
        )
        return time.perf_counter() - start

    return sorted(await asyncio.gather(*(one(i) for i in range(QUESTIONS))))


def main() -> None:
    logging.getLogger("advisor").setLevel(logging.ERROR)  # grounding notes would flood stdout
    with tempfile.TemporaryDirectory() as tmp, OllamaServer(FakeOllama()) as ollama:
        ollama.state.add(FakeModel("qwen2.5:7b", reply=REPLY, chunk_delay=0.05))
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        load_curated(engine)
        migrate(engine)
        catalog = read_catalog(engine)
        llm = OllamaChat(ollama.url, "qwen2.5:7b", 60)
        for workers in (1, 8):
            service = ChatService(
                Advisor(catalog, load_rules(), llm=llm),
                ProfileStore(engine, catalog),
                limiter=RateLimiter(per_minute=1000),
                workers=workers,
            )
            done = asyncio.run(burst(service))
            print(
                f"workers={workers:<2} {QUESTIONS} questions, LLM on: first {done[0]:.2f} s, "
                f"median {statistics.median(done):.2f} s, p95 {percentile(done, 95):.2f} s, "
                f"last {done[-1]:.2f} s"
            )


if __name__ == "__main__":
    main()
