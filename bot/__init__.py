"""The advisor and its adapters: what happens when someone asks (see bot/advisor.py)."""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "Advisor": "bot.advisor",
    "Answer": "bot.answer",
    "ChatService": "bot.chat_service",
    "Settings": "core.settings",
    "load_settings": "core.settings",
    "AdvisorError": "core.errors",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
