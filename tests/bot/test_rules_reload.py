"""A running advisor applies a team's edited rule packs, and keeps the last good ones."""

from __future__ import annotations

import os
from pathlib import Path

from bot.advisor import Advisor
from knowledge.catalog import Catalog
from rules.packs import RuleBook

BAN = """rules:
  - id: team.banned-provider
    title: Provider not approved
    description: Legal has not approved this provider yet.
    require: model.provider != "{provider}"
    needs: [model.provider]
    severity: reject
    message: "{{model.name}} is from {{model.provider}}, which legal has not approved."
"""
QUESTION = "/recommend commercial, 1x RTX 4090"


def _write(path: Path, text: str) -> None:
    """Write and move the modification time on, as an editor saving twice a second would."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000)
    os.utime(path, ns=(stamp, stamp))


def _picks(advisor: Advisor) -> list[str]:
    answer = advisor.handle(QUESTION, use_llm=False)
    return [c["model"] for c in answer.data["candidates"]]


def test_an_edited_pack_applies_and_a_broken_edit_keeps_the_last_good_rules(
    catalog: Catalog, tmp_path: Path
) -> None:
    team = tmp_path / "team-rules"
    team.mkdir()
    advisor = Advisor(catalog, RuleBook(team))
    first = _picks(advisor)[0]
    provider = catalog.variants[first].provider_id

    def from_provider(picks: list[str]) -> list[str]:
        return [m for m in picks if catalog.variants[m].provider_id == provider]

    pack = team / "policy.yaml"
    rule = BAN.format(provider=provider)
    _write(pack, rule)
    assert from_provider(_picks(advisor)) == []  # the next question already obeys the pack

    _write(pack, rule.replace(f'!= "{provider}"', f'!= "{provider}" &&'))  # half-finished
    answer = advisor.handle(QUESTION, use_llm=False)
    assert from_provider([c["model"] for c in answer.data["candidates"]]) == []
    assert "last good rules" in answer.text and "policy.yaml:" in answer.text

    zh = advisor.handle("推荐商用模型，一张4090", use_llm=False)
    assert "上一版有效规则" in zh.text

    pack.unlink()
    answer = advisor.handle(QUESTION, use_llm=False)
    assert "last good rules" not in answer.text
    assert first in _picks(advisor), "removing the pack lifts its rule"
