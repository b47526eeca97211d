"""Checks on a language model's answer (or digest summary) before anyone sees it.

The rules decide and the model only phrases, so every claim the phrased text makes is held
against what the rules and the catalog said. Sentence by sentence, in English and Chinese:

- models: every catalog model named was allowed by the rules (or asked about);
- figures: every number, with or without a unit ("17 GiB", "1234亿参数", "3x faster",
  "$0.73 per hour", a benchmark score) appears in the facts, within rounding: a figure
  written with d decimals may differ by half a unit of its last digit ("about 17 GiB" for
  16.77), or by 1 %. GiB and % figures must match a figure with the same unit;
  亿/万/B/k/M are scaled before comparing, and CJK next to digits does not hide them;
- license and commercial use: "can be used commercially", "forbids commercial use",
  "no user limits", "可以商用", "禁止商用", "MIT licensed" are compared with the model's
  catalog license and the rules' verdict (a rejected model cannot be "fine to ship");
- fit: "fits"/"放得下" against the verdict's fit; recommendation and ranking: a rejected
  model is never "recommended", and "the best"/"首选" must be the rules' first choice;
- actions: "subscribed", "pulled", "已订阅" are refused unless the action happened.

Any violation means the text is not grounded; the caller replaces it with the
deterministic answer (or keeps the deterministic digest summary). :func:`neutralise`
defuses @channel / @everyone / user and role mentions in whatever is posted.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.understand import Extractor
from knowledge.catalog import Catalog


@dataclass(frozen=True)
class ModelVerdict:
    """What the rules said about one model: status (ok/warn/reject/unknown) and fit."""

    status: str
    fits: bool | None = None


@dataclass(frozen=True)
class Facts:
    """Everything the phrased text may rely on."""

    text: str
    allowed: frozenset[str]
    verdicts: Mapping[str, ModelVerdict] = field(default_factory=dict)
    ranking: tuple[str, ...] = ()
    actions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GroundingReport:
    """What, if anything, the answer said that the facts do not support."""

    unknown_models: list[str]
    unsupported_figures: list[str]
    contradictions: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.unknown_models or self.unsupported_figures or self.contradictions or self.actions
        )

    def describe(self) -> str:
        """One clause per kind of problem, for the note and the log."""
        parts = []
        if self.unknown_models:
            parts.append("named models the rules did not allow: " + ", ".join(self.unknown_models))
        if self.unsupported_figures:
            parts.append("used figures not in the facts: " + ", ".join(self.unsupported_figures))
        if self.contradictions:
            parts.append("contradicted the rules: " + "; ".join(self.contradictions))
        if self.actions:
            parts.append("claimed actions that did not happen: " + ", ".join(self.actions))
        return "; ".join(parts)


# Numbers: ASCII look-behind only, so "需要99.9GiB" and "1234亿" are seen; "Qwen2.5" is not.
_NUM = re.compile(
    r"(?<![A-Za-z0-9_.])(?<![A-Za-z0-9]-)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s?"
    r"(gib|gb|tok/s|tokens/s|t/s|tokens?|%|x|×|倍|亿|万|千|b|k|m)?(?![A-Za-z])",
    re.I,
)
_FACT_NUM = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s?(gib|gb|%|x|×|倍|b|k|m|亿|万)?", re.I)
_SCALE = {"b": 1e9, "k": 1e3, "m": 1e6, "亿": 1e8, "万": 1e4, "千": 1e3}
_SAME_UNIT = {"gib": "gib", "gb": "gib", "%": "%", "x": "x", "×": "x", "倍": "x"}
_SKIP = re.compile(r"\[\d+\]|^\s*\d+[.)、]\s|`[^`]*`|https?://\S+", re.M)

_NOT = r"(?:not|n't|never|no longer|avoid|instead of|rather than)"
_COMMERCIAL_NEG = re.compile(
    r"\b(cannot|can ?not|can't|may not|must not|not (?:be )?(?:allowed|permitted)|forbids?|"
    r"prohibits?|bans?|disallows?|no)\b[^.;]{0,40}\bcommercial|\bcommercial\w*\b[^.;]{0,30}\b"
    r"(forbidden|prohibited|not allowed|not permitted|banned)\b|\bnon-?commercial only\b|"
    r"不能商用|不可商用|禁止商用|不允许商用|不得商用|不能用于商业|不可用于商业|仅限非商业|不能商业",
    re.I,
)
_COMMERCIAL_POS = re.compile(
    r"\b(can|may|could)\s+(?:\w+\s+){0,3}(used|use|deploy\w*|ship\w*|sell)\b[^.;]{0,40}"
    r"\bcommercial|\bcommercial(?:ly)?\b[^.;]{0,30}\b(allowed|permitted|ok|fine|free)\b|"
    r"\bfree for commercial|\bcommercial use is fine|"
    r"可以商用|可商用|允许商用|能商用|可用于商业|可以用于商业|免费商用|商用没有问题",
    re.I,
)
_UNCONDITIONAL = re.compile(
    r"\b(no|without(?: any)?)\s+(user\s+)?(limits?|restrictions?|conditions?|caps?|strings)\b|"
    r"\bunrestricted\b|\bany number of users\b|"
    r"没有限制|无限制|不受限制|没有任何限制|无用户限制|无条件",
    re.I,
)
_FIT_NEG = re.compile(
    r"\b(does not|doesn't|won't|will not|cannot|can't|too (big|large) to)\s+(fit|run)\b|"
    r"放不下|装不下|跑不了|无法运行|不能运行|显存不够|显存不足",
    re.I,
)
_FIT_POS = re.compile(
    r"\b(fits|fit comfortably|runs (well |fine )?on)\b|放得下|能放下|装得下|能跑", re.I
)
_RECOMMEND = re.compile(r"\b(recommend\w*|go with|my pick|choose|pick)\b|推荐|建议使用|选择", re.I)
_BEST = re.compile(
    r"\b(the best|best choice|best option|top (?:pick|choice)|first choice|number one|#1)\b|"
    r"首选|最佳|最好的选择|第一选择",
    re.I,
)
_NEGATED = re.compile(rf"\b{_NOT}\b|不|别|避免|而不是", re.I)
_ACTIONS = {
    "subscribe": r"\bsubscribed\b|已订阅|已经订阅|订阅成功|已为.{0,6}订阅",
    "pull": r"\b(pulled|downloaded|installed)\b|已拉取|已下载|已安装|拉取完成|"
    r"已为.{0,6}(拉取|下载)",
    "trial": r"\b(i|we)(?:'ve| have)? (?:ran|run|started|queued)\b|"
    r"已开始|已提交|已排队|已运行",
    "change": r"\b(i|we)(?:'ve| have)? (?:changed|updated|saved|deleted|set)\b|"
    r"已修改|已更新|已保存|已删除|已设置",
}
_LICENSE_TOKENS = {
    "mit": r"\bMIT\b",
    "apache": r"\bApache\b",
    "gpl": r"\bA?GPL\b",
    "bsd": r"\bBSD\b",
    "cc-by-nc": r"CC[- ]?BY[- ]?NC",
    "openrail": r"OpenRAIL",
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；;])|\n+")
_MENTIONS = [
    (re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>", re.I), "@\u200b\\1"),
    (re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>"), "@\u200b\\1"),
    (re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>"), "@\u200buser"),
    (re.compile(r"<@[!&]?\d+>"), "@\u200buser"),
    (re.compile(r"@(everyone|here|channel)\b", re.I), "@\u200b\\1"),
]


def replaced_note(language: str, why: str) -> str:
    """The note under a deterministic answer that replaced the model's (streamed) one."""
    if language == "zh":
        return f"语言模型的回答已撤回，并由根据目录和规则生成的确定性回答替代（{why}）。"
    return (
        "The language model's answer above was withdrawn and replaced by this deterministic "
        f"answer from the catalog and rules ({why})."
    )


