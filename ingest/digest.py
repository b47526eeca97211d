"""The weekly release digest: what appeared in a window, for one team's hardware.

Design:

* **What counts as a release.** A synced model first seen in the window whose release
  date is not older than one extra window. The release date is the source's own date
  (Hub ``createdAt``), else the curated catalog's release date of the linked variant,
  else the day we first saw it. So the very first sync does not announce years of
  history, yet a release missed by a week of failed syncs still comes through.
* **New means first seen after the first sync.** A source's first sync learns what already
  exists; its rows are announced only when the source itself dates them in the window.
  Models that are not language models (embedding, speech, rerankers) are never listed,
  whichever source reported them.
* **One entry per release.** Rows are joined when they share a release key (the name
  without org, size, flavor or quant suffix: ``Qwen/Qwen3-8B`` and ``qwen3:32b`` are both
  ``qwen3``) or link to the same catalog family; a union-find over those keys merges the
  Hub repos, Ollama tags and feed announcements of one release. Quants and fine-tunes
  stored as folded are listed under their base, not as entries.
* **Curated facts win.** When a row links to a catalog variant, the catalog's license,
  parameters and context are used; synced values fill the gaps only.
* **Fit.** With a team profile (GPU and count, or VRAM), each variant's memory is
  estimated with ``rules.memory.best_fit``; the entry reports the largest variant that
  fits and at what precision, and its Ollama tag becomes the ready ``/trial`` command.
  Cloud-only Ollama tags are never offered.
* **Summary.** A deterministic paragraph; ``bot/digest.py`` renders the digest and may
  have a language model rewrite that paragraph.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from os.path import commonprefix
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from ingest.linking import CatalogLinks
from knowledge.catalog import Catalog
from knowledge.resolve import resolve_gpu
from knowledge.synced import FeedEntry, SyncedModel, aware, utcnow
from rules.memory import Hardware, Shape, best_fit

OLLAMA_LIBRARY = "https://ollama.com/library"
TRIAL_PROMPT = "Summarize the trade-offs between RAG and fine-tuning in three bullet points."
_WORDS = {"yes": "yes", "no": "no", "conditional": "conditional"}


@dataclass(frozen=True)
class DigestVariant:
    """One size or flavor of a release, with its fit on the team's hardware."""

    name: str
    url: str
    params_b: float | None
    fit: str | None  # precision that fits, "no", or None without a profile/size
    ollama_tag: str | None


@dataclass(frozen=True)
class DigestEntry:
    """One release, however many sources reported it."""

    provider: str
    name: str
    url: str
    released: date
    variants: tuple[DigestVariant, ...]
    license: str  # "commercial use: yes / no / conditional (reason)" or unknown
    context_length: int | None
    fits: str  # summary cell for the table
    ollama_tags: tuple[str, ...]
    cloud_only_tags: tuple[str, ...]
    trial: str | None
    benchmarks: tuple[tuple[str, str], ...]  # (figure, source url)
    folded: tuple[str, ...]
    announcements: tuple[tuple[str, str], ...]  # (title, link)


@dataclass(frozen=True)
class Digest:
    """The releases of one window, grouped by provider, with the week's summary."""

    start: datetime
    end: datetime
    entries: tuple[DigestEntry, ...]
    summary: str
    profile: str

    def by_provider(self) -> dict[str, list[DigestEntry]]:
        """Entries grouped by provider name, providers alphabetically."""
        groups: dict[str, list[DigestEntry]] = defaultdict(list)
        for entry in self.entries:
            groups[entry.provider].append(entry)
        return dict(sorted(groups.items()))


