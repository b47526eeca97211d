"""Deterministic understanding of a question, in English or Chinese.

The extractor turns free text into :class:`Requirements` plus the catalog models it
mentions, with regular expressions and the word lists in ``bot/data/lexicon.yaml``. It is
deterministic on purpose: the same question always reads the same way, tests can pin
every phrasing, and it works with no language model at all. (An LLM may refine the result
later; it never replaces it.)

Conventions: "k" in a context means 1024 tokens; a GPU named in the text wins over bare
memory ("24GB" then is that GPU's); a count before or after a GPU name ("two 4090s",
"两张4090", "4090 x2", "双卡4090") sets how many; a language is a requirement only when
the text names it ("中文摘要"), not because the question is written in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import CatalogError
from core.text import detect_language
from knowledge.catalog import Variant
from knowledge.mentions import Mentions
from knowledge.resolve import Resolver, normalize
from knowledge.store import Catalog
from rules.requirements import Deployment, Requirements

LEXICON = Path(__file__).resolve().parent / "data" / "lexicon.yaml"
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "pair of": 2,
    "dual": 2,
    "three": 3,
    "four": 4,
    "six": 6,
    "eight": 8,
    "一": 1,
    "单": 1,
    "两": 2,
    "二": 2,
    "双": 2,
    "三": 3,
    "四": 4,
    "六": 6,
    "八": 8,
}
_COUNT = r"(\d+|a|an|one|single|two|pair of|dual|three|four|six|eight|一|单|两|二|双|三|四|六|八)"
_SCALE = {
    "k": 1e3,
    "千": 1e3,
    "m": 1e6,
    "million": 1e6,
    "万": 1e4,
    "百万": 1e6,
    "亿": 1e8,
    "b": 1e9,
}


@dataclass(frozen=True)
class Understanding:
    """What a question asks for: requirements, models named, language and intent."""

    text: str
    language: str
    requirements: Requirements
    models: list[str] = field(default_factory=list)
    intent: str = "recommend"

    def summary(self) -> str:
        """ "I read this as: ..." in the question's language."""
        parts = self.requirements.described(self.language) + self.models
        if self.language == "zh":
            return "我的理解：" + ("，".join(parts) if parts else "没有具体限制")
        return "I read this as: " + (", ".join(parts) if parts else "no specific constraints")


@cache
def lexicon() -> dict[str, Any]:
    """The word lists, read once."""
    return yaml.safe_load(LEXICON.read_text(encoding="utf-8"))


def _has(text: str, words: dict[str, list[str]]) -> bool:
    return any(_word_in(text, w) for w in words.get("en", [])) or any(
        w in text for w in words.get("zh", [])
    )


def _word_in(text: str, word: str) -> bool:
    """Whole-word match that also accepts simple inflections (summarizes, translated)."""
    pattern = rf"(?<![a-z0-9]){re.escape(word)}(?:s|es|d|ed|ing)?(?![a-z0-9])"
    return re.search(pattern, text) is not None


def _number(raw: str, scale: str | None = None) -> float:
    value = float(raw.replace(",", ""))
    return value * _SCALE.get((scale or "").lower().strip(), 1.0)


def _count(word: str | None) -> int:
    if not word:
        return 1
    word = word.strip().lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


class _Gpus:
    """Finds catalog GPUs in text by id, name or alias, with a count."""

    def __init__(self, catalog: Catalog) -> None:
        names: dict[str, str] = {}
        for gpu in catalog.gpus.values():
            for name in (gpu.id, gpu.name, *gpu.aliases):
                key = name.lower().replace("nvidia ", "").replace("geforce ", "").strip()
                if len(normalize(key)) >= 2:
                    names.setdefault(key, gpu.id)
        ordered = sorted(names, key=len, reverse=True)
        self._ids = names
        flexible = [r"[\s\-_]*".join(map(re.escape, re.split(r"[\s\-_]+", n))) for n in ordered]
        self._pattern = re.compile(
            r"(?<![a-z0-9])(?:nvidia\s+)?(?:geforce\s+)?("
            + "|".join(flexible)
            + r")(?:s)?(?![a-z0-9])"
        )
        self._flat = {normalize(n): gid for n, gid in names.items()}

    def find(self, text: str) -> tuple[str, int, tuple[int, int]] | None:
        match = self._pattern.search(text)
        if match is None:
            return None
        gpu = self._flat[normalize(match.group(1))]
        before = text[max(0, match.start() - 16) : match.start()]
        after = text[match.end() : match.end() + 12]
        count = 1
        pre = re.search(_COUNT + r"\s*(?:x|×|\*|张|块|个|台)?\s*(?:卡)?\s*$", before)
        post = re.match(
            r"\s*(?:x|×|\*)\s*(\d+)|\s*(\d+|两|二|双|三|四|八)\s*(?:张|块|卡|个)|\s*(双卡)", after
        )
        if pre:
            count = _count(pre.group(1))
        if post:
            count = 2 if post.group(3) else _count(post.group(1) or post.group(2))
        elif re.search(r"(双卡|dual)\s*$", before):
            count = 2
        return gpu, count, match.span()


