"""Find a model by any name people use.

Lookup order, first hit wins:

1. exact (case-insensitive) id, display name, alias, Hugging Face repo id or Ollama tag;
2. the same keys loosely normalised (``Llama 2 70B`` = ``llama2-70b`` = ``LLaMA-2-70b``);
3. a prefix of those keys (``mistral-7b`` -> every Mistral 7B release).

A family name resolves to the family. When a name fits several variants, the family's
``preferred`` list (one default per size, its first entry the family default) picks one
and the rest are returned as alternatives, so commands answer instead of refusing.
Nothing found raises :class:`UnknownModel` with the nearest names (rapidfuzz).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from core.errors import CatalogError, UnknownModel
from knowledge.catalog import SYNCED, Catalog, Family, Gpu, Variant
from knowledge.synced_view import MARK

_STRIP = re.compile(r"[\s\-_/:]+")
_CHAT_FLAVORS = ("instruct", "chat", "reasoning", "code")


def normalize(name: str) -> str:
    """Loose form of a model name: lower case, no spaces, dashes, underscores, slashes or colons."""
    name = name.strip().lower()
    name = name.removesuffix(":latest")
    return _STRIP.sub("", name)


@dataclass(frozen=True)
class Resolution:
    """What a name resolved to, and the variant a single-model command should use."""

    query: str
    match: Literal["variant", "family"]
    family: Family
    variant: Variant
    alternatives: list[Variant] = field(default_factory=list)
    exact: bool = True

    @property
    def variants(self) -> list[Variant]:
        """The chosen variant followed by the alternatives."""
        return [self.variant, *self.alternatives]


@dataclass
class _Keys:
    variants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    families: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


class Resolver:
    """Name lookup over one catalog snapshot; build once, query many times."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._exact = _Keys()
        self._loose = _Keys()
        self._display: dict[str, str] = {}
        for v in catalog.variants.values():
            names = [v.id, v.name, *v.aliases]
            if v.hf_repo:
                names += [v.hf_repo, v.hf_repo.split("/")[-1]]
            for name in [*names, *v.ollama_tags]:
                self._add(self._exact.variants, self._loose.variants, name, v.id)
            self._display[normalize(v.id)] = v.id
        for f in catalog.families.values():
            for name in (f.id, f.name, *f.aliases):
                self._add(self._exact.families, self._loose.families, name, f.id)
            self._display[normalize(f.id)] = f.id

    @staticmethod
    def _add(exact: dict[str, set[str]], loose: dict[str, set[str]], name: str, ident: str) -> None:
        exact[name.strip().lower()].add(ident)
        key = normalize(name)
        if key:
            loose[key].add(ident)

    def resolve(self, query: str) -> Resolution:
        """Resolve ``query`` to a variant or family; raise UnknownModel with suggestions."""
        found = self._lookup(query)
        if found is None:
            raise UnknownModel(query, self.suggest(query))
        return found

    def _lookup(self, query: str) -> Resolution | None:
        text = query.strip()
        if not text:
            return None
        lowered, key = text.lower(), normalize(text)
        for keys, exact in ((self._exact, True), (self._loose, False)):
            probe = lowered if exact else key
            variant_ids = keys.variants.get(probe, set())
            family_ids = keys.families.get(probe, set())
            if family_ids and not variant_ids:
                return self._family(query, sorted(family_ids)[0], exact)
            if variant_ids:
                return self._pick(query, variant_ids, exact)
        if len(key) >= 3:
            return self._by_prefix(query, key)
        return None

    def find(self, query: str) -> Resolution | None:
        """Like :meth:`resolve`, but None instead of an error (no suggestions computed)."""
        try:
            return self._lookup(query)
        except UnknownModel:
            return None

    def suggest(self, query: str, limit: int = 5) -> list[str]:
        """The nearest catalog ids to ``query``, best first."""
        ids: list[str] = []
        for key in _nearest(normalize(query), list(self._display), limit * 2):
            ident = self._display[key]
            if ident not in ids:
                ids.append(ident)
        return ids[:limit]

    def _family(self, query: str, family_id: str, exact: bool) -> Resolution:
        family = self.catalog.families[family_id]
        members = self.catalog.family_variants(family_id)
        chosen = self._default(family, members)
        rest = [v for v in members if v.id != chosen.id]
        return Resolution(query, "family", family, chosen, rest, exact)

    def _pick(self, query: str, variant_ids: set[str], exact: bool) -> Resolution:
        candidates = [self.catalog.variants[i] for i in sorted(variant_ids)]
        curated = [v for v in candidates if v.origin != SYNCED]
        candidates = curated or candidates  # curated facts win over a synced name
        family = self.catalog.families[candidates[0].family_id]
        chosen = self._default(family, candidates)
        rest = [v for v in candidates if v.id != chosen.id]
        return Resolution(query, "variant", family, chosen, rest, exact)

    def _by_prefix(self, query: str, key: str) -> Resolution | None:
        variant_ids = {
            i for k, ids in self._loose.variants.items() if k.startswith(key) for i in ids
        }
        family_keys = [k for k in self._loose.families if k.startswith(key)]
        if not variant_ids and not family_keys:
            return None
        if family_keys and not variant_ids:
            nearest = min(family_keys, key=len)
            return self._family(query, sorted(self._loose.families[nearest])[0], exact=False)
        by_family: dict[str, set[str]] = defaultdict(set)
        for i in variant_ids:
            by_family[self.catalog.variants[i].family_id].add(i)
        # Several families share the prefix: the one whose own name is closest to the query.
        family_id = min(by_family, key=lambda f: (len(normalize(self.catalog.families[f].id)), f))
        return self._pick(query, by_family[family_id], exact=False)

    @staticmethod
    def _default(family: Family, candidates: list[Variant]) -> Variant:
        """The family's preferred variant among candidates, else a chat-style, newest one."""
        ids = {v.id for v in candidates}
        for pref in family.preferred:
            if pref in ids:
                return next(v for v in candidates if v.id == pref)
        return max(
            candidates,
            key=lambda v: (v.flavor in _CHAT_FLAVORS, v.release_date, v.params_b or 0.0, v.id),
        )


