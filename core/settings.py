"""Settings from ``ADVISOR_*`` environment variables and a ``.env`` file.

Secrets are ``SecretStr`` so they never print by accident; :func:`Settings.public_view`
is what ``advisor config`` shows, with secrets and database passwords masked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

MASK = "********"


class Settings(BaseSettings):
    """Everything the advisor can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="ADVISOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path(".advisor"), description="Where the database and index live"
    )
    database_url: str | None = Field(
        default=None, description="Any SQLAlchemy URL; default a SQLite file in data_dir"
    )
    ollama_host: str = Field(
        default="http://127.0.0.1:11434",
        validation_alias=AliasChoices("ADVISOR_OLLAMA_HOST", "OLLAMA_HOST"),
        description="Ollama server used for answers and trials",
    )
    ollama_model: str = Field(
        default="qwen2.5:7b-instruct", description="Model that phrases answers"
    )
    llm_extraction: bool = Field(
        default=False, description="Let Ollama fill requirements the extractor missed"
    )
    ollama_timeout: float = Field(default=60.0, gt=0, description="Seconds before falling back")
    embedding_model: str = Field(
        default="sentence-transformers/all-MiniLM-L6-v2",
        description="sentence-transformers model for the knowledge index",
    )
    rules_dir: Path | None = Field(default=None, description="Directory of team rule packs")
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
    feeds: list[str] | None = Field(default=None, description="RSS/Atom feeds (default built in)")
    digest_day: str = Field(default="mon", description="Weekly digest day (mon..sun)")
    digest_time: str = Field(default="09:00", description="Weekly digest time, HH:MM")
    digest_timezone: str = Field(default="UTC", description="IANA time zone of the digest time")

    @property
    def db_url(self) -> str:
        """The database URL in force: the configured one, else ``sqlite:///<data_dir>/advisor.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'advisor.db').as_posix()}"

    def public_view(self) -> dict[str, Any]:
        """Effective settings with secrets and URL passwords masked, for display."""
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
        return view


def load_settings(**overrides: Any) -> Settings:
    """Read settings now (environment and .env), applying explicit overrides last."""
    return Settings(**overrides)
