"""The Discord client and its slash command tree, named and described by the registry.

Every command of bot/commands.py exists here under its ``discord_name`` with its ``brief``
as description; admin commands carry ``default_member_permissions`` (Manage Server), which
a server admin can widen per role under Server Settings -> Integrations. Commands sync
globally, or to one server when ``ADVISOR_DISCORD_GUILD_ID`` is set (instant, for trying
the bot). The client sends ``AllowedMentions.none()`` by default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import discord
from discord import app_commands

from bot.adapters.discord_bot import DiscordAdvisor, command_text
from bot.chat_service import ChatService
from bot.commands import COMMANDS, Command
from core.errors import ConfigError

log = logging.getLogger("advisor")
_BY_NAME = {c.name: c for c in COMMANDS}


class AdvisorClient(discord.Client):
    """A client whose command tree holds the advisor's slash commands; syncs them at login."""

    def __init__(self, *, intents: discord.Intents, guild_id: int | None = None) -> None:
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none())
        self.tree = app_commands.CommandTree(self)
        self.guild_id = guild_id

    async def setup_hook(self) -> None:
        """Register the slash commands with Discord (one server only if configured)."""
        if self.guild_id:
            guild = discord.Object(id=self.guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()


def build_client(
    service: ChatService,
    catalog_names: list[str],
    *,
    message_content: bool = False,
    guild_id: int | None = None,
) -> AdvisorClient:
    """A client answering every registry command (and, with the intent, mentions and DMs)."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    client = AdvisorClient(intents=intents, guild_id=guild_id)
    catalog = service.advisor.catalog if isinstance(service, ChatService) else None
    advisor = DiscordAdvisor(service, catalog_names, catalog)
    _register(client.tree, advisor)
    client.add_dynamic_items(advisor.button)  # buttons of earlier answers work after a restart
    if message_content:

        @client.event
        async def on_message(message: discord.Message) -> None:
            if client.user is not None:
                await advisor.on_message(client.user, message)

    return client


def _command(tree: app_commands.CommandTree, name: str) -> Callable[[Any], Any]:
    """``tree.command`` with the registry's Discord name, description and permissions."""
    spec: Command = _BY_NAME[name]

    def wrap(callback: Any) -> Any:
        if spec.admin:
            callback = app_commands.default_permissions(manage_guild=True)(callback)
        return tree.command(name=spec.discord_name, description=spec.brief)(callback)

    return wrap


def _register(tree: app_commands.CommandTree, advisor: DiscordAdvisor) -> None:
    """The slash commands; each builds grammar text and hands it to the advisor."""
    models = advisor.complete_model

    @_command(tree, "ask")
    @app_commands.describe(question="Your question, in English or Chinese")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await advisor.on_command(interaction, command_text("ask", question))

    @_command(tree, "recommend")
    @app_commands.describe(requirements="e.g. commercial, 2x4090, code, 32k context")
    async def recommend(interaction: discord.Interaction, requirements: str) -> None:
        await advisor.on_command(interaction, command_text("recommend", requirements))

    @_command(tree, "compare")
    @app_commands.describe(hardware="Optional hardware, e.g. 4090 or 2x A100 80GB")
    @app_commands.autocomplete(a=models, b=models, c=models, d=models)
    async def compare(
        interaction: discord.Interaction,
        a: str,
        b: str,
        c: str | None = None,
        d: str | None = None,
        hardware: str | None = None,
    ) -> None:
        await advisor.on_command(
            interaction, command_text("compare", a, b, c, d, hardware=hardware)
        )

    @_command(tree, "fit")
    @app_commands.describe(model="A model name", hardware="e.g. 4090, 2x4090, 24GB, M2 Max 64GB")
    @app_commands.autocomplete(model=models)
    async def fit(interaction: discord.Interaction, model: str, hardware: str) -> None:
        await advisor.on_command(interaction, command_text("fit", model, hardware))

    @_command(tree, "why-not")
    @app_commands.describe(model="A model name", requirements="e.g. commercial 900M users")
    @app_commands.autocomplete(model=models)
    async def whynot(
        interaction: discord.Interaction, model: str, requirements: str | None = None
    ) -> None:
        await advisor.on_command(interaction, command_text("why-not", model, requirements))

    @_command(tree, "trial")
    @app_commands.describe(
        models="Comma-separated models or Ollama tags (for pull: the tag; for cancel: the job id)",
        prompt="The prompt to run",
        options="e.g. runs=3 temperature=0.2 max_tokens=256 compare=greedy,top_p=0.9",
        action="run (default), pull a model to the Ollama host, or cancel a job",
    )
    @app_commands.autocomplete(models=models)
    async def trial(
        interaction: discord.Interaction,
        models: str,
        prompt: str | None = None,
        options: str | None = None,
        action: Literal["run", "pull", "cancel"] = "run",
    ) -> None:
        if action != "run":
            await advisor.on_command(interaction, command_text("trial", action, models))
            return
        quoted = '"' + (prompt or "").replace('"', "'") + '"'
        await advisor.on_command(interaction, command_text("trial", models, quoted, options))

    @_command(tree, "eval")
    @app_commands.describe(models="Comma-separated models", options="e.g. n=20 cot=on votes=5")
    async def eval_(
        interaction: discord.Interaction,
        models: str,
        suite: Literal[
            "math", "format", "extraction", "classification", "chinese", "summarization"
        ],
        options: str | None = None,
    ) -> None:
        await advisor.on_command(
            interaction, command_text("eval", models, f"suite={suite}", options)
        )

    @_command(tree, "digest")
    @app_commands.describe(days="How many days back (1-90)", action="Or (un)subscribe this channel")
    async def digest(
        interaction: discord.Interaction,
        days: app_commands.Range[int, 1, 90] = 7,
        action: Literal["show", "subscribe", "unsubscribe"] = "show",
    ) -> None:
        text = f"days={days}" if action == "show" else action
        await advisor.on_command(interaction, command_text("digest", text))

    @_command(tree, "jobs")
    async def jobs(interaction: discord.Interaction) -> None:
        await advisor.on_command(interaction, "/jobs")

    @_command(tree, "llm-profile")
    @app_commands.describe(settings="For set: gpu=4090 gpus=2 commercial=yes [scope=workspace]")
    async def llm_profile(
        interaction: discord.Interaction,
        action: Literal["show", "set", "clear"],
        settings: str | None = None,
    ) -> None:
        await advisor.on_command(interaction, command_text("llm-profile", action, settings))

    @_command(tree, "help")
    async def help_(interaction: discord.Interaction) -> None:
        await advisor.on_command(interaction, "/help")


async def run_discord(
    service: ChatService,
    token: str,
    catalog_names: list[str],
    message_content: bool = False,
    guild_id: int | None = None,
) -> None:
    """Log in, sync the slash commands and serve; a bad token or intent is a ConfigError."""
    client = build_client(
        service, catalog_names, message_content=message_content, guild_id=guild_id
    )
    try:
        async with client:
            await client.start(token)
    except discord.LoginFailure:
        raise ConfigError(
            "Discord refused ADVISOR_DISCORD_TOKEN; copy the bot token from the Developer "
            "Portal (Bot -> Reset Token)."
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError(
            "Discord refused the Message Content intent; enable it under Developer Portal -> "
            "Bot -> Privileged Gateway Intents, or set ADVISOR_DISCORD_MESSAGE_CONTENT=false."
        ) from None
