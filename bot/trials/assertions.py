"""Checks on a model's output, as team eval suites write them in YAML or JSONL.

The types follow what established eval tools offer: ``equals``, ``contains`` (``any`` or
``all`` of several values, case-insensitive by default), ``regex``, ``numeric`` (the last
number in the output within a tolerance), ``choice`` (the output names exactly one of the
options, and it is the expected one), ``is-json`` (optionally against a JSON Schema), and
``not`` wrapping any other check. Each check says why it failed, so a failed case in a
report is self-explaining.

Numeric answers are extracted by one documented rule (:func:`numeric_answer`): the first
number after the last final-answer marker ("Final answer:", "Answer:", "答案：") if there is
one, else the last number in the whole output ("1,250.5" -> 1250.5).
Suites are validated before a job starts
(:func:`validate_check`); string fields stay strings even when YAML would read them as
booleans or numbers (:func:`typed_check`).
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


def numeric_answer(text: str) -> float | None:
    """The first number after the last final-answer marker, else the last number."""
    marks = list(re.finditer(r"(?:final answer|answer|答案)\s*[:：]", text, re.I))
    if marks:
        found = _NUMBER.search(text[marks[-1].end() :])
        if found:
            return float(found.group(0).replace(",", ""))
    return last_number(text)


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
        number = numeric_answer(output)
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


_STRING_FIELDS = ("value", "options")


def validate_check(spec: Any) -> list[str]:
    """Problems in one assertion as written (empty when it is usable)."""
    if not isinstance(spec, dict):
        return ["an assertion must be a mapping with a type"]
    kind = spec.get("type")
    if kind not in TYPES:
        return [f"unknown assertion type {kind!r}; use one of {', '.join(TYPES)}"]
    if kind == "not":
        return validate_check(spec.get("assert"))
    if kind in ("equals", "contains", "regex", "numeric", "choice") and "value" not in spec:
        return [f"{kind} needs a value"]
    if kind == "numeric":
        try:
            float(str(spec["value"]).replace(",", ""))
            float(str(spec.get("tolerance", 0)))
        except ValueError:
            return [f"numeric value and tolerance must be numbers (got {spec['value']!r})"]
    if kind == "regex":
        try:
            re.compile(str(spec["value"]))
        except re.error as exc:
            return [f"invalid regex /{spec['value']}/: {exc}"]
    if kind == "choice" and (not isinstance(spec.get("options"), list) or not spec["options"]):
        return ["choice needs a list of options"]
    if kind == "is-json" and "schema" in spec:
        try:
            jsonschema.validators.validator_for(spec["schema"]).check_schema(
                _schema_types(spec["schema"])
            )
        except jsonschema.SchemaError as exc:
            return [f"invalid JSON Schema: {exc.message}"]
    return []


def _schema_types(value: Any) -> Any:
    """A schema read as strings, with numbers and booleans back where JSON Schema wants them."""
    if isinstance(value, dict):
        return {k: _schema_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_schema_types(v) for v in value]
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        if re.fullmatch(r"-?\d+\.\d+", value):
            return float(value)
    return value


def typed_check(spec: dict[str, Any]) -> dict[str, Any]:
    """An assertion with string fields as strings and numeric fields as numbers."""
    out = dict(spec)
    if out.get("type") == "not":
        out["assert"] = typed_check(out["assert"])
    if "schema" in out:
        out["schema"] = _schema_types(out["schema"])
    if "case_sensitive" in out:
        out["case_sensitive"] = str(out["case_sensitive"]).lower() in ("true", "yes")
    if out.get("type") == "numeric":
        out["value"] = float(str(out["value"]).replace(",", ""))
        out["tolerance"] = float(str(out.get("tolerance", 0)))
    for key in _STRING_FIELDS:
        if key in out and out.get("type") != "numeric":
            out[key] = [str(v) for v in out[key]] if isinstance(out[key], list) else str(out[key])
    return out


def check_all(specs: list[dict[str, Any]], output: str) -> Outcome:
    """All assertions must pass; the first failure explains the case."""
    for spec in specs:
        outcome = check(spec, output)
        if not outcome.passed:
            return outcome
    return Outcome(True, "all assertions passed")
