"""The terminal chat: the same grammar as Slack and Discord, streamed with rich.

One process is one thread, so follow-ups refine the previous question. It goes through
the same chat service as Slack and Discord (profiles, trials, friendly errors): a bad
message prints its usage line and an unexpected failure a request id, and the chat goes on.
Trial and eval results print when their jobs finish.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console

from bot.adapters.render_terminal import render_terminal
from bot.answer import Answer
from bot.chat_service import ChatContext, ChatService

GREETING = (
    "[bold]LLM Advisor[/bold] — ask which model to use, in English or 中文. "
    "Commands: /recommend /compare /fit /why-not /help · /quit to leave."
)


def chat(service: ChatService, console: Console, read: Callable[[], str] | None = None) -> None:
    """Read messages until EOF or /quit, answering each in the same thread."""
    ctx = ChatContext("terminal", "local", "terminal", "terminal-user", "terminal")
    interactive = read is None and sys.stdin.isatty()

    def notify(answer: Answer) -> None:
        console.print(render_terminal(answer))

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
        answer = service.handle(ctx, text, _printer(console, streamed), notify)
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