def neutralise(text: str) -> str:
    """Defuse mentions that would ping a channel, a role or a person."""
    for pattern, replacement in _MENTIONS:
        text = pattern.sub(replacement, text)
    return text


def _magnitudes(whole: str, frac: str | None, unit: str | None) -> tuple[float, float, set[float]]:
    """(value, rounding half-step, the value at every scale its unit allows)."""
    value = float(whole.replace(",", "") + (frac or ""))
    step = 0.5 * 10 ** -(len(frac) - 1) if frac else 0.5
    unit = (unit or "").lower()
    scaled = {value}
    if unit in _SCALE:
        scaled.add(value * _SCALE[unit])
    return value, step, scaled


def _fact_pool(facts: str) -> tuple[set[float], dict[str, set[float]]]:
    plain: set[float] = set()
    by_unit: dict[str, set[float]] = {}
    for m in _FACT_NUM.finditer(facts):
        _, _, scaled = _magnitudes(m.group(1), m.group(2), m.group(3))
        plain |= scaled
        unit = _SAME_UNIT.get((m.group(3) or "").lower())
        if unit:
            by_unit.setdefault(unit, set()).update(scaled)
    return plain, by_unit


def unsupported_figures(answer: str, facts: str) -> list[str]:
    """Figures in ``answer`` that no figure in ``facts`` supports (see the module docstring)."""
    plain, by_unit = _fact_pool(facts)
    text = _SKIP.sub(" ", answer)
    bad = []
    for m in _NUM.finditer(text):
        value, step, scaled = _magnitudes(m.group(1), m.group(2), m.group(3))
        unit = (m.group(3) or "").lower()
        if not unit and not m.group(2) and value <= 3:
            continue  # "two options", "step 1": counting words, not figures
        pool = by_unit.get(_SAME_UNIT.get(unit, ""), plain) if unit in _SAME_UNIT else plain
        ratio = step / value if value else 0.0
        if not any(
            abs(s - n) <= max(step * (s / value if value else 1), 0.01 * abs(n), ratio * abs(n))
            for s in scaled
            for n in pool
        ):
            bad.append(m.group(0).strip())
    return bad


