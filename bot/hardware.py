"""Hardware as people state it: GPUs with counts, stated memory, Apple machines, CPU only.

:func:`read_hardware` turns lower-cased text into :class:`Requirements` fields plus notes.
Rules, in order:

- "CPU only" / "no GPU" / "纯CPU" sets ``cpu_only``; memory stated then is system RAM.
- A catalog GPU by id, name or alias, with a count before or after it ("8xH100", "8 H100s",
  "两张A6000", "8卡H100", "4090 x2"). Memory stated next to it ("M3 Max with 64GB",
  "M2 Max 64GB", "M3 Max 64G") wins: the same chip's SKU of that size when the catalog has
  one, else the chip's SKU with ``vram_gib`` set to what was stated (never the larger SKU's).
- A GPU-like name the catalog lacks ("RTX 4060") is never read as a number; stated memory
  is used instead, and a note says so.
- Bare memory ("24GB", "24G显存") is per-GPU memory unless it is RAM ("64 GB RAM", "64G内存").
- Numbers out of range (0 or more than 64 GPUs, memory above 4 TiB) are ignored with a note;
  nothing here raises.

Every pattern anchors its numbers with a look-behind so a search stays linear in the text.
"""

from __future__ import annotations

import re
from typing import Any

from knowledge.catalog import Catalog
from knowledge.resolve import normalize

MAX_GPUS = 64
MAX_MEMORY_GIB = 4096.0
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
    "sixteen": 16,
    "一": 1,
    "单": 1,
    "两": 2,
    "二": 2,
    "双": 2,
    "三": 3,
    "四": 4,
    "六": 6,
    "八": 8,
    "十六": 16,
}
COUNT = (
    r"(-?\d+|a|an|one|single|two|pair of|dual|three|four|six|eight|sixteen"
    r"|十六|一|单|两|二|双|三|四|六|八)"
)
_NUM = r"(?<![\d.])(-?\d+(?:\.\d+)?)"
_UNIT = r"\s*(?:gb|gib|g)(?![a-z])"
_RAM_AFTER = r"\s*(?:of\s+)?(?:system\s+|cpu\s+)?(?:ram|memory|内存|系统内存|ddr\d?)"
_CPU_ONLY = re.compile(
    r"\bcpu[\s\-]*only\b|\bonly (?:a |the )?cpus?\b|\bno (?:dedicated )?gpus?\b"
    r"|\bwithout (?:a |any )?gpus?\b|纯\s*cpu|只有\s*cpu|仅\s*cpu|只用\s*cpu|没有(?:独立)?显卡"
    r"|无显卡|没有\s*gpu|无\s*gpu|不用\s*gpu"
)
_UNKNOWN_GPU = re.compile(
    r"(?<![a-z0-9])(?:nvidia\s+)?(?:geforce\s+)?((?:rtx|gtx|rx|radeon|quadro|tesla|arc)\s*-?"
    r"[a-z]?\d{2,4}(?:\s*(?:ti|super|xtx|xt))?)(?![a-z0-9])"
)


def count_word(word: str | None) -> int:
    """A count in digits or words ("8", "two", "两") as an int; 1 when absent."""
    if not word:
        return 1
    word = word.strip().lower()
    if re.fullmatch(r"-?\d+", word):
        return int(word)
    return _NUMBER_WORDS.get(word, 1)


def _chip(gpu_id: str) -> str:
    """The chip of a memory-size SKU id: "m3-max-128gb" -> "m3-max"."""
    return re.sub(r"-\d+gb$", "", gpu_id)


class GpuNames:
    """Finds catalog GPUs in text by id, name or alias, with a count."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        names: dict[str, str] = {}
        for gpu in catalog.gpus.values():
            for name in (gpu.id, gpu.name, *gpu.aliases):
                key = name.lower().replace("nvidia ", "").replace("geforce ", "").strip()
                if len(normalize(key)) >= 2:
                    names.setdefault(key, gpu.id)
        ordered = sorted(names, key=len, reverse=True)
        flexible = [r"[\s\-_]*".join(map(re.escape, re.split(r"[\s\-_]+", n))) for n in ordered]
        self._pattern = re.compile(
            r"(?<![a-z0-9])(?:nvidia\s+)?(?:geforce\s+)?("
            + "|".join(flexible)
            + r")(?:s)?(?![a-z0-9])"
        )
        self._flat = {normalize(n): gid for n, gid in names.items()}

    def find(self, text: str) -> tuple[str, int | None, tuple[int, int]] | None:
        """(gpu id, stated count or None, span of the name) for the first GPU named."""
        match = self._pattern.search(text)
        if match is None:
            return None
        gpu = self._flat[normalize(match.group(1))]
        before = text[max(0, match.start() - 16) : match.start()]
        after = text[match.end() : match.end() + 12]
        count: int | None = None
        pre = re.search(r"(?<![\d.])" + COUNT + r"\s*(?:x|×|\*|张|块|个|台)?\s*(?:卡)?\s*$", before)
        post = re.match(
            r"\s*(?:x|×|\*)\s*(-?\d+)|\s*(\d+|两|二|双|三|四|八)\s*(?:张|块|卡|个)|\s*(双卡)", after
        )
        if pre:
            count = count_word(pre.group(1))
        if post:
            count = 2 if post.group(3) else count_word(post.group(1) or post.group(2))
        elif re.search(r"(双卡|dual)\s*$", before):
            count = 2
        return gpu, count, match.span()

    def sku(self, gpu_id: str, memory_gib: float) -> str:
        """The same chip's SKU with ``memory_gib``, else ``gpu_id`` itself."""
        chip = _chip(gpu_id)
        for gpu in self.catalog.gpus.values():
            if _chip(gpu.id) == chip and abs(gpu.vram_gib - memory_gib) < 0.5:
                return gpu.id
        return gpu_id


