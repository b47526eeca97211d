"""How models are ranked, and how a recommendation list is picked from verdicts.

The base score (0..1, higher is better) is a fixed, documented mix, so the same question
always ranks the same way:

* 50 % quality evidence: effective size on a log scale (MoE counts as the geometric mean
  of total and active parameters), averaged with MMLU where the catalog has it;
* 25 % recency: a model loses a fifth of this part per year of age, measured from the
  catalog's as-of date (not today's date, so rankings do not drift between runs);
* 15 % hardware use: the precision it fits at (bf16 1.0 ... Q4_K_M 0.75), a third of
  that when it needs CPU offload; full marks when no hardware was given;
* 10 % license simplicity: permissive 1.0, model-specific or conditional 0.7,
  use-restricted 0.6, copyleft or proprietary 0.5, noncommercial 0.2.

Per question (``task_score`` and ``fit_score``), on top of that base:

* task evidence (up to 0.25): the model's percentile among catalog models on the
  benchmarks of each task asked (code: HumanEval, LiveCodeBench, SWE-bench Verified, Aider
  Polyglot; math; Chinese; instruction following; tool use; long context), a discounted
  size prior where it has none;
* +0.12 for a specialised coder when code is asked; reasoning models -0.15 unless
  reasoning or math is asked (then +0.05);
* -0.3 below the speed floor on the stated hardware (10 tok/s unless batch, or the stated
  one) and -0.2 for CPU offload the user did not ask for, so these come last.

``score`` rules in the packs add their weights on top. Ties break on the model id.
A recommendation keeps chat-style flavours unless others are asked for, one entry per
family and size, and at most two per family in the first picks, so the list covers
several families and uses the hardware (a 32B model at 4-bit beats an 8B one at bf16).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from knowledge.catalog import Catalog, Variant
from rules.memory import FitOption
from rules.requirements import Deployment, Requirements

TASK_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "code": ("HumanEval", "LiveCodeBench", "SWE-bench Verified", "Aider Polyglot"),
    "math": ("MATH-500", "AIME 2025", "AIME 2024", "GSM8K"),
    "chinese": ("C-Eval", "CMMLU"),
    "instruction": ("IFEval", "Arena-Hard"),
    "tool-use": ("BFCL", "tau2-bench"),
    "long-context": ("RULER", "LongBench v2"),
    "general": ("MMLU", "MMLU-Pro", "GPQA Diamond"),
}
#: Words in ``req.tasks`` and capability names, mapped to benchmark groups.
TASK_GROUPS: dict[str, str] = {
    "code": "code",
    "coding": "code",
    "programming": "code",
    "math": "math",
    "reasoning": "math",
    "tool-use": "tool-use",
    "agent": "tool-use",
    "agents": "tool-use",
    "function-calling": "tool-use",
    "long-context": "long-context",
    "chat": "instruction",
    "customer-service": "instruction",
    "customer service": "instruction",
    "support": "instruction",
    "assistant": "instruction",
    "qa": "instruction",
    "summarization": "instruction",
    "extraction": "instruction",
    "translation": "general",
}
NOT_CHAT = ("embed", "rerank", "whisper", "tts", "asr", "speech", "guard")
SLOW_PENALTY = 0.3
OFFLOAD_PENALTY = 0.2

if TYPE_CHECKING:
    from rules.engine import Verdict

PRECISION_QUALITY = {
    "fp32": 1.0,
    "bf16": 1.0,
    "mxfp4": 1.0,  # only offered as a native format (gpt-oss): full quality
    "fp8": 0.95,
    "q8_0": 0.95,
    "mlx_8bit": 0.95,
    "int8": 0.93,
    "q6_k": 0.9,
    "q5_k_m": 0.85,
    "nvfp4": 0.85,
    "awq": 0.8,
    "gptq": 0.78,
    "q4_k_m": 0.75,
    "mlx_4bit": 0.75,
}
LICENSE_SIMPLICITY = {
    "permissive": 1.0,
    "model-specific": 0.7,
    "use-restricted": 0.6,
    "copyleft": 0.5,
    "proprietary": 0.5,
    "noncommercial": 0.2,
}
CHAT_FLAVORS = frozenset({"instruct", "chat", "reasoning"})
PER_FAMILY = 2


def _quality(v: Variant, catalog: Catalog) -> float:
    size = None
    if v.params_b:
        effective = math.sqrt(v.params_b * v.active_params_b) if v.active_params_b else v.params_b
        size = min(1.0, math.log2(effective + 1) / math.log2(1001))
    mmlu = next((b.score / 100 for b in catalog.benchmarks.get(v.id, []) if b.name == "MMLU"), None)
    parts = [p for p in (size, mmlu) if p is not None]
    return sum(parts) / len(parts) if parts else 0.5


def _recency(v: Variant, now: date) -> float:
    years = max(0.0, (now - v.release_date).days / 365.25)
    return max(0.0, 1.0 - years / 5)


def static_score(v: Variant, catalog: Catalog) -> float:
    """The parts of the score that do not depend on the question: quality, recency, license."""
    now = catalog.as_of or v.release_date
    lic = catalog.licenses[v.license_id]
    simplicity = LICENSE_SIMPLICITY.get(lic.kind, 0.5)
    if lic.commercial == "conditional":
        simplicity = min(simplicity, 0.7)
    return 0.5 * _quality(v, catalog) + 0.25 * _recency(v, now) + 0.10 * simplicity


class Evidence:
    """Each model's percentile per benchmark group, against every model that reports it.

    Built once per catalog and never changed, so one instance serves concurrent questions.
    """

    def __init__(self, catalog: Catalog) -> None:
        scores: dict[str, list[float]] = {}
        for results in catalog.benchmarks.values():
            for b in results:
                scores.setdefault(b.name, []).append(b.score)
        ranked = {name: sorted(values) for name, values in scores.items()}
        group_of = {b: g for g, names in TASK_BENCHMARKS.items() for b in names}
        self.by_model: dict[str, dict[str, float]] = {}
        for model, results in catalog.benchmarks.items():
            groups: dict[str, list[float]] = {}
            for b in results:
                group = group_of.get(b.name)
                values = ranked[b.name]
                if group is None or len(values) < 2:
                    continue
                below = sum(v < b.score for v in values) + 0.5 * (values.count(b.score) - 1)
                groups.setdefault(group, []).append(below / (len(values) - 1))
            self.by_model[model] = {g: sum(p) / len(p) for g, p in groups.items()}

    def groups(self, model: str) -> dict[str, float]:
        """Percentile (0..1) per benchmark group with evidence for ``model``."""
        return self.by_model.get(model, {})


def wanted_groups(req: Requirements) -> tuple[str, ...]:
    """The benchmark groups that matter for the question, in a stable order."""
    words = [*req.tasks, *(c.value for c in req.capabilities)]
    found = {TASK_GROUPS[w.lower()] for w in words if w.lower() in TASK_GROUPS}
    if "zh" in req.languages:
        found.add("chinese")
    return tuple(g for g in TASK_BENCHMARKS if g in found)


def is_coder(v: Variant) -> bool:
    """A model specialised for code (its flavour, or "coder" in its name)."""
    return v.flavor == "code" or "coder" in v.id or "codestral" in v.id or "devstral" in v.id


def wants_reasoning(req: Requirements) -> bool:
    """Reasoning models go first only when reasoning is asked or the task needs it (math)."""
    caps = {c.value for c in req.capabilities}
    return "reasoning" in caps or "math" in caps or "math" in {t.lower() for t in req.tasks}


def task_score(
    flavor: str,
    coder: bool,
    prior: float,
    evidence: dict[str, float],
    groups: tuple[str, ...],
    reasoning_wanted: bool,
) -> float:
    """The per-question part that needs no fit: task evidence and specialists.

    It depends on the model and on the tasks asked only, so the engine keeps it per model
    per task set instead of recomputing it for every question.
    """
    score = 0.0
    if groups:
        # Missing task evidence: the model's general benchmarks stand in, else its size, capped
        # at the median so an unmeasured model never outranks a measured strong one by size alone.
        unknown = evidence.get("general", min(0.9 * prior, 0.5))
        score += 0.25 * sum(evidence.get(g, unknown) for g in groups) / len(groups)
    if coder and "code" in groups:
        score += 0.12
    if flavor == "reasoning":
        score += 0.05 if reasoning_wanted else -0.15
    return score


def fit_score(
    fit: FitOption | None, has_hardware: bool, floor: float | None, offload_asked: bool
) -> float:
    """The hardware part: the precision it fits at (a third with offload), minus penalties.

    Full marks when no hardware was given; below the speed floor, or offloading when the
    user did not ask for it, the model goes to the end of the list.
    """
    if not has_hardware:
        return 0.15
    if fit is None:
        return 0.0
    quality = PRECISION_QUALITY.get(fit.precision, 0.6)
    score = 0.15 * (quality / 3 if fit.offload else quality)
    if fit.fits:
        if floor and (fit.est_tokens_per_s or 0.0) < floor:
            score -= SLOW_PENALTY
        if fit.offload and not offload_asked:
            score -= OFFLOAD_PENALTY
    return score


def size_prior(v: Variant) -> float:
    """Effective size on a log scale (0..1); MoE counts as sqrt(total x active)."""
    if not v.params_b:
        return 0.3
    effective = math.sqrt(v.params_b * v.active_params_b) if v.active_params_b else v.params_b
    return min(1.0, math.log2(effective + 1) / math.log2(1001))


def why(v: Variant, verdict: Verdict, groups: tuple[str, ...], evidence: dict[str, float]) -> str:
    """One line saying why a pick is on the list (the answer shows its fit beside it)."""
    parts: list[str] = []
    if "code" in groups and is_coder(v):
        parts.append("code specialist")
    best = max(((evidence[g], g) for g in groups if g in evidence), default=None)
    if best is not None:
        parts.append(f"{best[1]} benchmarks: ahead of {best[0]:.0%} of catalog models")
    elif groups and "general" in evidence:
        parts.append(
            f"no published {'/'.join(groups)} benchmark; general benchmarks ahead of "
            f"{evidence['general']:.0%} of catalog models"
        )
    elif groups:
        parts.append(f"no published {'/'.join(groups)} benchmark; ranked by size")
    if v.flavor == "reasoning":
        parts.append("reasoning model")
    if verdict.fit is not None and verdict.fit.offload:
        parts.append("needs CPU offload")
    return "; ".join(parts or ["strong overall for the requirements"])


def _wanted_flavor(v: Variant, req: Requirements) -> bool:
    if req.flavors:
        return v.flavor in req.flavors
    if v.architecture == "encoder-only" or "text" not in v.modalities:
        return False
    if any(word in v.id for word in NOT_CHAT):
        return False
    allowed = set(CHAT_FLAVORS)
    if any(c.value == "code" for c in req.capabilities):
        allowed.add("code")
    return v.flavor in allowed


def _deployable(v: Variant, catalog: Catalog, req: Requirements) -> bool:
    if req.deployment == Deployment.self_host or req.has_hardware or req.cpu_only:
        return v.availability == "open-weights"
    if req.deployment == Deployment.api:
        return v.availability == "proprietary-api" or bool(catalog.offerings.get(v.id))
    return v.availability != "unreleased"


def pick(
    verdicts: Sequence[Verdict],
    catalog: Catalog,
    req: Requirements,
    limit: int = 10,
    include_rejected: bool = False,
    families: frozenset[str] = frozenset(),
    evidence: Evidence | None = None,
) -> list[Verdict]:
    """The recommendation list: allowed, wanted flavours, deduplicated, spread over families.

    ``families`` narrows the list to those families ("which Qwen 2.5 fits two 4090s?").
    Re-uploads (a synced copy of a model already listed, a quantised repo of it) are left
    out, and each pick carries a one-line reason.
    """
    allowed = {"ok", "warn"} | ({"reject", "unknown"} if include_rejected else set())
    seen: set[tuple[str, float | None]] = set()
    uploads: set[str] = set()
    pool: list[Verdict] = []
    for verdict in verdicts:
        v = catalog.variants[verdict.model]
        if families and v.family_id not in families:
            continue
        if (
            verdict.status not in allowed
            or not _wanted_flavor(v, req)
            or not _deployable(v, catalog, req)
        ):
            continue
        key = (v.family_id, v.params_b)
        upload = _upload_key(v)
        if key in seen or upload in uploads or (v.base_model in uploads and v.origin != "curated"):
            continue
        seen.add(key)
        uploads |= {upload, v.id}
        pool.append(verdict)
    first, rest, per_family = [], [], Counter[str]()
    for verdict in pool:
        if families or per_family[verdict.family] < PER_FAMILY:
            per_family[verdict.family] += 1
            first.append(verdict)
        else:
            rest.append(verdict)
    groups = wanted_groups(req)
    table = evidence or Evidence(catalog)
    return [
        replace(p, why=why(catalog.variants[p.model], p, groups, table.groups(p.model)))
        for p in (first + rest)[:limit]
    ]


_QUANT_SUFFIX = re.compile(r"[-_.](gguf|awq|gptq|mlx|fp8|int4|int8|nvfp4|\d+bit|q\d\w*)$")


def _upload_key(v: Variant) -> str:
    """A repository name with its owner and quantisation suffixes removed."""
    name = (v.hf_repo or v.id).rsplit("/", 1)[-1].lower()
    while True:
        shorter = _QUANT_SUFFIX.sub("", name)
        if shorter == name:
            return name
        name = shorter
