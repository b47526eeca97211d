"""Every test gets a clean environment and its own data directory."""

from __future__ import annotations

import os
import shutil
import socket
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


@pytest.fixture(scope="session")
def curated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped curated catalog loaded once into a SQLite file (copied per test)."""
    from knowledge.db import make_engine
    from knowledge.store import load_curated

    path = tmp_path_factory.mktemp("curated") / "catalog.db"
    load_curated(make_engine(f"sqlite:///{path}"))
    return path


@pytest.fixture
def advisor_db(curated_db: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ADVISOR_DATABASE_URL at a private copy of the curated catalog."""
    clean_env.mkdir(parents=True, exist_ok=True)
    target = clean_env / "advisor.db"
    shutil.copy(curated_db, target)
    monkeypatch.setenv("ADVISOR_DATABASE_URL", f"sqlite:///{target}")
    return target


@pytest.fixture(scope="session")
def catalog(curated_db: Path):  # type: ignore[no-untyped-def]
    """A read-only snapshot of the shipped catalog."""
    from knowledge.db import make_engine
    from knowledge.store import read_catalog

    return read_catalog(make_engine(f"sqlite:///{curated_db}"))


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the real console entry point in-process; return (exit code, stdout, stderr)."""
    from bot.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr("sys.argv", ["advisor", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def closed_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` where nothing answers: a port bound here but never listened on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(("127.0.0.1", 0))  # held for the test, so no other process can take it
        yield f"http://127.0.0.1:{reserved.getsockname()[1]}"


@pytest.fixture
def ollama_server():  # type: ignore[no-untyped-def]
    """A fresh Ollama wire-protocol server on loopback (see tests/fakes/ollama_server.py)."""
    from tests.fakes.ollama_server import FakeOllama, OllamaServer

    with OllamaServer(FakeOllama()) as server:
        yield server


@pytest.fixture(scope="session")
def knowledge_dir(tmp_path_factory: pytest.TempPathFactory, catalog):  # type: ignore[no-untyped-def]
    """A data directory whose index holds every guide and family card (built once, ~20 s)."""
    from bot.app import rebuild_index
    from knowledge.index import KnowledgeIndex

    data_dir = tmp_path_factory.mktemp("knowledge")
    rebuild_index(KnowledgeIndex(data_dir / "index"), catalog)
    return data_dir


@pytest.fixture(scope="session")
def knowledge_index(knowledge_dir: Path):  # type: ignore[no-untyped-def]
    from knowledge.index import KnowledgeIndex

    return KnowledgeIndex(knowledge_dir / "index")
