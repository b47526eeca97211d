"""Stable JSON shapes for catalog entities, shared by the CLI and every adapter.

Field names here are a public contract (``--json`` output, chat payloads): add fields
freely, never rename or remove one.
"""

from __future__ import annotations

from typing import Any

from knowledge.catalog import Catalog, Gpu, License, Source, Variant
from knowledge.synced_view import origin_label


def source_json(source: Source) -> dict[str, Any]:
    """One citation."""
    return {
        "url": source.url,
        "as_of": source.as_of.isoformat(),
        "fields": source.fields,
        "note": source.note,
    }


def license_brief(lic: License) -> dict[str, Any]:
    """What a user needs first about a license: may we use it commercially, and on what terms."""
    return {
        "id": lic.id,
        "name": lic.name,
        "kind": lic.kind,
        "commercial": lic.commercial,
        "conditions": lic.conditions,
    }


def license_json(lic: License, catalog: Catalog) -> dict[str, Any]:
    """A license with every decoded term and its sources."""
    return {
        **license_brief(lic),
        "spdx": lic.spdx,
        "url": lic.url,
        "copyleft": lic.copyleft,
        "noncommercial": lic.noncommercial,
        "no_derivatives": lic.no_derivatives,
        "attribution": lic.attribution,
        "use_restrictions": lic.use_restrictions,
        "user_cap_mau": lic.user_cap_mau,
        "output_training_restriction": lic.output_training_restriction,
        "naming_duty": lic.naming_duty,
        "regional_exclusions": lic.regional_exclusions,
        "sources": [source_json(s) for s in catalog.sources_of("license", lic.id)],
    }


def gpu_json(gpu: Gpu, catalog: Catalog) -> dict[str, Any]:
    """A GPU with its memory, bandwidth, price and sources."""
    return {
        "id": gpu.id,
        "name": gpu.name,
        "vendor": gpu.vendor,
        "segment": gpu.segment,
        "vram_gib": gpu.vram_gib,
        "bandwidth_gbs": gpu.bandwidth_gbs,
        "unified_memory": gpu.unified_memory,
        "aliases": gpu.aliases,
        "cloud_price_per_hour": gpu.cloud_price_per_hour,
        "sources": [source_json(s) for s in catalog.sources_of("gpu", gpu.id)],
    }


def variant_json(v: Variant, catalog: Catalog, *, expand_license: bool = False) -> dict[str, Any]:
    """A variant with its facts, benchmarks, prices and sources."""
    lic = catalog.licenses[v.license_id]
    return {
        "id": v.id,
        "name": v.name,
        "origin": origin_label(v),
        "family": v.family_id,
        "provider": v.provider_id,
        "params_b": v.params_b,
        "active_params_b": v.active_params_b,
        "context_length": v.context_length,
        "license": license_brief(lic) if expand_license else v.license_id,
        "availability": v.availability,
        "flavor": v.flavor,
        "release_date": v.release_date.isoformat(),
        "hf_repo": v.hf_repo,
        "ollama_tags": v.ollama_tags,
        "architecture": {
            "kind": v.architecture,
            "layers": v.layers,
            "attention_heads": v.attention_heads,
            "kv_heads": v.kv_heads,
            "head_dim": v.head_dim,
            "hidden_size": v.hidden_size,
            "intermediate_size": v.intermediate_size,
            "vocab_size": v.vocab_size,
            "experts": v.experts,
            "experts_active": v.experts_active,
            "sliding_window": v.sliding_window,
            "attention_layers": v.attention_layers,
            "kv_width": v.kv_width,
            "native_precision": v.native_precision or "bf16",
        },
        "modalities": v.modalities,
        "languages": v.languages,
        "capabilities": v.capabilities,
        "aliases": v.aliases,
        "base_model": v.base_model,
        "benchmarks": [
            {
                "name": b.name,
                "score": b.score,
                "unit": b.unit,
                "setting": b.setting,
                "source": b.source_url,
                "as_of": b.as_of.isoformat(),
            }
            for b in catalog.benchmarks.get(v.id, [])
        ],
        "prices": [
            {
                "seller": o.seller_id,
                "input_per_m": o.input_per_m,
                "output_per_m": o.output_per_m,
                "cached_input_per_m": o.cached_input_per_m,
                "source": o.source_url,
                "as_of": o.as_of.isoformat(),
            }
            for o in catalog.offerings.get(v.id, [])
        ],
        "notes": v.notes,
        "sources": [source_json(s) for s in catalog.sources_of("variant", v.id)],
    }
