"""New text-generation models from the Hugging Face Hub, as synced facts.

Design:

* **Noise control.** Only an allowlist of organisations (the major labs) is listed, newest
  first (``sort="created_at"``), with a popularity floor (likes or downloads) and an
  optional parameter range. Quants (``baseModels`` relation "quantized", or names such as
  ``-GGUF``/``-AWQ``/``-FP8``), adapters, merges and fine-tunes are stored *folded* under
  their base, so the digest shows one entry per release; a lab's own post-trained release
  (instruct/chat/-it naming, or tuned from its ``-Base``/``-pt`` checkpoint) stays an entry.
* **Mapping.** Parameters come from the safetensors total; the license from
  ``cardData.license`` or a ``license:<id>`` tag, with ``other`` + ``license_name``
  mapped through :data:`LICENSE_ALIASES`; anything unmapped is stored with
  ``license_flag="unknown"`` and reported, never guessed. Context and architecture numbers
  come from ``config.json`` only (one small file per model; gated repos are skipped).
* **Incremental and resumable.** :class:`~knowledge.synced.SyncState` keeps a cursor per org;
  a sync lists each org until it passes ``cursor - lookback`` (the lookback lets a model
  that gained likes after its first day still come in). Orgs are fetched first, then
  written in one transaction with their new cursors. When an org fails, the orgs fetched
  before it are written, it and the rest keep their old cursors and rows, and the next run
  resumes there.
* **Rate limits.** A 429 is retried after ``Retry-After`` (or an exponential backoff),
  a few times, then reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
)
from huggingface_hub.hf_api import ExpandModelProperty_T
from sqlalchemy import Engine

from ingest.linking import CatalogLinks, release_key, strip_quant
from knowledge.catalog import Catalog
from knowledge.db import session_scope
from knowledge.synced import (
    SyncedModel,
    SyncError,
    SyncReport,
    aware,
    load_state,
    record_failure,
    upsert,
    utcnow,
)

SOURCE = "hf"
DEFAULT_ORGS: tuple[str, ...] = (
    "meta-llama", "mistralai", "Qwen", "google", "microsoft", "deepseek-ai", "allenai",
    "tiiuae", "ibm-granite", "nvidia", "CohereForAI", "CohereLabs", "ai21labs", "openai",
    "THUDM", "zai-org", "01-ai", "moonshotai",
)  # fmt: skip
EXPAND: list[ExpandModelProperty_T] = [
    "createdAt", "safetensors", "cardData", "tags", "gguf", "baseModels", "gated",
    "downloads", "likes",
]  # fmt: skip
#: Hub org names that differ from every alias of their catalog provider.
ORG_PROVIDERS = {
    "meta-llama": "meta",
    "ibm-granite": "ibm",
    "ai21labs": "ai21",
    "moonshotai": "moonshot",
}
#: ``license_name`` (for ``license: other``) and Hub license ids -> catalog license ids.
LICENSE_ALIASES = {
    "qwen": "qwen",
    "tongyi-qianwen": "qwen",
    "qwen-research": "qwen-research",
    "mrl": "mistral-mrl",
    "mistral-ai-research-licence": "mistral-mrl",
    "mistral-ai-research-license": "mistral-mrl",
    "mnpl": "mistral-mnpl",
    "mistral-ai-non-production-license": "mistral-mnpl",
    "deepseek": "deepseek",
    "deepseek-license": "deepseek",
    "yi-license": "yi",
    "glm-4": "glm-4",
    "jamba-open-model-license": "jamba-open-model",
    "falcon-llm-license": "tii-falcon-3.0",
    "tii-falcon-llm-license": "tii-falcon-3.0",
    "gemma-terms-of-use": "gemma",
    "llama-3.1-community-license": "llama3.1",
}
_INSTRUCT_WORDS = ("instruct", "chat", "-it", "thinking", "reasoning")
_FOLD_RELATIONS = ("quantized", "adapter", "merge")
_PRETRAINED = ("-base", "-pt", "-pretrain")


def map_license(
    catalog: Catalog, license_value: Any, license_name: Any, tags: Sequence[str]
) -> tuple[str | None, str | None, str | None]:
    """(catalog license id, raw value, flag): the flag is "unknown" when unmapped."""
    raw = license_value[0] if isinstance(license_value, list) and license_value else license_value
    if not raw:
        raw = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)
    if not raw:
        return None, None, "unknown"
    raw = str(raw).strip().lower()
    if raw == "other" and license_name:
        raw = str(license_name).strip().lower()
    candidate = LICENSE_ALIASES.get(raw, raw)
    if candidate in catalog.licenses:
        return candidate, raw, None
    return None, raw, "unknown"


def base_of(info: Any) -> tuple[str | None, str]:
    """(base repo id, relation) from ``baseModels``, the card, tags, or a quant name."""
    rel = getattr(info, "base_models", None)
    if isinstance(rel, dict) and rel.get("models"):
        first = rel["models"][0]
        base = first.get("id") if isinstance(first, dict) else str(first)
        return base, str(rel.get("relation") or "finetune")
    for tag in getattr(info, "tags", None) or []:
        parts = tag.split(":")
        if len(parts) == 3 and parts[0] == "base_model":
            return parts[2], parts[1]
    stripped = strip_quant(info.id)
    if stripped != info.id:
        return stripped, "quantized"
    return None, "base"


def _folded(repo: str, base: str | None, relation: str) -> bool:
    """Quants, adapters, merges and fine-tunes that are not the lab's own release fold."""
    if strip_quant(repo) != repo or relation in _FOLD_RELATIONS:
        return True
    if relation != "finetune" or base is None:
        return False
    same_org = base.split("/")[0].lower() == repo.split("/")[0].lower()
    name, base_name = repo.split("/")[-1].lower(), base.split("/")[-1].lower()
    official = any(w in name for w in _INSTRUCT_WORDS) or base_name.endswith(_PRETRAINED)
    return not (same_org and official)


