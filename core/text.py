"""Text helpers every layer shares: which language a message is written in."""

from __future__ import annotations

import re

CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")  # whole runs, for bigram tokenising


def detect_language(text: str) -> str:
    """'zh' when the text has Chinese characters, else 'en'."""
    return "zh" if len(CJK.findall(text)) >= 2 else "en"
