"""Render an Answer as Slack Block Kit messages, within Block Kit limits.

Limits: a section's text 3,000 characters, 10 fields; a table block 100 rows x 20 cells;
50 blocks per message; a context block 10 elements. Long text is split cleanly
(bot/adapters/splitting.py) over several sections and, past 50 blocks, several messages.
Markdown from the advisor is converted to Slack mrkdwn (``**bold**`` -> ``*bold*``).
"""

from __future__ import annotations

import re
from typing import Any

from bot.adapters.splitting import split_text
from bot.answer import Answer, Table

SECTION_TEXT = 3000
BLOCKS_PER_MESSAGE = 50
TABLE_ROWS = 100
TABLE_CELLS = 20
CONTEXT_ELEMENTS = 10


def mrkdwn(text: str) -> str:
    """Markdown to Slack mrkdwn: bold, headings and links."""
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    text = re.sub(r"^#{1,6}\s+(.+)$", r"*\1*", text, flags=re.M)
    return re.sub(r"\[([^\]]+)\]\((https?://[^)]+)\)", r"<\2|\1>", text)


def _cell(text: str) -> dict[str, Any]:
    return {"type": "raw_text", "text": text[:500] or "-"}


def table_block(table: Table) -> dict[str, Any]:
    """A Block Kit table (header row first), capped at its row and cell limits."""
    header = table.columns[:TABLE_CELLS]
    rows = [[_cell(c) for c in header]]
    rows += [[_cell(c) for c in row[:TABLE_CELLS]] for row in table.rows[: TABLE_ROWS - 1]]
    return {"type": "table", "rows": rows}


def render_slack(answer: Answer, buttons: bool = True) -> list[list[dict[str, Any]]]:
    """Block lists, one per message, that together carry the whole answer."""
    blocks: list[dict[str, Any]] = []
    for piece in split_text(mrkdwn(answer.text), SECTION_TEXT):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
    for table in answer.tables:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{table.title}*"}})
        blocks.append(table_block(table))
    cites = [f"[{c.id}] {c.title} — `{c.source}`" for c in answer.citations]
    for start in range(0, len(cites), CONTEXT_ELEMENTS):
        elements = [
            {"type": "mrkdwn", "text": c[:3000]} for c in cites[start : start + CONTEXT_ELEMENTS]
        ]
        blocks.append({"type": "context", "elements": elements})
    footer = f"Phrased by {answer.llm.model}" if answer.llm.used else "Deterministic answer"
    if answer.catalog_as_of:
        footer += f" · catalog as of {answer.catalog_as_of}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    if buttons and answer.follow_ups:
        blocks.append(
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
    return [blocks[i : i + BLOCKS_PER_MESSAGE] for i in range(0, len(blocks), BLOCKS_PER_MESSAGE)]


def fallback_text(answer: Answer) -> str:
    """The plain-text summary Slack shows in notifications."""
    return (answer.understood or answer.text)[:300]
