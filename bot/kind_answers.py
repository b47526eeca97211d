"""Deterministic answers for the kinds that are not a ranking: concept, license, cost, trial.

- concept: the guides' explanation first, as whole sentences with their citation numbers;
  models only when the question named some.
- license: the verdict for the named model under the stated use, and the licence clause
  that decides it, as the catalog summarises it, with the licence's URL.
- cost: API US$/month for a few sensible API models, self-hosting US$/month on a named GPU
  sized for the traffic, and the break-even volume, each price with its as-of date
  (arithmetic in rules/cost.py).
- trial: the `/trial` command to run for the named (or recommended) models.
"""

from __future__ import annotations

from typing import Any

from bot.answer import Citation
from bot.sentences import whole_sentences
from bot.understand import Understanding
from knowledge.catalog import Catalog, License, Offering
from knowledge.index import Passage
from rules import cost as cost_model
from rules.advice import Advice
from rules.engine import Status
from rules.requirements import Deployment, Requirements

DEFAULT_GPU = "h100-sxm"


def concept_lines(
    understood: Understanding, passages: list[Passage], cites: list[Citation]
) -> list[str]:
    """The explanation from the top guide passages, cited, in whole sentences."""
    if not passages:
        return [
            "I have no guide passage for this yet; ask about a model or your hardware, "
            "or add a guide under knowledge/guides."
            if understood.language != "zh"
            else "指南里还没有这方面的内容；可以问具体模型或硬件。"
        ]
    pairs = list(zip(cites, passages, strict=False))
    same = [(c, p) for c, p in pairs if p.lang == understood.language]
    lines: list[str] = []
    for cite, passage in (same or pairs)[:2]:
        body = passage.text.split("\n", 1)[-1]  # the first line is "title — section"
        limit = 300 if understood.language == "zh" else 600
        lines.append(f"{whole_sentences(body, limit)} [{cite.id}]")
    return lines


def _deciding(lic: License, req: Requirements) -> list[str]:
    """The licence conditions that decide this use, most specific first."""
    picks: list[str] = []
    if req.mau is not None and lic.user_cap_mau:
        picks += [c for c in lic.conditions if "monthly active" in c or "月活" in c]
    if req.train_on_outputs:
        picks += [c for c in lic.conditions if "train" in c or "output" in c]
    if lic.noncommercial:
        picks += [c for c in lic.conditions if "commercial" in c]
    return list(dict.fromkeys(picks)) or lic.conditions[:2]


def license_lines(understood: Understanding, catalog: Catalog, advice: Advice) -> list[str]:
    """The verdict for the first named model, and the clause that decides it."""
    variant = catalog.variants.get(understood.models[0])
    if variant is None:  # a family: its default variant
        variant = advice.variant(understood.models[0])
    lic = catalog.licenses[variant.license_id]
    req = understood.requirements
    if req.commercial is None:
        req = req.model_copy(update={"commercial": True})
    verdict = advice.why_not(variant.id, req)
    over_cap = req.mau is not None and lic.user_cap_mau is not None and req.mau > lic.user_cap_mau
    if over_cap:
        head = (
            f"No, not under the licence as it stands: {req.mau:,} monthly users is above the "
            f"{lic.user_cap_mau:,} in the {lic.name}, so you need a separate licence from the "
            "model's owner first."
        )
    elif verdict.status == Status.reject:
        head = f"No: the rules reject {variant.name} for this use."
    elif verdict.status == Status.unknown or lic.commercial == "unknown":
        head = f"Cannot be decided: the licence of {variant.name} is unknown ({lic.name})."
    elif verdict.status == Status.warn or lic.conditions:
        head = f"Yes, with conditions: {variant.name} is under the {lic.name}."
    else:
        head = f"Yes: {variant.name} is under the {lic.name}, which allows it."
    lines = [head]
    for clause in _deciding(lic, req):
        # The catalog states each term in its own words; the licence text itself is linked.
        lines.append(f"> Deciding term (the catalog's summary): {clause} — licence text: {lic.url}")
    lines += [f"- {r.message}" for r in verdict.reasons if r.severity in ("reject", "warn")][:4]
    return lines


def _api_quotes(
    catalog: Catalog, advice: Advice, understood: Understanding, traffic: cost_model.Traffic
) -> list[cost_model.ApiQuote]:
    """Quotes for named API models, else the best three API picks and the cheapest one."""
    req = understood.requirements
    named = [m for m in understood.models if catalog.offerings.get(m)]
    if not named:
        api_req = Requirements(
            deployment=Deployment.api,
            commercial=req.commercial,
            tasks=req.tasks,
            capabilities=req.capabilities,
            languages=req.languages,
            context=req.context,
        )
        picks = advice.recommend(api_req, limit=6).candidates
        named = [c.model for c in picks if catalog.offerings.get(c.model)][:3]
    quotes = []
    for model in named:
        best = cost_model.cheapest(catalog.offerings[model], traffic.tokens_in, traffic.tokens_out)
        if best is not None:
            quotes.append(cost_model.api_quote(best, traffic))
    everything: list[Offering] = [o for group in catalog.offerings.values() for o in group]
    newest = max((o.as_of for o in everything), default=None)
    recent = [o for o in everything if newest and (newest - o.as_of).days <= 540]
    cheapest = cost_model.cheapest(recent, traffic.tokens_in, traffic.tokens_out)
    if cheapest is not None and cheapest.variant_id not in named:
        quotes.append(cost_model.api_quote(cheapest, traffic))
    return quotes