def resolution_notes(res: Resolution) -> list[str]:
    """What an answer must say about a match: a loose match, and a synced, unreviewed model."""
    notes = []
    v = res.variant
    if not res.exact:
        notes.append(f"I took '{res.query}' to mean {v.name} (`{v.id}`), the nearest catalog name.")
    if v.origin == SYNCED:
        notes.append(
            f"{v.name} is {MARK}: facts are as the source states them; "
            f"license {v.license_id} as read from its model card."
        )
    return notes


def _nearest(key: str, choices: list[str], limit: int) -> list[str]:
    """The choices closest to ``key``, best first (rapidfuzz, loaded only for a miss)."""
    from rapidfuzz import fuzz, process

    hits = process.extract(key, choices, scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
    return [choice for choice, _score, _index in hits]


def resolve_gpu(catalog: Catalog, text: str) -> Gpu:
    """Find a GPU by id, name or alias in any spelling ("RTX 4090", "4090", "a100-80gb")."""
    key = normalize(text)
    keys: dict[str, str] = {}
    for gpu in catalog.gpus.values():
        for name in (gpu.id, gpu.name, *gpu.aliases):
            keys.setdefault(normalize(name), gpu.id)
    if key in keys:
        return catalog.gpus[keys[key]]
    starts = sorted({gid for k, gid in keys.items() if k.endswith(key) or k.startswith(key)})
    if len(starts) == 1:
        return catalog.gpus[starts[0]]
    suggestions = list(dict.fromkeys(keys[k] for k in _nearest(key, list(keys), 8)))[:5]
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    raise CatalogError(
        f"I don't know a GPU called {text!r}.{hint} Run `advisor gpus` for the list."
    )
