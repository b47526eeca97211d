"""CLI commands answered by the rules engine: fit, recommend, compare, why-not, rules.

They need neither torch nor chromadb, so they start fast; bot/cli.py registers them.
The catalog, settings and rules are imported inside each command, and `fit` loads no
rule packs (it uses none).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from bot.console import JsonOpt, fmt_params, out, print_json

if TYPE_CHECKING:
    from rules.advice import Advice
    from rules.packs import RuleSet
    from rules.requirements import Requirements

rules_app = typer.Typer(help="List and check rule packs.", no_args_is_help=True)

GpuOpt = Annotated[
    str | None, typer.Option("--gpu", help="GPU name, e.g. 'RTX 4090', 'A100 80GB', 'M2 Max 32GB'.")
]


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter("must be a finite number")
    return value


GpusOpt = Annotated[int, typer.Option("--gpus", min=1, max=1024, help="How many of that GPU.")]
VramOpt = Annotated[
    float | None,
    typer.Option(
        "--vram",
        min=0.1,
        max=100_000,
        callback=_finite,
        help="GPU memory in GiB (instead of --gpu).",
    ),
]
RamOpt = Annotated[
    float | None,
    typer.Option(
        "--ram", min=0, max=100_000, callback=_finite, help="System RAM in GiB for CPU offload."
    ),
]
ContextOpt = Annotated[
    int | None,
    typer.Option(
        "--context", min=1, max=100_000_000, help="Context tokens (default 8k or the model's max)."
    ),
]
PrecisionOpt = Annotated[
    str | None, typer.Option("--precision", help="bf16, fp8, int8, q8_0, q4_k_m ...")
]
CommercialOpt = Annotated[bool, typer.Option("--commercial", help="Commercial use.")]
OpenOpt = Annotated[bool, typer.Option("--open-weights", help="Downloadable weights only.")]
TaskOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--task", help="code, math, tool-use, vision, multilingual, reasoning, long-context."
    ),
]
LangOpt = Annotated[list[str] | None, typer.Option("--language", help="Language code, e.g. zh.")]
MinCtxOpt = Annotated[
    int | None, typer.Option("--min-context", help="Context the task needs, tokens.")
]
MaxPriceOpt = Annotated[
    float | None, typer.Option("--max-price", help="Max US$ per 1M output tokens.")
]
MauOpt = Annotated[int | None, typer.Option("--mau", help="Monthly active users of your product.")]
RulesOpt = Annotated[Path | None, typer.Option("--rules", help="Team rule-pack directory.")]


def _advisor(rules_dir: Path | None = None) -> Advice:
    from core.settings import load_settings
    from knowledge.snapshot import open_catalog
    from rules.advice import Advice
    from rules.packs import load_rules

    settings = load_settings()
    return Advice(open_catalog(settings), load_rules(rules_dir or settings.rules_dir))


def _requirements(**values: Any) -> Requirements:
    """Build Requirements from CLI flags, dropping the ones not given."""
    from rules.requirements import Requirements

    mapping = {
        "tasks": "capabilities",
        "min_context": "context",
        "max_price": "max_output_price",
        "gpus": "gpu_count",
        "vram": "vram_gib",
        "ram": "ram_gib",
        "languages": "languages",
    }
    data = {mapping.get(k, k): v for k, v in values.items() if v not in (None, False, [])}
    try:
        return Requirements(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        flags = {v: k for k, v in mapping.items()}
        name = str(first["loc"][0]) if first["loc"] else "?"
        flag = "--" + flags.get(name, name).replace("_", "-").removesuffix("s")
        raise typer.BadParameter(
            f"{first.get('input')!r}: {first['msg']}", param_hint=flag
        ) from None


def fit(
    model: Annotated[str, typer.Argument(help="Model name: id, alias, HF repo or Ollama tag.")],
    gpu: GpuOpt = None,
    gpus: GpusOpt = 1,
    vram: VramOpt = None,
    ram: RamOpt = None,
    context: ContextOpt = None,
    precision: PrecisionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Will MODEL fit this hardware? Memory at each precision, best choice and speed estimate."""
    req = _requirements(
        gpu=gpu, gpus=gpus, vram=vram, ram=ram, context=context, precision=precision
    )
    from core.settings import load_settings
    from knowledge.resolve import Resolver, resolution_notes
    from knowledge.snapshot import open_catalog
    from rules.fit import fit_report

    settings = load_settings()
    catalog = open_catalog(settings)
    res = Resolver(catalog).resolve(model)
    report = fit_report(catalog, res.variant, req, settings.apple_gpu_fraction)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    hw = report.hardware
    out.print(
        f"[bold]{report.model}[/] on {hw.count}x {hw.gpu} ({hw.usable_gib_total:g} GiB usable), "
        f"context {report.context} tokens"
    )
    for note in resolution_notes(res):
        out.print(f"[yellow]{note}[/]", markup=True)
    table = Table()
    for col in ("precision", "weights", "KV cache", "overhead", "total", "fits", "tok/s*"):
        table.add_column(col, justify="right")
    for o in report.options:
        verdict = "offload" if o.offload else ("yes" if o.fits else "no")
        table.add_row(
            o.precision,
            f"{o.weights_gib:g}",
            f"{o.kv_cache_gib:g}",
            f"{o.overhead_gib:g}",
            f"{o.total_gib:g}",
            verdict,
            f"{o.est_tokens_per_s:g}" if o.est_tokens_per_s else "-",
        )
    out.print(table)
    best = report.best
    out.print(
        f"Best: [green]{best.precision}[/] ({best.headroom_gib:g} GiB free)"
        if best
        else "[red]Does not fit at any precision tried.[/]"
    )
    for note in report.notes:
        out.print(f"- {note}")


