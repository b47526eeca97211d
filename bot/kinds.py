"""What kind of question this is, so the advisor answers that kind.

Kinds: ``concept`` (explain an idea), ``recommend`` (which model), ``fit`` (does a model fit
this hardware), ``compare`` (two or more named models), ``why-not``, ``license`` (may we use
a named model so), ``cost`` (API or self-host, what per month), ``trial`` (try models on our
prompts). Deterministic, English and Chinese; the first rule that holds wins:

trial > why-not > cost > license > compare > fit words > recommend words > a model with
hardware (fit) > concept words > requirements stated (recommend) > concept.

Patterns are bounded (no unbounded ``.*``) so classification stays linear in the text.
"""

from __future__ import annotations

import re
from typing import Any

_TRIAL = re.compile(
    r"\b(?:try|test|trial)\b[^?!\n]{0,60}\b(?:ollama|locally|our prompts?|on our (?:box|machine))"
    r"|\brun an? (?:quick )?(?:trial|test)\b|试一下|试跑|跑一下|测一下|试用|实测"
)
_WHY_NOT = re.compile(r"why not|why (?:is|was) [^.?!]{0,60}(?:rejected|not)|为什么不|为何不")
_COST = re.compile(
    r"\b(?:cost|costs|costing|cheaper|cheapest way|break[\s-]*even|bill|spend|pricing|price"
    r"|prices|how much (?:would|will|does|do) (?:it|this|that|we)[^.?!]{0,20}(?:cost|pay|spend))\b"
    r"|\bapi or self[\s-]*host|\bself[\s-]*host(?:ing|ed)? or (?:an? |use an? |the )?api"
    r"|\bapi vs\.? self[\s-]*host|\b(?:rent|buy) (?:gpus|a gpu)"
    r"|成本|费用|多少钱|划算|花费|开销|价格|api还是|还是自己部署|还是自建|还是私有化|还是本地部署|还是用api"
)
_TRAFFIC_CHOICE = re.compile(r"\bapi\b|self[\s-]*host|自己部署|自建|私有化|本地部署|per month|每月")
_LICENSE = re.compile(
    r"\blicen[cs]e[sd]?\b|\bcommercially\b|\bcommercial (?:use|product|purposes)\b|\blegal(?:ly)?\b"
    r"|\ballowed\b|\bpermitted\b|\bterms of use\b|许可|协议|商用|授权|合规"
)
_ASKING = re.compile(
    r"^\s*(?:can|may|could|are|is|do|does)\b|\b(?:can|may) (?:we|i)\b|\ballowed\b|\?\s*$"
    r"|可以|能不能|能否|是否|允许|吗"
)
_COMPARE = re.compile(r"\b(?:compare|versus|vs\.?|difference between|better than)\b|对比|比较|区别")
_ALTERNATIVE = re.compile(r"\bor\b|还是|或者|和")
_FIT = re.compile(
    r"\b(?:fit|fits|run on|runs on|enough memory|how much (?:vram|memory)|load on)\b"
    r"|\bcan\b[^.?!]{0,60}\brun\b|跑得动|能跑|放得下|装得下|需要多少显存|能不能跑|跑不跑得"
)
_RECOMMEND = re.compile(
    r"\b(?:which|recommend|recommendation|best|suggest|should we use|what model|what models"
    r"|good model|pick)\b|推荐|哪个|哪款|哪些|选什么|用什么模型|什么模型"
)
_CONCEPT = re.compile(
    r"\b(?:what is|what's|what are|what does|explain|how does|how do|why does|why do"
    r"|meaning of|difference between|when should|when to use|pros and cons|trade-?offs?"
    r"|tell me about|how to)\b"
    r"|\b[a-z\-]+ or [a-z\-]+ for\b"
    r"|什么是|是什么|什么叫|区别|原理|解释|为什么|怎么理解|有什么不同|优缺点|有什么用|如何"
)
_CONCEPT_FIELDS = {"tasks", "capabilities", "languages"}


def classify(text: str, models: list[str], found: dict[str, Any]) -> str:
    """The kind of the lower-cased question ``text``, given the models and fields it states."""
    if text.startswith("/trial") or _TRIAL.search(text):
        return "trial"
    if models and _WHY_NOT.search(text):
        return "why-not"
    traffic = "requests_per_day" in found
    if _COST.search(text) or (traffic and _TRAFFIC_CHOICE.search(text)):
        return "cost"
    if models and _LICENSE.search(text) and _ASKING.search(text) and "gpu" not in found:
        return "license"
    if len(models) >= 2 and (_COMPARE.search(text) or _ALTERNATIVE.search(text)):
        return "compare"
    if models and _FIT.search(text):
        return "fit"
    if _RECOMMEND.search(text):
        return "recommend"
    if models and any(k in found for k in ("gpu", "vram_gib", "cpu_only", "ram_gib")):
        return "fit"
    if _CONCEPT.search(text):
        return "concept"
    if set(found) - _CONCEPT_FIELDS or models:
        return "recommend"
    return "concept"
