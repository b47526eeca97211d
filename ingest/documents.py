"""Team documents into the knowledge index: Markdown, HTML, PDF, plain text and URLs.

Design. Every input, whatever its format, is turned into Markdown text and wrapped in a
:class:`knowledge.index.Document` of kind ``"document"``, because the index chunks by
Markdown heading: an HTML ``<h2>`` becomes ``## ...``, a PDF page becomes ``## Page N``,
so a retrieved passage names its section. The source is the absolute path or the URL, so
the same file ingested from another working directory is still the same document.

Re-ingest is cheap by construction: documents go through ``KnowledgeIndex.rebuild`` with
``prune_kinds=()``, which compares content hashes and re-embeds only what changed, and
prunes nothing (guides, cards and other documents stay as they are).

Failures are per item. A missing file, an unsupported type, a PDF without text or a URL
that answers 404 becomes an :class:`IngestIssue` in the report with a sentence a person can
act on; the other items are still ingested. This module is the one wrapper around pypdf,
BeautifulSoup and the HTTP fetch of documents; their exceptions become
:class:`DocumentError`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PreformattedString

from core.errors import AdvisorError
from core.text import detect_language
from knowledge.index import Document, KnowledgeIndex

KIND = "document"
FETCH_TIMEOUT = 20.0
SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".txt": "text",
    ".text": "text",
}
_CONTENT_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 3, "h5": 3, "h6": 3}  # the index splits on #..###
_DROP = ("script", "style", "noscript", "template", "svg", "head", "title", "nav", "footer")
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "aside", "blockquote", "ul", "ol",
    "dl", "dt", "dd", "table", "thead", "tbody", "figure", "figcaption", "form", "hr",
}  # fmt: skip
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)


class DocumentError(AdvisorError):
    """A document that cannot be read, fetched or turned into text."""


@dataclass(frozen=True)
class Fetched:
    """A fetched URL: what the server said it is and the bytes it sent."""

    url: str
    content_type: str
    content: bytes


Fetch = Callable[[str], Fetched]


@dataclass(frozen=True)
class IngestIssue:
    """One item that was not ingested, and why, in words a person can act on."""

    item: str
    message: str


@dataclass(frozen=True)
class IngestReport:
    """What one ``advisor ingest`` did: counts from the index, plus per-item problems."""

    sources: tuple[str, ...] = ()
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    skipped: tuple[str, ...] = ()
    errors: tuple[IngestIssue, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every item given was ingested."""
        return not self.errors


@dataclass(frozen=True)
class DocumentInfo:
    """One ingested document as ``advisor ingest list`` shows it."""

    source: str
    title: str
    chunks: int


