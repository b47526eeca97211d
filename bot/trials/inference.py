"""Inference trials: the same prompt on several models (or settings), timed and compared.

Each model gets one warm-up generation (so the load time is reported once, not mixed into
every run) and then N runs; every figure is summarised as median and range. A decoding
comparison runs one model under several settings ("greedy", "top_p=0.9",
"temperature=1.2") and reports how repeatable each setting's output is: the share of runs
that produced the most common output.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.llm import Message, TransientLLMError
from bot.trials.evals import Generate
from bot.trials.metrics import FIGURES as FIGURE_KEYS
from bot.trials.metrics import RunMetrics, Spread, summarize
from core.errors import JobError

LIMITS = {"models": 4, "prompt_chars": 4000, "max_tokens": 1024, "runs": 10, "settings": 4}
# name -> (type, low, high): every value is checked before anything is queued.
OPTION_KEYS: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "top_p": (float, 0.0, 1.0),
    "top_k": (int, 1, 1000),
    "seed": (int, 0, 2**31 - 1),
    "max_tokens": (int, 1, LIMITS["max_tokens"]),
    "ctx": (int, 256, 131072),
}
DEFAULT_MAX_TOKENS = 256
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


def typed(key: str, raw: str, kind: type, low: float, high: float) -> Any:
    """``raw`` as a ``kind`` within [low, high]; JobError naming the parameter otherwise."""
    word = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise JobError(f"{key} must be {word} from {low:g} to {high:g} (got {raw!r}).") from None
    if not low <= value <= high:
        raise JobError(f"{key} must be {word} from {low:g} to {high:g} (got {raw!r}).")
    return value


def context_for(prompt: str, options: dict[str, Any]) -> int:
    """num_ctx enough for the prompt and the reply: a power of two, at least 2048."""
    need = len(prompt) // 2 + int(options.get("max_tokens", DEFAULT_MAX_TOKENS)) + 256
    size = 2048
    while size < need:
        size *= 2
    return int(options.get("ctx") or size)


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
        out[key] = typed(key, value, *OPTION_KEYS[key])
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
    # "Llama 3.1 8B" (quoted) is one model; several are separated by commas.
    models = [m.strip() for m in words[0].split(",") if m.strip()]
    prompt_words, options, compare, runs, rank = [], {}, [], 3, "output_tps"
    problems: list[str] = []
    for word in words[1:]:
        key, eq, value = word.partition("=")
        try:
            if eq and key == "runs":
                runs = typed("runs", value, int, 1, LIMITS["runs"])
            elif eq and key == "compare":
                compare = [s for s in value.split(",") if s]
                for s in compare:
                    setting(s)
            elif eq and key == "rank":
                if value not in FIGURE_KEYS:
                    raise JobError(f"rank must be one of {', '.join(FIGURE_KEYS)} (got {value!r}).")
                rank = value
            elif eq and key in OPTION_KEYS:
                options[key] = typed(key, value, *OPTION_KEYS[key])
            else:
                prompt_words.append(word)
        except JobError as exc:
            problems.append(exc.user_message)
    if problems:
        raise JobError("Nothing was queued: " + " ".join(problems))
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


def _retrying(
    generate: Generate, messages: list[Message], options: dict[str, Any]
) -> tuple[str, float | None, dict[str, Any]]:
    """One generation; a transient failure (5xx, dropped connection) is retried once."""
    try:
        return generate(messages, options)
    except TransientLLMError:
        return generate(messages, options)


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
        options = {
            "num_predict": DEFAULT_MAX_TOKENS,
            **ollama_options(arm.options),
            "num_ctx": context_for(spec.prompt, arm.options),
        }
        _, ttft, final = _retrying(generate, messages, options)
        arm.warmup = RunMetrics.from_final(final, ttft)
        for i in range(spec.runs):
            if cancelled():
                raise JobError("The trial was cancelled.")
            text, ttft, final = _retrying(generate, messages, options)
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
