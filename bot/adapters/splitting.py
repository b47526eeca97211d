"""Split long text for platforms with message limits, without losing or breaking anything.

Splits prefer paragraph breaks, then line breaks, then spaces, and never cut a character.
A piece that ends inside a fenced code block closes the fence, and the next piece reopens
it with the same language tag, so every piece renders as valid Markdown on its own.
Joining the pieces after removing the added fences gives back the original text.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^```(\S*)\s*$", re.M)
CLOSE = "\n```"


def _open_fence(text: str) -> str | None:
    """The language tag of a fence left open at the end of ``text``, else None."""
    tag = None
    for match in _FENCE.finditer(text):
        tag = None if tag is not None else match.group(1)
    return tag


def _cut(text: str, limit: int) -> int:
    """Where to cut ``text`` so the head has at most ``limit`` characters."""
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > limit // 3:
            return at + len(sep)
    return limit


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters whose concatenation is ``text``."""
    if limit < 40:
        raise ValueError("limit too small to split code blocks safely")
    pieces: list[str] = []
    rest = text
    reopen = ""
    while rest:
        budget = limit - len(reopen) - len(CLOSE)
        at = _cut(rest, budget) if len(reopen) + len(rest) > limit else len(rest)
        head, rest = rest[:at], rest[at:]
        piece = reopen + head
        tag = _open_fence(piece)
        if tag is not None and rest:
            piece += CLOSE
            reopen = f"```{tag}\n"
        else:
            reopen = ""
        pieces.append(piece)
    return pieces or [""]


def unsplit(pieces: list[str]) -> str:
    """Undo :func:`split_text`: drop the fences it added between pieces."""
    out = []
    for i, piece in enumerate(pieces):
        if i > 0 and pieces[i - 1].endswith(CLOSE) and piece.startswith("```"):
            piece = piece.split("\n", 1)[1] if "\n" in piece else ""
        if (
            i < len(pieces) - 1
            and piece.endswith(CLOSE)
            and _open_fence(pieces[i][: -len(CLOSE)]) is not None
        ):
            piece = piece[: -len(CLOSE)]
        out.append(piece)
    return "".join(out)
