"""The one source of "now": code that needs the time takes a Clock, so tests can fix it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC: the default Clock."""
    return datetime.now(UTC)
