"""The advisor and its adapters: what happens when someone asks (see bot/advisor.py)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Advisor": "bot.advisor",
    "Answer": "bot.answer",
    "ChatService": "bot.chat_service",
    "Settings": "bot.settings",
    "load_settings": "bot.settings",
    "AdvisorError": "bot.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
