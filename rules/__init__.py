"""The rules decide: requirements, rule packs, the engine, and the memory and cost models."""

from __future__ import annotations

from core.lazy import lazy_exports
from rules.celimport import defer_cel_cli

defer_cel_cli()  # before any rules module imports cel

_EXPORTS = {
    "Requirements": "rules.requirements",
    "load_rules": "rules.packs",
    "RuleBook": "rules.packs",
    "Engine": "rules.engine",
    "Verdict": "rules.engine",
    "Advice": "rules.advice",
    "fit_report": "rules.fit",
    "Hardware": "rules.memory",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
