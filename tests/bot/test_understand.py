"""Deterministic understanding of English and Chinese questions (extraction_cases.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.understand import Extractor
from core.text import detect_language
from knowledge.catalog import Catalog

CASES = yaml.safe_load((Path(__file__).parent / "extraction_cases.yaml").read_text())["cases"]
LISTS = {"tasks", "capabilities", "languages"}


@pytest.fixture(scope="module")
def extractor(catalog: Catalog) -> Extractor:
    return Extractor(catalog)


def test_case_file_is_broad_and_bilingual() -> None:
    assert len(CASES) >= 60
    assert sum(c["language"] == "zh" for c in CASES) >= len(CASES) // 2


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:40] for c in CASES])
def test_extraction(extractor: Extractor, case: dict) -> None:  # type: ignore[type-arg]
    understood = extractor.understand(case["text"])
    got = understood.requirements.model_dump(mode="json", exclude_defaults=True)
    assert understood.language == case["language"]
    for key, expected in (case.get("expect") or {}).items():
        value = got.get(key, understood.requirements.model_dump(mode="json")[key])
        if key in LISTS:
            assert set(value) == set(expected), f"{key}: got {value}, expected {expected}"
        else:
            assert value == expected, f"{key}: got {value!r}, expected {expected!r}"
    for key in case.get("absent") or []:
        assert key not in got, f"{key} should not be set, got {got.get(key)!r}"
    assert understood.models == case.get("models", [])


def test_language_detection() -> None:
    assert detect_language("哪个模型适合商用？") == "zh"
    assert detect_language("which model for Q4_K_M?") == "en"


def test_follow_up_keeps_earlier_requirements(extractor: Extractor) -> None:
    first = extractor.understand("open model for commercial use on a 4090")
    follow = extractor.understand("and for code at 8-bit?", base=first.requirements)
    req = follow.requirements
    assert req.commercial and req.gpu == "rtx-4090" and req.precision == "q8_0"
    assert [c.value for c in req.capabilities] == ["code"]


def test_summary_is_in_the_question_language(extractor: Extractor) -> None:
    zh = extractor.understand("两张4090，商用，中文摘要")
    assert zh.summary().startswith("我的理解：") and "2x rtx-4090" in zh.summary()
    en = extractor.understand("commercial summarization on 24GB")
    assert en.summary().startswith("I read this as: ") and "commercial use" in en.summary()
