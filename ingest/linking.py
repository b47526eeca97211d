"""Linking synced names to the catalog, and to each other across sources.

A synced row links to a catalog variant only on an exact (normalised) name, never on the
resolver's prefix match, so a new model is not mistaken for an old one. Rows from
different sources are recognised as one release by :func:`release_key`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.catalog import SYNCED, Catalog
from knowledge.resolve import normalize
from knowledge.synced_view import strip_quant

_SIZE = re.compile(r"(?<![a-z0-9])(\d+x)?\d+(\.\d+)?[bm](?![a-z0-9])|(?<![a-z0-9])[ae]\d+(\.\d+)?b")
_FLAVOR = re.compile(r"(?<![a-z0-9])(instruct|chat|it|base|hf|thinking|reasoning)(?![a-z0-9])")
_DATED = re.compile(r"[-_ ](\d{4}|\d{6}|\d{8})[-_ ]*$")  # Mistral/Qwen "-2506" refreshes


def release_key(name: str) -> str:
    """The release a model name belongs to: org, tag, size, flavor and quant removed.

    ``Qwen/Qwen3-8B-Instruct-AWQ``, ``qwen3:8b`` and ``Qwen3 32B`` all give ``qwen3``, so
    one release seen on the Hub, in the Ollama library and in a feed is one digest entry.
    """
    tail = strip_quant(name.split("/")[-1].split(":")[0]).lower()
    tail = _FLAVOR.sub(" ", _SIZE.sub(" ", tail))
    return normalize(_DATED.sub("", tail.strip(" -_")))


@dataclass
class CatalogLinks:
    """Exact and loosely normalised names of catalog variants, for linking synced rows.

    The resolver's prefix matching is deliberately not used: a new "Qwen3.5-9B" must stay
    unlinked rather than be attached to some Qwen3 variant.
    """

    catalog: Catalog
    _names: dict[str, str] = field(default_factory=dict)
    _providers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for v in self.catalog.variants.values():
            if v.origin == SYNCED:
                continue  # links point at curated facts only
            names = [v.id, v.name, *v.aliases, *v.ollama_tags]
            if v.hf_repo:
                names += [v.hf_repo, v.hf_repo.split("/")[-1]]
            for name in names:
                self._names.setdefault(normalize(name), v.id)
        for p in self.catalog.providers.values():
            if p.origin == SYNCED:
                continue
            for name in (p.id, p.name, *p.aliases):
                self._providers.setdefault(normalize(name), p.id)

    def variant(self, *names: str) -> str | None:
        """The catalog variant any of ``names`` denotes exactly (after normalising)."""
        for name in names:
            found = self._names.get(normalize(name))
            if found:
                return found
        return None

    def provider(self, org: str) -> str:
        """The catalog provider id for an org name ("Qwen" -> "alibaba"), else the org."""
        return self._providers.get(normalize(org), org)

    def family_of(self, variant_id: str | None) -> str | None:
        """The catalog family of a linked variant."""
        if variant_id is None or variant_id not in self.catalog.variants:
            return None
        return self.catalog.variants[variant_id].family_id
