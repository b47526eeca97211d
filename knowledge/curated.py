"""Read and check the curated YAML files under ``knowledge/data``.

Reading is all-or-nothing: every file is parsed and validated, then cross-references
(license, provider, base model, offering seller) and duplicate ids are checked across
files. Any problem becomes a :class:`DataIssue` naming file, line, entry and field, and
:func:`read_curated` raises one :class:`~core.errors.CatalogDataError` listing them all, so
a user fixes every typo in one pass and the database is never half-loaded.

Line numbers come from the YAML node tree: a pydantic error location such as
``('families', 2, 'variants', 0, 'kv_heads')`` is walked down the composed nodes to the
deepest one that exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import CatalogDataError, DataIssue
from core.yamlfile import YamlSyntaxError, node_line, read_yaml
from knowledge.records import DataFile, Family, Gpu, License, Offering, Provider, Variant

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass
class CuratedData:
    """Everything the curated files define, validated and cross-checked."""

    providers: list[Provider] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)
    gpus: list[Gpu] = field(default_factory=list)
    families: list[Family] = field(default_factory=list)
    offerings: list[Offering] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def variants(self) -> list[Variant]:
        """All variants of all families, in file order."""
        return [variant for family in self.families for variant in family.variants]


def data_files(directory: Path) -> list[Path]:
    """The YAML files of a data directory, sorted so loading order is stable."""
    return sorted(p for p in directory.rglob("*.yaml") if p.is_file())


def _entry_name(raw: object, loc: tuple[int | str, ...]) -> str:
    """Name the entry an error sits in by its id, e.g. ``families[llama2].variants[llama2-7b]``."""
    parts: list[str] = []
    node = raw
    i = 0
    while i < len(loc):
        key = loc[i]
        if isinstance(node, dict) and key in node and i + 1 < len(loc):
            items = node[key]
            index = loc[i + 1]
            if isinstance(items, list) and isinstance(index, int) and index < len(items):
                item = items[index]
                ident = item.get("id", item.get("variant")) if isinstance(item, dict) else None
                parts.append(f"{key}[{ident if ident is not None else index}]")
                node = item
                i += 2
                continue
        break
    return ".".join(parts) or "(file)"


def _field_name(loc: tuple[int | str, ...]) -> str:
    """The innermost named field of an error location."""
    named = [str(p) for p in loc[1:] if isinstance(p, str)]
    return named[-1] if named else "(entry)"


SECTIONS: dict[str, type[BaseModel]] = {
    "providers": Provider,
    "licenses": License,
    "gpus": Gpu,
    "families": Family,
    "offerings": Offering,
}


def _parse_file(path: Path) -> tuple[DataFile, dict[str, Any], yaml.Node | None, list[DataIssue]]:
    """Parse and validate one file entry by entry, so one bad entry hides nothing else.

    Returns the valid entries, the raw mapping, the node tree (for line numbers) and the
    problems found; nothing is raised.
    """
    try:
        raw, root = read_yaml(path)
    except YamlSyntaxError as exc:
        issue = DataIssue(path, exc.line, "(file)", "(yaml)", str(exc))
        return DataFile(), {}, None, [issue]
    raw = raw or {}
    if not isinstance(raw, dict):
        return (
            DataFile(),
            {},
            root,
            [DataIssue(path, 1, "(file)", "(root)", "the file must be a mapping")],
        )
    issues = [
        DataIssue(
            path,
            node_line(root, (key,)),
            "(file)",
            str(key),
            f"unknown section; use one of {', '.join(SECTIONS)}",
        )
        for key in raw
        if key not in SECTIONS
    ]
    valid: dict[str, list[Any]] = {}
    for section, model in SECTIONS.items():
        items = raw.get(section) or []
        if not isinstance(items, list):
            issues.append(
                DataIssue(
                    path,
                    node_line(root, (section,)),
                    "(file)",
                    section,
                    "must be a list of entries",
                )
            )
            continue
        valid[section] = []
        for i, item in enumerate(items):
            try:
                valid[section].append(model.model_validate(item))
            except ValidationError as exc:
                for err in exc.errors():
                    loc = (section, i, *err["loc"])
                    issues.append(
                        DataIssue(
                            path,
                            node_line(root, loc),
                            _entry_name(raw, loc),
                            _field_name(loc),
                            _friendly(err["msg"], err.get("input")),
                        )
                    )
    return DataFile(**valid), raw, root, issues


def _friendly(message: str, value: object) -> str:
    """Pydantic's message plus the offending value, which is what a person needs to find it."""
    message = re.sub(r"^Value error, ", "", message)
    if message == "Extra inputs are not permitted":
        return "unknown field (check its spelling against knowledge/data/README.md)"
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return f"{message} (got {value!r})"
    return message


Loc = tuple[int | str, ...]


def _index(items: object, **match: object) -> int | str:
    """Position of the raw entry whose keys equal ``match`` (the id when not found)."""
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict) and all(item.get(k) == v for k, v in match.items()):
                return i
    return str(next(iter(match.values())))


def _declared(raws: dict[Path, dict[str, Any]], section: str, inner: str | None = None) -> set[str]:
    """Ids written in the raw files, valid or not."""
    entries = [e for raw in raws.values() for e in (raw.get(section) or []) if isinstance(e, dict)]
    if inner is not None:
        entries = [x for e in entries for x in (e.get(inner) or []) if isinstance(x, dict)]
    return {str(e["id"]) for e in entries if "id" in e}


