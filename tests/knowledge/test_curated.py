"""Curated files: strict validation with file/line/entry/field messages, all-or-nothing loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from core.errors import CatalogDataError
from knowledge.curated import read_curated
from knowledge.db import make_engine
from knowledge.store import load_curated, read_catalog
from knowledge.tables import VariantRow


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1))


def _only_issue(directory: Path) -> str:
    with pytest.raises(CatalogDataError) as caught:
        read_curated(directory)
    assert len(caught.value.issues) == 1, caught.value.user_message
    return str(caught.value.issues[0])


def test_minimal_catalog_reads(mini_data: Path) -> None:
    data = read_curated(mini_data)
    assert [v.id for v in data.variants] == ["toy-7b", "toy-7b-instruct"]
    # family defaults reach every variant
    assert {v.license for v in data.variants} == {"apache-2.0"}
    assert {v.provider for v in data.variants} == {"acme"}


def test_unknown_field_names_file_line_entry_and_field(mini_data: Path) -> None:
    _edit(
        mini_data / "models.yaml",
        "        params_b: 7.0\n        hf_repo",
        "        parms_b: 7.0\n        hf_repo",
    )
    message = _only_issue(mini_data)
    assert "models.yaml:18" in message
    assert "families[toy].variants[toy-7b]" in message
    assert "parms_b" in message and "unknown field" in message


def test_wrong_type_is_reported_with_the_value(mini_data: Path) -> None:
    _edit(mini_data / "base.yaml", "vram_gib: 24", "vram_gib: lots")
    message = _only_issue(mini_data)
    assert "base.yaml:" in message and "gpus[rtx-4090]" in message and "vram_gib" in message
    assert "'lots'" in message


def test_bad_enum_value(mini_data: Path) -> None:
    _edit(mini_data / "models.yaml", "flavor: base", "flavor: foundation")
    message = _only_issue(mini_data)
    assert "flavor" in message and "'foundation'" in message


def test_duplicate_id_across_entries(mini_data: Path) -> None:
    _edit(mini_data / "models.yaml", "id: toy-7b-instruct", "id: toy-7b")
    with pytest.raises(CatalogDataError) as caught:
        read_curated(mini_data)
    messages = [str(i) for i in caught.value.issues]
    assert any("models.yaml:21: variants[toy-7b]: id: duplicate id 'toy-7b'" in m for m in messages)


def test_unknown_license_and_provider_references(mini_data: Path) -> None:
    _edit(mini_data / "models.yaml", "license: apache-2.0", "license: apache2")
    with pytest.raises(CatalogDataError) as caught:
        read_curated(mini_data)
    # the family default reaches both variants, and each one says so
    assert [i.entry for i in caught.value.issues] == [
        "families[toy].variants[toy-7b]",
        "families[toy].variants[toy-7b-instruct]",
    ]
    assert all("unknown license 'apache2'" in str(i) for i in caught.value.issues)
    _edit(mini_data / "models.yaml", "license: apache2", "license: apache-2.0")
    _edit(mini_data / "models.yaml", "provider: acme", "provider: acne")
    with pytest.raises(CatalogDataError) as caught:
        read_curated(mini_data)
    assert any("unknown provider 'acne'" in str(i) for i in caught.value.issues)


def test_missing_source_is_an_error(mini_data: Path) -> None:
    _edit(
        mini_data / "models.yaml",
        '        sources: [{url: "https://huggingface.co/acme/Toy-7B", as_of: 2026-01-01}]\n',
        "        sources: []\n",
    )
    assert "sources" in _only_issue(mini_data)


def test_conditional_license_needs_conditions(mini_data: Path) -> None:
    _edit(mini_data / "base.yaml", 'commercial: "yes"', "commercial: conditional")
    assert "conditional license must list its conditions" in _only_issue(mini_data)


def test_invalid_yaml_names_the_line(mini_data: Path) -> None:
    (mini_data / "broken.yaml").write_text("families:\n  - id: [unclosed\n")
    message = _only_issue(mini_data)
    assert "broken.yaml:" in message and "not valid YAML" in message


def test_every_problem_is_listed_at_once(mini_data: Path) -> None:
    _edit(mini_data / "models.yaml", "flavor: base", "flavor: nope")
    _edit(mini_data / "base.yaml", "vram_gib: 24", "vram_gib: -1")
    with pytest.raises(CatalogDataError) as caught:
        read_curated(mini_data)
    assert len(caught.value.issues) == 2


def test_load_is_idempotent_and_reports_counts(mini_data: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    first = load_curated(engine, mini_data)
    assert first.kinds["variants"].added == 2
    again = load_curated(engine, mini_data)
    assert again.kinds["variants"].unchanged == 2 and not again.changed
    _edit(mini_data / "models.yaml", "context_length: 8192", "context_length: 32768")
    third = load_curated(engine, mini_data)
    assert third.kinds["variants"].updated == 2
    assert read_catalog(engine).variants["toy-7b"].context_length == 32768


def test_removed_entries_leave_the_catalog(mini_data: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    load_curated(engine, mini_data)
    text = (mini_data / "models.yaml").read_text()
    start = text.index("      - id: toy-7b\n")
    end = text.index("      - id: toy-7b-instruct")
    (mini_data / "models.yaml").write_text(text[:start] + text[end:])
    report = load_curated(engine, mini_data)
    assert report.kinds["variants"].removed == 1
    assert set(read_catalog(engine).variants) == {"toy-7b-instruct"}


def test_a_bad_file_leaves_the_loaded_catalog_untouched(mini_data: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    load_curated(engine, mini_data)
    _edit(mini_data / "models.yaml", "context_length: 8192", "context_length: 32768")
    _edit(mini_data / "base.yaml", "vram_gib: 24", "vram_gib: lots")
    with pytest.raises(CatalogDataError):
        load_curated(engine, mini_data)
    with Session(engine) as session:
        contexts = {v.context_length for v in session.exec(select(VariantRow))}
    assert contexts == {8192}
