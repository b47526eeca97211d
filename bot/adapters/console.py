"""The terminal chat: the same grammar as Slack and Discord, streamed with rich.

One process is one thread, so follow-ups refine the previous question. A bad message
prints its usage line; an unexpected failure prints an incident id and the chat goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console

from bot.adapters.render_terminal import render_terminal
from bot.advisor import Advisor, Thread
from bot.errors import AdvisorError
from bot.logs import report_incident

GREETING = (
    "[bold]LLM Advisor[/bold] — ask which model to use, in English or 中文. "
    "Commands: /recommend /compare /fit /why-not /help · /quit to leave."
)


def chat(advisor: Advisor, console: Console, read: Callable[[], str] | None = None) -> None:
    """Read messages until EOF or /quit, answering each in the same thread."""
    thread = Thread("terminal")
    interactive = read is None and sys.stdin.isatty()
    console.print(GREETING)
    while True:
        try:
            text = (
                read()
                if read
                else (console.input("[bold cyan]you>[/] ") if interactive else input())
            )
        except (EOFError, KeyboardInterrupt):
            break
        if text.strip() in ("/quit", "/exit", "exit", "quit"):
            break
        if not text.strip():
            continue
        streamed: list[str] = []
        try:
            answer = advisor.handle(text, thread=thread, on_token=_printer(console, streamed))
        except AdvisorError as exc:
            console.print(exc.user_message, style="yellow", markup=False)
            continue
        except Exception as exc:  # noqa: BLE001 - one bad message must not end the chat
            console.print(
                f"Something went wrong (incident {report_incident(exc)}); try again.", style="red"
            )
            continue
        if streamed:
            console.print()
        console.print(render_terminal(answer, show_text=not answer.llm.used))


def _printer(console: Console, streamed: list[str]) -> Callable[[str], None]:
    """Print streamed tokens as they arrive, after an "advisor>" prompt."""

    def on_token(piece: str) -> None:
        if not streamed:
            console.print("[bold green]advisor>[/] ", end="")
        streamed.append(piece)
        console.print(piece, end="", markup=False, highlight=False, soft_wrap=True)

    return on_token
