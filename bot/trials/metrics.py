"""Speed figures of one generation, from Ollama's own counters and the client's clock.

Ollama reports durations in nanoseconds and omits any that are zero, so every figure is
optional and a missing one is reported as missing, never as 0. Time to first token is
measured at the client (first chunk with content), as users feel it; time per output
token is eval_duration / eval_count; output speed is its inverse.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

NS = 1e9
FIGURES = ("load_s", "ttft_s", "prompt_tps", "output_tps", "tpot_ms", "total_s", "output_tokens")


@dataclass(frozen=True)
class RunMetrics:
    """One run's figures; None where Ollama did not report what a figure needs."""

    load_s: float | None
    ttft_s: float | None
    prompt_tps: float | None
    output_tps: float | None
    tpot_ms: float | None
    total_s: float | None
    output_tokens: int | None
    done_reason: str | None

    @classmethod
    def from_final(cls, final: dict[str, Any], ttft_s: float | None) -> RunMetrics:
        """Build from the final chunk's fields (``*_duration`` in ns, ``*_count`` tokens)."""

        def seconds(key: str) -> float | None:
            value = final.get(key)
            return value / NS if value else None

        eval_count, eval_s = final.get("eval_count"), seconds("eval_duration")
        prompt_count, prompt_s = final.get("prompt_eval_count"), seconds("prompt_eval_duration")
        return cls(
            load_s=seconds("load_duration"),
            ttft_s=ttft_s,
            prompt_tps=prompt_count / prompt_s if prompt_count and prompt_s else None,
            output_tps=eval_count / eval_s if eval_count and eval_s else None,
            tpot_ms=eval_s / eval_count * 1000 if eval_count and eval_s else None,
            total_s=seconds("total_duration"),
            output_tokens=eval_count,
            done_reason=final.get("done_reason"),
        )

    def missing(self) -> list[str]:
        """The figures Ollama gave no data for."""
        return [name for name in FIGURES if getattr(self, name) is None]


@dataclass(frozen=True)
class Spread:
    """Median and range of one figure over runs (n counts runs that reported it)."""

    median: float | None
    low: float | None
    high: float | None
    n: int

    def __str__(self) -> str:
        if self.median is None:
            return "n/a"
        if self.n == 1 or self.low == self.high:
            return f"{self.median:.3g}"
        return f"{self.median:.3g} ({self.low:.3g}–{self.high:.3g})"


def spread(values: list[float | None]) -> Spread:
    """Median and min–max of the reported values."""
    known = [v for v in values if v is not None]
    if not known:
        return Spread(None, None, None, 0)
    return Spread(statistics.median(known), min(known), max(known), len(known))


def summarize(runs: list[RunMetrics]) -> dict[str, Spread]:
    """Every figure's spread over the runs."""
    return {name: spread([getattr(r, name) for r in runs]) for name in FIGURES}
