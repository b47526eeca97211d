"""The ``advisor`` command line (typer + rich).

Every command that prints data has ``--json`` with a stable shape (see knowledge/views.py);
human output is a rich table that fits an 80-column terminal. Errors the advisor raises on
purpose print their ``user_message`` and exit 1; anything unexpected prints a short
message with an incident id and the trace goes to the log (see bot/logs.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot import cli_chat, cli_jobs, cli_rules
from bot.console import JsonOpt, err, fmt_context, fmt_params, out, print_json
from bot.logs import report_incident, setup_logging
from core.errors import AdvisorError, CatalogError, ConfigError

if TYPE_CHECKING:
    from knowledge.catalog import Catalog

# Commands import the catalog, settings and rules inside their bodies: `advisor --help`
# then starts in a fraction of a second, and each command pays only for what it uses.

app = typer.Typer(
    name="advisor",
    help="Choose, size and try large language models: a sourced catalog you can query.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="Load or check the curated catalog files.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


app.add_typer(cli_rules.rules_app, name="rules")
app.add_typer(cli_chat.index_app, name="index")
app.command()(cli_chat.ask)
app.command()(cli_chat.chat)
app.command()(cli_chat.serve)
app.command()(cli_chat.ingest)
app.command("sync")(cli_chat.sync_)
app.command()(cli_chat.digest)
app.command()(cli_jobs.trial)
app.command("eval")(cli_jobs.eval_)
app.command()(cli_jobs.jobs)
app.command()(cli_jobs.worker)
app.command()(cli_rules.fit)
app.command()(cli_rules.recommend)
app.command()(cli_rules.compare)
app.command("why-not")(cli_rules.why_not)


def _catalog() -> Catalog:
    from core.settings import load_settings
    from knowledge.snapshot import open_catalog

    return open_catalog(load_settings())


@app.command()
def models(
    family: Annotated[
        str | None, typer.Option(help="Family name or alias, e.g. 'llama 3.1'.")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="Provider id or name, e.g. 'meta'.")] = None,
    license: Annotated[
        str | None,
        typer.Option(help="License id (apache-2.0) or class (permissive, noncommercial)."),
    ] = None,
    open_weights: Annotated[
        bool, typer.Option("--open-weights", help="Only downloadable weights.")
    ] = False,
    max_params: Annotated[
        float | None, typer.Option(help="At most this many billion parameters.")
    ] = None,
    flavor: Annotated[
        str | None, typer.Option(help="base, instruct, chat, code, reasoning ...")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List catalog variants, filtered."""
    from knowledge.resolve import Resolver
    from knowledge.views import variant_json

    cat = _catalog()
    variants = sorted(cat.variants.values(), key=lambda v: (v.family_id, v.params_b or 0, v.id))
    if family:
        fam = Resolver(cat).resolve(family).family
        variants = [v for v in variants if v.family_id == fam.id]
    if provider:
        wanted = _provider_id(cat, provider)
        variants = [v for v in variants if v.provider_id == wanted]
    if license:
        key = license.lower()
        if key not in cat.licenses and key not in {x.kind for x in cat.licenses.values()}:
            raise CatalogError(
                f"Unknown license {license!r}. Use an id from `advisor licenses` or a class: "
                "permissive, copyleft, noncommercial, use-restricted, model-specific, proprietary."
            )
        variants = [
            v for v in variants if v.license_id == key or cat.licenses[v.license_id].kind == key
        ]
    if open_weights:
        variants = [v for v in variants if v.availability == "open-weights"]
    if max_params is not None:
        variants = [v for v in variants if v.params_b is not None and v.params_b <= max_params]
    if flavor:
        variants = [v for v in variants if v.flavor == flavor.lower()]
    if as_json:
        print_json([variant_json(v, cat) for v in variants])
        return
    table = Table(title=f"{len(variants)} variants", title_justify="left")
    for col in ("id", "params", "ctx", "license", "flavor"):
        table.add_column(col, overflow="fold")
    for v in variants:
        table.add_row(
            v.id, fmt_params(v.params_b), fmt_context(v.context_length), v.license_id, v.flavor
        )
    out.print(table)


