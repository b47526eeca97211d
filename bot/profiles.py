"""Team profiles: per-workspace and per-channel defaults, set with /llm-profile.

A profile holds what a team would otherwise repeat in every question (its GPUs, whether
use is commercial, the answer language, the Ollama model). It becomes the starting
requirements of every new thread in that channel, and the answer says which profile
applied. Profiles live in the database, so they survive restarts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.errors import AdvisorError
from knowledge.catalog import Catalog
from knowledge.db import session_scope
from knowledge.resolve import resolve_gpu
from knowledge.tables import TeamProfile
from rules.requirements import Requirements

FIELDS = ("gpu", "gpu_count", "vram_gib", "commercial", "open_weights", "language", "ollama_model")
_KEYS = {"gpus": "gpu_count", "vram": "vram_gib", "model": "ollama_model", "lang": "language"}
_TRUE, _FALSE = {"yes", "true", "on", "1", "是"}, {"no", "false", "off", "0", "否"}
#: Allowed ranges of the numeric fields: (setting name users type, lowest, highest).
RANGES: dict[str, tuple[str, float, float]] = {
    "gpu_count": ("gpus", 1, 64),
    "vram_gib": ("vram", 1, 2048),
}


class ProfileError(AdvisorError):
    """A /llm-profile command that cannot be applied."""


@dataclass(frozen=True)
class Scope:
    platform: str
    workspace: str
    channel: str = ""


class ProfileStore:
    """Read and write team profiles."""

    def __init__(self, engine: Engine, catalog: Catalog) -> None:
        self.engine = engine
        self.catalog = catalog

    def _row(self, session: Session, scope: Scope) -> TeamProfile | None:
        return session.exec(
            select(TeamProfile).where(
                TeamProfile.platform == scope.platform,
                TeamProfile.workspace == scope.workspace,
                TeamProfile.channel == scope.channel,
            )
        ).first()

    def effective(self, platform: str, workspace: str, channel: str) -> dict[str, Any]:
        """Workspace defaults overlaid with the channel's own, without empty fields.

        A stored value that is no longer valid (saved by an older version, or edited in the
        database) is left out and named in ``ignored`` instead of failing every question.
        """
        merged: dict[str, Any] = {}
        ignored: list[str] = []
        with Session(self.engine) as session:
            for scope in (Scope(platform, workspace), Scope(platform, workspace, channel)):
                row = self._row(session, scope)
                if row is None:
                    continue
                for name in FIELDS:
                    value = getattr(row, name)
                    if value is None:
                        continue
                    if check_stored(name, value):
                        ignored.append(f"{_NAMES.get(name, name)}={value}")
                    else:
                        merged[name] = value
        if ignored:
            merged["ignored"] = ignored
        return merged

    def set(self, scope: Scope, values: dict[str, Any], user: str) -> dict[str, Any]:
        """Update fields of one profile; return the profile now stored."""
        with session_scope(self.engine) as session:
            row = self._row(session, scope) or TeamProfile(
                platform=scope.platform, workspace=scope.workspace, channel=scope.channel
            )
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_by, row.updated_at = user, datetime.now(UTC).isoformat()
            session.add(row)
        return self.effective(scope.platform, scope.workspace, scope.channel)

    def clear(self, scope: Scope) -> None:
        """Remove one profile."""
        with session_scope(self.engine) as session:
            row = self._row(session, scope)
            if row is not None:
                session.delete(row)

    def parse(self, text: str) -> dict[str, Any]:
        """``gpu=4090 gpus=2 commercial=yes language=zh`` -> validated field values."""
        values: dict[str, Any] = {}
        for key, raw in re.findall(r"([a-z_]+)\s*=\s*(\"[^\"]*\"|\S+)", text.lower()):
            field = _KEYS.get(key, key)
            raw = raw.strip('"')
            if field not in FIELDS:
                raise ProfileError(
                    f"Unknown profile field {key!r}. Use: gpu, gpus, vram, commercial, "
                    "open_weights, language, model."
                )
            values[field] = self._value(field, raw)
        if not values:
            raise ProfileError(
                "Nothing to set. Example: /llm-profile set gpu=4090 gpus=2 commercial=yes"
            )
        return values

    def _value(self, field: str, raw: str) -> Any:
        if field == "gpu":
            return resolve_gpu(self.catalog, raw).id
        if field in ("commercial", "open_weights"):
            if raw not in _TRUE | _FALSE:
                raise ProfileError(f"{field} must be yes or no, not {raw!r}.")
            return raw in _TRUE
        if field in RANGES:
            name, low, high = RANGES[field]
            try:
                number = float(raw.rstrip("gib"))
            except ValueError:
                raise ProfileError(
                    f"{name} must be a number from {low:g} to {high:g}, not {raw!r}."
                ) from None
            if field == "gpu_count" and number != int(number):
                raise ProfileError(f"{name} must be a whole number from 1 to 64, not {raw!r}.")
            problem = check_stored(field, number)
            if problem:
                raise ProfileError(problem)
            return int(number) if field == "gpu_count" else number
        if field == "language" and raw not in ("en", "zh"):
            raise ProfileError("language must be en or zh.")
        if field == "ollama_model" and not re.fullmatch(r"[a-z0-9][\w.\-/:]{0,99}", raw):
            raise ProfileError("model must be an Ollama tag such as qwen2.5:7b.")
        return raw


_NAMES = {"gpu_count": "gpus", "vram_gib": "vram", "ollama_model": "model"}


def check_stored(field: str, value: Any) -> str:
    """Why a stored profile value is out of range ("" when it is fine)."""
    if field in RANGES:
        name, low, high = RANGES[field]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            return f"{name} must be from {low:g} to {high:g}, not {value!r}."
    if field == "language" and value not in ("en", "zh"):
        return "language must be en or zh."
    return ""


def requirements_from(profile: dict[str, Any]) -> Requirements:
    """The starting requirements a profile gives a new thread."""
    keys = ("gpu", "gpu_count", "vram_gib", "commercial", "open_weights")
    return Requirements(**{k: v for k, v in profile.items() if k in keys})


def describe(profile: dict[str, Any]) -> str:
    """A profile in a few words, for "team profile applied: ..."."""
    parts = []
    if profile.get("gpu") or profile.get("vram_gib"):
        count = profile.get("gpu_count") or 1
        parts.append(f"{count}x {profile.get('gpu') or str(profile['vram_gib']) + ' GiB GPU'}")
    if profile.get("commercial") is not None:
        parts.append("commercial" if profile["commercial"] else "non-commercial")
    if profile.get("open_weights"):
        parts.append("open weights")
    if profile.get("language"):
        parts.append(f"answers in {profile['language']}")
    if profile.get("ollama_model"):
        parts.append(f"model {profile['ollama_model']}")
    if profile.get("ignored"):
        parts.append(f"ignored invalid {', '.join(profile['ignored'])}")
    return ", ".join(parts)
