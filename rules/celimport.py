"""Import the `cel` package without its command-line tool.

``cel/__init__.py`` imports ``cel.cli``, which pulls in prompt_toolkit and rich and costs
0.2-0.6 s; the rules only use the compiled extension (``cel.compile``, ``cel.Context``).
Before anything in ``rules`` imports ``cel``, a stand-in ``cel.cli`` is registered: the
first attribute anyone reads from it imports the real module.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def _real_cli(name: str) -> Any:
    sys.modules.pop("cel.cli", None)
    return getattr(importlib.import_module("cel.cli"), name)


def defer_cel_cli() -> None:
    """Register the stand-in ``cel.cli``, unless ``cel`` is already imported."""
    if "cel" in sys.modules or "cel.cli" in sys.modules:
        return
    stand_in = types.ModuleType("cel.cli", "Stand-in: the real cel.cli loads on first use.")
    stand_in.__getattr__ = _real_cli  # type: ignore[method-assign]  # PEP 562
    sys.modules["cel.cli"] = stand_in
