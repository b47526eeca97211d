"""Retrieval quality on real questions (English and Chinese) against the shipped guides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.advisor import expand_query
from knowledge.index import KnowledgeIndex, split_sections, tokens

QUESTIONS = [
    q
    for f in sorted((Path(__file__).parent / "retrieval").glob("*.yaml"))
    for q in yaml.safe_load(f.read_text())["questions"]
]


def _slug(source: str) -> str:
    return source.removeprefix("guides/").removesuffix(".md").removesuffix(".zh")


def test_question_set_is_large_and_bilingual() -> None:
    assert len(QUESTIONS) >= 30
    chinese = [q for q in QUESTIONS if any("\u4e00" <= ch <= "\u9fff" for ch in q["q"])]
    assert len(chinese) >= len(QUESTIONS) // 3


def test_recall_at_5(knowledge_index: KnowledgeIndex) -> None:
    misses = []
    for q in QUESTIONS:
        found = [_slug(p.source) for p in knowledge_index.search(expand_query(q["q"]), k=5)]
        if q["expect"] not in found:
            misses.append(f"{q['q']!r}: expected {q['expect']}, got {found}")
    recall = 1 - len(misses) / len(QUESTIONS)
    print(f"recall@5 = {recall:.3f} over {len(QUESTIONS)} questions")
    assert recall >= 0.90, "\n".join(misses)


@pytest.mark.parametrize("term", ["Q4_K_M", "OpenRAIL-M", "GQA", "Modelfile"])
def test_exact_names_are_found(knowledge_index: KnowledgeIndex, term: str) -> None:
    passages = knowledge_index.search(term, k=3)
    assert any(term.lower() in p.text.lower() for p in passages), [p.source for p in passages]


def test_passages_about_named_models_are_preferred(knowledge_index: KnowledgeIndex) -> None:
    query = "which variants are there and what do they cost to run"
    plain = knowledge_index.search(query, k=3)
    preferred = knowledge_index.search(query, k=3, models=["qwen2.5"])
    assert not all("qwen2.5" in p.models for p in plain)
    assert all("qwen2.5" in p.models for p in preferred)


def test_rebuild_is_incremental(tmp_path: Path) -> None:
    from knowledge.index import Document

    index = KnowledgeIndex(tmp_path / "index")
    docs = [
        Document("a.md", "A", "# A\n## One\nalpha text"),
        Document("b.md", "B", "## Two\nbeta text"),
    ]
    first = index.rebuild(docs)
    assert (first.added, first.chunks_embedded) == (2, 2)
    again = index.rebuild(docs)
    assert (again.unchanged, again.chunks_embedded) == (2, 0)
    changed = index.rebuild([Document("a.md", "A", "# A\n## One\nalpha changed"), docs[1]])
    assert (changed.updated, changed.unchanged, changed.chunks_embedded) == (1, 1, 1)
    gone = index.rebuild([docs[1]])
    assert gone.removed == 1 and index.status().sources == 1


def test_chunking_keeps_code_comments_out_of_headings() -> None:
    text = "## Run it\n```sh\n# not a heading\nollama run qwen2.5\n```\nmore\n## Next\nbody"
    assert [s for s, _ in split_sections(text)] == ["Run it", "Next"]


def test_keyword_tokens_cover_chinese_bigrams() -> None:
    assert "显存" in tokens("需要多少显存") and "q4_k_m" in tokens("Q4_K_M file")
