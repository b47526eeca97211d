"""A small compile/evaluate interface over Google CEL (``common-expression-language``).

Rule packs never run Python: conditions are CEL, a side-effect-free expression language.
Everything CEL-specific lives here, so another implementation (``cel-python``) could
replace it by reimplementing :func:`compile_expression` and :class:`Scope`.

Compilation also checks references statically: every top-level name must be a known
variable (``model``, ``license``, ``req``, ``price``, ``params``), every ``model.x`` /
``license.x`` / ``req.x`` field must exist, and every function must be a CEL built-in or a
registered helper. So a typo fails when the pack loads, with its position, not when the
rule happens to run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

#: CEL's own functions and macros; operators (``_&&_``, ``@in``, ``!_``) are always allowed.
CEL_BUILTINS = frozenset(
    {
        "size",
        "has",
        "int",
        "uint",
        "double",
        "string",
        "bool",
        "bytes",
        "dyn",
        "type",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
        "exists",
        "all",
        "exists_one",
        "map",
        "filter",
        "lowerAscii",
        "upperAscii",
        "duration",
        "timestamp",
        "max",
        "min",
    }
)
_MACRO_VAR = re.compile(r"\.\s*(?:exists|all|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,")
_FIELD_REF = re.compile(r"(?<![\w.])(model|license|req|price|params)\.([A-Za-z_]\w*)")
#: The per-model variables; ``req`` and ``params`` are folded in as literals per question.
FACT_VARIABLES = ("model", "license", "price")
_FACT_NAME = re.compile(r"(?<![\w.])(model|license|price)\b(\s*\.\s*([A-Za-z_]\w*))?")
_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")


class ExpressionError(ValueError):
    """An expression that does not compile or references something unknown."""

    def __init__(self, message: str, line: int = 1, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Expression:
    """An expression that compiled and passed the reference checks.

    Only the source is kept: the engine compiles it again with each question's
    requirements folded in (rules/engine.py), so a program compiled here would go unused.
    ``reads`` lists the facts (``model.context_length``) the expression depends on when
    that is certain: it calls no helper and names each per-model variable only through a
    field. Two models with equal values there get the same result, so the engine decides
    such a rule once per distinct value per question. None means "may read anything".
    """

    source: str
    reads: tuple[str, ...] | None = None
    folds: tuple[tuple[str, str], ...] = ()  # the ``req.x`` / ``params.x`` names it uses


def fact_reads(source: str, functions: set[str], bound: set[str]) -> tuple[str, ...] | None:
    """The facts ``source`` reads, or None when that cannot be told from the text.

    Conservative on purpose: a helper call, a per-model variable used whole (``model``
    passed somewhere) or shadowed by a macro variable all give None, which only costs
    speed. A field name inside a string literal adds a harmless extra fact.
    """
    if functions or bound & set(FACT_VARIABLES):
        return None
    reads = set()
    for match in _FACT_NAME.finditer(source):
        if match.group(3) is None:
            return None
        reads.add(f"{match.group(1)}.{match.group(3)}")
    return tuple(sorted(reads))


def compile_expression(
    source: str,
    fields: Mapping[str, frozenset[str] | None],
    helpers: frozenset[str],
) -> Expression:
    """Compile ``source``; ``fields`` maps each variable to its known fields (None: any)."""
    try:
        program = cel.compile(source)
    except ValueError as exc:
        found = _POSITION.search(str(exc))
        if found:
            raise ExpressionError(
                f"syntax error: {found.group(3)}", int(found.group(1)), int(found.group(2))
            ) from None
        raise ExpressionError(f"syntax error: {exc}") from None
    bound = set(_MACRO_VAR.findall(source))
    for name in program.variables():
        if name not in fields and name not in bound:
            raise ExpressionError(
                f"unknown name {name!r}; use one of: {', '.join(sorted(fields))}",
                column=source.find(name) + 1,
            )
    folds = set()
    for match in _FIELD_REF.finditer(source):
        variable, attribute = match.groups()
        if variable in ("req", "params"):
            folds.add((variable, attribute))
        known = fields.get(variable)
        if known is not None and attribute not in known:
            raise ExpressionError(
                f"unknown field {variable}.{attribute}; known: {', '.join(sorted(known))}",
                column=match.start() + 1,
            )
    used = {f for f in program.functions() if not f.startswith(("_", "@", "!"))}
    unknown = used - CEL_BUILTINS - helpers
    if unknown:
        name = sorted(unknown)[0]
        raise ExpressionError(
            f"unknown function {name!r}; helpers: {', '.join(sorted(helpers))}",
            column=source.find(name) + 1,
        )
    return Expression(source, fact_reads(source, used & helpers, bound), tuple(sorted(folds)))


class Scope:
    """The variables and helper functions one evaluation sees (a CEL context)."""

    def __init__(self, variables: dict[str, Any], functions: dict[str, Callable[..., Any]]) -> None:
        self._context = cel.Context(variables, functions)

    def run(self, program: Any) -> Any:
        """Run an already compiled CEL program (see rules/engine.py's specialisation)."""
        return program.execute(self._context)
