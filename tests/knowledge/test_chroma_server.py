"""The knowledge index on a Chroma server (`chroma run` started by the test) and a partial index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import RetrievalError
from knowledge.index import Document, KnowledgeIndex
from tests.servers import chroma_server

DOCS = [
    Document("a.md", "Quantization", "# Quantization\n## GGUF\nQ4_K_M keeps quality at 4 bits."),
    Document("b.md", "Licenses", "# Licenses\n## Apache\nApache-2.0 allows commercial use."),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma")) as (host, port):
        yield f"http://{host}:{port}"


def test_the_index_lives_on_the_server_when_configured(server: str, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "local", server=server)
    report = index.rebuild(DOCS)
    assert report.added == 2
    # Another replica with its own data directory sees the same index through the server.
    other = KnowledgeIndex(tmp_path / "elsewhere", server=server)
    assert other.status().sources == 2
    assert other.search("Q4_K_M", k=1)[0].source == "a.md"
    assert not list((tmp_path / "local").glob("*.sqlite3"))  # nothing embedded locally


def test_an_unreachable_server_names_the_setting(tmp_path: Path) -> None:
    from tests.servers import free_port

    index = KnowledgeIndex(tmp_path, server=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RetrievalError) as info:
        index.status()
    assert "Chroma server http://127.0.0.1:" in info.value.user_message
    assert "ADVISOR_CHROMA_URL" in info.value.user_message


def test_a_killed_rebuild_is_reported_with_the_repair(tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "index")

    def stop(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt  # what kill/Ctrl-C does halfway through

    with pytest.raises(KeyboardInterrupt):
        index.rebuild(DOCS, progress=stop)
    reopened = KnowledgeIndex(tmp_path / "index")
    with pytest.raises(RetrievalError) as info:
        reopened.search("licenses")
    assert "did not finish. Run `advisor index rebuild` again" in info.value.user_message
    assert reopened.rebuild(DOCS).added == 1  # the repair: a rebuild completes the index
    assert reopened.status().sources == 2
