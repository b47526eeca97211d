"""Deterministic answers, in English or Chinese, built only from verdicts and passages.

These are what the advisor says when no language model is available, and what replaces
a model's answer that fails the grounding check. They are also the *facts* handed to the
model, so a phrased answer and a deterministic one always agree on substance.
"""

from __future__ import annotations

from typing import Any

from bot.answer import Citation, Table
from bot.llm import NOT_REACHABLE
from bot.sentences import whole_sentences
from knowledge.catalog import SYNCED, Catalog
from knowledge.index import Passage
from knowledge.synced_view import MARK
from rules.advice import Comparison, WhyNot
from rules.engine import Verdict
from rules.fit import FitReport

TEXT = {
    "en": {
        "fits": "Models that meet these requirements, best first:",
        "none": (
            "No model in the catalog meets all of these requirements. "
            "Loosen one (hardware, license or context) and ask again."
        ),
        "guides": "From our guides:",
        "deterministic": (
            "Deterministic answer built from the catalog and rules "
            "(no language model was used{why})."
        ),
        "as_of": "Catalog facts as of {date}.",
        "rules_kept": (
            "The team's edited rule packs did not load, so the last good rules decided this "
            "answer ({error}). Fix the pack and `advisor rules check` it."
        ),
        "asked": "About the models you named:",
        "allowed": "allowed",
        "warn": "allowed, with conditions",
        "reject": "not allowed",
        "unknown": "cannot be decided",
        "fit_best": (
            "Best fit: {p}, {t} GiB of {v} GiB ({h} GiB free), about {s} tokens/s (estimate)."
        ),
        "fit_none": "It does not fit at any precision tried.",
        "fit_offload": (
            "Best option: {p} with {o} GiB offloaded to system RAM, about {s} tokens/s (slow)."
        ),
        "nothing": "I found nothing relevant in the catalog or the guides for this question.",
        "not_reachable": "the language model is not reachable",
    },
    "zh": {
        "fits": "符合这些要求的模型（按推荐顺序）：",
        "none": "目录中没有模型能同时满足这些要求。请放宽其中一项（硬件、许可证或上下文）再问。",
        "guides": "参考指南：",
        "deterministic": "这是根据模型目录和规则生成的确定性回答（未使用语言模型{why}）。",
        "as_of": "目录数据截至 {date}。",
        "rules_kept": (
            "团队修改的规则包未能加载，本回答仍按上一版有效规则判断（{error}）。"
            "请修正后用 `advisor rules check` 检查。"
        ),
        "asked": "关于你提到的模型：",
        "allowed": "可以使用",
        "warn": "可以使用，但有条件",
        "reject": "不可使用",
        "unknown": "无法判断",
        "fit_best": "最佳方案：{p}，占用 {t} / {v} GiB（剩余 {h} GiB），约 {s} tokens/s（估算）。",
        "fit_none": "在尝试的所有精度下都放不下。",
        "fit_offload": "可行方案：{p}，需要把 {o} GiB 卸载到内存，约 {s} tokens/s（较慢）。",
        "nothing": "在模型目录和指南中没有找到与这个问题相关的内容。",
        "not_reachable": "语言模型无法连接",
    },
}


def llm_reason(lang: str, why: str) -> str:
    """Why no language model phrased the answer, in the answer's language where we know it."""
    if why.startswith(NOT_REACHABLE):
        return say(lang, "not_reachable") + why.removeprefix(NOT_REACHABLE).rstrip(".")
    return why


def say(lang: str, key: str, **values: Any) -> str:
    """A fixed sentence in the answer's language."""
    return TEXT.get(lang, TEXT["en"])[key].format(**values)


def _size(v: Any) -> str:
    if v.params_b is None:
        return ""
    return f"{v.params_b:g}B" + (f" ({v.active_params_b:g}B active)" if v.active_params_b else "")


def candidate_line(
    n: int, verdict: Verdict, catalog: Catalog, lang: str, titles: dict[str, str] | None = None
) -> str:
    """One numbered recommendation with fit, license and context."""
    v = catalog.variants[verdict.model]
    lic = catalog.licenses[v.license_id]
    parts = [f"{n}. **{v.name}** (`{v.id}`)", _size(v)]
    if v.origin == SYNCED:
        parts.append(MARK)
    if verdict.fit is not None:
        f = verdict.fit
        where = f"{f.precision}, {f.total_gib:g} GiB" + (" + CPU offload" if f.offload else "")
        speed = f", ~{f.est_tokens_per_s:g} tok/s" if f.est_tokens_per_s else ""
        parts.append(where + speed)
    parts.append(f"{lic.name} (commercial: {lic.commercial})")
    if v.context_length:
        parts.append(f"context {v.context_length // 1024}k")
    if verdict.cost is not None and verdict.cost.api_monthly_usd is not None:
        parts.append(f"~${verdict.cost.api_monthly_usd:,.0f}/month via {verdict.cost.api_seller}")
    line = " — ".join([parts[0], ", ".join(p for p in parts[1:] if p)])
    # Warnings by rule title only; `/why-not MODEL` gives each one in full with its source.
    warnings = [(titles or {}).get(r.rule, r.rule) for r in verdict.reasons if r.severity == "warn"]
    if warnings:
        line += (" — ⚠ check: " if lang == "en" else " — ⚠ 需核实：") + "; ".join(warnings)
    # Why it is here, and how to start it on this hardware (runtime and command).
    details = [verdict.why] if verdict.why else []
    if verdict.fit is not None and verdict.fit.command:
        details.append(f"{verdict.fit.runtime}: `{verdict.fit.command}`")
    line += "".join(f"\n   - {d}" for d in details)
    return line