class _Checker:
    """Cross-file checks; each problem is located in its file's node tree by entry id."""

    def __init__(
        self, raws: dict[Path, dict[str, Any]], roots: dict[Path, yaml.Node | None]
    ) -> None:
        self.raws = raws
        self.roots = roots
        self.issues: list[DataIssue] = []

    def loc(self, path: Path, section: str, ident: str, variant: str | None = None) -> Loc:
        """Where an entry (or a family's variant) sits in the raw file."""
        raw = self.raws.get(path, {})
        i = _index(raw.get(section), id=ident)
        if variant is None:
            return (section, i)
        family = raw[section][i] if isinstance(i, int) else {}
        return (section, i, "variants", _index(family.get("variants"), id=variant))

    def add(self, path: Path, loc: Loc, entry: str, field_name: str, message: str) -> None:
        self.issues.append(
            DataIssue(path, node_line(self.roots.get(path), loc), entry, field_name, message)
        )

    def unique(self, kind: str, items: list[tuple[str, Path, Loc]]) -> set[str]:
        """Report duplicate ids of one kind; return the set of ids."""
        first: dict[str, Path] = {}
        for ident, path, loc in items:
            if ident in first:
                self.add(
                    path,
                    (*loc, "id"),
                    f"{kind}[{ident}]",
                    "id",
                    f"duplicate id {ident!r}: already defined in {first[ident].name}",
                )
            else:
                first[ident] = path
        return set(first)


def _cross_check(
    files: list[tuple[Path, DataFile]],
    raws: dict[Path, dict[str, Any]],
    roots: dict[Path, yaml.Node | None],
) -> list[DataIssue]:
    """Duplicate ids and dangling references across all files."""
    check = _Checker(raws, roots)

    def located(section: str) -> list[tuple[str, Path, Loc]]:
        # Duplicates are located by position: an id lookup would find the first copy.
        return [
            (item.id, path, (section, i))
            for path, parsed in files
            for i, item in enumerate(getattr(parsed, section))
        ]

    # Entries that failed validation were reported already; their ids still count as
    # declared so that references to them do not pile up as a second wave of errors.
    providers = check.unique("providers", located("providers")) | _declared(raws, "providers")
    licenses = check.unique("licenses", located("licenses")) | _declared(raws, "licenses")
    check.unique("gpus", located("gpus"))
    check.unique("families", located("families"))
    variants = check.unique(
        "variants",
        [
            (v.id, path, ("families", i, "variants", j))
            for path, parsed in files
            for i, fam in enumerate(parsed.families)
            for j, v in enumerate(fam.variants)
        ],
    ) | _declared(raws, "families", "variants")
    for path, parsed in files:
        for fam in parsed.families:
            where = check.loc(path, "families", fam.id)
            if fam.provider not in providers:
                check.add(
                    path,
                    (*where, "provider"),
                    f"families[{fam.id}]",
                    "provider",
                    f"unknown provider {fam.provider!r}",
                )
            own = {v.id for v in fam.variants}
            for pref in fam.preferred:
                if pref not in own:
                    check.add(
                        path,
                        (*where, "preferred"),
                        f"families[{fam.id}]",
                        "preferred",
                        f"{pref!r} is not a variant of this family",
                    )
            for v in fam.variants:
                loc = check.loc(path, "families", fam.id, v.id)
                entry = f"families[{fam.id}].variants[{v.id}]"
                if v.provider not in providers:
                    check.add(
                        path,
                        (*loc, "provider"),
                        entry,
                        "provider",
                        f"unknown provider {v.provider!r}",
                    )
                if v.license not in licenses:
                    check.add(
                        path,
                        (*loc, "license"),
                        entry,
                        "license",
                        f"unknown license {v.license!r} (see knowledge/data/licenses.yaml)",
                    )
                if v.base_model and v.base_model not in variants:
                    check.add(
                        path,
                        (*loc, "base_model"),
                        entry,
                        "base_model",
                        f"unknown variant {v.base_model!r}",
                    )
        for offer in parsed.offerings:
            entry = f"offerings[{offer.variant}]"
            i = _index(
                raws.get(path, {}).get("offerings"), variant=offer.variant, seller=offer.seller
            )
            if offer.variant not in variants:
                check.add(
                    path,
                    ("offerings", i, "variant"),
                    entry,
                    "variant",
                    f"unknown variant {offer.variant!r}",
                )
            if offer.seller not in providers:
                check.add(
                    path,
                    ("offerings", i, "seller"),
                    entry,
                    "seller",
                    f"unknown provider {offer.seller!r}",
                )
    return check.issues


def read_curated(directory: Path = DATA_DIR) -> CuratedData:
    """Read every curated file in ``directory``; raise CatalogDataError listing all problems."""
    files = data_files(directory)
    if not files:
        raise CatalogDataError(
            [DataIssue(directory, None, "(dir)", "(files)", "no *.yaml files found")]
        )
    data = CuratedData()
    parsed_files: list[tuple[Path, DataFile]] = []
    roots: dict[Path, yaml.Node | None] = {}
    raws: dict[Path, dict[str, Any]] = {}
    issues: list[DataIssue] = []
    for path in files:
        parsed, raws[path], root, problems = _parse_file(path)
        roots[path] = root
        issues += problems
        parsed_files.append((path, parsed))
        data.files.append(path)
        for section in ("providers", "licenses", "gpus", "families", "offerings"):
            getattr(data, section).extend(getattr(parsed, section))
    issues += _cross_check(parsed_files, raws, roots)
    if issues:
        raise CatalogDataError(issues)
    return data
