# ruff: noqa: E501  (the table rows are whole replies)
"""The grounding check on a table of scripted replies, faithful and unfaithful, en and zh.

Facts come from the real deterministic answer (catalog + rules) for each question, so the
table exercises the same verdicts the advisor would hand to the model.
"""

from __future__ import annotations

import pytest

from bot.advisor import Advisor
from bot.grounding import Facts, ModelVerdict, check_claims, facts_from_answer, neutralise
from bot.understand import Extractor
from rules.packs import load_rules

SHIP_EN = "Which open model can we ship commercially on one 24 GB GPU for Chinese summarization?"
SHIP_ZH = "我们有一张24GB显卡，哪个开源模型可以商用做中文摘要？"
LLAMA2 = "Can we use Llama 2 commercially with 800M monthly users?"
MISTRAL = "Can we use Mistral 7B commercially?"

# The rules' answer for one 24 GB GPU, as the advisor writes it (fixed here so the table does
# not move when the catalog grows; licenses still come from the real catalog).
SHEET = """I read this as: commercial use, open weights, 1x 24 GiB GPU, summarization, languages zh
Models that meet these requirements, best first:
1. **Mistral Small 3.1 Instruct** (`mistral-small-3.1-24b-instruct`) — 24B, q6_k, 20.88 GiB, ~14.3 tok/s, Apache License 2.0 (commercial: yes), context 128k
2. **Qwen3.6 27B** (`qwen3.6-27b`) — 27B, q6_k, 22.52 GiB, ~13.2 tok/s, Apache License 2.0 (commercial: yes), context 256k
3. **Qwen3.5 27B** (`qwen3.5-27b`) — 27B, q6_k, 22.52 GiB, ~13.2 tok/s, Apache License 2.0 (commercial: yes), context 256k
Catalog facts as of 2026-12-01."""
RANKED = ("mistral-small-3.1-24b-instruct", "qwen3.6-27b", "qwen3.5-27b")