def verdict_table(verdicts: list[Verdict], catalog: Catalog) -> Table:
    """Candidates as a table: model, status, fit, license, context."""
    rows = []
    for verdict in verdicts:
        v = catalog.variants[verdict.model]
        fit = f"{verdict.fit.precision} {verdict.fit.total_gib:g} GiB" if verdict.fit else "-"
        rows.append(
            [
                v.id,
                verdict.status.value,
                fit,
                v.license_id,
                f"{v.context_length // 1024}k" if v.context_length else "?",
            ]
        )
    return Table("Candidates", ["model", "status", "fit", "license", "context"], rows)


def fit_table(report: FitReport) -> Table:
    """Memory at each precision."""
    rows = [
        [
            o.precision,
            f"{o.weights_gib:g}",
            f"{o.kv_cache_gib:g}",
            f"{o.total_gib:g}",
            "offload" if o.offload else ("yes" if o.fits else "no"),
            f"{o.est_tokens_per_s:g}" if o.est_tokens_per_s else "-",
        ]
        for o in report.options
    ]
    return Table(
        f"{report.model} on {report.hardware.count}x {report.hardware.gpu}, "
        f"{report.context} tokens",
        ["precision", "weights GiB", "KV GiB", "total GiB", "fits", "tok/s (est.)"],
        rows,
    )


def fit_sentence(report: FitReport, lang: str) -> str:
    """The fit verdict in one sentence."""
    best = report.best
    if best is None:
        return say(lang, "fit_none")
    if best.offload:
        return say(
            lang, "fit_offload", p=best.precision, o=best.offload_gib, s=best.est_tokens_per_s
        )
    return say(
        lang,
        "fit_best",
        p=best.precision,
        t=best.total_gib,
        v=report.hardware.usable_gib_total,
        h=best.headroom_gib,
        s=best.est_tokens_per_s,
    )


def comparison_table(result: Comparison) -> Table:
    """Side-by-side rows, skipping the long source lists."""
    rows = []
    for row in result.rows:
        if row.field == "sources":
            continue
        cells = []
        for value in row.values:
            if isinstance(value, dict) and "commercial" in value:
                cells.append(f"{value['id']} (commercial: {value['commercial']})")
            elif isinstance(value, dict) and "score" in value:
                cells.append(f"{value['score']:g} ({value['as_of']})")
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                cells.append(
                    "; ".join(f"{p['seller']} ${p['input']:g}/${p['output']:g}" for p in value)
                )
            elif isinstance(value, list):
                cells.append(", ".join("?" if x is None else str(x) for x in value) or "-")
            else:
                cells.append("-" if value is None else str(value))
        rows.append([row.field, *cells])
    return Table("Comparison", ["", *result.models], rows)


def comparison_lines(result: Comparison, catalog: Catalog, lang: str) -> list[str]:
    """The differences that usually decide: license, size, context, memory at 4-bit, fit."""
    head = "Comparison:" if lang == "en" else "对比："
    lines = [head]
    rows = {r.field: r.values for r in result.rows}
    for i, model in enumerate(result.models):
        v = catalog.variants[model]
        lic = rows["license"][i]
        q4 = rows.get("weights_gib@q4_k_m", [None] * len(result.models))[i]
        fit = next((vals[i] for f, vals in rows.items() if f.startswith("fit on")), None)
        parts = [
            f"**{v.name}** (`{model}`)",
            _size(v),
            f"{lic['name']} (commercial: {lic['commercial']})",
            f"context {v.context_length // 1024}k" if v.context_length else "",
            f"{q4:g} GiB at Q4_K_M" if q4 else "",
            fit or "",
        ]
        lines.append("- " + ", ".join(p for p in parts if p))
    return lines


def why_not_lines(result: WhyNot, lang: str) -> list[str]:
    """A model's status and every reason, for "why not" and for models the user named."""
    status = result.status.value if result.status.value != "ok" else "allowed"
    lines = [f"**{result.model}**: {say(lang, status)}"]
    lines += [f"- {r.message}" for r in result.reasons if r.message]
    return lines


def citations(passages: list[Passage]) -> list[Citation]:
    """Number passages [1]..[n] with a snippet of whole sentences each."""
    out = []
    for i, p in enumerate(passages, 1):
        body = p.text.split("\n", 1)[-1].strip()
        out.append(Citation(i, p.source, f"{p.title} — {p.section}", whole_sentences(body, 220)))
    return out


def guide_lines(cites: list[Citation], lang: str, limit: int = 3) -> list[str]:
    """The top passages as short cited bullets."""
    if not cites:
        return []
    return [say(lang, "guides")] + [f"- [{c.id}] {c.title}: {c.snippet}" for c in cites[:limit]]
