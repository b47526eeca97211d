"""Synced models as catalog entries: found by the Hub or Ollama sync, not reviewed.

A synced row that links to a curated variant (``variant_id`` set) adds nothing here: the
curated facts win. Every other row that is a runnable text model becomes an in-memory
:class:`~knowledge.catalog.Variant` with ``origin="synced"``, so show, fit, compare,
why-not and recommendations treat it like any other model. Nothing is written back.

Rows are turned into variants in three steps:

* **Filter.** Folded rows (quants, adapters, merges under their base), Ollama cloud-only
  tags, embedding / speech / image models and re-uploads whose quant-stripped name is
  already a variant are left out.
* **Merge.** An Ollama tag of the same release and size as a synced Hub repo becomes one of
  that variant's ``ollama_tags``; otherwise it is a variant of its own.
* **Map.** The card's license maps to a catalog license when the sync could; otherwise the
  variant gets :data:`UNKNOWN_LICENSE`, whose commercial terms are unknown (the rules then
  answer "unknown", never "ok"). Providers and families the catalog lacks are made up in
  memory (an org's own provider, one family per release).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from knowledge.catalog import SYNCED, Family, License, Provider, Source, Variant

if TYPE_CHECKING:  # only read here; the table module pulls in the ORM
    from knowledge.synced import SyncedModel

UNKNOWN_LICENSE = "unknown"
UNKNOWN_PROVIDER = "unknown"
#: What every answer says about a synced model.
MARK = "synced from the Hub, not reviewed"
_SOURCES = {"hf": "the Hugging Face Hub", "ollama": "the Ollama library"}
_NOT_TEXT = re.compile(
    r"embed|rerank|whisper|wav2vec|\btts\b|speech|text-to-image|text-to-audio|"
    r"sentence-similarity|feature-extraction|diffusion",
    re.IGNORECASE,
)
_QUANT = re.compile(
    r"[-_.](gguf|awq|gptq|fp8|fp4|nvfp4|mxfp4|int4|int8|w4a16|w8a8|w8a16|exl2|mlx|bnb|"
    r"4bit|8bit|onnx|ov|openvino)([-_.].*)?$",
    re.IGNORECASE,
)
_ACTIVE = re.compile(r"(?<![a-z0-9])a(\d+(?:\.\d+)?)b(?![a-z0-9])", re.IGNORECASE)
_BASE_WORDS = re.compile(r"(?<![a-z0-9])(base|pt|pretrain)(?![a-z0-9])", re.IGNORECASE)
_CHAT_WORDS = re.compile(r"(?<![a-z0-9])(instruct|chat|it)(?![a-z0-9])", re.IGNORECASE)
_THINK_WORDS = re.compile(r"(?<![a-z0-9])(thinking|reasoning|qwq|r1)(?![a-z0-9])", re.IGNORECASE)
_CAPABILITIES = {"tools": "tool-use", "vision": "vision", "thinking": "reasoning"}


def origin_label(v: Variant) -> str:
    """How answers describe where a variant's facts come from."""
    return MARK if v.origin == SYNCED else "curated"


def slug(name: str) -> str:
    """``Qwen/Qwen3.5-9B`` -> ``qwen-qwen3.5-9b``: a catalog-style id for a synced name."""
    return re.sub(r"[^a-z0-9.+]+", "-", name.lower()).strip("-.")[:80]


@dataclass
class SyncedEntries:
    """The in-memory catalog entries made from synced rows."""

    providers: dict[str, Provider] = field(default_factory=dict)
    licenses: dict[str, License] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    variants: dict[str, Variant] = field(default_factory=dict)
    sources: dict[tuple[str, str], list[Source]] = field(default_factory=dict)


def build(
    rows: Iterable[SyncedModel],
    providers: dict[str, Provider],
    licenses: dict[str, License],
    variants: dict[str, Variant],
) -> SyncedEntries:
    """Turn unlinked synced rows (Hub rows first) into variants; curated always wins.

    Linked rows count too: an Ollama tag of a release whose Hub repo is curated is a copy
    of the curated model, not a new one.
    """
    out = SyncedEntries()
    taken = {_key(v.hf_repo.split("/")[-1]) for v in variants.values() if v.hf_repo}
    taken |= {_key(v.name) for v in variants.values()} | {_key(v.id) for v in variants.values()}
    rows = list(rows)
    curated = {(r.digest_key, _size(r.params_b)) for r in rows if r.variant_id}
    by_release: dict[tuple[str, float | None], Variant] = {}
    for row in rows:
        release = (row.digest_key, _size(row.params_b))
        if row.variant_id or release in curated or not _wanted(row):
            continue
        if row.source == "ollama" and release in by_release:
            merged = by_release[release]
            merged.ollama_tags = [*merged.ollama_tags, *row.ollama_tags]
            merged.aliases = [*merged.aliases, row.external_id]
            continue
        ident = slug(row.external_id)
        if ident in variants or ident in out.variants or _key(_stripped(row)) in taken:
            continue  # a curated id, or a re-upload of a model already listed
        variant = _variant(row, ident, _provider(row, providers, out), _license(row, licenses, out))
        variant.family_id = _family(row, variant, out).id
        out.variants[ident] = variant
        out.sources[("variant", ident)] = [_source(row, ident)]
        taken.add(_key(_stripped(row)))
        by_release.setdefault(release, variant)
    return out


