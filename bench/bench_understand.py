"""How long reading one message takes, for ordinary and hostile inputs up to 4,000 chars.

Prints the median and worst of several runs per input (milliseconds); asserts nothing.
The target is under 200 ms for any message up to 4,000 characters. Inputs: realistic
questions, a 2,000-character `/compare llama2 llama2 ...`, 8,000 digits, repeated GPU
names, repeated "24GB", and 4,000 characters of mixed Chinese. Run with `make bench`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bot.commands import parse, understand_request
from bot.understand import Extractor
from core.errors import AdvisorError
from knowledge.db import make_engine
from knowledge.store import load_curated, read_catalog

RUNS = 5
INPUTS = {
    "mac question": "MacBook Pro M3 Max with 64GB: which open model for code?",
    "cost question": "We send 50 million tokens a day; API or self-host?",
    "/compare llama2 x 2,000 chars": "/compare " + "llama2 " * 284,
    "8,000 digits": "9" * 8000,
    "4,000 digits + GB": "9" * 3990 + " GB",
    "h100 x 4,000 chars": "8xH100 " * 571,
    "24GB x 4,000 chars": "24GB " * 800,
    "chinese 4,000 chars": "两张A6000，商用，中文摘要，每天5000万token，" * 160,
    "models x 4,000 chars": "qwen3 30b-a3b mixtral 8x22b llama 3.3 70b " * 95,
}


def _read(extractor: Extractor, text: str) -> None:
    request = parse(text)
    try:
        if request.command.name == "ask":
            extractor.understand(request.args)
        else:
            understand_request(request, extractor)
    except AdvisorError:
        pass  # a usage message is an answer too


def main() -> None:
    """Time each input RUNS times and print median and worst."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'catalog.db'}")
        load_curated(engine)
        extractor = Extractor(read_catalog(engine))
    print(f"{'input':<32} {'chars':>6} {'median ms':>10} {'worst ms':>9}")
    for name, text in INPUTS.items():
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            _read(extractor, text)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:<32} {len(text):>6} {statistics.median(times):>10.1f} {max(times):>9.1f}")


if __name__ == "__main__":
    main()
