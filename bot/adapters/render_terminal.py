"""Render an Answer for a terminal with rich: Markdown text, tables, then numbered sources."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text

from bot.answer import Answer


def render_terminal(answer: Answer, show_text: bool = True) -> RenderableType:
    """Everything in an answer as one renderable (text can be left out if it was streamed)."""
    parts: list[RenderableType] = []
    if answer.llm.replaced:  # what streamed above is withdrawn: rule it off, then the real answer
        parts.append(Rule("▲ withdrawn: the model's answer above was replaced", style="bold red"))
        show_text = True
    if show_text:
        parts.append(Markdown(answer.text))
    for table in answer.tables:
        rich_table = RichTable(title=table.title, title_justify="left")
        for column in table.columns:
            rich_table.add_column(column, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*row)
        parts.append(rich_table)
    if answer.citations:
        sources = Text("Sources:\n", style="bold")
        for c in answer.citations:
            sources.append(f"[{c.id}] {c.title} ({c.source})\n", style="dim")
        parts.append(sources)
    if answer.follow_ups:
        parts.append(Text("Try: " + " · ".join(answer.follow_ups), style="dim"))
    return Group(*parts)