def _wanted(row: SyncedModel) -> bool:
    """A runnable text-generation model (not cloud-only, not embedding or speech)."""
    if row.cloud_only and not row.ollama_tags:
        return False
    words = " ".join([row.external_id, *row.tags, *row.capabilities])
    return not _NOT_TEXT.search(words)


def _key(name: str) -> str:
    return re.sub(r"[\s\-_/:.]+", "", name.lower())


def strip_quant(name: str) -> str:
    """``Qwen3-8B-AWQ`` -> ``Qwen3-8B``: the name a quantized upload was made from."""
    return _QUANT.sub("", name)


def _stripped(row: SyncedModel) -> str:
    """The name a re-upload would share with its original."""
    return strip_quant(row.external_id.split("/")[-1]) if row.source == "hf" else row.external_id


def _size(params_b: float | None) -> float | None:
    return None if params_b is None else round(params_b)


def _variant(row: SyncedModel, ident: str, provider: str, license_id: str) -> Variant:
    name = row.name if row.source == "ollama" else row.external_id.split("/")[-1]
    active = _ACTIVE.search(name)
    origin = _SOURCES.get(row.source, row.source)
    moe = row.architecture == "moe" or row.experts is not None or active is not None
    return Variant(
        id=ident,
        name=name,
        family_id="",
        provider_id=provider,
        release_date=(row.created_at or row.first_seen).date(),
        availability="open-weights",
        flavor=_flavor(row),
        architecture="moe" if moe else ("decoder-only" if row.architecture else None),
        params_b=row.params_b,
        active_params_b=row.active_params_b or (float(active.group(1)) if active else None),
        layers=row.layers,
        attention_heads=row.attention_heads,
        kv_heads=row.kv_heads,
        head_dim=row.head_dim,
        hidden_size=row.hidden_size,
        experts=row.experts,
        experts_active=row.experts_active,
        vocab_size=row.vocab_size,
        context_length=row.context_length,
        modalities=["text"],
        capabilities=sorted({_CAPABILITIES[c] for c in row.capabilities if c in _CAPABILITIES}),
        license_id=license_id,
        hf_repo=row.external_id if row.source == "hf" else None,
        ollama_tags=list(row.ollama_tags),
        aliases=[],
        base_model=row.base_model,
        notes=f"Synced from {origin} ({row.url}), not reviewed: facts as the source states them.",
        origin=SYNCED,
    )


def _flavor(row: SyncedModel) -> str:
    name = row.external_id.split("/")[-1]
    if _THINK_WORDS.search(name):
        return "reasoning"
    if _CHAT_WORDS.search(name) or row.source == "ollama" or "conversational" in row.tags:
        return "instruct"
    return "base" if _BASE_WORDS.search(name) or row.source == "hf" else "instruct"


def _provider(row: SyncedModel, providers: dict[str, Provider], out: SyncedEntries) -> str:
    """The catalog provider, else one made from the org (or "unknown" for Ollama rows)."""
    if row.provider and row.provider in providers:
        return row.provider
    org = row.provider or (row.external_id.split("/")[0] if row.source == "hf" else None)
    ident = slug(org) if org else UNKNOWN_PROVIDER
    if ident in providers:
        return ident
    if ident not in out.providers:
        out.providers[ident] = Provider(
            id=ident,
            name=org or "unknown (community upload)",
            kind="community",
            country="unknown",
            url=f"https://huggingface.co/{org}" if org else row.url,
            origin=SYNCED,
        )
    return ident


def _license(row: SyncedModel, licenses: dict[str, License], out: SyncedEntries) -> str:
    """The mapped catalog license, else the in-memory "unknown" one (never "allowed")."""
    if row.license_id and row.license_id in licenses and not row.license_flag:
        return row.license_id
    if UNKNOWN_LICENSE not in licenses and UNKNOWN_LICENSE not in out.licenses:
        out.licenses[UNKNOWN_LICENSE] = License(
            id=UNKNOWN_LICENSE,
            name="unknown license",
            kind="unknown",
            url="",
            commercial="unknown",
            conditions=["read the model card's license before any use"],
            origin=SYNCED,
        )
    return UNKNOWN_LICENSE


def _family(row: SyncedModel, variant: Variant, out: SyncedEntries) -> Family:
    """One family per synced release, named so it never shadows a curated family name."""
    ident = f"synced-{slug(row.digest_key) or variant.id}"
    if ident not in out.families:
        origin = _SOURCES.get(row.source, row.source)
        out.families[ident] = Family(
            id=ident,
            name=f"{variant.name} (synced)",
            provider_id=variant.provider_id,
            description=(
                f"Synced from {origin}, not reviewed: facts are as {origin} states them "
                "and the license is as read from the model card."
            ),
            aliases=[],
            preferred=[],
            origin=SYNCED,
        )
    return out.families[ident]


def _source(row: SyncedModel, ident: str) -> Source:
    return Source(
        entity_kind="variant",
        entity_id=ident,
        url=row.url,
        as_of=(row.last_seen or row.first_seen).date(),
        note=MARK,
        origin=SYNCED,
    )
