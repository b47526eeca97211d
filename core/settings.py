"""Settings from ``ADVISOR_*`` environment variables and a ``.env`` file.

Secrets are ``SecretStr`` so they never print by accident; :func:`Settings.public_view`
is what ``advisor config`` shows, with secrets and database passwords masked.

Settings are a plain pydantic model filled by :func:`load_settings` from the environment
(which wins) and ``.env`` (read with python-dotenv): ``ADVISOR_<FIELD>``, any case, and
``OLLAMA_HOST`` for the Ollama server when ``ADVISOR_OLLAMA_HOST`` is unset. Not
pydantic-settings: importing it (with asyncio and its CLI and cloud sources) was 70 ms of
every command, a sixth of `advisor fit`, for a mapping this module does in a few lines.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from core.errors import ConfigError

MASK = "********"
ENV_PREFIX = "ADVISOR_"
ENV_FILE = Path(".env")
#: Other variables a setting is read from when its ``ADVISOR_`` one is unset.
ALSO_FROM = {"ollama_host": ("OLLAMA_HOST",)}


class Settings(BaseModel):
    """Everything the advisor can be configured with (see :func:`load_settings`)."""

    model_config = ConfigDict(extra="ignore")

    data_dir: Path = Field(
        default=Path(".advisor"), description="Where the database and index live"
    )
    database_url: str | None = Field(
        default=None, description="Any SQLAlchemy URL; default a SQLite file in data_dir"
    )
    ollama_host: str = Field(
        default="http://127.0.0.1:11434",
        description="Ollama server used for answers and trials",
    )
    ollama_model: str = Field(
        default="qwen2.5:7b-instruct", description="Model that phrases answers"
    )
    llm_extraction: bool = Field(
        default=False, description="Let Ollama fill requirements the extractor missed"
    )
    ollama_timeout: float = Field(
        default=60.0, gt=0, description="Total seconds per model call (chat, CLI and trials)"
    )
    ollama_headers: SecretStr | None = Field(
        default=None,
        description='Extra HTTP headers for Ollama, JSON {"Authorization": "Bearer ..."} '
        "or Name: value lines",
    )
    suites_dir: Path | None = Field(
        default=None, description="Directory of the team's eval suites (.yaml / .jsonl)"
    )
    job_timeout: float = Field(
        default=900.0, gt=0, description="Seconds one trial/eval job may run"
    )
    embedding_model: str = Field(
        default="sentence-transformers/all-MiniLM-L6-v2",
        description="sentence-transformers model for the knowledge index",
    )
    rules_dir: Path | None = Field(default=None, description="Directory of team rule packs")
    apple_gpu_fraction: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Share of an Apple machine's unified memory the GPU may use "
        "(default: about 0.75 above 36 GB, less below; raise it with iogpu.wired_limit_mb)",
    )
    admin_users: list[str] = Field(
        default_factory=list,
        description="Platform user ids allowed risky actions, e.g. U0123ABC or discord:1180... "
        "(empty, with no admin roles: everyone)",
    )
    admin_roles: list[str] = Field(
        default_factory=list,
        description="Discord role ids allowed risky actions (Developer Mode -> Copy Role ID)",
    )
    rate_limit_per_minute: int = Field(
        default=10, ge=1, description="Questions per user per minute"
    )
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_http_port: int = Field(default=3000, description="Port for Slack HTTP mode")
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Slack Web API base URL (GovSlack: https://slack-gov.com/api/)",
    )
    chat_workers: int = Field(
        default=8, ge=1, le=64, description="Chat answers worked out at once (answer pool size)"
    )
    discord_token: SecretStr | None = None
    discord_message_content: bool = Field(
        default=False, description="Answer mentions and DMs (needs the message content intent)"
    )
    discord_guild_id: int | None = Field(
        default=None,
        description="Sync slash commands to this one server only (instant; for trying the bot)",
    )
    hf_token: SecretStr | None = None
    hf_endpoint: str = Field(default="https://huggingface.co", description="Hugging Face Hub")
    ollama_library_url: str = Field(default="https://ollama.com", description="Ollama library site")
    feeds: list[str] | None = Field(
        default=None,
        description="RSS/Atom feeds, comma-separated or a JSON list (default built in)",
    )
    jobs_queue_url: str | None = Field(
        default=None,
        description="Job queue: redis://host:6379/0 or a database URL; default beside the database",
    )
    chroma_url: str | None = Field(
        default=None,
        description="Chroma server, http://host:8000 (chroma run); default embedded in data_dir",
    )
    ingest_max_mb: float = Field(
        default=20.0, gt=0, le=10_000, description="Largest file `advisor ingest` reads, in MB"
    )
    digest_day: str = Field(default="mon", description="Weekly digest day (mon..sun)")
    digest_time: str = Field(default="09:00", description="Weekly digest time, HH:MM")
    digest_timezone: str = Field(default="UTC", description="IANA time zone of the digest time")
    digest_retry_minutes: float = Field(
        default=15.0, gt=0, le=1440, description="Minutes between retries of a failed digest post"
    )

    @field_validator("admin_users", "admin_roles", "feeds", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        """A JSON list or comma-separated words."""
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a valid JSON list ({exc.msg})") from None
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("ollama_timeout", "ingest_max_mb")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("ollama_headers")
    @classmethod
    def _headers_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_headers(value.get_secret_value())
        return value

    def ollama_header_map(self) -> dict[str, str]:
        """ADVISOR_OLLAMA_HEADERS as a dict (empty when unset)."""
        return parse_headers(self.ollama_headers.get_secret_value()) if self.ollama_headers else {}

    @property
    def db_url(self) -> str:
        """The database URL in force: the configured one, else ``sqlite:///<data_dir>/advisor.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'advisor.db').as_posix()}"

    def public_view(self) -> dict[str, Any]:
        """Effective settings with secrets and URL passwords masked, for display."""
        from sqlalchemy.engine import make_url  # only here: sqlalchemy is slow to import

        view: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                view[name] = MASK
            elif isinstance(value, Path):
                view[name] = str(value)
            else:
                view[name] = value
        view["database_url"] = make_url(self.db_url).render_as_string(hide_password=True)
        view["ollama_host"] = mask_url(self.ollama_host)
        if self.ollama_headers:
            view["ollama_headers"] = {k: MASK for k in self.ollama_header_map()}
        return view