def _provider_id(cat: Catalog, text: str) -> str:
    key = text.strip().lower()
    for p in cat.providers.values():
        if key in {p.id, p.name.lower(), *(a.lower() for a in p.aliases)}:
            return p.id
    raise CatalogError(f"Unknown provider {text!r}. Known: {', '.join(sorted(cat.providers))}.")


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Any model name: id, alias, HF repo, Ollama tag.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a model family or variant with its facts and sources."""
    from knowledge.resolve import Resolver, resolution_notes
    from knowledge.views import variant_json

    cat = _catalog()
    res = Resolver(cat).resolve(name)
    variants = cat.family_variants(res.family.id) if res.match == "family" else res.variants
    notes = resolution_notes(res)
    if as_json:
        print_json(
            {
                "query": name,
                "match": res.match,
                "family": {
                    "id": res.family.id,
                    "name": res.family.name,
                    "provider": res.family.provider_id,
                    "description": res.family.description,
                },
                "default": res.variant.id,
                "notes": notes,
                "variants": [variant_json(v, cat, expand_license=True) for v in variants],
            }
        )
        return
    provider = cat.providers[res.family.provider_id]
    out.print(
        f"[bold]{res.family.name}[/bold] by {provider.name} ({provider.kind}, {provider.country})"
    )
    out.print(res.family.description)
    for note in notes:
        out.print(f"[yellow]{note}[/]")
    if res.match == "variant" and res.alternatives:
        others = ", ".join(v.id for v in res.alternatives)
        out.print(
            f"[yellow]{name!r} matches several variants; using {res.variant.id}. Also: {others}[/]"
        )
    table = Table(show_lines=False)
    for col in ("variant", "params", "ctx", "flavor", "license", "commercial", "released"):
        table.add_column(col, overflow="fold")
    for v in variants:
        lic = cat.licenses[v.license_id]
        table.add_row(
            v.id,
            fmt_params(v.params_b),
            fmt_context(v.context_length),
            v.flavor,
            lic.id,
            lic.commercial,
            v.release_date.isoformat(),
        )
    out.print(table)
    chosen = res.variant if res.match == "variant" else None
    if chosen is not None:
        _print_variant_detail(cat, chosen)


def _print_variant_detail(cat: Catalog, v: Any) -> None:
    arch = [
        ("architecture", v.architecture),
        ("layers", v.layers),
        ("heads", v.attention_heads),
        ("kv heads", v.kv_heads),
        ("head dim", v.head_dim),
        ("hidden", v.hidden_size),
        ("vocab", v.vocab_size),
        ("experts", v.experts),
        ("active experts", v.experts_active),
    ]
    facts = ", ".join(f"{k} {val}" for k, val in arch if val is not None)
    if facts:
        out.print(f"[bold]{v.id}[/]: {facts}")
    if v.ollama_tags:
        out.print(f"Ollama: {', '.join(v.ollama_tags)}")
    if v.hf_repo:
        out.print(f"Hugging Face: {v.hf_repo}")
    lic = cat.licenses[v.license_id]
    if lic.conditions:
        out.print(f"License conditions ({lic.name}): " + "; ".join(lic.conditions))
    for b in cat.benchmarks.get(v.id, []):
        setting = f" ({b.setting})" if b.setting else ""
        out.print(
            f"  {b.name}{setting}: {b.score:g}{b.unit}  [dim]{b.source_url} as of {b.as_of}[/]"
        )
    out.print("Sources:")
    for s in cat.sources_of("variant", v.id):
        scope = f" [{', '.join(s.fields)}]" if s.fields else ""
        out.print(f"  {s.url} (as of {s.as_of}){scope}", overflow="fold")


@app.command()
def licenses(as_json: JsonOpt = False) -> None:
    """List licenses with what they allow."""
    from knowledge.views import license_json

    cat = _catalog()
    rows = sorted(cat.licenses.values(), key=lambda x: x.id)
    if as_json:
        print_json([license_json(x, cat) for x in rows])
        return
    table = Table(title=f"{len(rows)} licenses", title_justify="left")
    for col in ("id", "kind", "commercial", "terms"):
        table.add_column(col, overflow="fold")
    for x in rows:
        terms = [
            t
            for t, on in (
                ("share-alike", x.copyleft),
                ("NC", x.noncommercial),
                ("ND", x.no_derivatives),
                ("attribution", x.attribution),
            )
            if on
        ]
        if x.user_cap_mau:
            terms.append(f"<{x.user_cap_mau / 1e6:g}M MAU")
        if x.output_training_restriction:
            terms.append("outputs: no training others")
        table.add_row(x.id, x.kind, x.commercial, ", ".join(terms))
    out.print(table)


@app.command()
def gpus(as_json: JsonOpt = False) -> None:
    """List GPUs and Apple unified-memory machines with memory and bandwidth."""
    from knowledge.views import gpu_json

    cat = _catalog()
    rows = sorted(cat.gpus.values(), key=lambda g: (g.segment, g.vram_gib, g.id))
    if as_json:
        print_json([gpu_json(g, cat) for g in rows])
        return
    table = Table(title=f"{len(rows)} GPUs", title_justify="left")
    for col in ("id", "memory", "GB/s", "$/h", "segment"):
        table.add_column(col, overflow="fold")
    for g in rows:
        memory = f"{g.vram_gib:g} GiB" + (" unified" if g.unified_memory else "")
        price = f"{g.cloud_price_per_hour:.2f}" if g.cloud_price_per_hour else "-"
        table.add_row(g.id, memory, f"{g.bandwidth_gbs:g}", price, g.segment)
    out.print(table)


@catalog_app.command("load")
def catalog_load(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Curated data directory.", exists=True, file_okay=False),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate the curated files and upsert them into the database (all or nothing)."""
    from core.settings import load_settings
    from knowledge.curated import DATA_DIR
    from knowledge.db import make_engine
    from knowledge.store import load_curated

    settings = load_settings()
    report = load_curated(make_engine(settings.db_url), directory or DATA_DIR)
    if as_json:
        print_json({k: vars(c) for k, c in report.kinds.items()})
        return
    parts = [
        f"{k} {c.total}"
        + (f" (+{c.added} ~{c.updated} -{c.removed})" if c.added or c.updated or c.removed else "")
        for k, c in report.kinds.items()
    ]
    out.print("Catalog loaded: " + ", ".join(parts))


