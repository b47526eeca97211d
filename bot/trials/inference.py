"""Inference trials: the same prompt on several models (or settings), timed and compared.

Each model gets one warm-up generation (so the load time is reported once, not mixed into
every run) and then N runs; every figure is summarised as median and range. A decoding
comparison runs one model under several settings ("greedy", "top_p=0.9",
"temperature=1.2") and reports how repeatable each setting's output is: the share of runs
that produced the most common output.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.llm import Message
from bot.trials.evals import Generate
from bot.trials.metrics import RunMetrics, Spread, summarize
from core.errors import JobError

LIMITS = {"models": 4, "prompt_chars": 4000, "max_tokens": 1024, "runs": 10, "settings": 4}
OPTION_KEYS = {
    "temperature": float,
    "top_p": float,
    "top_k": int,
    "seed": int,
    "max_tokens": int,
    "ctx": int,
}
_OLLAMA_NAMES = {"max_tokens": "num_predict", "ctx": "num_ctx"}


@dataclass(frozen=True)
class TrialSpec:
    """A parsed /trial request."""

    models: list[str]
    prompt: str
    runs: int = 3
    options: dict[str, Any] = field(default_factory=dict)
    compare: list[str] = field(default_factory=list)
    rank_by: str = "output_tps"


@dataclass
class Arm:
    """One model (or one model under one setting) and what its runs produced."""

    label: str
    model: str
    options: dict[str, Any]
    warmup: RunMetrics | None = None
    runs: list[RunMetrics] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Spread]:
        return summarize(self.runs)

    @property
    def repeatability(self) -> float:
        if not self.outputs:
            return 0.0
        return Counter(self.outputs).most_common(1)[0][1] / len(self.outputs)


def ollama_options(options: dict[str, Any]) -> dict[str, Any]:
    """Our option names to Ollama's (max_tokens -> num_predict, ctx -> num_ctx)."""
    return {_OLLAMA_NAMES.get(k, k): v for k, v in options.items()}


def setting(text: str) -> dict[str, Any]:
    """One decoding setting: "greedy" or "top_p=0.9" (several joined by '+')."""
    if text == "greedy":
        return {"temperature": 0.0, "top_k": 1}
    out: dict[str, Any] = {}
    for part in text.split("+"):
        key, _, value = part.partition("=")
        if key not in OPTION_KEYS:
            raise JobError(
                f"Unknown decoding setting {part!r}; "
                "use greedy, temperature=, top_p=, top_k=, seed=."
            )
        out[key] = OPTION_KEYS[key](value)
    return out


def parse_trial(args: str) -> TrialSpec:
    """`qwen2.5:7b,mistral "prompt" runs=3 temperature=0.2 compare=greedy,top_p=0.9`."""
    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise JobError(f"Could not read the trial request ({exc}); quote the prompt.") from exc
    usage = (
        'Usage: /trial MODEL[,MODEL] "prompt" [runs=3] [temperature=0.2] [max_tokens=256] '
        "[compare=greedy,top_p=0.9]"
    )
    if len(words) < 2:
        raise JobError(usage)
    models = [m for m in re.split(r"[,\s]+", words[0]) if m]
    prompt_words, options, compare, runs, rank = [], {}, [], 3, "output_tps"
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if eq and key == "runs":
            runs = int(value)
        elif eq and key == "compare":
            compare = [s for s in value.split(",") if s]
        elif eq and key == "rank":
            rank = value
        elif eq and key in OPTION_KEYS:
            options[key] = OPTION_KEYS[key](value)
        else:
            prompt_words.append(word)
    spec = TrialSpec(models, " ".join(prompt_words), runs, options, compare, rank)
    check_limits(spec)
    return spec


def check_limits(spec: TrialSpec) -> None:
    """Refuse requests that would monopolise the Ollama host, saying which limit."""
    problems = []
    if not spec.prompt:
        problems.append("the prompt is empty")
    if len(spec.models) > LIMITS["models"]:
        problems.append(f"at most {LIMITS['models']} models per trial")
    if len(spec.prompt) > LIMITS["prompt_chars"]:
        problems.append(f"prompts up to {LIMITS['prompt_chars']} characters")
    if not 1 <= spec.runs <= LIMITS["runs"]:
        problems.append(f"runs between 1 and {LIMITS['runs']}")
    if spec.options.get("max_tokens", 0) > LIMITS["max_tokens"]:
        problems.append(f"max_tokens up to {LIMITS['max_tokens']}")
    if len(spec.compare) > LIMITS["settings"]:
        problems.append(f"at most {LIMITS['settings']} decoding settings")
    if spec.compare and len(spec.models) != 1:
        problems.append("a decoding comparison takes exactly one model")
    if problems:
        raise JobError("This trial is over the limits: " + "; ".join(problems) + ".")


def run_trial(
    spec: TrialSpec,
    generate_for: Callable[[str], Generate],
    progress: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[Arm]:
    """Warm up and run every arm; arms come back ranked by the requested figure."""
    arms = (
        [Arm(s, spec.models[0], {**spec.options, **setting(s)}) for s in spec.compare]
        if spec.compare
        else [Arm(m, m, dict(spec.options)) for m in spec.models]
    )
    messages = [Message("user", spec.prompt)]
    for arm in arms:
        generate = generate_for(arm.model)
        options = ollama_options(arm.options)
        _, ttft, final = generate(messages, options)
        arm.warmup = RunMetrics.from_final(final, ttft)
        for i in range(spec.runs):
            if cancelled():
                raise JobError("The trial was cancelled.")
            text, ttft, final = generate(messages, options)
            arm.runs.append(RunMetrics.from_final(final, ttft))
            arm.outputs.append(text)
            if progress:
                progress(f"{arm.label}: run {i + 1}/{spec.runs}")
    lower_is_better = spec.rank_by in ("ttft_s", "tpot_ms", "total_s", "load_s")

    def key(arm: Arm) -> float:
        value = arm.summary.get(spec.rank_by, Spread(None, None, None, 0)).median
        if value is None:
            return float("inf")
        return value if lower_is_better else -value

    return sorted(arms, key=key)
