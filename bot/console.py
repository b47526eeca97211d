"""Terminal output shared by the CLI commands: consoles, JSON and number formats."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

out = Console(width=100 if sys.stdout.isatty() else 80)
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (stable shape) instead of a table.")
]


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def fmt_params(value: float | None) -> str:
    """7.24 -> '7.2B', 0.125 -> '125M', None -> '?'."""
    if value is None:
        return "?"
    if value < 1:
        return f"{value * 1000:.0f}M"
    return f"{value:.1f}B" if value < 100 else f"{value:.0f}B"


def fmt_context(tokens: int | None) -> str:
    """131072 -> '128k', 4096 -> '4k', None -> '?'."""
    if tokens is None:
        return "?"
    return (
        f"{tokens // 1024}k" if tokens >= 1024 and tokens % 1024 == 0 else f"{tokens / 1000:.0f}k"
    )


@contextmanager
def progress_bar(label: str, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields ``advance(done, total)``."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
