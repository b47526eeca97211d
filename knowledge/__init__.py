"""What the advisor knows: the catalog (tables, curated data, snapshot, name lookup) and the index.

Names are imported on first use, so importing the package does not load chromadb or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Catalog": "knowledge.store",
    "open_catalog": "knowledge.store",
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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
