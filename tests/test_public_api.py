"""Each package's public surface is pinned: a name added or dropped is a visible decision."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "core": ["AdvisorError", "Clock", "Settings", "load_settings", "utc_now"],
    "knowledge": [
        "Catalog",
        "Document",
        "KnowledgeIndex",
        "Resolver",
        "load_curated",
        "make_engine",
        "migrate",
        "open_catalog",
        "read_catalog",
        "resolve_gpu",
    ],
    "rules": [
        "Advice",
        "Engine",
        "Hardware",
        "Requirements",
        "RuleBook",
        "Verdict",
        "fit_report",
        "load_rules",
    ],
    "ingest": [],
    "bot": ["Advisor", "AdvisorError", "Answer", "ChatService", "Settings", "load_settings"],
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names_are_pinned_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == PUBLIC[package]
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name} does not resolve"
    with pytest.raises(AttributeError, match="has no attribute"):
        module.no_such_name  # noqa: B018 - the lookup is the test
