"""Logging set-up and incident reports.

Users see an incident id; the log gets the full trace under that id, so a team can find
what happened without the bot ever echoing exception text (which may hold secrets or
internals) into chat.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ConfigError

log = logging.getLogger("advisor")


class _LazyFileHandler(logging.FileHandler):
    """A file handler that finds its directory, and creates it, only at the first record."""

    def __init__(self, data_dir: Callable[[], Path]) -> None:
        super().__init__("advisor.log", encoding="utf-8", delay=True)
        self._data_dir = data_dir

    def _open(self) -> Any:  # the stdlib hook that opens the stream
        directory = self._data_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.baseFilename = str((directory / "advisor.log").resolve())
            return super()._open()
        except OSError as exc:
            raise ConfigError(
                f"The data directory {directory} cannot be written ({exc.strerror or exc}). "
                "Fix its permissions or set ADVISOR_DATA_DIR to a writable directory."
            ) from None

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - stdlib name
        """An unwritable log is a configuration problem: say so once, then stop logging."""
        import sys

        problem = sys.exc_info()[1]
        if isinstance(problem, ConfigError):
            sys.stderr.write(problem.user_message + "\n")
            log.removeHandler(self)
            return
        super().handleError(record)


def setup_logging(data_dir: Path | Callable[[], Path], level: int = logging.INFO) -> None:
    """Send the advisor's log to ``<data_dir>/advisor.log``, opened at the first record.

    ``data_dir`` may be a function, so a command that logs nothing (``--help``) neither
    reads the settings nor creates the data directory.
    """
    handler = _LazyFileHandler(data_dir if callable(data_dir) else lambda: data_dir)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.setLevel(level)
    log.addHandler(handler)


def report_incident(exc: BaseException) -> str:
    """Log ``exc`` with its trace under a fresh short id and return the id."""
    incident = uuid.uuid4().hex[:8]
    log.error("incident %s: %s", incident, type(exc).__name__, exc_info=exc)
    return incident
