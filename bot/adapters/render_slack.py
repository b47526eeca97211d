"""Render an Answer as Slack Block Kit messages, safely and within Block Kit limits.

Limits: a section's text 3,000 characters, 10 fields; a table block 100 rows x 20 cells
and only one table per message; 50 blocks per message; a context block 10 elements.
Long text is split cleanly (bot/adapters/splitting.py) over several sections and, past
50 blocks or at a second table, several messages.

Everything the advisor says is Markdown that may echo what a user typed, so :func:`mrkdwn`
first escapes ``&``, ``<`` and ``>`` (Slack's only control characters): ``<!channel>``,
``<!here>``, ``<!everyone>``, ``<!subteam^ID>`` and ``<@U123>`` then show as text and ping
no one. It then converts Markdown to mrkdwn: bold, headings, links, and tables (as an
aligned code block, since Slack has no Markdown tables).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from bot.adapters.splitting import split_text
from bot.answer import Answer, Citation, Table

SECTION_TEXT = 3000
BLOCKS_PER_MESSAGE = 50
TABLE_ROWS = 100
TABLE_CELLS = 20
CONTEXT_ELEMENTS = 10
_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def escape(text: str) -> str:
    """Slack-escape user-visible text so it cannot mention or link anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code_table(lines: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    rows = [r for r in rows if not _RULE.match("|" + "|".join(r) + "|")]
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    sizes = [max(len(r[i]) for r in rows) for i in range(width)]
    out = ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    return "```\n" + "\n".join(out) + "\n```"


def tables_as_code(text: str) -> str:
    """Markdown tables (a header, a ``|---|`` rule, rows) -> aligned code blocks."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        if _TABLE_LINE.match(lines[i]) and i + 1 < len(lines) and _RULE.match(lines[i + 1]):
            j = i
            while j < len(lines) and _TABLE_LINE.match(lines[j]):
                j += 1
            out.append(_code_table(lines[i:j]))
            i = j
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def mrkdwn(text: str) -> str:
    """Markdown to Slack mrkdwn, escaped first: bold, headings, bullets, links and tables."""
    text = tables_as_code(escape(text))
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    text = re.sub(r"^#{1,6}\s+(.+)$", r"*\1*", text, flags=re.M)
    text = re.sub(r"^(\s*)[*+]\s+", r"\1• ", text, flags=re.M)
    return re.sub(r"\[([^\]\n]+)\]\((https?://[^)\s|]+)\)", r"<\2|\1>", text)


def _cell(text: str) -> dict[str, Any]:
    return {"type": "raw_text", "text": text[:500] or "-"}


def table_block(table: Table) -> dict[str, Any]:
    """A Block Kit table (header row first), capped at its row and cell limits."""
    header = table.columns[:TABLE_CELLS]
    rows = [[_cell(c) for c in header]]
    rows += [[_cell(c) for c in row[:TABLE_CELLS]] for row in table.rows[: TABLE_ROWS - 1]]
    return {"type": "table", "rows": rows}


def source_label(source: str) -> str:
    """A citation's source as users may see it: server paths (absolute) by file name only."""
    if re.match(r"(/|~|[A-Za-z]:[\\/])", source):
        return PurePosixPath(source.replace("\\", "/")).name or source
    return source


def citation_line(c: Citation) -> str:
    """``[n] title — source`` for one citation."""
    return f"[{c.id}] {c.title} — {source_label(c.source)}"


def footer(answer: Answer) -> str:
    """Who phrased the answer and how fresh the catalog is, in the answer's language."""
    zh = answer.language == "zh"
    if answer.llm.used and answer.llm.model:
        text = f"由 {answer.llm.model} 措辞" if zh else f"Phrased by {answer.llm.model}"
    else:
        text = "确定性回答" if zh else "Deterministic answer"
    if answer.catalog_as_of:
        text += (" · 目录更新于 " if zh else " · catalog as of ") + answer.catalog_as_of
    return text


def render_slack(answer: Answer, buttons: bool = True) -> list[list[dict[str, Any]]]:
    """Block lists, one per message, that together carry the whole answer."""
    messages: list[list[dict[str, Any]]] = [[]]

    def add(*blocks: dict[str, Any]) -> None:
        has_table = any(b["type"] == "table" for b in messages[-1])
        adds_table = any(b["type"] == "table" for b in blocks)
        if len(messages[-1]) + len(blocks) > BLOCKS_PER_MESSAGE or (has_table and adds_table):
            messages.append([])
        messages[-1].extend(blocks)

    for piece in split_text(mrkdwn(answer.text), SECTION_TEXT):
        add({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
    for table in answer.tables:
        title = {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(table.title)}*"}}
        add(title, table_block(table))
    cites = [escape(citation_line(c)) for c in answer.citations]
    for start in range(0, len(cites), CONTEXT_ELEMENTS):
        elements = [
            {"type": "mrkdwn", "text": c[:3000]} for c in cites[start : start + CONTEXT_ELEMENTS]
        ]
        add({"type": "context", "elements": elements})
    add({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(footer(answer))}]})
    if buttons and answer.follow_ups:
        add(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": f[:75]},
                        "action_id": f"advisor_followup_{i}",
                        "value": f[:2000],
                    }
                    for i, f in enumerate(answer.follow_ups[:5])
                ],
            }
        )
    return messages


def fallback_text(answer: Answer) -> str:
    """The plain-text summary Slack shows in notifications (escaped: it is parsed too)."""
    return escape((answer.understood or answer.text)[:300])


def progress_text(streamed: str) -> str:
    """Streamed tokens so far as mrkdwn, trimmed to fit one section."""
    text = mrkdwn(streamed)
    if len(text) > SECTION_TEXT - 2:
        text = "…" + text[-(SECTION_TEXT - 3) :]
    return text + " …"
