"""Money and traffic as people state them, in English and Chinese.

Budgets ("$2k a month", "每月预算500美元"), price caps, users ("800M users", "月活1亿"), and
the traffic a cost question needs, in any of three shapes:

- tokens a day ("50 million tokens a day", "每天5000万token"): read as requests of 1,000
  tokens, 750 in and 250 out (a typical chat or RAG split), so the total is what was said;
- requests a day with lengths ("20k requests a day, 1,500 tokens in, 400 out");
- users times messages ("2,000 users sending 30 messages a day", "5000用户每人每天20条").

Every number pattern starts with a look-behind, so matching stays linear in the text.
"""

from __future__ import annotations

import re
from typing import Any

TOKENS_PER_REQUEST = 1000.0
INPUT_SHARE = 0.75
_SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "千": 1e3,
    "m": 1e6,
    "million": 1e6,
    "mn": 1e6,
    "万": 1e4,
    "百万": 1e6,
    "千万": 1e7,
    "亿": 1e8,
    "b": 1e9,
    "billion": 1e9,
    "bn": 1e9,
}
_N = r"(?<![\d.,])(\d[\d,]*(?:\.\d+)?)"
_EN_SCALE = r"\s*(k|thousand|m|million|mn|b|billion|bn)?"
_ZH_SCALE = r"\s*(千万|百万|万|亿|千)?"
_PER_DAY = r"\s*(?:a|per|/|each|every)\s*day"
_PER_MONTH = r"\s*(?:a|per|/|each|every)\s*month"


def number(raw: str, scale: str | None = None) -> float:
    """ "5,000" with an optional scale word ("k", "million", "万") as a float."""
    return float(raw.replace(",", "")) * _SCALE.get((scale or "").lower().strip(), 1.0)


def _tokens_a_day(text: str) -> float | None:
    match = re.search(
        _N
        + _EN_SCALE
        + r"\s*tokens?(?:"
        + _PER_DAY
        + r"|/day|\s*daily)"
        + r"|每天\s*(?:大概|大约|约|有)?\s*"
        + _N
        + _ZH_SCALE
        + r"\s*(?:个)?\s*(?:token|词元)",
        text,
    )
    if match:
        return number(match.group(1) or match.group(3), match.group(2) or match.group(4))
    monthly = re.search(
        _N
        + _EN_SCALE
        + r"\s*tokens?(?:"
        + _PER_MONTH
        + r"|/month|\s*monthly)"
        + r"|每月\s*(?:大概|大约|约|有)?\s*"
        + _N
        + _ZH_SCALE
        + r"\s*(?:个)?\s*(?:token|词元)",
        text,
    )
    if monthly:
        return (
            number(monthly.group(1) or monthly.group(3), monthly.group(2) or monthly.group(4))
            / 30.4
        )
    return None


def _lengths(text: str) -> dict[str, float]:
    found: dict[str, float] = {}
    pair = re.search(
        _N
        + r"\s*(k)?\s*(?:tokens?\s*)?in(?:put)?\s*(?:/|,|and|\+)\s*"
        + _N
        + r"\s*(k)?\s*(?:tokens?\s*)?out(?:put)?\b",
        text,
    )
    if pair:
        found["tokens_in"] = number(pair.group(1), pair.group(2))
        found["tokens_out"] = number(pair.group(3), pair.group(4))
        return found
    for key, words, zh in (
        ("tokens_in", r"(?:input|prompt)", "输入"),
        ("tokens_out", r"(?:output|completion|response|answer)", "输出"),
    ):
        match = re.search(
            _N + r"\s*(k)?\s*(?:" + words + r"\s*tokens?|tokens?\s*(?:of\s*)?" + words + r")"
            r"|" + zh + r"\s*(?:约|大概)?\s*" + _N + r"\s*(k)?\s*(?:个)?\s*(?:token|词元)?",
            text,
        )
        if match:
            found[key] = number(match.group(1) or match.group(3), match.group(2) or match.group(4))
    return found


