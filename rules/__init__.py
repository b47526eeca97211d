"""The rules decide: requirements, rule packs, the engine, and the memory and cost models."""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rules' has no attribute {name!r}")
