"""`advisor sync hf|ollama|feeds|all`: run the sources in turn, one report each.

Each source writes in its own transaction and reports its own errors, so one source
being down never stops the others and never damages what they stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx
from huggingface_hub import HfApi
from sqlalchemy import Engine

from ingest.feeds import DEFAULT_FEEDS, Fetch, sync_feeds
from ingest.hf_hub import sync_hf
from ingest.ollama_lib import BASE_URL, sync_ollama
from knowledge.catalog import Catalog
from knowledge.synced import SyncError, SyncReport

SOURCES = ("hf", "ollama", "feeds")
log = logging.getLogger("advisor")
KEPT = "stored data is unchanged."


def sync(
    engine: Engine,
    catalog: Catalog,
    sources: Iterable[str] = SOURCES,
    *,
    hf_api: HfApi | None = None,
    hf_options: dict[str, Any] | None = None,
    ollama_client: httpx.Client | None = None,
    ollama_url: str = BASE_URL,
    feed_urls: Sequence[str] = DEFAULT_FEEDS,
    feed_fetch: Fetch | None = None,
) -> dict[str, SyncReport]:
    """Sync the named sources ("all" means every one); return their reports by name."""
    wanted = list(SOURCES) if "all" in sources else list(sources)
    unknown = [s for s in wanted if s not in SOURCES]
    if unknown:
        names = ", ".join(unknown)
        raise SyncError(f"Unknown sync source(s) {names}: use hf, ollama, feeds or all.")
    runners: dict[str, Callable[[], SyncReport]] = {
        "hf": lambda: sync_hf(engine, catalog, api=hf_api, **(hf_options or {})),
        "ollama": lambda: sync_ollama(engine, catalog, ollama_client, base_url=ollama_url),
        "feeds": lambda: sync_feeds(engine, catalog, feed_urls, feed_fetch),
    }
    return {name: _isolated(name, runners[name]) for name in wanted}


def _isolated(name: str, run: Callable[[], SyncReport]) -> SyncReport:
    """Run one source; any failure becomes a one-line error in its own report."""
    started = time.monotonic()
    try:
        return run()
    except SyncError as exc:
        reason = exc.user_message
    except (httpx.TimeoutException, TimeoutError):
        reason = f"{name} did not answer in time; stored data is unchanged. Try again later."
    except httpx.HTTPError as exc:
        reason = f"{name} could not be reached ({type(exc).__name__}); stored data is unchanged."
    except ValueError as exc:  # garbage JSON or HTML from the source
        log.warning("sync %s: bad reply", name, exc_info=exc)
        reason = f"{name} sent a reply that could not be read ({type(exc).__name__}); {KEPT}"
    except Exception as exc:  # noqa: BLE001 - one source must never stop the others
        log.exception("sync %s failed", name)
        reason = f"{name} failed unexpectedly ({type(exc).__name__}, see the log); {KEPT}"
    return SyncReport(name, errors=[reason], duration=time.monotonic() - started)
