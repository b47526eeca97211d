"""Logging set-up and incident reports.

Users see an incident id; the log gets the full trace under that id, so a team can find
what happened without the bot ever echoing exception text (which may hold secrets or
internals) into chat.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from core.errors import ConfigError

log = logging.getLogger("advisor")


def setup_logging(data_dir: Path, level: int = logging.INFO) -> None:
    """Send the advisor's log to ``<data_dir>/advisor.log``; warnings also reach stderr."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(data_dir / "advisor.log", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"The data directory {data_dir} cannot be written ({exc.strerror or exc}). "
            "Fix its permissions or set ADVISOR_DATA_DIR to a writable directory."
        ) from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.setLevel(level)
    log.addHandler(handler)


def report_incident(exc: BaseException) -> str:
    """Log ``exc`` with its trace under a fresh short id and return the id."""
    incident = uuid.uuid4().hex[:8]
    log.error("incident %s: %s", incident, type(exc).__name__, exc_info=exc)
    return incident
