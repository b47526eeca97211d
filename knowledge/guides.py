"""The team's own guides (knowledge/guides/*.md) as documents for the index.

Each guide starts with YAML front matter (title, topics, lang, sources). The sources are
kept so answers can cite the guide and, through it, the pages it was written from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import RetrievalError
from core.yamlfile import parse_yaml
from knowledge.index import Document

GUIDES_DIR = Path(__file__).resolve().parent / "guides"


@dataclass(frozen=True)
class Guide:
    slug: str
    title: str
    lang: str
    topics: tuple[str, ...]
    sources: tuple[str, ...]
    body: str
    path: Path

    def document(self) -> Document:
        """The guide as an index document; its source is the repo-relative path."""
        return Document(
            source=f"guides/{self.path.name}", title=self.title, text=self.body, lang=self.lang
        )


def read_guide(path: Path) -> Guide:
    """Parse one guide; a missing or broken front matter is an error naming the file."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise RetrievalError(f"{path}: a guide must start with front matter (---).")
    _, front, body = text.split("---", 2)
    meta = parse_yaml(front) or {}
    if "title" not in meta:
        raise RetrievalError(f"{path}: front matter needs a title.")
    name = path.name.removesuffix(".md")
    slug, _, lang_suffix = name.partition(".")
    return Guide(
        slug=slug,
        title=str(meta["title"]),
        lang=str(meta.get("lang") or lang_suffix or "en"),
        topics=tuple(meta.get("topics") or ()),
        sources=tuple(meta.get("sources") or ()),
        body=body.strip(),
        path=path,
    )


def read_guides(directory: Path = GUIDES_DIR) -> list[Guide]:
    """All guides, English and translations, sorted by file name."""
    return [read_guide(p) for p in sorted(directory.glob("*.md"))]