class _Groups:
    """Union-find over release keys: rows sharing any key are one release."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, keys: Iterable[str]) -> str:
        roots = [self.find(k) for k in keys]
        for other in roots[1:]:
            self.parent[other] = roots[0]
        return roots[0]


def mentions_key(text: str, key: str) -> bool:
    """Whether ``text`` names the release ``key`` in any spelling ("Ministral 4" ~ ministral4).

    The match must end at a word boundary that is not a version continuation, so a post
    about "Qwen3.5" does not count as one about "Qwen3".
    """
    if len(key) < 4:
        return False
    spaced = r"[\s\-_:/]*".join(re.escape(ch) for ch in key)
    return re.search(rf"(?<![a-z0-9.]){spaced}(?![a-z0-9]|\.\d)", text) is not None


def license_words(catalog: Catalog, license_id: str | None, raw: str | None) -> str:
    """The license as a person reads it: commercial yes / no / conditional (why)."""
    lic = catalog.licenses.get(license_id or "")
    if lic is None and raw:
        return f"commercial use: unknown (license {raw!r} is not in the catalog; read it first)"
    if lic is None:
        return "commercial use: unknown (no license stated; check the model page)"
    words = f"commercial use: {_WORDS.get(lic.commercial, lic.commercial)}"
    if lic.commercial == "conditional":
        reason = lic.conditions[0] if lic.conditions else lic.name
        words += f" ({lic.name}: {reason})"
    elif lic.commercial == "no":
        words += f" ({lic.name})"
    return words


def hardware_of(catalog: Catalog, profile: dict[str, Any] | None) -> Hardware | None:
    """The team's machine from its profile (catalog GPU x count, or bare VRAM)."""
    if not profile:
        return None
    count = int(profile.get("gpu_count") or 1)
    if profile.get("gpu"):
        return Hardware.from_gpu(resolve_gpu(catalog, str(profile["gpu"])), count)
    if profile.get("vram_gib"):
        return Hardware.from_vram(float(profile["vram_gib"]), count)
    return None


