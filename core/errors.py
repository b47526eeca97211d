"""One exception tree for the whole advisor.

::

    AdvisorError                 user_message says what to do next
    ├── ConfigError              missing or invalid settings, found at start-up
    ├── CatalogError             catalog questions that cannot be answered
    │   ├── UnknownModel         a name that matches nothing (with suggestions)
    │   └── CatalogDataError     curated YAML that does not validate (file, line, field)
    ├── RuleError                a rule pack that does not compile (file, line, rule id)
    ├── LLMUnavailable           Ollama down, slow or missing the model
    ├── RetrievalError           the knowledge index cannot answer
    └── JobError                 a trial or eval job that failed

Each error keeps the detail for the log separate from ``user_message``, the sentence a
person sees in chat or the terminal. Unexpected exceptions never reach users as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class AdvisorError(Exception):
    """Base of every error the advisor raises on purpose."""

    def __init__(self, user_message: str, detail: str | None = None) -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message


class ConfigError(AdvisorError):
    """A setting is missing or invalid."""


class CatalogError(AdvisorError):
    """The catalog cannot answer the question as asked."""


class UnknownModel(CatalogError):
    """A model name that matches nothing in the catalog."""

    def __init__(self, query: str, suggestions: Sequence[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"I don't know a model called {query!r}.{hint} "
            "Run `advisor models` to list the catalog."
        )
        self.query = query
        self.suggestions = list(suggestions)


@dataclass(frozen=True)
class DataIssue:
    """One problem in a curated data file."""

    path: Path
    line: int | None
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.entry}: {self.field}: {self.message}"


class CatalogDataError(CatalogError):
    """Curated data that does not validate; nothing was loaded."""

    def __init__(self, issues: Sequence[DataIssue]) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(
            f"The curated catalog has {len(self.issues)} problem(s); nothing was loaded.\n{lines}"
        )


class RuleError(AdvisorError):
    """A rule pack that fails to load or compile; ``problems`` has one line per problem."""

    def __init__(
        self, user_message: str, detail: str | None = None, problems: list[str] | None = None
    ) -> None:
        super().__init__(user_message, detail)
        self.problems = problems or [user_message]


class LLMUnavailable(AdvisorError):
    """The language model cannot be reached or used."""


class RetrievalError(AdvisorError):
    """The knowledge index cannot answer."""


class JobError(AdvisorError):
    """A background job failed."""
