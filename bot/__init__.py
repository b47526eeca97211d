"""The advisor and its adapters: what happens when someone asks (see bot/advisor.py)."""

from __future__ import annotations

from knowledge.lazy import lazy_exports

_EXPORTS = {
    "Advisor": "bot.advisor",
    "Answer": "bot.answer",
    "ChatService": "bot.chat_service",
    "Settings": "bot.settings",
    "load_settings": "bot.settings",
    "AdvisorError": "bot.errors",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
