"""Import boundaries a user feels: fast CLI start-up, and platform code kept in adapters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "chromadb", "sentence_transformers")
ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout's packages."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_catalog_and_rules_commands_do_not_import_ml_libraries() -> None:
    probe = (
        "import sys, bot.cli, rules.advice, knowledge.resolve; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    assert _python(probe).stdout.strip() == "[]"


def test_help_imports_no_engine_and_creates_no_data_dir(tmp_path: Path) -> None:
    """`advisor --help` stays fast: no database, rules, settings or ML imports, no files."""
    data_dir = tmp_path / "never-created"
    probe = (
        "import sys\n"
        "sys.argv = ['advisor', '--help']\n"
        "from bot.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "slow = ('sqlalchemy', 'sqlmodel', 'pydantic_settings', 'rules.engine', 'cel', *HEAVY)\n"
        "print('LOADED', [m for m in slow if m in sys.modules])\n"
    ).replace("HEAVY", repr(HEAVY))
    result = _python(probe, ADVISOR_DATA_DIR=str(data_dir))
    assert "Usage" in result.stdout and "fit" in result.stdout
    assert result.stdout.strip().endswith("LOADED []")
    assert not data_dir.exists()