def _gpu_price(catalog: Catalog, gpu_id: str) -> tuple[float | None, Any]:
    gpu = catalog.gpus[gpu_id]
    dated = [
        s.as_of
        for s in catalog.sources_of("gpu", gpu_id)
        if "cloud_price_per_hour" in (s.fields or [])
    ]
    return gpu.cloud_price_per_hour, max(dated) if dated else None


def _selfhost(
    catalog: Catalog, advice: Advice, understood: Understanding, traffic: cost_model.Traffic
) -> cost_model.SelfHostQuote | None:
    req = understood.requirements
    gpu_id = req.gpu if req.gpu and catalog.gpus[req.gpu].cloud_price_per_hour else DEFAULT_GPU
    if gpu_id not in catalog.gpus:
        return None
    hourly, as_of = _gpu_price(catalog, gpu_id)
    if not hourly:
        return None
    count = req.gpu_count if req.gpu == gpu_id else 1
    host_req = req.model_copy(
        update={
            "gpu": gpu_id,
            "gpu_count": count,
            "vram_gib": None if req.gpu != gpu_id else req.vram_gib,
            "open_weights": True,
            "deployment": Deployment.self_host,
            "requests_per_day": None,
        }
    )
    open_named = [
        m
        for m in understood.models
        if m in catalog.variants and catalog.variants[m].availability == "open-weights"
    ]
    verdicts = (
        [advice.engine.evaluate(host_req, [catalog.variants[open_named[0]]])[0]]
        if open_named
        else advice.recommend(host_req, limit=1).candidates
    )
    if not verdicts or verdicts[0].fit is None or not verdicts[0].fit.est_tokens_per_s:
        return None
    fit = verdicts[0].fit
    speed = fit.est_tokens_per_s or 0.0
    return cost_model.selfhost_quote(
        verdicts[0].model,
        gpu_id,
        fit.precision,
        hourly,
        as_of,
        count,
        speed,
        traffic,
    )


def _cheaper(break_even: float, traffic: cost_model.Traffic, zh: bool) -> str:
    if break_even < traffic.tokens_per_day:
        return "按你的用量自建更便宜" if zh else "self-host cheaper at your volume"
    return "按你的用量 API 更便宜" if zh else "API cheaper at your volume"


def _usd(value: float) -> str:
    return f"US${value:,.0f}"