def shape_from_config(config: dict[str, Any]) -> dict[str, Any]:
    """Context and architecture numbers from a transformers config.json."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else None
    cfg = {**config, **(text or {})}
    experts = cfg.get("num_local_experts") or cfg.get("num_experts") or cfg.get("n_routed_experts")
    heads = cfg.get("num_attention_heads")
    return {
        "context_length": cfg.get("max_position_embeddings"),
        "model_type": cfg.get("model_type"),
        "layers": cfg.get("num_hidden_layers"),
        "attention_heads": heads,
        "kv_heads": cfg.get("num_key_value_heads") or heads,
        "head_dim": cfg.get("head_dim"),
        "hidden_size": cfg.get("hidden_size"),
        "vocab_size": cfg.get("vocab_size"),
        "experts": experts,
        "experts_active": cfg.get("num_experts_per_tok") if experts else None,
        "architecture": "moe" if experts else "dense",
    }


class _Fetcher:
    """The Hub calls of one sync, with 429 handling and our own exceptions."""

    def __init__(
        self,
        api: HfApi,
        cache_dir: Path | None,
        sleep: Callable[[float], None],
        max_retries: int,
    ) -> None:
        self.api, self.cache_dir, self.sleep, self.max_retries = api, cache_dir, sleep, max_retries

    def _retrying(self, what: str, call: Callable[[], Any]) -> Any:
        delay, attempt = 1.0, 0
        while True:
            try:
                return call()
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status != 429 or attempt >= self.max_retries:
                    raise SyncError(
                        f"The Hugging Face Hub refused {what} (HTTP {status}); "
                        "stored data is unchanged. Try `advisor sync hf` later.",
                        str(exc),
                    ) from exc
                after = exc.response.headers.get("Retry-After", "") if exc.response else ""
                self.sleep(float(after) if after.strip().isdigit() else delay)
                delay, attempt = min(delay * 2, 60.0), attempt + 1
            except ValueError as exc:  # a reply that is not the JSON the Hub sends
                raise SyncError(
                    f"The Hugging Face Hub sent an unreadable reply for {what} "
                    f"({type(exc).__name__}); stored data is unchanged. "
                    "Try `advisor sync hf` later.",
                    str(exc),
                ) from exc
            except (httpx.HTTPError, OSError) as exc:
                raise SyncError(
                    f"Could not reach the Hugging Face Hub for {what} ({type(exc).__name__}); "
                    "stored data is unchanged. Check the network and run `advisor sync hf`.",
                    str(exc),
                ) from exc

    def list_org(self, org: str, stop_before: datetime | None, limit: int) -> list[Any]:
        """The org's text-generation models, newest first, down to ``stop_before``."""

        def call() -> list[Any]:
            found = []
            for info in self.api.list_models(
                pipeline_tag="text-generation",
                author=org,
                sort="created_at",
                limit=limit,
                expand=EXPAND,
            ):
                created = aware(info.created_at)
                if stop_before is not None and created is not None and created < stop_before:
                    break
                found.append(info)
            return found

        result: list[Any] = self._retrying(f"the model list of {org}", call)
        return result

    def config(self, repo: str) -> dict[str, Any] | None:
        """config.json of ``repo``; None when gated, missing or not JSON."""

        def call() -> dict[str, Any] | None:
            try:
                path = self.api.hf_hub_download(repo, "config.json", cache_dir=self.cache_dir)
            except (GatedRepoError, EntryNotFoundError, RepositoryNotFoundError):
                return None
            try:
                loaded = json.loads(Path(path).read_text(encoding="utf-8"))
            except (ValueError, OSError):
                return None
            return loaded if isinstance(loaded, dict) else None

        result: dict[str, Any] | None = self._retrying(f"{repo}/config.json", call)
        return result