def _license_facts(catalog: Catalog, model: str) -> list[Any]:
    """Licenses of a variant, or of every variant of a family."""
    ids = [model] if model in catalog.variants else [v.id for v in catalog.family_variants(model)]
    found = []
    for vid in ids:
        lic = catalog.licenses.get(catalog.variants[vid].license_id)
        if lic is not None:
            found.append(lic)
    return found


def _verdicts_for(facts: Facts, catalog: Catalog, model: str) -> list[ModelVerdict]:
    if model in facts.verdicts:
        return [facts.verdicts[model]]
    if model in catalog.families:
        return [
            v
            for vid, v in facts.verdicts.items()
            if vid in catalog.variants and catalog.variants[vid].family_id == model
        ]
    return []


def _claims(sentence: str, models: list[str], facts: Facts, catalog: Catalog) -> list[str]:
    """Contradictions between one sentence and the verdicts/licenses of the models it names."""
    wrong: list[str] = []
    negated = bool(_NEGATED.search(sentence))
    neg = bool(_COMMERCIAL_NEG.search(sentence))
    pos = not neg and bool(_COMMERCIAL_POS.search(sentence))
    unconditional = bool(_UNCONDITIONAL.search(sentence))
    fit_neg = bool(_FIT_NEG.search(sentence))
    fit_pos = not fit_neg and bool(_FIT_POS.search(sentence))
    tokens = [t for t, p in _LICENSE_TOKENS.items() if re.search(p, sentence, re.I)]
    license_ok: list[bool] = []
    for model in models:
        licenses = _license_facts(catalog, model)
        verdicts = _verdicts_for(facts, catalog, model)
        statuses = {v.status for v in verdicts}
        kinds = {str(lic.commercial) for lic in licenses}
        rejected = bool(statuses) and statuses <= {"reject"}
        if neg and not rejected and (kinds == {"yes"} or (verdicts and "no" not in kinds)):
            wrong.append(f"{model}: its license allows commercial use")
        if pos and ("no" in kinds or rejected):
            wrong.append(f"{model}: commercial use is not allowed here")
        if (pos or unconditional) and (
            "conditional" in kinds
            or any(lic.user_cap_mau for lic in licenses)
            or statuses & {"warn", "reject"}
        ):
            wrong.append(f"{model}: its license has conditions")
        if fit_pos and verdicts and all(v.fits is False for v in verdicts):
            wrong.append(f"{model}: the rules found it does not fit")
        if fit_neg and any(v.fits for v in verdicts):
            wrong.append(f"{model}: the rules found it fits")
        if _RECOMMEND.search(sentence) and not negated and rejected:
            wrong.append(f"{model}: the rules reject it, so it cannot be recommended")
        if tokens and licenses:
            names = " ".join(f"{lic.id} {lic.name}" for lic in licenses)
            license_ok.append(any(re.search(_LICENSE_TOKENS[t], names, re.I) for t in tokens))
    if tokens and license_ok and not any(license_ok):
        wrong.append(f"{', '.join(models)}: not under {'/'.join(tokens).upper()}")
    if _BEST.search(sentence) and not negated and facts.ranking and len(models) == 1:
        top = facts.ranking[0]
        family = catalog.variants[top].family_id if top in catalog.variants else top
        if models[0] not in (top, family):
            wrong.append(f"{models[0]}: the rules rank {top} first")
    return wrong