def recommend(
    gpu: GpuOpt = None,
    gpus: GpusOpt = 1,
    vram: VramOpt = None,
    ram: RamOpt = None,
    commercial: CommercialOpt = False,
    open_weights: OpenOpt = False,
    task: TaskOpt = None,
    language: LangOpt = None,
    min_context: MinCtxOpt = None,
    max_price: MaxPriceOpt = None,
    mau: MauOpt = None,
    rules: RulesOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list rejected models.")] = False,
    limit: Annotated[int, typer.Option(help="How many models.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """The best models for your requirements, ranked, with the reasons for each."""
    req = _requirements(
        gpu=gpu,
        gpus=gpus,
        vram=vram,
        ram=ram,
        commercial=commercial,
        open_weights=open_weights,
        tasks=task,
        languages=language,
        min_context=min_context,
        max_price=max_price,
        mau=mau,
    )
    rec = _advisor(rules).recommend(req, limit=limit, include_rejected=show_all)
    if as_json:
        print_json(rec.model_dump(mode="json"))
        return
    out.print("I read this as: " + (", ".join(rec.understood) or "no constraints"))
    table = Table(
        title=f"{len(rec.candidates)} of {rec.considered} models "
        f"({rec.rejected} rejected by rules)",
        title_justify="left",
    )
    for col in ("model", "status", "fit", "score", "notes"):
        table.add_column(col, overflow="fold")
    for c in rec.candidates:
        fit = f"{c.fit.precision} {c.fit.total_gib:g}G" if c.fit else "-"
        notes = "; ".join(r.rule.split(".", 1)[-1] for r in c.reasons)
        table.add_row(c.model, c.status.value, fit, f"{c.score:.2f}", notes)
    out.print(table)


def compare(
    models: Annotated[list[str], typer.Argument(help="Two to four model names.")],
    gpu: GpuOpt = None,
    gpus: GpusOpt = 1,
    vram: VramOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Side-by-side facts, license, memory, fit, prices and benchmarks with sources."""
    if not 2 <= len(models) <= 4:
        raise typer.BadParameter(
            "compare takes two to four models, e.g. advisor compare llama2 mistral"
        )
    result = _advisor().compare(models, _requirements(gpu=gpu, gpus=gpus, vram=vram))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table(show_lines=True)
    table.add_column("", overflow="fold")
    for m in result.models:
        table.add_column(m, overflow="fold")
    for row in result.rows:
        if row.field == "sources":
            continue
        table.add_row(row.field, *(_cell(v) for v in row.values))
    out.print(table)


def _cell(value: Any) -> str:
    if value is None or value == []:
        return "-"
    if isinstance(value, dict) and "commercial" in value:
        return f"{value['id']} (commercial: {value['commercial']})"
    if isinstance(value, dict) and "score" in value:
        return f"{value['score']:g} ({value['as_of']})"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "; ".join(f"{p['seller']} ${p['input']:g}/${p['output']:g}" for p in value)
    if isinstance(value, list):
        return ", ".join("?" if x is None else str(x) for x in value)
    if isinstance(value, float):
        return fmt_params(value) if value > 0.01 else f"{value:g}"
    return str(value)


def why_not(
    model: Annotated[str, typer.Argument(help="Model name.")],
    gpu: GpuOpt = None,
    gpus: GpusOpt = 1,
    vram: VramOpt = None,
    ram: RamOpt = None,
    commercial: CommercialOpt = False,
    open_weights: OpenOpt = False,
    task: TaskOpt = None,
    language: LangOpt = None,
    min_context: MinCtxOpt = None,
    max_price: MaxPriceOpt = None,
    mau: MauOpt = None,
    rules: RulesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why a model is (or is not) recommended for your requirements."""
    req = _requirements(
        gpu=gpu,
        gpus=gpus,
        vram=vram,
        ram=ram,
        commercial=commercial,
        open_weights=open_weights,
        tasks=task,
        languages=language,
        min_context=min_context,
        max_price=max_price,
        mau=mau,
    )
    result = _advisor(rules).why_not(model, req)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out.print(f"[bold]{result.model}[/]: {result.status.value}")
    for r in result.reasons:
        out.print(f"- {r.severity}: {escape(r.message)}  [dim]({r.rule})[/]")
    if not result.reasons:
        out.print("No rule speaks against it for these requirements.")
    if result.alternatives:
        out.print("Allowed instead: " + ", ".join(result.alternatives))


@rules_app.command("list")
def rules_list(
    rules: RulesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The rules in force (built-in and team packs)."""
    from core.settings import load_settings
    from rules.packs import load_rules

    ruleset = load_rules(rules or load_settings().rules_dir)
    rows = [
        {
            "id": r.id,
            "title": r.spec.title,
            "severity": r.spec.severity.value,
            "enabled": r.spec.enabled,
            "pack": r.path.name,
            "docs": r.spec.docs,
        }
        for r in ruleset.rules
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} rules", title_justify="left")
    for col in ("id", "severity", "pack", "title"):
        table.add_column(col, overflow="fold")
    for row in rows:
        sev = row["severity"] if row["enabled"] else f"{row['severity']} (off)"
        table.add_row(str(row["id"]), str(sev), str(row["pack"]), str(row["title"]))
    out.print(table)


def _runtime_failures(ruleset: RuleSet) -> list[str]:
    """Every rule run against the whole catalog: the ones that fail, with their first models."""
    from core.settings import load_settings
    from knowledge.snapshot import open_catalog
    from rules.engine import Engine
    from rules.requirements import Requirements

    engine = Engine(open_catalog(load_settings()), ruleset)
    engine.evaluate(Requirements(), explain=True)
    lines = []
    for rule in ruleset.rules:
        models = engine.failures.get(rule.id)
        if models:
            first = ", ".join(models[:3]) + (
                f" and {len(models) - 3} more" if len(models) > 3 else ""
            )
            lines.append(
                f"{rule.path}:{rule.line}: rule {rule.id}: fails at run time on {len(models)} "
                f"catalog models ({first}); they would show as undecided"
            )
    return lines


@rules_app.command("check")
def rules_check(
    directory: Annotated[Path | None, typer.Argument(help="Team pack directory to check.")] = None,
) -> None:
    """Validate packs (built-in plus DIR) and run every rule's test cases; exit 1 on problems."""
    from rules.cases import run_case
    from rules.packs import BUILTIN_DIR, load_rules

    ruleset = load_rules(directory)
    failures = []
    cases = 0
    for rule in ruleset.rules:
        if not rule.spec.cases:
            failures.append(f"{rule.path}:{rule.line}: rule {rule.id}: has no test cases")
        for case in rule.spec.cases:
            cases += 1
            got = run_case(rule, case)
            if got != case.expect.value:
                failures.append(
                    f"{rule.path}:{rule.line}: rule {rule.id}: case '{case.name}' "
                    f"expected {case.expect.value}, got {got}"
                )
    failures += _runtime_failures(ruleset)
    for line in failures:
        out.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
    if failures:
        raise typer.Exit(1)
    packs = sorted({r.path.name for r in ruleset.rules})
    where = f" (+ {directory})" if directory else f" ({BUILTIN_DIR})"
    out.print(f"OK: {len(ruleset.rules)} rules in {len(packs)} packs{where}, {cases} cases pass.")
