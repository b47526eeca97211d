"""Render an Answer as Discord messages: content plus embeds, within every Discord limit.

Limits (discord.py / Discord API): 2,000 characters of content, embed description 4,096,
25 fields of name 256 / value 1,024, 10 embeds per message, and 6,000 characters across all
the embeds of one message.
Long text is split cleanly (bot/adapters/splitting.py); tables become embed fields.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.render_slack import footer as footer_text
from bot.adapters.render_slack import source_label
from bot.adapters.splitting import split_text
from bot.answer import Answer, Table

CONTENT = 2000
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
EMBED_TOTAL = 6000
EMBEDS_PER_MESSAGE = 10
BUTTONS = 25  # 5 action rows of 5 buttons
COLOUR = 0x5865F2


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table_embeds(table: Table) -> list[dict[str, Any]]:
    """One field per row (first cell as name, the rest as value), 25 fields per embed."""
    fields = [
        {
            "name": _clip(row[0] or "-", FIELD_NAME),
            "value": _clip(
                " · ".join(f"{c}: {v}" for c, v in zip(table.columns[1:], row[1:], strict=False))
                or "-",
                FIELD_VALUE,
            ),
            "inline": False,
        }
        for row in table.rows
    ]
    embeds = []
    for start in range(0, max(1, len(fields)), FIELDS):
        chunk = fields[start : start + FIELDS]
        embed: dict[str, Any] = {
            "title": _clip(table.title, FIELD_NAME),
            "color": COLOUR,
            "fields": chunk,
        }
        while _size(embed) > EMBED_TOTAL and embed["fields"]:
            embed["fields"] = embed["fields"][:-1]
        embeds.append(embed)
    return embeds


def _size(embed: dict[str, Any]) -> int:
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    return total + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def render_discord(answer: Answer) -> list[dict[str, Any]]:
    """Messages ({content, embeds}) that together carry the whole answer.

    The last message also lists ``buttons``: the follow-up commands to offer as buttons.
    """
    pieces = split_text(answer.text, DESCRIPTION)
    embeds: list[dict[str, Any]] = [{"description": piece, "color": COLOUR} for piece in pieces]
    for table in answer.tables:
        embeds += _table_embeds(table)
    if answer.citations:
        lines = [f"[{c.id}] {c.title} ({source_label(c.source)})" for c in answer.citations]
        sources = split_text("\n".join(lines), DESCRIPTION)
        title = "来源" if answer.language == "zh" else "Sources"
        embeds += [{"title": title, "description": s, "color": COLOUR} for s in sources]
    embeds[-1]["footer"] = {"text": _clip(footer_text(answer), 2048)}
    # Discord counts the 6,000 characters across all embeds of one message (and refuses the
    # whole message beyond that), so embeds are packed by total size as well as by count.
    messages: list[dict[str, Any]] = []
    used = 0
    for embed in embeds:
        size = _size(embed)
        if (
            not messages
            or len(messages[-1]["embeds"]) == EMBEDS_PER_MESSAGE
            or used + size > EMBED_TOTAL
        ):
            messages.append({"content": "", "embeds": []})
            used = 0
        messages[-1]["embeds"].append(embed)
        used += size
    messages[0]["content"] = _clip(answer.understood, CONTENT)
    if answer.follow_ups:
        messages[-1]["buttons"] = answer.follow_ups[:BUTTONS]
    return messages


def render_discord_text(text: str) -> list[dict[str, Any]]:
    """Plain text (progress, usage messages) as content-only messages."""
    return [{"content": piece, "embeds": []} for piece in split_text(text or "…", CONTENT)]