def _shape(catalog: Catalog, row: SyncedModel) -> Shape | None:
    """Curated shape when linked, else one built from the synced config numbers."""
    if row.variant_id in catalog.variants:
        return Shape.of(catalog.variants[row.variant_id])
    if row.params_b is None:
        return None
    heads = row.attention_heads
    head_dim = row.head_dim or (row.hidden_size // heads if row.hidden_size and heads else None)
    return Shape(
        params_b=row.params_b,
        active_params_b=row.active_params_b or row.params_b,
        layers=row.layers,
        attention_heads=heads,
        kv_heads=row.kv_heads or heads,
        head_dim=head_dim,
        hidden_size=row.hidden_size,
        vocab_size=row.vocab_size,
        kv_width=None,
        attention_layers=None,
        sliding_window=None,
        max_context=row.context_length,
    )


def _released(catalog: Catalog, rows: list[SyncedModel]) -> date:
    dated = [r.created_at for r in rows if r.created_at is not None]
    if dated:
        return min(aware(d) for d in dated).date()
    curated = [catalog.variants[r.variant_id].release_date for r in rows if r.variant_id]
    return min(curated) if curated else min(aware(r.first_seen) for r in rows).date()


def _title(catalog: Catalog, links: CatalogLinks, rows: list[SyncedModel]) -> str:
    families = {links.family_of(r.variant_id) for r in rows} - {None}
    if len(families) == 1:
        return catalog.families[str(families.pop())].name
    names = sorted(r.name for r in rows if r.source == "hf") or sorted(
        {r.name.split(":")[0] for r in rows}
    )
    prefix = commonprefix(names).rstrip("-_. :")
    return prefix if len(prefix) >= 3 else names[0]


def params_text(v: DigestVariant) -> str:
    return f"{v.params_b:g}B" if v.params_b else "?"


def _variants(
    catalog: Catalog, rows: list[SyncedModel], runnable: list[SyncedModel], hw: Hardware | None
) -> list[DigestVariant]:
    """Each size of the release with its best in-VRAM precision on ``hw`` and Ollama tag."""
    variants = []
    for row in rows:
        shape = _shape(catalog, row)
        fit = None
        if hw is not None and shape is not None and not row.cloud_only:
            option = best_fit(shape, hw)
            fit = option.precision if option is not None and not option.offload else "no"
        curated = catalog.variants[row.variant_id].params_b if row.variant_id else None
        tag = _tag_for(row, runnable, catalog)
        variants.append(DigestVariant(row.name, row.url, curated or row.params_b, fit, tag))
    return variants


def _fits_cell(variants: list[DigestVariant], hw: Hardware | None, cloud_only: bool) -> str:
    """The table cell: the largest variant that fits and at what precision."""
    fitting = [v for v in variants if v.fit not in (None, "no")]
    if hw is None:
        return "no profile"
    if fitting:
        best = max(fitting, key=lambda v: v.params_b or 0.0)
        return f"{params_text(best)} @ {best.fit}"
    if cloud_only:
        return "cloud only"
    return "no" if any(v.fit == "no" for v in variants) else "unknown size"


def _benchmarks(catalog: Catalog, rows: list[SyncedModel]) -> tuple[tuple[str, str], ...]:
    """Up to three curated benchmark figures of the linked variants, with their sources."""
    marks = []
    for vid in sorted({r.variant_id for r in rows if r.variant_id}):
        for b in catalog.benchmarks.get(vid, []):
            setting = b.setting or catalog.variants[vid].name
            marks.append((f"{b.name} {b.score:g}{b.unit} ({setting})", b.source_url))
    return tuple(marks[:3])


def _entry(
    catalog: Catalog,
    links: CatalogLinks,
    rows: list[SyncedModel],
    feeds: list[FeedEntry],
    hw: Hardware | None,
) -> DigestEntry:
    """One release from its rows: Hub repos describe it, Ollama tags make it runnable."""
    hf = sorted((r for r in rows if r.source == "hf" and not r.folded), key=_size)
    ollama = sorted((r for r in rows if r.source == "ollama"), key=_size)
    runnable = [r for r in ollama if not r.cloud_only]
    tags = [r.external_id for r in runnable]
    for r in hf:
        if r.variant_id:
            tags += catalog.variants[r.variant_id].ollama_tags
    main = hf or ollama
    variants = _variants(catalog, main, runnable, hw)
    cloud_only = not hf and not runnable
    license_id = _most_common(
        [catalog.variants[r.variant_id].license_id if r.variant_id else r.license_id for r in main]
    )
    contexts = [
        (catalog.variants[r.variant_id].context_length if r.variant_id else None)
        or r.context_length
        for r in main
    ]
    fitting = [v.ollama_tag for v in variants if v.fit not in (None, "no") and v.ollama_tag]
    trial_tag = fitting[-1] if fitting else (tags[0] if hw is None and tags else None)
    provider_id = next((r.provider for r in hf + ollama if r.provider), None)
    provider = catalog.providers[provider_id].name if provider_id in catalog.providers else None
    return DigestEntry(
        provider=provider or provider_id or "Other",
        name=_title(catalog, links, main),
        url=main[0].url if hf else f"{OLLAMA_LIBRARY}/{main[0].name.split(':')[0]}",
        released=_released(catalog, rows),
        variants=tuple(variants),
        license=license_words(catalog, license_id, _most_common([r.license_raw for r in main])),
        context_length=max((c for c in contexts if c), default=None),
        fits=_fits_cell(variants, hw, cloud_only),
        ollama_tags=tuple(dict.fromkeys(tags)),
        cloud_only_tags=tuple(r.external_id for r in ollama if r.cloud_only),
        trial=f'/trial {trial_tag} "{TRIAL_PROMPT}"' if trial_tag else None,
        benchmarks=_benchmarks(catalog, rows),
        folded=tuple(sorted(r.name for r in rows if r.folded)),
        announcements=tuple((f.title, f.link) for f in feeds),
    )


def _size(row: SyncedModel) -> tuple[float, str]:
    return (row.params_b or 0.0, row.name)


def _most_common(values: list[str | None]) -> str | None:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None


def _tag_for(row: SyncedModel, runnable: list[SyncedModel], catalog: Catalog) -> str | None:
    """The runnable Ollama tag of the same size (or the same catalog variant)."""
    if row.source == "ollama":
        return row.external_id if not row.cloud_only else None
    for tag in runnable:
        if row.variant_id and tag.variant_id == row.variant_id:
            return tag.external_id
        if row.params_b and tag.params_b and abs(tag.params_b - row.params_b) <= row.params_b / 10:
            return tag.external_id
    if row.variant_id:
        return next(iter(catalog.variants[row.variant_id].ollama_tags), None)
    return None


_NOT_LLM_WORDS = re.compile(r"embed|whisper|\btts\b|speech|rerank|\bclip\b|minilm|\bbge\b", re.I)
_NOT_LLM_TAGS = {
    "embedding",
    "embeddings",
    "sentence-similarity",
    "feature-extraction",
    "automatic-speech-recognition",
    "text-to-speech",
    "text-to-audio",
}


def is_not_llm(row: SyncedModel) -> bool:
    """An embedding, speech or reranking model: not a release the digest announces."""
    labels = {t.lower() for t in row.capabilities}  # Hub tags name every modality: not used
    return bool(labels & _NOT_LLM_TAGS) or bool(_NOT_LLM_WORDS.search(row.name))


def _dated_in(row: SyncedModel, start: datetime) -> bool:
    created = aware(row.created_at)
    return created is not None and created >= start


def collect_digest(
    engine: Engine,
    catalog: Catalog,
    days: int = 7,
    now: datetime | None = None,
    profile: dict[str, Any] | None = None,
) -> Digest:
    """The releases first seen in the last ``days`` days, one entry per release."""
    end = aware(now) or utcnow()
    start = end - timedelta(days=days)
    oldest = start - timedelta(days=days)
    links = CatalogLinks(catalog)
    with Session(engine) as session:
        rows = list(session.exec(select(SyncedModel).where(SyncedModel.first_seen >= start)))
        feeds = list(session.exec(select(FeedEntry).where(FeedEntry.first_seen >= start)))
    with Session(engine) as session:
        first_sync = dict(
            session.exec(
                select(SyncedModel.source, func.min(SyncedModel.first_seen)).group_by(
                    SyncedModel.source
                )
            ).all()
        )
    rows = [
        r
        for r in rows
        if aware(r.first_seen) <= end
        and not is_not_llm(r)
        and (aware(r.first_seen) != aware(first_sync.get(r.source)) or _dated_in(r, start))
    ]
    groups = _Groups()
    for row in rows:
        family = links.family_of(row.variant_id)
        groups.join([f"k:{row.digest_key}", *([f"f:{family}"] if family else [])])
    members: dict[str, list[SyncedModel]] = defaultdict(list)
    for row in rows:
        members[groups.find(f"k:{row.digest_key}")].append(row)
    mentions: dict[str, list[FeedEntry]] = defaultdict(list)
    for entry in feeds:
        keys = {f"f:{f}" for f in entry.family_ids}
        keys |= {f"f:{links.family_of(v)}" for v in entry.variant_ids if links.family_of(v)}
        text = f"{entry.title} {entry.summary}".lower()
        keys |= {f"k:{r.digest_key}" for r in rows if mentions_key(text, r.digest_key)}
        for root in {groups.find(k) for k in keys if k in groups.parent}:
            mentions[root].append(entry)
    hw = hardware_of(catalog, profile)
    entries = [
        _entry(catalog, links, group, mentions[root], hw)
        for root, group in members.items()
        if any(not r.folded for r in group)
    ]
    entries = [e for e in entries if e.released >= oldest.date()]
    entries.sort(key=lambda e: (e.provider, -e.released.toordinal(), e.name))
    profile_text = f"{hw.count}x {hw.name}" if hw is not None else ""
    digest = Digest(start, end, tuple(entries), "", profile_text)
    return Digest(start, end, tuple(entries), deterministic_summary(digest), profile_text)


def deterministic_summary(digest: Digest) -> str:
    """A one-paragraph summary of the window written without a language model."""
    days = (digest.end - digest.start).days
    if not digest.entries:
        return f"No new model releases were first seen in the last {days} days."
    groups = digest.by_provider()
    parts = [
        f"{len(digest.entries)} new release(s) in the last {days} days from "
        f"{len(groups)} provider(s): {', '.join(groups)}."
    ]

    def size(entry: DigestEntry) -> float:
        return max((v.params_b or 0.0 for v in entry.variants), default=0.0)

    largest = max(digest.entries, key=size)
    if size(largest):
        parts.append(f"The largest is {largest.name} ({size(largest):g}B).")
    free = [e.name for e in digest.entries if e.license.startswith("commercial use: yes")]
    parts.append(
        f"Usable commercially without conditions: {', '.join(free)}."
        if free
        else "None is licensed for unconditional commercial use."
    )
    if digest.profile:
        fitting = [f"{e.name} ({e.fits})" for e in digest.entries if "@" in e.fits]
        parts.append(
            f"On {digest.profile}: {', '.join(fitting)} fit."
            if fitting
            else f"None fits {digest.profile} at a quality precision."
        )
    return " ".join(parts)