def _blank(text: str, span: tuple[int, int]) -> str:
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def _memory_ok(value: float, what: str, notes: list[str]) -> bool:
    if 0 < value <= MAX_MEMORY_GIB:
        return True
    notes.append(
        f"I read {value:g} GB of {what}, which no machine here has (0 to {MAX_MEMORY_GIB:g} GB); "
        "I ignored it."
    )
    return False


def _count_ok(value: int, notes: list[str]) -> bool:
    if 1 <= value <= MAX_GPUS:
        return True
    notes.append(
        f"I read {value} GPUs; I can plan for 1 to {MAX_GPUS} GPUs in one node, so I ignored "
        "the count and used 1."
    )
    return False


def _ram(text: str) -> tuple[float | None, str]:
    match = re.search(
        _NUM + _UNIT + _RAM_AFTER + r"|(?:内存|ram)\s*(?:只有|有|为|是|:|：)?\s*" + _NUM + _UNIT,
        text,
    )
    if match is None:
        return None, text
    return float(match.group(1) or match.group(2)), _blank(text, match.span())


def read_hardware(text: str, gpus: GpuNames) -> tuple[dict[str, Any], list[str]]:
    """Requirements fields for the hardware in lower-cased ``text``, and notes for the reader."""
    found: dict[str, Any] = {}
    notes: list[str] = []
    cpu_only = _CPU_ONLY.search(text) is not None
    if cpu_only:
        found["cpu_only"] = True
    ram, text = _ram(text)
    gpu = None if cpu_only else gpus.find(text)
    if gpu is not None:
        gpu_id, count, span = gpu
        found["gpu"] = gpu_id
        if count is None:  # "100 GPUs of H100", "three cards (4090)"
            loose = re.search(r"(?<![\d.])" + COUNT + r"\s*(?:gpus|cards|显卡|张卡|块卡)", text)
            count = count_word(loose.group(1)) if loose else None
        if count is not None:
            found["gpu_count"] = count if _count_ok(count, notes) else 1
        text = _blank(text, span)
        stated = re.match(
            r"\s*(?:with|w/|,|and|，|带|配|的)?\s*(?:an?\s+)?" + _NUM + _UNIT, text[span[1] :]
        ) or re.search(_NUM + _UNIT + r"\s*(?:of\s+)?(?:unified\s+memory\s+)?$", text[: span[0]])
        if stated:
            memory = float(stated.group(1))
            if _memory_ok(memory, "GPU memory", notes):
                sku = gpus.sku(gpu_id, memory)
                found["gpu"] = sku
                if abs(gpus.catalog.gpus[sku].vram_gib - memory) >= 0.5:
                    found["vram_gib"] = memory
    elif not cpu_only:
        unknown = _UNKNOWN_GPU.search(text)
        if unknown is not None:
            text = _blank(text, unknown.span())
            said = re.match(r"\s*(?:with|,)?\s*" + _NUM + _UNIT, text[unknown.end() :])
            name = unknown.group(1).upper()
            if said:
                notes.append(f"{name} is not in the GPU catalog; I used the memory you stated.")
            else:
                notes.append(
                    f"{name} is not in the GPU catalog; say its memory (e.g. '{name} 8GB')."
                )
    if gpu is None:
        found.update(_bare_memory(text, cpu_only, notes))
    if ram is not None and _memory_ok(ram, "RAM", notes):
        found["ram_gib"] = ram
    elif cpu_only and "vram_gib" in found:
        found["ram_gib"] = found.pop("vram_gib")
    return found, notes


def _bare_memory(text: str, cpu_only: bool, notes: list[str]) -> dict[str, Any]:
    """Memory stated without a GPU name: "24GB", "24 GB GPU", "显存24G", "2 x 24GB cards"."""
    found: dict[str, Any] = {}
    vram = re.search(
        r"显存\s*(?:只有|有|为|是)?\s*"
        + _NUM
        + _UNIT
        + "|"
        + _NUM
        + _UNIT
        + r"(?!\s*(?:of\s+)?(?:system\s+|cpu\s+|unified\s+)?(?:ram|内存|ddr|disk|ssd|storage|硬盘"
        r"|download|file|files|model|weights|of weights))",
        text,
    )
    if vram is None:
        return found
    value = float(vram.group(1) or vram.group(2))
    if not _memory_ok(value, "RAM" if cpu_only else "GPU memory", notes):
        return found
    if cpu_only:
        return {"ram_gib": value}
    found["vram_gib"] = value
    count = re.search(
        r"(?<![\d.])" + COUNT + r"\s*(?:x|×|张|块|个)?\s*(?:\d+\s*(?:gb|g)\s*)?"
        r"(?:gpus|cards|显卡|卡)",
        text,
    )
    if count:
        n = count_word(count.group(1))
        found["gpu_count"] = n if _count_ok(n, notes) else 1
    return found