def parse_headers(text: str) -> dict[str, str]:
    """Headers from a JSON object or ``Name: value`` lines; ValueError says what is wrong."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"ADVISOR_OLLAMA_HEADERS is not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError('ADVISOR_OLLAMA_HEADERS must map names to strings: {"Name": "v"}')
        return {str(k): v for k, v in data.items()}
    headers: dict[str, str] = {}
    for line in filter(None, (part.strip() for part in text.splitlines())):
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise ValueError(
                "ADVISOR_OLLAMA_HEADERS lines must read 'Name: value' "
                '(or give a JSON object {"Name": "value"})'
            )
        headers[name.strip()] = value.strip()
    return headers


def mask_url(url: str) -> str:
    """The URL with any password (and API-key-like query) replaced by a mask."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}" if ":" in userinfo else f"{MASK}@{hostport}"
    query = MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _environment(env_file: Path = ENV_FILE) -> dict[str, str]:
    """Raw setting values by field name: the environment first, else ``env_file``."""
    sources = [{k.upper(): v for k, v in os.environ.items()}]
    if env_file.is_file():
        from dotenv import dotenv_values  # only when there is a file to read

        read = dotenv_values(env_file, encoding="utf-8")
        sources.append({k.upper(): v for k, v in read.items() if v is not None})
    found: dict[str, str] = {}
    for name in Settings.model_fields:
        names = (ENV_PREFIX + name.upper(), *ALSO_FROM.get(name, ()))
        value = next((src[n] for src in sources for n in names if n in src), None)
        if value is not None:
            found[name] = value
    return found


def load_settings(**overrides: Any) -> Settings:
    """Read settings now (environment and .env), applying explicit overrides last."""
    try:
        return Settings.model_validate({**_environment(), **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else "a setting"
        shown = first.get("input")
        if any(word in name.lower() for word in ("token", "secret", "headers")):
            shown = MASK
        elif isinstance(shown, str) and "://" in shown:
            shown = mask_url(shown)
        field = Settings.model_fields.get(str(first["loc"][0])) if first["loc"] else None
        hint = f" ({field.description})" if field and field.description else ""
        raise ConfigError(
            f"{name}={shown!r} is not valid: {first['msg'].removeprefix('Value error, ')}."
            f" Set it in the environment or .env{hint}.",
            detail=str(exc.errors(include_input=False, include_url=False)),
        ) from None