def _users_times_messages(text: str) -> float | None:
    match = re.search(
        _N + _EN_SCALE + r"\s*(?:daily\s+|active\s+)?(?:users|people|employees|agents|customers)"
        r"[^.;\d]{0,30}?"
        + _N
        + r"\s*(?:messages|requests|questions|chats|queries|prompts)"
        + _PER_DAY,
        text,
    ) or re.search(
        _N
        + _ZH_SCALE
        + r"\s*(?:个|名|位)?\s*(?:用户|员工|人)[^。；\d]{0,12}?每(?:人|个用户)?(?:每)?天?"
        r"\s*" + _N + r"\s*(?:条|次|个)",
        text,
    )
    if match is None:
        return None
    users = number(match.group(1), match.group(2))
    return users * number(match.group(3))


def read_traffic(text: str) -> dict[str, Any]:
    """Requests a day and tokens per request, when the text states traffic."""
    found: dict[str, Any] = {}
    lengths = _lengths(text)
    tokens = _tokens_a_day(text)
    by_users = _users_times_messages(text)
    rpd = re.search(
        _N
        + _EN_SCALE
        + r"\s*(?:requests|calls|queries|messages|conversations|chats)"
        + _PER_DAY
        + r"|每天\s*(?:大概|大约|约|差不多|有)?\s*"
        + _N
        + _ZH_SCALE
        + r"\s*(?:次(?:请求|调用|查询|对话)?|(?:个|条)?\s*(?:请求|调用|查询|对话|消息))",
        text,
    )
    if by_users is not None:
        found["requests_per_day"] = by_users
    elif rpd:
        found["requests_per_day"] = number(
            rpd.group(1) or rpd.group(3), rpd.group(2) or rpd.group(4)
        )
    elif tokens is not None:
        if lengths:
            per_request = lengths.get("tokens_in", 0.0) + lengths.get("tokens_out", 0.0)
            found["requests_per_day"] = tokens / per_request
            found.update(lengths)
            return found
        found["requests_per_day"] = tokens / TOKENS_PER_REQUEST
        found["tokens_in"] = TOKENS_PER_REQUEST * INPUT_SHARE
        found["tokens_out"] = TOKENS_PER_REQUEST * (1 - INPUT_SHARE)
        return found
    found.update(lengths)
    return found


def read_money_and_users(text: str) -> dict[str, Any]:
    """Monthly budget, output-price cap and monthly users stated in ``text``."""
    found: dict[str, Any] = {}
    budget = re.search(
        r"\$\s*" + _N + r"\s*(k)?\s*(?:/|per|a|an|each)\s*(?:month|mo)\b"
        r"|" + _N + r"\s*(?:dollars|usd)\s*(?:a|per|/)\s*month"
        r"|(?:每月|每个月|月)\s*(?:预算)?\s*(?:不超过|最多)?\s*" + _N + r"\s*(?:美元|刀|\$|usd)"
        r"|预算\s*(?:每月)?\s*" + _N + r"\s*(?:美元|刀|\$|usd)",
        text,
    )
    if budget:
        raw = budget.group(1) or budget.group(3) or budget.group(4) or budget.group(5)
        found["monthly_budget"] = number(raw, budget.group(2))
    price = re.search(
        r"\$\s*(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/|per|a)\s*(?:1m|one million|million|m)\s*"
        r"(?:output\s*)?tokens"
        r"|每百万\s*(?:输出)?\s*(?:token|tokens)?\s*(?:不超过|最多|低于)?\s*(?<![\d.])(\d+(?:\.\d+)?)"
        r"\s*(?:美元|刀)",
        text,
    )
    if price:
        found["max_output_price"] = float(price.group(1) or price.group(2))
    users = re.search(
        _N + r"\s*(k|m|million|b|billion)?\s*"
        r"(?:monthly active users|monthly users|mau|users|active users)"
        r"|" + _N + r"\s*(万|百万|亿)?\s*(?:月活|用户|月活跃用户)"
        r"|月活\s*(?:用户)?\s*(?:大概|约|有)?\s*" + _N + r"\s*(万|百万|亿)?",
        text,
    )
    if users:
        raw = users.group(1) or users.group(3) or users.group(5)
        found["mau"] = int(number(raw, users.group(2) or users.group(4) or users.group(6)))
    return found
