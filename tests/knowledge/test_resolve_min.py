"""Name resolution on a small catalog: every form people type, ambiguity and suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UnknownModel
from knowledge.db import make_engine
from knowledge.resolve import Resolver, normalize
from knowledge.store import load_curated, read_catalog


@pytest.fixture
def resolver(mini_data: Path, tmp_path: Path) -> Resolver:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    load_curated(engine, mini_data)
    return Resolver(read_catalog(engine))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("toy-7b", "toy-7b"),  # exact id
        ("TOY-7B-INSTRUCT", "toy-7b-instruct"),  # id, any case
        ("Toy 7B Instruct", "toy-7b-instruct"),  # display name
        ("acme/Toy-7B", "toy-7b"),  # Hugging Face repo id
        ("toy:7b", "toy-7b-instruct"),  # Ollama tag
        ("toy_7b instruct", "toy-7b-instruct"),  # loose form
    ],
)
def test_every_name_form_resolves(resolver: Resolver, query: str, expected: str) -> None:
    assert resolver.resolve(query).variant.id == expected


def test_family_name_resolves_to_family_with_default(resolver: Resolver) -> None:
    res = resolver.resolve("ToyLM")
    assert res.match == "family"
    assert res.variant.id == "toy-7b-instruct"
    assert [v.id for v in res.alternatives] == ["toy-7b"]


def test_ambiguous_prefix_uses_preferred_and_lists_the_rest(resolver: Resolver) -> None:
    res = resolver.resolve("toy 7")
    assert res.variant.id == "toy-7b-instruct"
    assert [v.id for v in res.alternatives] == ["toy-7b"]
    assert not res.exact


def test_unknown_name_suggests_nearest(resolver: Resolver) -> None:
    with pytest.raises(UnknownModel) as caught:
        resolver.resolve("toi-7b-instrct")
    assert caught.value.suggestions[0] == "toy-7b-instruct"
    assert "Did you mean: toy-7b-instruct" in caught.value.user_message


def test_nothing_close_gives_no_suggestions(resolver: Resolver) -> None:
    with pytest.raises(UnknownModel) as caught:
        resolver.resolve("zzzzqqq")
    assert caught.value.suggestions == []
    assert "advisor models" in caught.value.user_message


def test_normalize_folds_the_usual_spellings() -> None:
    assert normalize("LLaMA-2 70B") == normalize("llama2-70b") == normalize("Llama 2 70B")
    assert normalize("mistral:latest") == "mistral"