class Extractor:
    """Reads questions against one catalog snapshot."""

    def __init__(self, catalog: Catalog, resolver: Resolver | None = None) -> None:
        self.catalog = catalog
        self.resolver = resolver or Resolver(catalog)
        self.gpus = _Gpus(catalog)
        self.mentions = Mentions(catalog, self.resolver, lexicon()["model_names"])

    def models(self, text: str) -> list[str]:
        """Catalog ids mentioned, in order, without repeats (see knowledge/mentions.py)."""
        return self.mentions.models(text)

    def understand(self, question: str, base: Requirements | None = None) -> Understanding:
        """Read ``question``; fields it does not mention keep their value from ``base``."""
        text = _normalise(question)
        lang = detect_language(question)
        lex = lexicon()
        found: dict[str, Any] = {}

        if _has(text, lex["commercial"]):
            found["commercial"] = True
        if _has(text, lex["open_weights"]):
            found["open_weights"] = True
        if _has(text, lex["self_host"]):
            found["deployment"] = Deployment.self_host
        elif _has(text, lex["api"]):
            found["deployment"] = Deployment.api
        if _has(text, lex["train_on_outputs"]):
            found["train_on_outputs"] = True

        caps = [c for c, words in lex["capabilities"].items() if _has(text, words)]
        tasks = [t for t, words in lex["tasks"].items() if _has(text, words)]
        langs = [code for code, words in lex["languages"].items() if _has(text, words)]
        if caps:
            found["capabilities"] = caps
        if tasks:
            found["tasks"] = tasks
        if langs:
            found["languages"] = langs
        for precision, words in lex["precision"].items():
            if _has(text, words):
                found["precision"] = precision
                break

        gpu = self.gpus.find(text)
        masked = text
        if gpu is not None:
            found["gpu"], found["gpu_count"] = gpu[0], gpu[1]
            start, end = gpu[2]
            masked = text[:start] + " " * (end - start) + text[end:]
        found.update(_memory(masked, has_gpu=gpu is not None))
        found.update(_context(text))
        found.update(_money_and_users(text))

        data = base.model_dump() if base else {}
        data.update(found)
        try:
            requirements = Requirements(**data)
        except ValueError as exc:  # a number out of range: keep what is valid
            raise CatalogError(f"I could not read that request: {exc}") from exc
        return Understanding(
            text=question,
            language=lang,
            requirements=requirements,
            models=self.models(text) or self.by_size(text),
            intent=_intent(text),
        )

    def by_size(self, text: str) -> list[str]:
        """A bare size ("can 24GB run a 70B?") stands for the newest open chat model of it.

        The answer names the model it used, so the stand-in is never hidden.
        """
        match = re.search(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*b(?![a-z0-9])", text)
        if match is None:
            return []
        size = float(match.group(1))
        near = [
            v
            for v in self.catalog.variants.values()
            if v.params_b
            and abs(v.params_b - size) <= 0.15 * size
            and v.availability == "open-weights"
            and v.flavor in ("instruct", "chat")
            and v.architecture != "moe"
            and v.layers is not None
        ]

        # Closest size first (to a tenth), then the newest release.
        def rank(v: Variant) -> tuple[float, int, str]:
            gap = round(abs((v.params_b or 0.0) - size) / size, 1)
            return gap, -v.release_date.toordinal(), v.id

        best = min(near, key=rank) if near else None
        return [best.id] if best else []


_SPELLED = {
    "one": "1",
    "a": "1",
    "two": "2",
    "three": "3",
    "five": "5",
    "ten": "10",
    "half a": "0.5",
}


def _normalise(question: str) -> str:
    """Lower case, "2x4090" spaced as "2 x 4090", "one million" as "1 million"."""
    text = question.lower()
    text = re.sub(r"(\d)\s*[x×]\s*(?=\d)", r"\1 x ", text)
    return re.sub(
        r"\b(one|a|two|three|five|ten|half a)\s+(million|thousand)\b",
        lambda m: f"{_SPELLED[m.group(1)]} {m.group(2)}",
        text,
    )


def _memory(text: str, has_gpu: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    ram = re.search(
        r"(\d+(?:\.\d+)?)\s*(?:gb|gib|g)\s*(?:of\s+)?(?:system\s+)?(?:ram|内存|系统内存)"
        r"|内存\s*(?:只有|有|为|是)?\s*(\d+(?:\.\d+)?)\s*(?:gb|gib|g)",
        text,
    )
    if ram:
        found["ram_gib"] = float(ram.group(1) or ram.group(2))
    vram = re.search(
        r"(?:显存\s*(?:只有|有|为|是)?\s*(\d+(?:\.\d+)?)\s*(?:gb|gib|g))"
        r"|(?:(\d+(?:\.\d+)?)\s*(?:gb|gib|g)\s*(?:of\s+)?(?:显存|vram|gpu|card|graphics|显卡))",
        text,
    )
    if vram and not has_gpu:
        found["vram_gib"] = float(vram.group(1) or vram.group(2))
        count = re.search(
            _COUNT + r"\s*(?:x|×|张|块|个)?\s*(?:\d+\s*(?:gb|g)\s*)?(?:gpus|cards|显卡|卡)", text
        )
        found["gpu_count"] = _count(count.group(1)) if count else 1
    return found


def _context(text: str) -> dict[str, Any]:
    match = re.search(
        r"(?:(\d+)\s*k\s*(?:tokens?\s*)?(?:of\s+)?(?:context|ctx|window|token|上下文)"
        r"|(?:context|上下文|window|ctx)"
        r"(?:\s*(?:length|window|of|长度|至少|要|需要|of at least))*\s*[:：]?\s*(\d+)\s*k"
        r"|(\d+)\s*k\s*tokens)",
        text,
    )
    if match:
        return {"context": int(match.group(1) or match.group(2) or match.group(3)) * 1024}
    return {}


def _money_and_users(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    budget = re.search(
        r"\$\s*(\d[\d,]*(?:\.\d+)?)\s*(k)?\s*(?:/|per|a|an|each)\s*(?:month|mo)\b"
        r"|(\d[\d,]*)\s*(?:dollars|usd)\s*(?:a|per|/)\s*month"
        r"|(?:每月|每个月|月)\s*(?:预算)?\s*(?:不超过|最多)?\s*(\d[\d,]*)\s*(?:美元|刀|\$|usd)"
        r"|预算\s*(?:每月)?\s*(\d[\d,]*)\s*(?:美元|刀|\$|usd)",
        text,
    )
    if budget:
        raw = budget.group(1) or budget.group(3) or budget.group(4) or budget.group(5)
        found["monthly_budget"] = _number(raw, budget.group(2))
    price = re.search(
        r"\$\s*(\d+(?:\.\d+)?)\s*(?:/|per|a)\s*(?:1m|one million|million|m)\s*(?:output\s*)?tokens"
        r"|每百万\s*(?:输出)?\s*(?:token|tokens)?\s*(?:不超过|最多|低于)?\s*(\d+(?:\.\d+)?)\s*(?:美元|刀)",
        text,
    )
    if price:
        found["max_output_price"] = float(price.group(1) or price.group(2))
    rpd = re.search(
        r"(\d[\d,.]*)\s*(k|m|million)?\s*(?:requests|calls|queries|messages)\s*(?:a|per|/|each)\s*day"
        r"|每天\s*(?:大概|大约|约|差不多|有)?\s*(\d[\d,.]*)\s*(万|千)?\s*(?:次)?(?:请求|调用|查询)?",
        text,
    )
    if rpd:
        raw = rpd.group(1) or rpd.group(3)
        found["requests_per_day"] = _number(raw, rpd.group(2) or rpd.group(4))
    users = re.search(
        r"(\d[\d,.]*)\s*(k|m|million|b)?\s*"
        r"(?:monthly active users|monthly users|mau|users|active users)"
        r"|(\d[\d,.]*)\s*(万|百万|亿)?\s*(?:月活|用户|月活跃用户)"
        r"|月活\s*(?:用户)?\s*(?:大概|约|有)?\s*(\d[\d,.]*)\s*(万|百万|亿)?",
        text,
    )
    if users:
        raw = users.group(1) or users.group(3) or users.group(5)
        found["mau"] = int(_number(raw, users.group(2) or users.group(4) or users.group(6)))
    return found


def _intent(text: str) -> str:
    if re.search(r"\b(compare|versus|vs\.?|difference between)\b|对比|比较|区别", text):
        return "compare"
    if re.search(r"why not|why (?:is|was) .* (?:rejected|not)|为什么不|为何不", text):
        return "why-not"
    if re.search(r"what models|which models|什么模型|哪些模型|哪个模型", text):
        return "recommend"
    if re.search(
        r"\b(fit|fits|run on|enough memory|how much (?:vram|memory))\b|\bcan\b.*\brun\b"
        r"|跑得动|能跑|放得下|装得下|需要多少显存",
        text,
    ):
        return "fit"
    if re.search(
        r"\b(which|recommend|best|suggest|should we use|what model)\b|推荐|哪个|哪款|选什么|用什么",
        text,
    ):
        return "recommend"
    return "explain"
