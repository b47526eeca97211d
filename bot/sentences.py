"""Whole sentences from a passage: answers quote guides without cutting a sentence."""

from __future__ import annotations

import re

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*`(\"'\[])|(?<=[。！？])")
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def whole_sentences(text: str, limit: int = 600) -> str:
    """Leading whole sentences of ``text`` up to about ``limit`` characters (at least one).

    Headings are dropped and lines joined; a first sentence longer than ``limit`` is kept
    whole rather than cut.
    """
    flat = re.sub(r"^#+ .*$", "", text, flags=re.M)
    flat = re.sub(r"\s+", " ", flat).strip()
    out = ""
    for sentence in (s.strip() for s in _SPLIT.split(flat)):
        if not sentence:
            continue
        if out and len(out) + len(sentence) > limit:
            break
        joiner = "" if not out or _CJK.search(out[-1]) else " "
        out += joiner + sentence
    return out