@catalog_app.command("check")
def catalog_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Data directory to check (default: the shipped data).")
    ] = None,
) -> None:
    """Validate curated files without loading them; exit 1 listing every problem."""
    from knowledge.curated import DATA_DIR, read_curated

    data = read_curated(directory or DATA_DIR)
    out.print(
        f"OK: {len(data.files)} files, {len(data.providers)} providers, "
        f"{len(data.licenses)} licenses, {len(data.gpus)} GPUs, "
        f"{len(data.families)} families, {len(data.variants)} variants, "
        f"{len(data.offerings)} prices."
    )


@app.command()
def config(as_json: JsonOpt = False) -> None:
    """Print the effective settings (secrets masked)."""
    from core.settings import load_settings

    view = load_settings().public_view()
    if as_json:
        print_json(view)
        return
    table = Table(title="Settings (ADVISOR_* env vars and .env)", title_justify="left")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    for key, value in view.items():
        table.add_row(key, "-" if value is None else str(value))
    out.print(table)


def main() -> None:
    """Console entry point: run the app, turning errors into messages and exit codes."""

    def data_dir() -> Path:
        from core.settings import load_settings

        return load_settings().data_dir

    setup_logging(data_dir)
    try:
        app()
    except ConfigError as exc:  # configuration and data-directory problems: exit 2
        err.print(exc.user_message, style="red", markup=False, highlight=False)
        raise SystemExit(2) from None
    except AdvisorError as exc:
        err.print(exc.user_message, style="red", markup=False, highlight=False)
        raise SystemExit(1) from None
    except Exception as exc:  # noqa: BLE001 - last line of defence for users
        from bot.cli_checks import database_hint

        hint = database_hint(exc)
        if hint:  # a damaged or missing database: say how to repair it
            err.print(hint, style="red", markup=False, highlight=False)
            raise SystemExit(2) from None
        incident = report_incident(exc)
        err.print(
            f"[red]Something went wrong (incident {incident}). The details are in the log.[/red]"
        )
        raise SystemExit(2) from None
