"""The catalog snapshot: answers like the database, and never outlives a write to it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from knowledge.snapshot import open_catalog, snapshot_path
from knowledge.store import prepare, read_catalog
from knowledge.tables import VariantRow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def test_snapshot_answers_like_the_database(settings: Settings) -> None:
    first = open_catalog(settings)  # full read, writes the snapshot
    assert snapshot_path(settings.data_dir / "advisor.db").exists()
    again = open_catalog(settings)
    assert again == first
    assert again == read_catalog(prepare(settings.db_url))
    assert again.variants["llama3.1-70b"].context_length == 131072


def test_a_write_to_the_database_makes_the_snapshot_stale(settings: Settings) -> None:
    from sqlmodel import Session

    open_catalog(settings)
    with Session(prepare(settings.db_url)) as session:
        row = session.get(VariantRow, "llama3.1-70b")
        assert row is not None
        row.context_length = 4096
        session.add(row)
        session.commit()
    assert open_catalog(settings).variants["llama3.1-70b"].context_length == 4096


def test_a_damaged_snapshot_is_read_past(settings: Settings) -> None:
    open_catalog(settings)
    snapshot_path(settings.data_dir / "advisor.db").write_text("{not json", encoding="utf-8")
    assert "llama3.1-70b" in open_catalog(settings).variants


def test_fit_from_a_current_snapshot_does_not_import_the_orm(settings: Settings) -> None:
    """What makes `advisor fit` fast: the second run never loads SQLAlchemy."""
    code = (
        "import sys; from bot.cli import main\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print('sqlalchemy' in sys.modules, file=sys.stderr)"
    )
    env = {"ADVISOR_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, "-c", code, "fit", "llama-3.1-70b", "--gpu", "RTX 4090"]
    runs = [subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True) for _ in "12"]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    assert "q4_k_m" in runs[1].stdout
    assert runs[0].stderr.strip().endswith("True")  # first run: full read
    assert runs[1].stderr.strip().endswith("False")
