"""Which Ollama tag a trial should use for a name, given the tags the host actually has.

Order of preference for a name (catalog id, alias, display name, bare family or tag):

1. the exact tag, or ``name:latest``, if the host has it;
2. any catalog tag of the resolved variant (or of its instruct sibling of the same size)
   that the host has (``llama3.1:latest`` asked, ``llama3.1:8b`` present);
3. a host tag whose base is the bare name (``deepseek-r1`` -> ``deepseek-r1:8b``), the
   ``:latest`` one first, else the largest that fits the memory budget;
4. otherwise a pull is proposed: the catalog's ``:latest`` tag, else the largest variant
   whose 4-bit download fits the memory budget; a pull over the budget is said to be so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import CatalogError
from knowledge.resolve import Resolver

Q4_GB_PER_B = 0.6  # a 4-bit GGUF download is about 0.6 GB per billion parameters


@dataclass(frozen=True)
class TagChoice:
    """The tag for one requested name, whether the host has it, and a note for the user."""

    name: str
    tag: str
    present: bool
    note: str = ""


def _base(tag: str) -> str:
    return tag.split(":", 1)[0]


def _size_gb(entry: dict[str, Any]) -> float:
    return float(entry.get("size") or 0) / 1e9


def choose_tag(
    name: str, host: list[dict[str, Any]], resolver: Resolver, memory_gb: float = 24.0
) -> TagChoice:
    """The tag to run for ``name`` (see the module docstring for the order)."""
    by_name = {e.get("model") or e.get("name", ""): e for e in host}
    for candidate in (name, f"{name}:latest"):
        if candidate in by_name:
            return TagChoice(name, candidate, True)
    catalog_tags, sizes = _catalog_tags(name, resolver, memory_gb)
    for tag in catalog_tags:
        if tag in by_name:
            return TagChoice(name, tag, True)
    base = _base(name).lower()
    family = sorted(
        (t for t in by_name if _base(t).lower() == base or _base(t) in map(_base, catalog_tags)),
        key=lambda t: (not t.endswith(":latest"), -_size_gb(by_name[t])),
    )
    fitting = [t for t in family if _size_gb(by_name[t]) <= memory_gb] or family
    if fitting:
        return TagChoice(name, fitting[0], True)
    if not catalog_tags:
        return TagChoice(name, name, False)
    tag = catalog_tags[0]
    size = sizes.get(tag)
    note = ""
    if size and size > memory_gb:
        note = f"{tag} is about {size:.0f} GB, more than the {memory_gb:g} GB memory budget"
    return TagChoice(name, tag, False, note)


def _catalog_tags(
    name: str, resolver: Resolver, memory_gb: float
) -> tuple[list[str], dict[str, float]]:
    """Catalog tags for a name, best first, and their approximate 4-bit download sizes."""
    try:
        found = resolver.resolve(name)
    except CatalogError:
        return [], {}
    catalog = resolver.catalog
    sizes: dict[str, float] = {}
    for v in catalog.family_variants(found.family.id):
        for t in v.ollama_tags:
            sizes[t] = (v.params_b or 0) * Q4_GB_PER_B
    if found.match == "variant" and found.exact and name.lower() not in catalog.families:
        variant = found.variant
        tags = list(variant.ollama_tags)
        if not tags:  # a base model: its tagged sibling of the same size
            tags = [
                t
                for v in catalog.family_variants(found.family.id)
                if v.params_b == variant.params_b
                for t in v.ollama_tags
            ]
        return tags, sizes
    latest = [t for t in sizes if t.endswith(":latest")]
    ranked = sorted(sizes, key=lambda t: -sizes[t])
    fitting = [t for t in ranked if sizes[t] <= memory_gb]
    order = latest + fitting + [t for t in ranked if t not in fitting]
    return list(dict.fromkeys(order)), sizes
