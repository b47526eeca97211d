"""Team documents: every format indexed by section, URLs over loopback, cheap re-ingest."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import knowledge.index
from ingest.documents import describe, html_to_markdown, ingest, list_documents, remove
from knowledge.index import Document, KnowledgeIndex

GUIDE = Document(source="guides/choosing.md", title="Choosing", text="# Choosing\nPick well.")


def make_pdf(pages: list[str], title: str = "") -> bytes:
    """A minimal valid PDF: one Helvetica text line per input line, correct xref offsets."""
    objects: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", b""]
    kids = []
    for text in pages:
        lines = [line.replace("(", r"\(").replace(")", r"\)") for line in text.split("\n")]
        ops = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({ln}) Tj T*" for ln in lines) + " ET"
        stream = ops.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 1 0 R >> >> /Contents %d 0 R >>" % (len(objects))
        )
        kids.append(len(objects))
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects) - 1,
        len(objects),
        xref,
    )
    return bytes(out)


@pytest.fixture(scope="module", autouse=True)
def one_embedding_model() -> Iterator[None]:
    """Every temporary index in this module shares one loaded model (loading takes seconds)."""
    shared = knowledge.index._LazyEmbeddings(knowledge.index.DEFAULT_EMBEDDING)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(knowledge.index, "_LazyEmbeddings", lambda name: shared)
        yield


@pytest.fixture
def index(tmp_path: Path) -> KnowledgeIndex:
    return KnowledgeIndex(tmp_path / "index")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "nested").mkdir(parents=True)
    (folder / "serving.md").write_text(
        "# Serving runbook\nHow we run models.\n\n## Quantization\nWe ship Q4_K_M builds.\n"
    )
    (folder / "nested" / "policy.html").write_text(
        "<html><head><title>License policy</title><script>track()</script></head><body>"
        "<nav>Home | About</nav><h1>License policy</h1><p>Read this first.</p>"
        "<h2>Commercial use</h2><p>Llama community license needs review above "
        "<b>700M</b> monthly users.</p><ul><li>Apache-2.0: fine</li><li>CC-BY-NC: no</li></ul>"
        "</body></html>"
    )
    (folder / "nested" / "meeting-notes.txt").write_text("We compared Mistral and Qwen latency.\n")
    (folder / "sizing.pdf").write_bytes(
        make_pdf(["GPU sizing", "A 70B model at 4-bit needs two 24 GB cards."], "Sizing notes")
    )
    return folder


def test_each_format_is_indexed_with_its_title_and_sections(
    index: KnowledgeIndex, docs: Path
) -> None:
    zh = docs / "zh.md"
    zh.write_text("# 选型指南\n中文摘要任务优先考虑通义千问。\n")
    report = ingest(index, [docs, zh])
    assert report.ok and report.added == 5
    titles = {Path(info.source).name: info.title for info in list_documents(index)}
    assert titles == {
        "serving.md": "Serving runbook",
        "policy.html": "License policy",
        "meeting-notes.txt": "meeting-notes",
        "sizing.pdf": "Sizing notes",
        "zh.md": "选型指南",
    }
    assert all(Path(info.source).is_absolute() for info in list_documents(index))

    html = index.search("commercial use monthly users license review", k=1)[0]
    assert (html.title, html.section, html.kind) == ("License policy", "Commercial use", "document")
    assert "track()" not in html.text and "Home | About" not in html.text
    pdf = index.search("70B model 4-bit two 24 GB cards", k=1)[0]
    assert (pdf.title, pdf.section) == ("Sizing notes", "Page 2")
    assert index.search("Q4_K_M", k=1)[0].section == "Quantization"
    assert index.search("中文摘要", k=1)[0].lang == "zh"


def test_html_keeps_headings_lists_and_code_as_markdown() -> None:
    title, text = html_to_markdown(
        "<h1>Guide</h1><h4>Deep</h4><p>a<br>b</p><ul><li>one</li></ul>"
        "<pre># a shell comment\nollama run qwen</pre><table><tr><th>GPU</th><th>GiB</th></tr>"
        "<tr><td>4090</td><td>24</td></tr></table><!-- hidden -->"
    )
    assert title == "Guide"
    assert text == (
        "# Guide\n\n### Deep\n\na\nb\n\n- one\n\n```\n# a shell comment\nollama run qwen\n```"
        "\n\nGPU | GiB\n\n4090 | 24"
    )


def test_directories_recurse_and_skip_unsupported_and_hidden_files(
    index: KnowledgeIndex, docs: Path
) -> None:
    (docs / "slides.pptx").write_bytes(b"PK")
    (docs / ".git").mkdir()
    (docs / ".git" / "notes.md").write_text("# internal\n")
    report = ingest(index, [docs])
    assert sorted(Path(s).name for s in report.sources) == [
        "meeting-notes.txt",
        "policy.html",
        "serving.md",
        "sizing.pdf",
    ]
    assert [Path(s).name for s in report.skipped] == ["slides.pptx"]
    assert "Skipped 1 file(s) of unsupported types." in describe(report)


def test_reingest_embeds_only_changed_documents_and_prunes_nothing(
    index: KnowledgeIndex, docs: Path
) -> None:
    index.rebuild([GUIDE])
    first = ingest(index, [docs])
    assert (first.added, first.unchanged) == (4, 0) and first.chunks_embedded > 4
    again = ingest(index, [docs])
    assert (again.added, again.updated, again.unchanged, again.chunks_embedded) == (0, 0, 4, 0)

    (docs / "serving.md").write_text("# Serving runbook\n\n## Quantization\nNow AWQ too.\n")
    changed = ingest(index, [docs / "serving.md"])
    assert (changed.updated, changed.chunks_embedded) == (1, 1)
    chunks = {Path(i.source).name: i.chunks for i in list_documents(index)}
    assert chunks["serving.md"] == 1 and len(chunks) == 4
    assert index.status().by_kind["guide"] == 1  # the guide was not pruned
    assert "Now AWQ too." in index.search("AWQ", k=1)[0].text


def test_list_and_remove_by_relative_or_absolute_path(
    index: KnowledgeIndex, docs: Path, tmp_path: Path
) -> None:
    index.rebuild([GUIDE])
    ingest(index, [docs])
    relative = (docs / "serving.md").relative_to(tmp_path)  # the tests run in tmp_path
    assert remove(index, str(relative)) == 2
    assert remove(index, str(docs / "serving.md")) == 0
    assert remove(index, GUIDE.source) == 0  # guides are not documents
    assert "serving.md" not in {Path(i.source).name for i in list_documents(index)}
    assert index.status().by_kind == {"guide": 1, "document": index.status().chunks - 1}


def test_every_bad_item_gets_its_own_error_and_the_rest_is_ingested(
    index: KnowledgeIndex, docs: Path, tmp_path: Path
) -> None:
    (tmp_path / "spec.docx").write_bytes(b"PK")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 nothing else")
    (tmp_path / "blank.pdf").write_bytes(make_pdf([""]))
    (tmp_path / "empty").mkdir()
    items = ["nope.md", "spec.docx", "latin1.txt", "broken.pdf", "blank.pdf", "empty"]
    report = ingest(index, [*items, docs / "serving.md"])
    assert [Path(s).name for s in report.sources] == ["serving.md"]
    messages = [issue.message for issue in report.errors]
    assert [Path(issue.item).name for issue in report.errors] == items
    assert "nope.md: no such file or directory." in messages[0]
    assert "unsupported file type '.docx'" in messages[1]
    assert "not UTF-8 text" in messages[2]
    assert "could not be read" in messages[3]
    assert "no text to index (a scanned PDF needs OCR first)" in messages[4]
    assert "no supported documents found" in messages[5]
    assert f"Error: {messages[1]}" in describe(report)


class _Site(BaseHTTPRequestHandler):
    pages = {
        "/policy.html": (200, "text/html; charset=utf-8", b"<title>Policy</title><h2>Use</h2>ok"),
        "/raw/notes.md": (200, "text/plain; charset=utf-8", b"# Notes\nQwen runs well.\n"),
        "/paper": (200, "application/pdf", make_pdf(["Mixture of experts"], "MoE paper")),
        "/latin": (200, "text/plain; charset=iso-8859-1", "d\xe9j\xe0 vu".encode("latin-1")),
        "/archive": (200, "application/zip", b"PK"),
    }

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        status, content_type, body = self.pages.get(self.path, (404, "text/plain", b"gone"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_urls_are_fetched_by_content_type_and_failures_reported(
    index: KnowledgeIndex, site: str
) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}/x.html"
    urls = ["/policy.html", "/raw/notes.md", "/paper", "/latin", "/missing", "/archive"]
    report = ingest(index, [site + u for u in urls] + [dead])
    assert report.sources == tuple(site + u for u in urls[:4])
    infos = {i.source.removeprefix(site): (i.title, i.chunks) for i in list_documents(index)}
    assert infos == {
        "/policy.html": ("Policy", 1),
        "/raw/notes.md": ("Notes", 1),
        "/paper": ("MoE paper", 1),
        "/latin": ("latin", 1),
    }
    assert "déjà vu" in index.search("vu", k=1)[0].text
    assert [(issue.item.removeprefix(site), issue.message) for issue in report.errors[:2]] == [
        ("/missing", f"Could not fetch {site}/missing: the server answered 404 Not Found."),
        ("/archive", f"{site}/archive: unsupported content type 'application/zip'; "
         "expected HTML, PDF, Markdown or plain text."),
    ]  # fmt: skip
    assert report.errors[2].message.startswith(f"Could not fetch {dead}: ConnectError.")
    again = ingest(index, [site + "/policy.html"])
    assert (again.unchanged, again.chunks_embedded) == (1, 0)
    assert remove(index, site + "/paper") == 1
