"""Checks on a model's output, as team eval suites write them in YAML or JSONL.

The types follow what established eval tools offer: ``equals``, ``contains`` (``any`` or
``all`` of several values, case-insensitive by default), ``regex``, ``numeric`` (the last
number in the output within a tolerance), ``choice`` (the output names exactly one of the
options, and it is the expected one), ``is-json`` (optionally against a JSON Schema), and
``not`` wrapping any other check. Each check says why it failed, so a failed case in a
report is self-explaining.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
TYPES = ("equals", "contains", "regex", "numeric", "choice", "is-json", "not")


class AssertionSpecError(ValueError):
    """An assertion written wrongly in a suite (unknown type or missing value)."""


@dataclass(frozen=True)
class Outcome:
    passed: bool
    why: str


def final_answer(text: str) -> str:
    """The part after the last "Answer:" (chain-of-thought replies), else the whole text."""
    marks = list(re.finditer(r"(?:final answer|answer|答案)\s*[:：]", text, re.I))
    return text[marks[-1].end() :].strip() if marks else text.strip()


def last_number(text: str) -> float | None:
    """The last number in the text ("1,250.5" -> 1250.5)."""
    found = _NUMBER.findall(text)
    return float(found[-1].replace(",", "")) if found else None


def _json_body(text: str) -> Any:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidate = fenced.group(1) if fenced else text
    start = min((i for i in (candidate.find("{"), candidate.find("[")) if i >= 0), default=-1)
    return json.loads(candidate[start:] if start >= 0 else candidate)


def check(spec: dict[str, Any], output: str) -> Outcome:
    """Apply one assertion to one output."""
    kind = spec.get("type")
    value = spec.get("value")
    fold = spec.get("case_sensitive") is not True
    text = output.lower() if fold else output
    if kind == "not":
        inner = check(spec["assert"], output)
        return Outcome(not inner.passed, f"not ({inner.why})")
    if kind == "equals":
        expected = str(value)
        got = output.strip()
        same = got.lower() == expected.lower() if fold else got == expected
        return Outcome(same, f"expected exactly {expected!r}, got {got[:60]!r}")
    if kind == "contains":
        values = value if isinstance(value, list) else [value]
        wanted = [str(v).lower() if fold else str(v) for v in values]
        hits = [v for v in wanted if v in text]
        passed = bool(hits) if spec.get("mode", "any") == "any" else len(hits) == len(wanted)
        missing = [v for v in wanted if v not in hits]
        return Outcome(passed, f"missing {missing}" if not passed else "contains")
    if kind == "regex":
        flags = re.I if fold else 0
        return Outcome(re.search(str(value), output, flags) is not None, f"no match for /{value}/")
    if kind == "numeric":
        number = last_number(output)
        tolerance = float(spec.get("tolerance", 0.0))
        passed = number is not None and abs(number - float(str(value))) <= tolerance
        return Outcome(passed, f"expected {value}±{tolerance}, got {number}")
    if kind == "choice":
        options = [str(o).lower() for o in spec["options"]]
        named = [o for o in options if re.search(rf"(?<![\w]){re.escape(o)}(?![\w])", text)]
        passed = named == [str(value).lower()]
        return Outcome(passed, f"expected only {value!r} of {options}, found {named}")
    if kind == "is-json":
        try:
            data = _json_body(output)
        except ValueError as exc:
            return Outcome(False, f"not JSON: {exc}")
        if "schema" in spec:
            try:
                jsonschema.validate(data, spec["schema"])
            except jsonschema.ValidationError as exc:
                return Outcome(False, f"JSON does not match the schema: {exc.message}")
        return Outcome(True, "valid JSON")
    raise AssertionSpecError(f"unknown assertion type {kind!r}; use one of {', '.join(TYPES)}")


def check_all(specs: list[dict[str, Any]], output: str) -> Outcome:
    """All assertions must pass; the first failure explains the case."""
    for spec in specs:
        outcome = check(spec, output)
        if not outcome.passed:
            return outcome
    return Outcome(True, "all assertions passed")
