"""What the advisor knows: the catalog (tables, curated data, snapshot, name lookup) and the index.

Names are imported on first use, so importing the package does not load chromadb or torch.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "Catalog": "knowledge.catalog",
    "open_catalog": "knowledge.snapshot",
    "read_catalog": "knowledge.store",
    "load_curated": "knowledge.store",
    "Resolver": "knowledge.resolve",
    "resolve_gpu": "knowledge.resolve",
    "KnowledgeIndex": "knowledge.index",
    "Document": "knowledge.index",
    "make_engine": "knowledge.db",
    "migrate": "knowledge.db",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
