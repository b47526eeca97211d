"""The bottom layer: errors, settings, the clock, YAML reading. Every package may import it."""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "AdvisorError": "core.errors",
    "Clock": "core.clock",
    "Settings": "core.settings",
    "load_settings": "core.settings",
    "utc_now": "core.clock",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