def ingest(
    index: KnowledgeIndex,
    paths_or_urls: Iterable[str | Path],
    model_names: dict[str, str] | None = None,
    fetch: Fetch | None = None,
    max_bytes: int = 20_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Read every item (file, directory or URL) and index it, re-embedding changed ones only.

    ``model_names`` (from :func:`knowledge.cards.model_names`) tags chunks with the catalog
    models they mention. ``fetch`` replaces the HTTP GET (e.g. to add a proxy or auth); like
    :func:`fetch_url` it returns a :class:`Fetched` and raises DocumentError on failure.
    A file or download over ``max_bytes`` is refused; ``progress(done, total)`` follows the
    embedding.
    """
    documents: list[Document] = []
    skipped: list[str] = []
    errors: list[IngestIssue] = []
    for item in paths_or_urls:
        try:
            for found in _expand(item, skipped):
                try:
                    documents.append(_load(found, fetch or fetch_url, max_bytes))
                except DocumentError as exc:
                    errors.append(IngestIssue(str(found), exc.user_message))
        except DocumentError as exc:
            errors.append(IngestIssue(str(item), exc.user_message))
    unique = list({doc.source: doc for doc in documents}.values())
    result = index.rebuild(unique, model_names, prune_kinds=(), progress=progress)
    return IngestReport(
        sources=tuple(doc.source for doc in unique),
        added=result.added,
        updated=result.updated,
        unchanged=result.unchanged,
        chunks_embedded=result.chunks_embedded,
        skipped=tuple(skipped),
        errors=tuple(errors),
    )


def list_documents(index: KnowledgeIndex) -> list[DocumentInfo]:
    """Every ingested document with its title and chunk count, sorted by source."""
    counts: dict[str, int] = {}
    titles: dict[str, str] = {}
    for meta in _document_metadata(index):
        counts[meta["source"]] = counts.get(meta["source"], 0) + 1
        titles[meta["source"]] = meta["title"]
    return [DocumentInfo(s, titles[s], counts[s]) for s in sorted(counts)]


def remove(index: KnowledgeIndex, source: str) -> int:
    """Drop one ingested document (by path, as given or absolute, or URL); return its chunks.

    Only documents are removed: a guide or model card source is left alone, because those
    come back with the next ``advisor index rebuild`` anyway and removing them is a mistake.
    """
    known = {info.source for info in list_documents(index)}
    candidates = [source] if _is_url(source) else [source, str(Path(source).expanduser().resolve())]
    for candidate in candidates:
        if candidate in known:
            return index.remove(candidate)
    return 0


def describe(report: IngestReport) -> list[str]:
    """Lines for the CLI or chat: what changed, what was skipped, what failed and why."""
    lines = [
        f"Ingested {len(report.sources)} document(s): {report.added} new, {report.updated} "
        f"updated, {report.unchanged} unchanged ({report.chunks_embedded} chunks embedded)."
    ]
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} file(s) of unsupported types.")
    lines += [f"Error: {issue.message}" for issue in report.errors]
    return lines


def fetch_url(url: str) -> Fetched:
    """GET ``url`` with a timeout, following redirects; failures become DocumentError."""
    try:
        response = httpx.get(url, timeout=FETCH_TIMEOUT, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise DocumentError(
            f"Could not fetch {url}: {type(exc).__name__}. Check the address and the network.",
            detail=str(exc),
        ) from exc
    if response.status_code >= 400:
        raise DocumentError(
            f"Could not fetch {url}: the server answered {response.status_code} "
            f"{response.reason_phrase}."
        )
    return Fetched(str(response.url), response.headers.get("content-type", ""), response.content)


def html_to_markdown(html: str | bytes, encoding: str | None = None) -> tuple[str, str]:
    """(title, Markdown text) of an HTML page; headings stay headings, scripts and nav go.

    The title is the page's ``<title>``, else its first ``<h1>``, else empty. ``encoding``
    is the server's charset, if it named one; otherwise the page's own declaration is used.
    """
    soup = BeautifulSoup(
        html, "html.parser", from_encoding=encoding if isinstance(html, bytes) else None
    )
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if not title and (h1 := soup.find("h1")) is not None:
        title = h1.get_text(" ", strip=True)
    for tag in soup.find_all(list(_DROP)):
        tag.decompose()
    writer = _MarkdownWriter()
    writer.walk(soup.body or soup)
    return title, writer.text()


def pdf_to_markdown(data: bytes) -> tuple[str, str]:
    """(title from the PDF's metadata or empty, Markdown text with a heading per page)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("The PDF is password-protected; save an unprotected copy first.")
        title = (reader.metadata.title or "") if reader.metadata else ""
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(
            "The PDF could not be read; it may be damaged.", detail=f"{type(exc).__name__}: {exc}"
        ) from exc
    text = "\n\n".join(f"## Page {n}\n{body}" for n, body in enumerate(pages, 1) if body)
    return title.strip(), text


def _document_metadata(index: KnowledgeIndex) -> list[dict[str, str]]:
    # The index has no public "list sources" call yet; read the metadata only (no texts).
    data = index._vectors().get(where={"kind": KIND}, include=["metadatas"])
    return list(data["metadatas"])


def _is_url(item: str) -> bool:
    return urlsplit(item).scheme in ("http", "https")


def _expand(item: str | Path, skipped: list[str]) -> Iterator[str | Path]:
    """The URL itself, the file itself, or a directory's supported files (recursively)."""
    if isinstance(item, str) and _is_url(item):
        yield item
        return
    path = Path(item).expanduser()
    if not path.exists():
        raise DocumentError(f"{item}: no such file or directory.")
    if not path.is_dir():
        yield path
        return
    found = False
    for child in sorted(path.rglob("*")):
        if any(part.startswith(".") for part in child.relative_to(path).parts):
            continue
        if child.is_file():
            if child.suffix.lower() in SUFFIXES:
                found = True
                yield child
            else:
                skipped.append(str(child))
    if not found:
        raise DocumentError(f"{item}: no supported documents found (supported: {_supported()}).")


def _supported() -> str:
    return ", ".join(sorted(SUFFIXES))


def _too_big(item: str | Path, size: int, max_bytes: int) -> DocumentError:
    return DocumentError(
        f"{item}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:g} MB limit; split it or "
        "raise ADVISOR_INGEST_MAX_MB."
    )


def _load(item: str | Path, fetch: Fetch, max_bytes: int) -> Document:
    if isinstance(item, str) and _is_url(item):
        fetched = fetch(item)
        if len(fetched.content) > max_bytes:
            raise _too_big(item, len(fetched.content), max_bytes)
        charset = _charset(fetched.content_type)
        return _document(
            item, _kind_of_response(fetched), fetched.content, _url_name(item), charset
        )
    path = Path(item).resolve()
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DocumentError(
            f"{item}: unsupported file type {path.suffix or '(none)'!r} "
            f"(supported: {_supported()})."
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_big(item, size, max_bytes)
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{item}: cannot read the file ({exc.strerror}).") from exc
    return _document(str(path), kind, data, path.stem, None)


def _document(source: str, kind: str, data: bytes, fallback: str, charset: str | None) -> Document:
    if kind == "pdf":
        title, text = pdf_to_markdown(data)
    elif kind == "html":
        title, text = html_to_markdown(data, charset)
    else:
        text = _decode(data, charset, source)
        match = _H1.search(text) if kind == "markdown" else None
        title = match.group(1) if match else ""
    if not text.strip():
        hint = " (a scanned PDF needs OCR first)" if kind == "pdf" else ""
        raise DocumentError(f"{source}: no text to index{hint}.")
    return Document(
        source=source,
        title=title or fallback,
        text=text.strip(),
        lang=detect_language(text[:4000]),
        kind=KIND,
    )


def _decode(data: bytes, charset: str | None, source: str) -> str:
    try:
        return data.decode(charset or "utf-8-sig")
    except (UnicodeDecodeError, LookupError) as exc:
        raise DocumentError(f"{source}: not UTF-8 text; convert it to UTF-8 first.") from exc


def _kind_of_response(fetched: Fetched) -> str:
    media = fetched.content_type.split(";")[0].strip().lower()
    by_suffix = SUFFIXES.get(Path(urlsplit(fetched.url).path).suffix.lower())
    kind = _CONTENT_TYPES.get(media)
    if kind == "text" and by_suffix == "markdown":
        return "markdown"  # raw Markdown is commonly served as text/plain
    if kind is None and media in ("", "application/octet-stream"):
        kind = by_suffix
    if kind is None:
        raise DocumentError(
            f"{fetched.url}: unsupported content type {media or '(none)'!r}; "
            "expected HTML, PDF, Markdown or plain text."
        )
    return kind


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=\"?([\w.:-]+)", content_type, re.I)
    return match.group(1) if match else None


def _url_name(url: str) -> str:
    parts = urlsplit(url)
    name = Path(parts.path).stem
    return name or parts.netloc


class _MarkdownWriter:
    """Walks parsed HTML and writes Markdown blocks: headings, paragraphs, lists, code, rows."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._line: list[str] = []

    def text(self) -> str:
        self._flush()
        return "\n\n".join(self.blocks)

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):
                continue  # comments, doctypes, CDATA
            if isinstance(child, NavigableString):
                self._line.append(str(child))
            elif isinstance(child, Tag):
                self._tag(child)

    def _tag(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            self._block("#" * _HEADINGS[name] + " " + tag.get_text(" ", strip=True))
        elif name == "pre":
            self._block("```\n" + tag.get_text().strip("\n") + "\n```", raw=True)
        elif name == "li":
            self._flush()
            start = len(self.blocks)
            self.walk(tag)
            self._flush()
            if len(self.blocks) > start:
                self.blocks[start] = "- " + self.blocks[start]
        elif name == "tr":
            cells = tag.find_all(["td", "th"], recursive=False)
            self._block(" | ".join(c.get_text(" ", strip=True) for c in cells))
        elif name == "br":
            self._line.append("\n")
        elif name in _BLOCKS:
            self._flush()
            self.walk(tag)
            self._flush()
        else:
            self.walk(tag)

    def _block(self, text: str, raw: bool = False) -> None:
        self._flush()
        if raw or text.strip():
            self.blocks.append(text if raw else text.strip())

    def _flush(self) -> None:
        lines = "".join(self._line).split("\n")
        self._line = []
        text = "\n".join(" ".join(line.split()) for line in lines).strip()
        if text:
            self.blocks.append(text)
