"""CLI commands that talk: ask once, chat in the terminal, and manage the knowledge index.

Registered by bot/cli.py. These load the embedding model on first search, so they are the
only commands that import torch; their other imports happen inside each command, so
`advisor fit` and the other catalog commands start without them.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from bot.console import JsonOpt, out, print_json, progress_bar

index_app = typer.Typer(help="Build or inspect the knowledge index.", no_args_is_help=True)


def ask(
    question: Annotated[str, typer.Argument(help="A question or a /command, English or Chinese.")],
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Answer without Ollama (deterministic).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Answer one question with sources (Ollama when it answers, else deterministic)."""
    from bot.adapters.render_terminal import render_terminal
    from bot.app import build_advisor
    from core.settings import load_settings

    advisor = build_advisor(load_settings(), use_llm=not no_llm)
    streamed: list[str] = []

    def on_token(piece: str) -> None:
        if not as_json:
            streamed.append(piece)
            out.print(piece, end="", markup=False, highlight=False, soft_wrap=True)

    answer = advisor.handle(question, on_token=on_token)
    if as_json:
        print_json(answer.as_json())
        return
    if streamed:
        out.print()
    out.print(render_terminal(answer, show_text=not answer.llm.used))


def chat() -> None:
    """Chat in the terminal (what `make run` opens without Slack or Discord tokens)."""
    from bot.adapters.console import chat as run_chat
    from bot.app import build_advisor, build_chat_service, rebuild_index
    from core.settings import load_settings

    settings = load_settings()
    advisor = build_advisor(settings)
    if advisor.index is not None and advisor.index.status().chunks == 0:
        out.print("[dim]Building the knowledge index (first run only)...[/dim]")
        rebuild_index(advisor.index, advisor.catalog)
    run_chat(build_chat_service(advisor, settings), out)


def serve() -> None:
    """Run Slack and/or Discord (whichever tokens are set), else the terminal chat."""
    import asyncio
    import threading

    from bot.app import build_advisor, build_chat_service, rebuild_index, warm_index
    from bot.serve import adapters, check_platforms, serve_chat
    from core.settings import load_settings

    settings = load_settings()
    chosen = adapters(settings)
    if not chosen:
        chat()
        return
    check_platforms(settings, chosen)  # a wrong token or scope ends start-up with what to fix
    advisor = build_advisor(settings)
    if advisor.index is not None and advisor.index.status().chunks == 0:
        rebuild_index(advisor.index, advisor.catalog)
    if advisor.index is not None:  # load the embedding model now, not at the first question
        threading.Thread(target=warm_index, args=(advisor.index,), daemon=True).start()
    out.print(f"Serving on {', '.join(chosen)}. Ctrl-C to stop.")
    asyncio.run(serve_chat(build_chat_service(advisor, settings), settings, chosen))


@index_app.command("rebuild")
def index_rebuild(as_json: JsonOpt = False) -> None:
    """Index the guides and model cards; only changed sources are re-embedded."""
    from bot.app import open_index, rebuild_index
    from core.settings import load_settings
    from knowledge.snapshot import open_catalog

    settings = load_settings()
    with progress_bar("Embedding", as_json) as advance:
        report = rebuild_index(open_index(settings), open_catalog(settings), advance)
    if as_json:
        print_json(vars(report))
        return
    out.print(
        f"Index: {report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged ({report.chunks_embedded} chunks embedded)."
    )


@index_app.command("status")
def index_status(as_json: JsonOpt = False) -> None:
    """How many sources and chunks are indexed."""
    from bot.app import open_index
    from core.settings import load_settings

    status = open_index(load_settings()).status()
    if as_json:
        print_json(vars(status))
        return
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(status.by_kind.items())) or "empty"
    out.print(f"Index: {status.sources} sources, {status.chunks} chunks ({kinds}).")


def ingest(
    items: Annotated[list[str], typer.Argument(help="PATH|URL ... | list | remove SOURCE")],
    as_json: JsonOpt = False,
) -> None:
    """Add team documents (Markdown, HTML, PDF, text, URLs) to the knowledge index."""
    from bot.app import open_index
    from core.settings import load_settings
    from ingest.documents import describe as describe_ingest
    from ingest.documents import ingest as ingest_documents
    from ingest.documents import list_documents
    from ingest.documents import remove as remove_document
    from knowledge.cards import model_names
    from knowledge.snapshot import open_catalog

    settings = load_settings()
    index = open_index(settings)
    if items[0] == "list":
        docs = list_documents(index)
        if as_json:
            print_json([vars(d) for d in docs])
            return
        for d in docs:
            out.print(f"{d.source}  ({d.title}, {d.chunks} chunks)", markup=False)
        if not docs:
            out.print("No documents ingested yet.")
        return
    if items[0] == "remove":
        removed = sum(remove_document(index, source) for source in items[1:])
        out.print(f"Removed {removed} chunks." if removed else "Not an ingested document.")
        if not removed:
            raise typer.Exit(1)
        return
    with progress_bar("Embedding", as_json) as advance:
        report = ingest_documents(
            index,
            items,
            model_names(open_catalog(settings)),
            max_bytes=int(settings.ingest_max_mb * 1_000_000),
            progress=advance,
        )
    if as_json:
        print_json({**vars(report), "errors": [vars(e) for e in report.errors]})
    else:
        for line in describe_ingest(report):
            out.print(line, markup=False)
    if not report.ok:
        raise typer.Exit(1)


def sync_(
    sources: Annotated[list[str], typer.Argument(help="hf, ollama, feeds or all")],
    as_json: JsonOpt = False,
) -> None:
    """Learn about new models from the Hugging Face Hub, the Ollama library and feeds."""
    from huggingface_hub import HfApi

    from core.settings import load_settings
    from ingest.feeds import DEFAULT_FEEDS
    from ingest.sync import sync
    from knowledge.db import make_engine, migrate
    from knowledge.snapshot import open_catalog

    settings = load_settings()
    engine = make_engine(settings.db_url)
    migrate(engine)
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    reports = sync(
        engine,
        open_catalog(settings),
        sources,
        hf_api=HfApi(endpoint=settings.hf_endpoint, token=token),
        ollama_url=settings.ollama_library_url,
        feed_urls=settings.feeds if settings.feeds is not None else DEFAULT_FEEDS,
    )
    if as_json:
        print_json({name: dataclasses.asdict(r) for name, r in reports.items()})
    else:
        for report in reports.values():
            out.print(report.summary(), markup=False)
    if not all(r.ok for r in reports.values()):
        raise typer.Exit(1)


def digest(
    days: Annotated[int, typer.Option(min=1, max=90, help="How many days back.")] = 7,
    as_json: JsonOpt = False,
) -> None:
    """New model releases first seen in the last DAYS days, grouped by provider."""
    from bot.adapters.render_terminal import render_terminal
    from bot.app import build_advisor, build_chat_service
    from bot.digest import digest_answer
    from core.settings import load_settings

    settings = load_settings()
    advisor = build_advisor(settings, use_index=False)
    service = build_chat_service(advisor, settings)
    answer = digest_answer(advisor, service.profiles.engine, days, {}, "en")
    if as_json:
        print_json(answer.as_json())
        return
    out.print(render_terminal(answer))