def cost_lines(
    understood: Understanding, catalog: Catalog, advice: Advice
) -> tuple[list[str], dict[str, Any]]:
    """API and self-hosting cost a month for the stated traffic, and the break-even volume."""
    req, zh = understood.requirements, understood.language == "zh"
    if not req.requests_per_day:
        if zh:
            return [
                "要比较 API 和自建的成本，我需要你的流量：每天的 token 数（“每天5000万token”）、"
                "每天的请求数及长度（“每天2万次请求，输入1500、输出400个token”），"
                "或用户数乘以消息数（“2000个用户，每人每天30条消息”）。"
            ], {}
        return [
            "To compare API and self-hosting cost I need your traffic: tokens a day "
            '("50 million tokens a day"), requests a day with their length ("20k requests a '
            'day, 1,500 tokens in, 400 out") or users times messages ("2,000 users, 30 '
            'messages a day each").'
        ], {}
    traffic = cost_model.Traffic(req.requests_per_day, req.tokens_in, req.tokens_out)
    days = f"{cost_model.DAYS_PER_MONTH:g}"
    if zh:
        lines = [
            f"流量：每天 {traffic.requests_per_day:,.0f} 次请求，"
            f"每次输入 {traffic.tokens_in:,.0f}、输出 {traffic.tokens_out:,.0f} 个 token，"
            f"合计每天 {traffic.tokens_per_day:,.0f} 个 token（每月按 {days} 天计）。",
            "",
            "API 费用（每个模型取最便宜的卖家，美元/月）：",
        ]
    else:
        lines = [
            f"Traffic: {traffic.requests_per_day:,.0f} requests a day of "
            f"{traffic.tokens_in:,.0f} tokens in and {traffic.tokens_out:,.0f} out = "
            f"{traffic.tokens_per_day:,.0f} tokens a day ({days} days a month).",
            "",
            "API, US$/month (cheapest seller for each model):",
        ]
    quotes = _api_quotes(catalog, advice, understood, traffic)
    for q in quotes:
        name, price = catalog.variants[q.model].name, f"${q.input_per_m:g} / ${q.output_per_m:g}"
        lines.append(
            f"- **{name}** (`{q.model}`) 经 {q.seller}：每月 {_usd(q.monthly_usd)}，"
            f"每百万 token 输入/输出 {price}（价格截至 {q.as_of.isoformat()}）"
            if zh
            else f"- **{name}** (`{q.model}`) via {q.seller}: {_usd(q.monthly_usd)}/month at "
            f"${q.input_per_m:g} in / ${q.output_per_m:g} out per 1M tokens "
            f"(price as of {q.as_of.isoformat()})"
        )
    host = _selfhost(catalog, advice, understood, traffic)
    data: dict[str, Any] = {
        "traffic": {
            "requests_per_day": traffic.requests_per_day,
            "tokens_in": traffic.tokens_in,
            "tokens_out": traffic.tokens_out,
        },
        "api": [q.model_dump(mode="json") for q in quotes],
    }
    lines.append("")
    if host is None:
        lines.append(
            "自建：没有开放模型能在所述 GPU 上运行且有已知的云端价格。"
            if zh
            else "Self-hosting: no open model fits the named GPU with a known cloud price."
        )
        return lines, data
    gpu, model = catalog.gpus[host.gpu], catalog.variants[host.model].name
    hours, peak, batch = (
        f"{cost_model.HOURS_PER_MONTH:g}",
        f"{cost_model.PEAK_FACTOR:g}",
        f"{cost_model.BATCH_SPEEDUP:g}",
    )
    dated = host.price_as_of.isoformat() if host.price_as_of else ""
    if zh:
        lines += [
            f"自建 **{model}**（`{host.model}`，{host.precision}），{host.gpus} 张 {gpu.name}："
            f"每月 {_usd(host.monthly_usd)} = 每 GPU 小时 ${host.gpu_hourly_usd:g}"
            + (f"（价格截至 {dated}）" if dated else "")
            + f" × {host.gpus} 张 × {hours} 小时。",
            f"- 所需吞吐：峰值每秒 {host.needed_tokens_per_s:,.0f} 个输出 token（假设为日均的 "
            f"{peak} 倍）；每个副本 {host.gpus_per_replica} 张 GPU，单路约每秒 "
            f"{host.stream_tokens_per_s:g} 个 token，批处理约为其 {batch} 倍（假设），"
            f"因此需要 {host.replicas} 个副本。",
        ]
    else:
        lines += [
            f"Self-hosting **{model}** (`{host.model}`, {host.precision}) on {host.gpus}x "
            f"{gpu.name}: {_usd(host.monthly_usd)}/month = ${host.gpu_hourly_usd:g}/GPU-hour"
            + (f" (price as of {dated})" if dated else "")
            + f" x {host.gpus} GPUs x {hours} h.",
            f"- Throughput needed: {host.needed_tokens_per_s:,.0f} output tokens/s at peak "
            f"(assumed {peak}x the daily average); one replica of {host.gpus_per_replica} GPU(s) "
            f"gives about {host.stream_tokens_per_s:g} tokens/s per stream and about {batch}x "
            f"that with batching (an assumption), so {host.replicas} replica(s).",
        ]
    data["selfhost"] = host.model_dump(mode="json")
    evens = {
        q.model: cost_model.break_even_tokens_per_day(host.monthly_usd, q, traffic) for q in quotes
    }
    data["break_even_tokens_per_day"] = evens
    if evens:
        parts = "; ".join(
            f"{catalog.variants[m].name} {v:,.0f} ({_cheaper(v, traffic, zh)})"
            for m, v in evens.items()
        )
        lines.append(
            f"盈亏平衡点（这 {host.gpus} 张 GPU，每天 token 数，同样的输入输出比例）：{parts}。"
            "自建还需要工程人力，这些数字没有计入。"
            if zh
            else f"Break-even on these {host.gpus} GPUs (tokens a day, same mix): {parts}. "
            "Self-hosting also costs engineering time that these figures leave out."
        )
    return lines, data


def trial_lines(understood: Understanding, catalog: Catalog) -> list[str]:
    """The /trial command for the named models (their Ollama tags)."""
    tags = [
        catalog.variants[m].ollama_tags[0]
        for m in understood.models
        if m in catalog.variants and catalog.variants[m].ollama_tags
    ]
    if not tags:
        return [
            'Name the models to try, for example `/trial qwen3:8b,gemma3:12b "your prompt" '
            "runs=3`: I run the prompt through Ollama and compare speed and outputs."
        ]
    return [
        f'Run `/trial {",".join(tags[:4])} "your prompt" runs=3`: it sends your prompt to each '
        "model through Ollama and compares time to first token, tokens/s and the outputs."
    ]