def _actions(text: str, done: Collection[str]) -> list[str]:
    return [
        m.group(0)
        for kind, pattern in _ACTIONS.items()
        if kind not in done
        for m in [re.search(pattern, text, re.I)]
        if m
    ]


def check_claims(answer: str, facts: Facts, extractor: Extractor) -> GroundingReport:
    """Every claim in ``answer`` against ``facts`` (models, figures, verdicts, actions)."""
    catalog = extractor.catalog
    allowed = set(facts.allowed)
    families = {catalog.variants[i].family_id for i in allowed if i in catalog.variants}
    named = extractor.models(answer.lower())
    unknown = [m for m in named if m not in allowed and m not in families]
    contradictions: list[str] = []
    last: list[str] = named[:1] if len(named) == 1 else []
    for sentence in filter(None, (s.strip() for s in _SENTENCE.split(answer))):
        models = extractor.models(sentence.lower()) or last
        last = models or last
        contradictions += _claims(sentence, models, facts, catalog)
    return GroundingReport(
        unknown_models=unknown,
        unsupported_figures=unsupported_figures(answer, facts.text),
        contradictions=list(dict.fromkeys(contradictions)),
        actions=_actions(answer, facts.actions),
    )


def check(
    answer: str,
    facts: str | Facts,
    allowed: Collection[str] = (),
    extractor: Extractor | None = None,
) -> GroundingReport:
    """Compare an answer with the facts and the ids it was allowed to name."""
    if extractor is None:
        raise TypeError("check() needs the extractor")
    if isinstance(facts, str):
        facts = Facts(facts, frozenset(allowed))
    return check_claims(answer, facts, extractor)


def facts_from_answer(
    text: str, data: Mapping[str, Any], asked: Iterable[str], catalog: Catalog
) -> Facts:
    """Facts from a deterministic answer's text and data (candidates, comparison, fit)."""
    verdicts: dict[str, ModelVerdict] = {}
    ranking: list[str] = []
    for c in data.get("candidates", []):
        fit = c.get("fit")
        verdicts[c["model"]] = ModelVerdict(c["status"], None if fit is None else True)
        for r in c.get("reasons", []):
            if r.get("rule", "").startswith("hardware") and c["status"] == "reject":
                verdicts[c["model"]] = ModelVerdict(c["status"], False)
        if c["status"] in ("ok", "warn"):
            ranking.append(c["model"])
    fit = data.get("fit")
    if fit:
        verdicts.setdefault(fit["model"], ModelVerdict("unknown", fit.get("best") is not None))
    allowed = set(asked) | set(ranking)
    if "comparison" in data:
        allowed |= set(data["comparison"].get("models", []))
    return Facts(text, frozenset(allowed), verdicts, tuple(ranking))
