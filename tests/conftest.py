"""Every test gets a clean environment and its own data directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No ADVISOR_* or OLLAMA_HOST from the developer's shell; a throwaway data dir; no .env."""
    for name in list(os.environ):
        if name.startswith(("ADVISOR_", "SLACK_", "DISCORD_")) or name == "OLLAMA_HOST":
            monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "advisor-data"
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)
    yield data_dir


@pytest.fixture
def mini_data(tmp_path: Path) -> Path:
    """A writable copy of the minimal curated catalog, to break in tests."""
    target = tmp_path / "catalog"
    shutil.copytree(FIXTURES / "catalog_min", target)
    return target