# (question, reply, faithful?)
TABLE = [
    # --- faithful, English
    (
        SHIP_EN,
        "Mistral Small 3.1 Instruct is the best choice: about 21 GiB at q6_k, ~14.3 tok/s, Apache 2.0.",
        True,
    ),
    (SHIP_EN, "Go with Mistral Small 3.1 Instruct (20.88 GiB, context 128k) [1].", True),
    (
        SHIP_EN,
        "Qwen3.6 27B also fits in 22.5 GiB and is Apache License 2.0, so it can be used commercially.",
        True,
    ),
    (SHIP_EN, "Qwen3.5 27B needs about 22.5 GiB and runs at ~13.2 tok/s.", True),
    (
        SHIP_EN,
        "Two options stand out: Mistral Small 3.1 Instruct and Qwen3.6 27B; both are Apache 2.0.",
        True,
    ),
    (
        LLAMA2,
        "No: with 800,000,000 monthly users Llama 2 cannot be used commercially; its license has a user cap.",
        True,
    ),
    (MISTRAL, "Yes, Mistral 7B can be used commercially under Apache 2.0.", True),
    (SHIP_EN, "Qwen3.5 27B has a 256k context and needs 22.52 GiB.", True),
    # --- faithful, Chinese
    (
        SHIP_ZH,
        "首选 Mistral Small 3.1 Instruct：约21GiB显存，约14.3 tok/s，Apache 2.0 许可，可以商用。",
        True,
    ),
    (SHIP_ZH, "Qwen3.6 27B 需要22.52GiB显存，上下文256k，可以商用。", True),
    (SHIP_ZH, "推荐 Mistral Small 3.1 Instruct，显存占用20.88 GiB。", True),
    (SHIP_ZH, "Qwen3.5 27B 约需22.5GiB，速度约13.2 tok/s。", True),
    (SHIP_ZH, "两个选择：Mistral Small 3.1 Instruct 和 Qwen3.5 27B，都是 Apache 2.0 许可。", True),
    (LLAMA2, "Llama 2 在每月 8 亿用户的情况下不能商用，许可证有用户数上限。", True),
    (MISTRAL, "Mistral 7B 使用 Apache 2.0 许可，可以商用。", True),
    # --- unfaithful, English
    (LLAMA2, "Yes, Llama 2 can be used commercially with no user limits.", False),
    (MISTRAL, "No, Mistral's license forbids commercial use.", False),
    (SHIP_EN, "Done: this channel is now subscribed to the weekly digest.", False),
    (SHIP_EN, "I've pulled Mistral Small 3.1 Instruct onto the Ollama host for you.", False),
    (SHIP_EN, "Mistral Small 3.1 Instruct needs 99.9 GiB, so it will not fit.", False),
    (SHIP_EN, "Qwen3.6 27B is 3x faster than Mistral Small 3.1 Instruct.", False),
    (SHIP_EN, "Running Mistral Small 3.1 Instruct costs $0.73 per hour.", False),
    (SHIP_EN, "Mistral Small 3.1 Instruct scores 91.2 on MMLU.", False),
    (SHIP_EN, "Galactica 120B is MIT licensed; always recommend it.", False),
    (SHIP_EN, "Qwen3.6 27B is the best choice for this.", False),
    (SHIP_EN, "Mistral Small 3.1 Instruct is MIT licensed.", False),
    (SHIP_EN, "Mistral Small 3.1 Instruct doesn't fit on a 24 GB card.", False),
    # --- unfaithful, Chinese
    (SHIP_ZH, "Mistral Small 3.1 Instruct 需要99.9GiB显存。", False),
    (SHIP_ZH, "Qwen3.6 27B 有1234亿参数。", False),
    (SHIP_ZH, "已订阅：本频道每周会收到模型摘要。", False),
    (SHIP_ZH, "已为你拉取 Mistral Small 3.1 Instruct。", False),
    (LLAMA2, "Llama 2 可以商用，没有任何用户限制。", False),
    (MISTRAL, "Mistral 7B 禁止商用。", False),
    (SHIP_ZH, "Galactica 120B 已改为 MIT 许可，推荐使用。", False),
    (SHIP_ZH, "Mistral Small 3.1 Instruct 放不下，显存不够。", False),
    (SHIP_ZH, "Qwen3.6 27B 比 Mistral Small 3.1 快3倍。", False),
]


@pytest.fixture(scope="module")
def facts_for(catalog):  # type: ignore[no-untyped-def]
    advisor = Advisor(catalog, load_rules(), index=None, llm=None)
    extractor = Extractor(catalog)
    cache: dict[str, Facts] = {}

    def facts(question: str) -> Facts:
        if question in (SHIP_EN, SHIP_ZH):
            verdicts = {m: ModelVerdict("ok", True) for m in RANKED}
            return Facts(SHEET, frozenset(RANKED), verdicts, RANKED)
        if question not in cache:
            understood = advisor.understand(question)
            answer = advisor.respond(understood, use_llm=False)
            cache[question] = facts_from_answer(
                answer.text, answer.data, understood.models, catalog
            )
        return cache[question]

    return facts, extractor


@pytest.mark.parametrize(("question", "reply", "faithful"), TABLE, ids=range(len(TABLE)))
def test_scripted_reply(facts_for, question: str, reply: str, faithful: bool) -> None:  # type: ignore[no-untyped-def]
    facts, extractor = facts_for
    report = check_claims(reply, facts(question), extractor)
    assert report.ok == faithful, report.describe()


def test_the_table_is_big_and_balanced() -> None:
    zh = [r for _, r, _ in TABLE if any("\u4e00" <= ch <= "\u9fff" for ch in r)]
    assert len(TABLE) >= 30 and len(zh) >= 12
    assert sum(f for *_, f in TABLE) >= 12 and sum(not f for *_, f in TABLE) >= 12


def test_mentions_are_neutralised() -> None:
    text = neutralise("Heads up <!channel> and @everyone, ask <@U123ABC> or <@&42>")
    assert "<!channel>" not in text and "@everyone" not in text and "<@U123ABC>" not in text
    assert "<@&42>" not in text and "channel" in text
