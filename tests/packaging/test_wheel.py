"""The wheel built from a clean checkout installs into a fresh venv and answers `advisor fit`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_FILES = [
    "rules/data/precisions.yaml",
    "rules/packs/license.yaml",
    "bot/data/lexicon.yaml",
    "bot/trials/suites/chinese.yaml",
    "knowledge/data/README.md",
    "knowledge/migrations/versions/r0001_catalog_tables.py",
]


def _checkout(target: Path) -> Path:
    """The tracked files only, as a fresh clone has them (plus uncommitted edits)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to list the tracked files")
def test_the_wheel_installs_and_runs_fit(tmp_path: Path) -> None:
    src = _checkout(tmp_path / "src")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("llm_advisor-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [f for f in DATA_FILES if f not in names] == []
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies come from the shared environment (offline); the project only from the wheel.
    Path(site, "shared-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    run = tmp_path / "elsewhere"
    run.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADVISOR_", "PYTHONPATH"))}
    env["ADVISOR_DATA_DIR"] = str(run / "data")
    fit = subprocess.run(
        [str(venv / "bin" / "advisor"), "fit", "llama3.1:8b", "--vram", "24"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fit.returncode == 0, fit.stderr[-2000:]
    assert "Best:" in fit.stdout and "24" in fit.stdout
    where = subprocess.run(
        [str(python), "-m", "bot", "--help"], cwd=run, env=env, capture_output=True, text=True
    )
    assert where.returncode == 0 and "fit" in where.stdout
    origin = subprocess.run(
        [str(python), "-c", "import rules; print(rules.__file__)"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert origin.startswith(site), origin
