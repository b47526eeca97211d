"""Realistic questions, English and Chinese: what is understood, and the kind of answer.

Each row: the question, the expected answer kind, the requirement fields it must state
(subset match), fields that must stay unset, and the models it names. Cost rows are also
answered end to end and their figures recomputed here from the catalog's own prices.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bot.advisor import Advisor
from bot.understand import Extractor
from knowledge.catalog import Catalog
from rules.packs import load_rules

Q: list[tuple[str, str, dict[str, Any], list[str], list[str] | None]] = [
    # (question, kind, expected fields, absent fields, models or None for "don't care")
    (
        "MacBook Pro M3 Max with 64GB: which open model for code?",
        "recommend",
        {"gpu": "m3-max-64gb", "capabilities": ["code"]},  # the catalog has that exact machine
        ["vram_gib"],
        [],
    ),
    ("M2 Max 64GB, best local model?", "recommend", {"gpu": "m2-max-64gb"}, ["vram_gib"], []),
    ("M3 Max 64G 能跑什么模型？", "recommend", {"gpu": "m3-max-64gb"}, ["vram_gib"], []),
    # No catalog entry for this memory size: the chip's SKU, with the stated memory winning.
    ("MacBook Pro M3 Max 96GB, which model?", "recommend", {"vram_gib": 96.0}, [], []),
    ("M2 Max 32GB 的Mac跑 Llama 2 够吗？", "fit", {"gpu": "m2-max-32gb"}, ["vram_gib"], None),
    ("Which model fits an RTX 4060 8GB?", "recommend", {"gpu": "rtx-4060-8gb"}, ["vram_gib"], []),
    ("Which model fits an RTX 5070 12GB?", "recommend", {"vram_gib": 12.0}, ["gpu"], []),
    (
        "We have two A6000, what should we run?",
        "recommend",
        {"gpu": "rtx-a6000", "gpu_count": 2},
        [],
        [],
    ),
    ("两张A6000能跑什么？", "recommend", {"gpu": "rtx-a6000", "gpu_count": 2}, [], []),
    (
        "Best model for 8xH100 for Chinese customer service",
        "recommend",
        {"gpu": "h100-sxm", "gpu_count": 8, "languages": ["zh"], "tasks": ["chat"]},
        [],
        [],
    ),
    (
        "DeepSeek V3.1 at FP8 on 8x H200?",
        "fit",
        {"gpu": "h200", "gpu_count": 8, "precision": "fp8"},
        [],
        None,
    ),
    ("recommend something for 8 H100s", "recommend", {"gpu": "h100-sxm", "gpu_count": 8}, [], []),
    (
        "8卡H100 中文客服用什么模型？",
        "recommend",
        {"gpu": "h100-sxm", "gpu_count": 8, "languages": ["zh"]},
        [],
        [],
    ),
    (
        "CPU only, 64 GB RAM: what can we run?",
        "recommend",
        {"cpu_only": True, "ram_gib": 64.0},
        ["gpu", "vram_gib"],
        [],
    ),
    (
        "纯CPU 64G内存，推荐个模型",
        "recommend",
        {"cpu_only": True, "ram_gib": 64.0},
        ["gpu", "vram_gib"],
        [],
    ),
    (
        "no GPU, just a server with 128GB of RAM. best model for summarization?",
        "recommend",
        {"cpu_only": True, "ram_gib": 128.0, "tasks": ["summarization"]},
        ["vram_gib"],
        [],
    ),
    (
        "commercial 24GB code",
        "recommend",
        {"commercial": True, "vram_gib": 24.0, "capabilities": ["code"]},
        ["gpu"],
        [],
    ),
    ("can 24GB run a 70B?", "fit", {"vram_gib": 24.0}, ["gpu"], None),
    (
        "mixtral 8x22b on one A100",
        "fit",
        {"gpu": "a100-80gb", "gpu_count": 1},
        [],
        ["mixtral-8x22b"],
    ),
    (
        "Does qwen3 30b-a3b fit on a 4090?",
        "fit",
        {"gpu": "rtx-4090"},
        ["vram_gib"],
        ["qwen3-30b-a3b"],
    ),
    (
        "Can Llama 2 run on an RTX 3090 in 4-bit?",
        "fit",
        {"gpu": "rtx-3090", "precision": "q4_k_m"},
        [],
        ["llama2"],
    ),
    ("显存24G，能跑 Qwen2.5 32B 吗？", "fit", {"vram_gib": 24.0}, [], None),
    ("We need to run 100 GPUs of H100", "recommend", {"gpu": "h100-sxm", "gpu_count": 1}, [], []),
    ("0 x H100 please", "recommend", {"gpu": "h100-sxm", "gpu_count": 1}, [], []),
    ("best model for a 99999 GB GPU", "recommend", {}, ["vram_gib"], []),
    ("-3 GPUs, 24GB each, which model?", "recommend", {"vram_gib": 24.0, "gpu_count": 1}, [], []),
    ("What is the difference between top-k and top-p?", "concept", {}, ["gpu"], []),
    ("RAG or fine-tuning for our docs bot?", "concept", {}, [], []),
    ("什么是量化？", "concept", {}, [], []),
    ("How does the KV cache grow with context?", "concept", {}, [], []),
    ("温度和top-p有什么区别？", "concept", {}, [], []),
    ("What is a mixture of experts model?", "concept", {}, [], []),
    (
        "Can we use Llama 3.1 commercially with 800M users?",
        "license",
        {"commercial": True, "mau": 800_000_000},
        [],
        ["llama3.1"],
    ),
    ("Is Qwen2.5 licensed for commercial use?", "license", {"commercial": True}, [], None),
    (
        "我们能商用 Llama 3.1 吗？月活1亿",
        "license",
        {"commercial": True, "mau": 100_000_000},
        [],
        None,
    ),
    (
        "We send 50 million tokens a day; API or self-host?",
        "cost",
        {"requests_per_day": 50_000.0, "tokens_in": 750.0, "tokens_out": 250.0},
        ["deployment", "open_weights"],
        [],
    ),
    (
        "每天5000万token，用API还是自己部署？",
        "cost",
        {"requests_per_day": 50_000.0, "tokens_in": 750.0, "tokens_out": 250.0},
        ["deployment"],
        [],
    ),
    (
        "20k requests a day, 1,500 tokens in, 400 out. What does it cost on 2 H100?",
        "cost",
        {
            "requests_per_day": 20_000.0,
            "tokens_in": 1500.0,
            "tokens_out": 400.0,
            "gpu": "h100-sxm",
            "gpu_count": 2,
        },
        [],
        [],
    ),
    (
        "2,000 users sending 30 messages a day each: how much would it cost per month?",
        "cost",
        {"requests_per_day": 60_000.0},
        [],
        [],
    ),
    ("5000个用户每人每天20条消息，成本多少？", "cost", {"requests_per_day": 100_000.0}, [], []),
    (
        "1 billion tokens a month, is self-hosting cheaper than the API?",
        "cost",
        {"tokens_in": 750.0},
        [],
        [],
    ),
    ("Try qwen2.5:7b and mistral on our prompts with ollama", "trial", {}, [], None),
    ("Compare Llama 3.3 70B and Qwen2.5 72B", "compare", {}, [], None),
    (
        "llama2 vs mistral for chinese summarization",
        "compare",
        {"languages": ["zh"], "tasks": ["summarization"]},
        [],
        None,
    ),
    (
        "which open model can we use commercially on one 24 GB GPU for summarization?",
        "recommend",
        {"commercial": True, "vram_gib": 24.0, "gpu_count": 1},
        ["gpu"],
        [],
    ),
    (
        "有没有开源模型，能在M3 Max 128GB上做长上下文的中文写作？",
        "recommend",
        {"gpu": "m3-max-128gb"},
        ["vram_gib"],
        [],
    ),
    (
        "batch overnight classification of 1M tickets on a 4090, which model?",
        "recommend",
        {"batch": True, "gpu": "rtx-4090", "tasks": ["classification"]},
        [],
        [],
    ),
]


@pytest.fixture(scope="module")
def extractor(catalog: Catalog) -> Extractor:
    return Extractor(catalog)


def test_table_is_broad_and_bilingual() -> None:
    assert len(Q) >= 40
    zh = sum(any("\u4e00" <= ch <= "\u9fff" for ch in q[0]) for q in Q)
    assert zh >= 10
    assert {q[1] for q in Q} >= {"concept", "recommend", "fit", "compare", "license", "cost"}


@pytest.mark.parametrize(
    ("text", "kind", "expect", "absent", "models"), Q, ids=[q[0][:40] for q in Q]
)
def test_question(extractor, text, kind, expect, absent, models) -> None:  # type: ignore[no-untyped-def]
    understood = extractor.understand(text)
    got = understood.requirements.model_dump(mode="json")
    assert understood.intent == kind
    for key, value in expect.items():
        if isinstance(value, list):
            assert set(got[key]) == set(value), key
        else:
            assert got[key] == value, f"{key}: {got[key]!r} != {value!r}"
    stated = understood.requirements.model_dump(exclude_defaults=True)
    for key in absent:
        assert key not in stated, f"{key} should be unset, got {stated.get(key)!r}"
    if models is not None:
        assert understood.models == models


@pytest.mark.parametrize(
    "text",
    [
        "We need to run 100 GPUs of H100",
        "0 x H100 please",
        "best model for a 99999 GB GPU",
        "-3 GPUs, 24GB each, which model?",
    ],
)
def test_out_of_range_values_are_named_and_ignored(extractor, text) -> None:  # type: ignore[no-untyped-def]
    understood = extractor.understand(text)
    assert understood.notes and "ignored" in understood.summary()


@pytest.mark.parametrize(
    "text",
    [
        "/compare " + "llama2 " * 284,
        "9" * 8000,
        "8xH100 " * 571,
        "24GB " * 800,
        "999999999999999 " * 250,
        "两张A6000，每天5000万token，" * 200,
    ],
)
def test_hostile_long_messages_are_read_without_error(extractor, text) -> None:  # type: ignore[no-untyped-def]
    understood = extractor.understand(text)
    assert understood.requirements.gpu_count <= 64


def _advisor(catalog: Catalog) -> Advisor:
    return Advisor(catalog, load_rules())


def test_cost_answer_figures_match_catalog_prices(catalog: Catalog) -> None:
    answer = _advisor(catalog).handle(
        "We send 50 million tokens a day; API or self-host?", use_llm=False
    )
    cost = answer.data["cost"]
    assert len(cost["api"]) >= 2
    for quote in cost["api"]:
        offers = catalog.offerings[quote["model"]]
        cheapest = min(o.input_per_m * 750 + o.output_per_m * 250 for o in offers)
        by_hand = cheapest / 1e6 * 50_000 * 30.4  # 50M tokens/day as 50k requests of 750+250
        assert quote["monthly_usd"] == pytest.approx(by_hand, abs=0.01)
        assert f"US${by_hand:,.0f}/month" in answer.text
        assert f"price as of {quote['as_of']}" in answer.text
    host = cost["selfhost"]
    gpu = catalog.gpus[host["gpu"]]
    gpus = host["gpus_per_replica"] * host["replicas"]
    assert host["monthly_usd"] == pytest.approx(gpu.cloud_price_per_hour * gpus * 730, abs=0.01)
    needed = 50_000 * 250 / 86_400 * 2
    assert host["needed_tokens_per_s"] == pytest.approx(needed, abs=0.1)
    assert host["replicas"] == max(1, math.ceil(needed / (host["stream_tokens_per_s"] * 8)))
    first = cost["api"][0]
    monthly_tokens = 50e6 * 30.4
    even = host["monthly_usd"] / (first["monthly_usd"] / monthly_tokens) / 30.4
    assert cost["break_even_tokens_per_day"][first["model"]] == pytest.approx(even, rel=1e-6)
    assert "Break-even" in answer.text and "Models that meet" not in answer.text


def test_cost_with_request_lengths_on_named_gpus(catalog: Catalog) -> None:
    text = "20k requests a day, 1,500 tokens in, 400 out. What does it cost on 2 H100?"
    cost = _advisor(catalog).handle(text, use_llm=False).data["cost"]
    for quote in cost["api"]:
        by_hand = (1500 * quote["input_per_m"] + 400 * quote["output_per_m"]) / 1e6 * 20_000 * 30.4
        assert quote["monthly_usd"] == pytest.approx(by_hand, abs=0.01)
    assert cost["selfhost"]["gpu"] == "h100-sxm" and cost["selfhost"]["gpus_per_replica"] == 2


def test_license_answer_quotes_the_deciding_clause(catalog: Catalog) -> None:
    text = (
        _advisor(catalog)
        .handle("Can we use Llama 3.1 commercially with 800M users?", use_llm=False)
        .text
    )
    body = text.split("\n", 2)[2]
    assert body.startswith("No")
    assert (
        "Deciding term (the catalog's summary): licensees whose products had more than 700 million"
        in text
    )
    assert "https://" in text.split("Deciding term", 1)[1]  # the licence text is linked
    assert "Models that meet" not in text


def test_concept_answer_leads_with_whole_cited_sentences(catalog, knowledge_index) -> None:  # type: ignore[no-untyped-def]
    advisor = Advisor(catalog, load_rules(), index=knowledge_index)
    answer = advisor.handle("What is the difference between top-k and top-p?", use_llm=False)
    body = answer.text.split("\n", 2)[2].strip()
    assert "Models that meet" not in answer.text
    first = body.split("\n")[0]
    assert first.rstrip().endswith("[1]")
    assert first.rstrip(" [1]").endswith((".", ")", "。", "`", "*"))


def test_unknown_model_in_a_command_is_named_not_replaced(catalog: Catalog) -> None:
    from core.errors import UnknownModel

    with pytest.raises(UnknownModel) as caught:
        _advisor(catalog).handle("/fit llamazzz-9000 4090", use_llm=False)
    assert "llamazzz-9000" in caught.value.user_message


def test_partial_name_says_what_it_matched(catalog: Catalog) -> None:
    answer = _advisor(catalog).handle("/fit qwen 4090", use_llm=False)
    assert "I took 'qwen' to mean" in answer.text


@pytest.mark.parametrize(
    ("question", "runtime"),
    [
        ("best open model for one RTX 4090?", ("ollama run", "llama-server", "vllm serve")),
        ("we have 8x H100, which open model for chat?", ("vllm serve",)),
        ("MacBook Pro M3 Max 64GB, which model?", ("ollama run", "llama-server", "mlx_lm")),
    ],
)
def test_each_pick_says_why_and_how_to_start_it(
    catalog: Catalog, question: str, runtime: tuple[str, ...]
) -> None:
    text = _advisor(catalog).handle(question, use_llm=False).text
    picks = [block for block in text.split("\n1. ", 1)[1].split("\n\n", 1)[0].split("\n") if block]
    commands = [line for line in picks if line.strip().startswith("- ") and "`" in line]
    assert commands and all(any(r in line for r in runtime) for line in commands), picks


def test_a_chinese_cost_question_is_answered_in_chinese_with_the_same_figures(
    catalog: Catalog,
) -> None:
    en = _advisor(catalog).handle(
        "We send 50 million tokens a day; API or self-host?", use_llm=False
    )
    zh = _advisor(catalog).handle("每天5000万token，用API还是自己部署？", use_llm=False)
    assert zh.data["cost"] == en.data["cost"]
    assert "盈亏平衡点" in zh.text and "价格截至" in zh.text and "Break-even" not in zh.text
    first = zh.data["cost"]["api"][0]
    assert f"US${first['monthly_usd']:,.0f}" in zh.text