def _row(info: Any, org: str, catalog: Catalog, links: CatalogLinks) -> SyncedModel:
    """One Hub model as a synced row (config numbers are filled in later)."""
    repo: str = info.id
    tags = list(info.tags or [])
    card = info.card_data.to_dict() if info.card_data is not None else {}
    license_id, license_raw, flag = map_license(
        catalog, card.get("license"), card.get("license_name"), tags
    )
    base, relation = base_of(info)
    folded = _folded(repo, base, relation)
    total = info.safetensors.total if info.safetensors is not None else None
    if total is None and isinstance(info.gguf, dict):
        total = info.gguf.get("total")
    provider = ORG_PROVIDERS.get(org, org)
    provider = provider if provider in catalog.providers else links.provider(org)
    now = utcnow()
    return SyncedModel(
        id=f"{SOURCE}:{repo}",
        source=SOURCE,
        external_id=repo,
        name=repo.split("/")[-1],
        provider=provider,
        url=f"https://huggingface.co/{repo}",
        created_at=aware(info.created_at),
        first_seen=now,
        last_seen=now,
        params_b=round(total / 1e9, 2) if total else None,
        license_id=license_id,
        license_raw=license_raw,
        license_flag=flag,
        gated=bool(info.gated),
        tags=tags,
        relation=relation,
        base_model=base,
        folded=folded,
        variant_id=links.variant(repo),
        likes=info.likes,
        downloads=info.downloads,
        raw={"license_link": card.get("license_link"), "gguf": bool(info.gguf)},
        digest_key=release_key(base if folded and base else repo),
    )


def _wanted(
    row: SyncedModel, min_likes: int, min_downloads: int, params_range: tuple[float, float]
) -> bool:
    popular = (row.likes or 0) >= min_likes or (row.downloads or 0) >= min_downloads
    low, high = params_range
    in_range = row.params_b is None or low <= row.params_b <= high
    return popular and in_range


HUB_TIMEOUT_S = 30.0


def use_timeout(seconds: float) -> None:
    """Give huggingface_hub's shared HTTP client a timeout (its default waits forever)."""
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import hf_request_event_hook

    set_client_factory(
        lambda: httpx.Client(
            event_hooks={"request": [hf_request_event_hook]},
            follow_redirects=True,
            timeout=httpx.Timeout(seconds),
        )
    )


def sync_hf(
    engine: Engine,
    catalog: Catalog,
    api: HfApi | None = None,
    since: datetime | None = None,
    orgs: Iterable[str] = DEFAULT_ORGS,
    min_likes: int = 5,
    min_downloads: int = 1000,
    params_range: tuple[float, float] = (0.3, 2000.0),
    limit: int = 100,
    lookback: timedelta = timedelta(days=7),
    cache_dir: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_retries: int = 4,
) -> SyncReport:
    """Sync allowlisted orgs' new text-generation models from the Hub into SyncedModel.

    ``since`` overrides the stored cursors (a first sync without either takes each org's
    ``limit`` newest models). Never raises for network trouble: the report carries it.
    ``sleep`` is how rate-limit waits happen (tests pass a recorder).
    """
    started = time.monotonic()
    report = SyncReport(SOURCE)
    use_timeout(HUB_TIMEOUT_S)
    fetcher = _Fetcher(api or HfApi(), cache_dir, sleep, max_retries)
    links = CatalogLinks(catalog)
    with session_scope(engine) as session:
        position = dict(load_state(session, SOURCE).position)
    fetched: dict[str, tuple[list[SyncedModel], datetime | None]] = {}
    seen: set[str] = set()
    for org in orgs:
        cursor = since or aware(
            datetime.fromisoformat(position[org]) if position.get(org) else None
        )
        stop_before = since or (cursor - lookback if cursor else None)
        try:
            infos = fetcher.list_org(org, stop_before, limit)
            rows = [_row(info, org, catalog, links) for info in infos]
            rows = [r for r in rows if _wanted(r, min_likes, min_downloads, params_range)]
            rows = [r for r in rows if r.id not in seen]  # renamed orgs list the same repos
            seen.update(r.id for r in rows)
            for row in rows:
                if not row.folded and not row.gated:
                    _add_config(row, fetcher.config(row.external_id))
        except SyncError as exc:
            report.errors.append(exc.user_message)
            break
        dates = [i.created_at for i in infos if i.created_at is not None]
        newest = max([*(aware(d) for d in dates), *([cursor] if cursor else [])], default=None)
        fetched[org] = (rows, newest)
    now = utcnow()
    with session_scope(engine) as session:
        state = load_state(session, SOURCE)
        new_position = dict(state.position)
        for org, (rows, newest) in fetched.items():
            upsert(session, rows, now, report)
            report.unknown_licenses += [r.license_raw or "none" for r in rows if r.license_flag]
            if newest is not None:
                new_position[org] = newest.isoformat()
        state.position, state.updated_at = new_position, now
        if not report.errors:
            state.last_sync, state.last_error = now, None
            state.cursor = max(
                (datetime.fromisoformat(v) for v in new_position.values()), default=None
            )
        session.add(state)
    if report.errors:
        record_failure(engine, SOURCE, report.errors[0])
    report.duration = time.monotonic() - started
    return report


def _add_config(row: SyncedModel, config: dict[str, Any] | None) -> None:
    if config is None:
        return
    for key, value in shape_from_config(config).items():
        if value is not None:
            setattr(row, key, value)
