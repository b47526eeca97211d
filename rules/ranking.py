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

``score`` rules in the packs add their weights on top. Ties break on the model id.
A recommendation keeps chat-style flavours unless others are asked for, one entry per
family and size, and at most two per family in the first picks, so the list covers
several families and uses the hardware (a 32B model at 4-bit beats an 8B one at bf16).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from knowledge.catalog import Variant
from knowledge.store import Catalog
from rules.memory import FitOption
from rules.requirements import Deployment, Requirements

if TYPE_CHECKING:
    from rules.engine import Verdict

PRECISION_QUALITY = {
    "fp32": 1.0,
    "bf16": 1.0,
    "fp8": 0.95,
    "q8_0": 0.95,
    "int8": 0.93,
    "q6_k": 0.9,
    "q5_k_m": 0.85,
    "q4_k_m": 0.75,
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


def hardware_score(fit: FitOption | None, req: Requirements) -> float:
    """The hardware-use part: the precision it fits at, a third of that with offload."""
    if not req.has_hardware:
        return 0.15
    if fit is None:
        return 0.0
    quality = PRECISION_QUALITY.get(fit.precision, 0.6)
    return 0.15 * (quality / 3 if fit.offload else quality)


def _wanted_flavor(v: Variant, req: Requirements) -> bool:
    if req.flavors:
        return v.flavor in req.flavors
    if v.architecture == "encoder-only" or "text" not in v.modalities:
        return False
    allowed = set(CHAT_FLAVORS)
    if any(c.value == "code" for c in req.capabilities):
        allowed.add("code")
    return v.flavor in allowed


def _deployable(v: Variant, catalog: Catalog, req: Requirements) -> bool:
    if req.deployment == Deployment.self_host or req.has_hardware:
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
) -> list[Verdict]:
    """The recommendation list: allowed, wanted flavours, deduplicated, spread over families.

    ``families`` narrows the list to those families ("which Qwen 2.5 fits two 4090s?").
    """
    allowed = {"ok", "warn"} | ({"reject", "unknown"} if include_rejected else set())
    seen: set[tuple[str, float | None]] = set()
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
        if key in seen:
            continue
        seen.add(key)
        pool.append(verdict)
    first, rest, per_family = [], [], Counter[str]()
    for verdict in pool:
        if families or per_family[verdict.family] < PER_FAMILY:
            per_family[verdict.family] += 1
            first.append(verdict)
        else:
            rest.append(verdict)
    return (first + rest)[:limit]
