"""Import boundaries a user feels: fast CLI start-up, and platform code kept in adapters."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "chromadb", "sentence_transformers")


def test_catalog_and_rules_commands_do_not_import_ml_libraries() -> None:
    probe = (
        "import sys, bot.cli, rules.advice, knowledge.resolve; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
