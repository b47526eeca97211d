"""Find the catalog models a piece of text names: questions, answers, feed entries.

Names are the families' and variants' ids, names, aliases and Hugging Face repo names,
longest first, so "qwen2.5-coder" wins over "qwen2.5". A name never matches inside a
longer one ("qwen3" in "qwen3.5") or a company name ("Mistral AI"). A family name followed
by a size ("Llama 3.3 70B", "mixtral 8x22b", "qwen3 30b-a3b") becomes that size's default
variant; a family alias that itself names a size ("Mixtral 8x22B") is that size.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping

from core.errors import CatalogError
from knowledge.catalog import Catalog
from knowledge.resolve import Resolver

_SIZED = re.compile(r"(?<![a-z0-9.])\d+(?:\.\d+)?(?:x\d+)?b(?![a-z0-9])")
_SIZE_AFTER = re.compile(r"[\s\-:]*(\d+(?:\.\d+)?(?:x\d+)?b(?:-a\d+(?:\.\d+)?b)?)(?![a-z0-9])")


class Mentions:
    """Model mentions against one catalog snapshot."""

    def __init__(
        self,
        catalog: Catalog,
        resolver: Resolver | None = None,
        extra_names: Mapping[str, str] | None = None,
    ) -> None:
        self.catalog = catalog
        self.resolver = resolver or Resolver(catalog)
        names: dict[str, str] = {}
        for f in catalog.families.values():
            for n in (f.id, f.name, *f.aliases):
                if len(n) >= 3:
                    names.setdefault(n.lower(), f.id)
        for v in catalog.variants.values():
            for n in (v.id, v.name, *v.aliases, *(v.hf_repo.split("/")[-1:] if v.hf_repo else [])):
                if len(n) < 4:
                    continue
                if names.get(n.lower()) in catalog.families and _SIZED.search(n.lower()):
                    names[n.lower()] = v.id  # "Mixtral 8x22B" names a size, not the family
                names.setdefault(n.lower(), v.id)
        for name, ident in (extra_names or {}).items():
            names.setdefault(name, ident)
        ordered = sorted(names, key=len, reverse=True)
        self._ids = names
        self._pattern = re.compile(
            r"(?<![a-z0-9.])(" + "|".join(re.escape(n) for n in ordered) + r")"
            r"(?![a-z0-9]|\.\d|\s+ai\b)"
        )

    def models(self, text: str) -> list[str]:
        """Catalog ids mentioned in lower-cased ``text``, in order, without repeats."""
        found: list[str] = []
        for match in self._pattern.finditer(text):
            ident = self._ids[match.group(1)]
            size = _SIZE_AFTER.match(text, match.end()) or _SIZED.search(match.group(1))
            if ident in self.catalog.families and size:
                with contextlib.suppress(CatalogError):
                    ident = self.resolver.resolve(
                        f"{ident}-{size.group(size.lastindex or 0)}"
                    ).variant.id
            if ident not in found:
                found.append(ident)
        return found
