"""Checks on a language model's answer before anyone sees it.

Two things must hold: every catalog model the answer names was allowed by the rules (or
was asked about), and every figure with a unit (GiB, B parameters, k tokens, %, $) appears
in the facts the model was given, within rounding. A violation means the answer is not
grounded, and the advisor replaces it with its deterministic one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from bot.understand import Extractor

_FIGURE = re.compile(
    r"(?<![\w.\[\-])\$?\s?(\d+(?:[.,]\d+)?)\s?(gib|gb|b\b|k\b|m\b|tokens|tok/s|%|亿|万)", re.I
)
_UNIT = {"gb": "gib", "tokens": "k"}


@dataclass(frozen=True)
class GroundingReport:
    """What, if anything, the answer said that the facts do not support."""

    unknown_models: list[str]
    unsupported_figures: list[str]

    @property
    def ok(self) -> bool:
        return not self.unknown_models and not self.unsupported_figures

    def describe(self) -> str:
        parts = []
        if self.unknown_models:
            parts.append("named models the rules did not allow: " + ", ".join(self.unknown_models))
        if self.unsupported_figures:
            parts.append("used figures not in the facts: " + ", ".join(self.unsupported_figures))
        return "; ".join(parts)


def _figures(text: str) -> list[tuple[float, str]]:
    """(value, unit) pairs; GB and GiB count as one unit, as do tokens and k."""
    found = []
    for match in _FIGURE.finditer(text):
        unit = match.group(2).lower()
        found.append((float(match.group(1).replace(",", "")), _UNIT.get(unit, unit)))
    return found


def check(
    answer: str,
    facts: str,
    allowed: Collection[str],
    extractor: Extractor,
) -> GroundingReport:
    """Compare an answer with the facts and the ids it was allowed to name."""
    allowed_set = set(allowed)
    families = {
        extractor.catalog.variants[i].family_id
        for i in allowed_set
        if i in extractor.catalog.variants
    }
    named = extractor.models(answer.lower())
    unknown = [m for m in named if m not in allowed_set and m not in families]
    known = _figures(facts)
    plain = [float(n.replace(",", "")) for n in re.findall(r"\d+(?:[.,]\d+)?", facts)]
    unsupported = []
    for match in _FIGURE.finditer(answer):
        value = float(match.group(1).replace(",", ""))
        unit = _UNIT.get(match.group(2).lower(), match.group(2).lower())
        same_unit = [n for n, u in known if u == unit] or plain
        # Rounding is fine ("19.4 GiB" for 19.43); a different number is not.
        if not any(abs(value - n) <= max(0.01 * abs(n), 0.051) for n in same_unit):
            unsupported.append(match.group(0).strip())
    return GroundingReport(unknown_models=unknown, unsupported_figures=unsupported)
