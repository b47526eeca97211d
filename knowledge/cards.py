"""A generated card per model family, written from the catalog, for the index.

Cards let retrieval answer "tell me about Qwen 2.5" with the catalog's own facts, and
they change whenever the catalog does (their content hash changes, so they re-embed).
"""

from __future__ import annotations

from knowledge.catalog import Catalog
from knowledge.index import Document


def _size(params: float | None) -> str:
    if params is None:
        return "size unpublished"
    return f"{params * 1000:.0f}M" if params < 1 else f"{params:g}B"


def family_card(catalog: Catalog, family_id: str) -> Document:
    """One family as Markdown: what it is, its variants and their licenses and contexts."""
    family = catalog.families[family_id]
    provider = catalog.providers[family.provider_id]
    variants = catalog.family_variants(family_id)
    lines = [
        f"# {family.name} ({provider.name})",
        family.description,
        f"Also called: {', '.join(family.aliases)}." if family.aliases else "",
        "",
        "## Variants",
    ]
    for v in variants:
        lic = catalog.licenses[v.license_id]
        parts = [
            f"- {v.name} (`{v.id}`): {_size(v.params_b)}",
            f"{v.active_params_b:g}B active" if v.active_params_b else "",
            v.flavor,
            f"context {v.context_length} tokens" if v.context_length else "",
            f"released {v.release_date.isoformat()}",
            f"license {lic.name} (commercial use: {lic.commercial})",
            f"Ollama: {', '.join(v.ollama_tags)}" if v.ollama_tags else "",
        ]
        lines.append(", ".join(p for p in parts if p))
    return Document(
        source=f"catalog:family/{family_id}",
        title=f"{family.name} model card",
        text="\n".join(lines),
        kind="card",
        models=(family_id, *(v.id for v in variants)),
    )


def family_cards(catalog: Catalog) -> list[Document]:
    """Cards for every family in the catalog."""
    return [family_card(catalog, f) for f in sorted(catalog.families)]


def model_names(catalog: Catalog) -> dict[str, str]:
    """Lower-case names (ids, display names, aliases) -> catalog id, for mention tagging.

    Very short or generic names are left out so that "phi" in "philosophy" or "yi" in a
    word does not tag a passage.
    """
    names: dict[str, str] = {}
    for f in catalog.families.values():
        for name in (f.id, f.name, *f.aliases):
            if len(name) >= 5:
                names[name.lower()] = f.id
    for v in catalog.variants.values():
        for name in (v.id, v.name, *v.aliases):
            if len(name) >= 6:
                names[name.lower()] = v.id
    return names
