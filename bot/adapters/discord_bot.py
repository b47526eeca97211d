"""The Discord adapter (discord.py 2.x): slash commands, mentions, DMs and thread follow-ups.

Discord drops an interaction that is not answered within 3 s, and a blocked event loop
stops the gateway heartbeat. So every slash command first defers ("LLM Advisor is
thinking…"), then the shared :class:`~bot.chat_service.ChatService` runs in a worker
thread. Tokens streamed from that thread are handed back to the loop and shown by editing
the deferred response at most once a second; the rendered answer then replaces it, and
whatever does not fit in one message follows as follow-up messages. Mentions and DMs (only
with the privileged message-content intent) take the same path with a placeholder message
in a thread created from the mention, or in the DM; replies in a thread the bot created
continue that conversation.

Handlers never let an exception escape: the service already turns advisor failures into
friendly answers, Discord HTTP errors are logged, and anything else becomes an incident id.
This is the only module besides tests that imports discord.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import discord
from discord import app_commands

from bot.adapters.render_discord import CONTENT, render_discord
from bot.answer import Answer
from bot.chat_service import ChatContext, ChatService
from bot.logs import report_incident

log = logging.getLogger("advisor")
UPDATE_INTERVAL = 1.0
MAX_CHOICES = 25
CHOICE_LENGTH = 100
THREAD_NAME = 100
_MENTION = re.compile(r"<@!?(\d+)>\s*")

#: Shows one message's content and embeds (edits the response, or sends a new message).
Show = Callable[[str, list[discord.Embed]], Awaitable[Any]]


def matching_names(names: Sequence[str], typed: str, limit: int = MAX_CHOICES) -> list[str]:
    """Catalog names containing ``typed`` (any case), prefix matches first, at most ``limit``."""
    needle = typed.strip().lower()
    found = [n for n in names if needle in n.lower()]
    found.sort(key=lambda n: not n.lower().startswith(needle))
    return found[:limit]


def command_text(name: str, *parts: str | None, hardware: str | None = None) -> str:
    """A slash command's options in the shared grammar ("/compare a b on 4090")."""
    words = [p.strip() for p in parts if p and p.strip()]
    if hardware and hardware.strip():
        words += ["on", hardware.strip()]
    return " ".join([f"/{name}", *words])


def _roles(user: discord.abc.User) -> frozenset[str]:
    if isinstance(user, discord.Member):
        return frozenset(r.name for r in user.roles if not r.is_default())
    return frozenset()


def _progress(text: str) -> str:
    """The streamed text so far, trimmed to its tail so it fits one message."""
    shown = text if len(text) <= CONTENT - 2 else "…" + text[-(CONTENT - 3) :]
    return shown + " …"


def _embeds(message: dict[str, Any]) -> list[discord.Embed]:
    return [discord.Embed.from_dict(e) for e in message["embeds"]]


class _Stream:
    """Hands tokens from the worker thread to the loop, showing progress at most once a second."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, show: Show, interval: float = UPDATE_INTERVAL
    ) -> None:
        self._loop = loop
        self._show = show
        self._interval = interval
        self._parts: list[str] = []
        self._last = float("-inf")
        self._pending: list[concurrent.futures.Future[None]] = []
        self._lock = asyncio.Lock()

    def on_token(self, piece: str) -> None:
        """Called from the worker thread for every streamed piece."""
        self._parts.append(piece)
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            snapshot = _progress("".join(self._parts))
            self._pending.append(
                asyncio.run_coroutine_threadsafe(self._update(snapshot), self._loop)
            )

    async def _update(self, text: str) -> None:
        async with self._lock:  # one edit at a time, so they land in order
            try:
                await self._show(text, [])
            except discord.HTTPException:
                log.warning("Discord refused a progress update", exc_info=True)

    async def drain(self) -> None:
        """Wait for progress edits still in flight, so none lands after the final answer."""
        await asyncio.gather(*(asyncio.wrap_future(f) for f in self._pending))


class DiscordAdvisor:
    """Discord event handlers bound to one ChatService."""

    def __init__(self, service: ChatService, catalog_names: Sequence[str]) -> None:
        self.service = service
        self.catalog_names = list(catalog_names)

    async def deliver(
        self, ctx: ChatContext, text: str, first: Show, more: Show, later: Show | None = None
    ) -> None:
        """Answer off the loop, stream into ``first``, then the answer (overflow via ``more``).

        ``later`` posts what arrives after the answer (trial and eval results); it uses the
        bot token, because an interaction's follow-up token expires after 15 minutes.
        """
        loop = asyncio.get_running_loop()
        stream = _Stream(loop, first)
        post_later = later or more

        def notify(result: Answer) -> None:
            for message in render_discord(result):
                asyncio.run_coroutine_threadsafe(
                    self.guarded(post_later(message["content"], _embeds(message))), loop
                )

        answer = await asyncio.to_thread(self.service.handle, ctx, text, stream.on_token, notify)
        await stream.drain()
        messages = render_discord(answer)
        await first(messages[0]["content"], _embeds(messages[0]))
        for message in messages[1:]:
            await more(message["content"], _embeds(message))

    async def guarded(self, work: Awaitable[Any], fail: Show | None = None) -> None:
        """Run ``work``; log Discord errors, and turn anything else into an incident id."""
        try:
            await work
        except discord.HTTPException:
            log.exception("Discord refused a request")
        except Exception as exc:  # noqa: BLE001 - one bad event never takes the bot down
            incident = report_incident(exc)
            if fail is not None:
                text = f"Sorry, something went wrong (request id {incident})."
                await self.guarded(fail(text, []))

    async def on_command(self, interaction: discord.Interaction, text: str) -> None:
        """Defer at once, then answer ``text`` in the deferred response and follow-ups."""
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException:
            log.exception("could not defer %s", text.split(" ", 1)[0])
            return
        channel = str(interaction.channel_id)
        ctx = ChatContext(
            platform="discord",
            workspace=str(interaction.guild_id or "dm"),
            channel=channel,
            user=str(interaction.user.id),
            thread=channel,
            roles=_roles(interaction.user),
        )

        async def edit(content: str, embeds: list[discord.Embed]) -> None:
            await interaction.edit_original_response(content=content, embeds=embeds)

        async def follow(content: str, embeds: list[discord.Embed]) -> None:
            await interaction.followup.send(content or discord.utils.MISSING, embeds=embeds)

        async def later(content: str, embeds: list[discord.Embed]) -> None:
            channel = interaction.channel
            if isinstance(channel, discord.abc.Messageable):
                await channel.send(content or None, embeds=embeds)
            else:
                await follow(content, embeds)

        await self.guarded(self.deliver(ctx, text, edit, follow, later), fail=edit)

    async def complete_model(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete for model options: catalog names containing what was typed."""
        return [
            app_commands.Choice(name=n[:CHOICE_LENGTH], value=n[:CHOICE_LENGTH])
            for n in matching_names(self.catalog_names, current)
        ]

    async def on_message(self, me: discord.ClientUser, message: discord.Message) -> None:
        """Answer DMs, mentions, and replies in threads the bot started."""
        if message.author.bot:
            return
        await self.guarded(self._answer_message(me, message))

    async def _answer_message(self, me: discord.ClientUser, message: discord.Message) -> None:
        channel = message.channel
        mentioned = any(user.id == me.id for user in message.mentions)
        text = _MENTION.sub("", message.content).strip() or "/help"
        workspace = str(message.guild.id) if message.guild else "dm"
        target: discord.abc.Messageable
        if isinstance(channel, discord.DMChannel):
            target, parent, thread = channel, channel.id, channel.id
        elif isinstance(channel, discord.Thread):
            if channel.owner_id != me.id and not mentioned:
                return
            target, parent, thread = channel, channel.parent_id, channel.id
        elif mentioned:
            name = (
                " ".join(text.split())[:THREAD_NAME] if not text.startswith("/") else "LLM Advisor"
            )
            created = await message.create_thread(name=name)
            target, parent, thread = created, channel.id, created.id
        else:
            return
        ctx = ChatContext(
            "discord",
            workspace,
            str(parent),
            str(message.author.id),
            str(thread),
            _roles(message.author),
        )
        placeholder = await target.send(_progress(f"Thinking about: {text[:200]}"))

        async def edit(content: str, embeds: list[discord.Embed]) -> None:
            await placeholder.edit(content=content, embeds=embeds)

        async def send(content: str, embeds: list[discord.Embed]) -> None:
            await target.send(content=content or None, embeds=embeds)

        await self.guarded(self.deliver(ctx, text, edit, send), fail=edit)


class AdvisorClient(discord.Client):
    """A client whose command tree holds the advisor's slash commands; syncs them at login."""

    def __init__(self, *, intents: discord.Intents) -> None:
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        """Register the slash commands with Discord, so users see them."""
        await self.tree.sync()


def build_client(
    service: ChatService, catalog_names: list[str], *, message_content: bool = False
) -> AdvisorClient:
    """A client answering /ask, /compare, /fit, /recommend, /whynot, /llm-profile (and messages)."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    client = AdvisorClient(intents=intents)
    advisor = DiscordAdvisor(service, catalog_names)
    _register(client.tree, advisor)
    if message_content:

        @client.event
        async def on_message(message: discord.Message) -> None:
            if client.user is not None:
                await advisor.on_message(client.user, message)

    return client


def _register(tree: app_commands.CommandTree, advisor: DiscordAdvisor) -> None:
    """The slash commands; each builds grammar text and hands it to the advisor."""
    models = advisor.complete_model

    @tree.command(name="ask", description="Ask anything about choosing or running LLMs.")
    @app_commands.describe(question="Your question, in English or Chinese")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await advisor.on_command(interaction, command_text("ask", question))

    @tree.command(name="compare", description="Compare two to four models side by side.")
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

    @tree.command(name="fit", description="How a model fits your hardware, and how fast it runs.")
    @app_commands.describe(model="A model name", hardware="e.g. 4090, 2x4090, 24GB, M2 Max 64GB")
    @app_commands.autocomplete(model=models)
    async def fit(interaction: discord.Interaction, model: str, hardware: str) -> None:
        await advisor.on_command(interaction, command_text("fit", model, hardware))

    @tree.command(name="recommend", description="Rank the models that meet your requirements.")
    @app_commands.describe(requirements="e.g. commercial, 2x4090, code, 32k context")
    async def recommend(interaction: discord.Interaction, requirements: str) -> None:
        await advisor.on_command(interaction, command_text("recommend", requirements))

    @tree.command(name="whynot", description="Every rule that speaks for or against a model.")
    @app_commands.describe(model="A model name", requirements="e.g. commercial 900M users")
    @app_commands.autocomplete(model=models)
    async def whynot(
        interaction: discord.Interaction, model: str, requirements: str | None = None
    ) -> None:
        await advisor.on_command(interaction, command_text("why-not", model, requirements))

    @tree.command(name="trial", description="Run a prompt on models through Ollama and time it.")
    @app_commands.describe(
        models="Comma-separated models or Ollama tags, e.g. qwen2.5:7b,mistral",
        prompt="The prompt to run",
        options="e.g. runs=3 temperature=0.2 max_tokens=256 compare=greedy,top_p=0.9",
    )
    async def trial(
        interaction: discord.Interaction, models: str, prompt: str, options: str | None = None
    ) -> None:
        quoted = '"' + prompt.replace('"', "'") + '"'
        await advisor.on_command(interaction, command_text("trial", models, quoted, options))

    @tree.command(name="eval", description="Score models on a small eval suite.")
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

    @tree.command(name="llm-profile", description="Show, set or clear this channel's defaults.")
    @app_commands.describe(settings="For set: gpu=4090 gpus=2 commercial=yes [scope=workspace]")
    async def llm_profile(
        interaction: discord.Interaction,
        action: Literal["show", "set", "clear"],
        settings: str | None = None,
    ) -> None:
        await advisor.on_command(interaction, command_text("llm-profile", action, settings))


async def run_discord(
    service: ChatService, token: str, catalog_names: list[str], message_content: bool = False
) -> None:
    """Log in, sync the slash commands and serve until the client is closed."""
    client = build_client(service, catalog_names, message_content=message_content)
    async with client:
        await client.start(token)


def post_answer(
    token: str, channel: str, answer: Answer, base_url: str = "https://discord.com/api/v10"
) -> None:
    """Post an answer to a channel with the bot token (the weekly digest); raises on failure."""
    import httpx

    headers = {"Authorization": f"Bot {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=20) as client:
        for message in render_discord(answer):
            body = {"content": message["content"] or None, "embeds": message["embeds"]}
            client.post(f"/channels/{channel}/messages", json=body).raise_for_status()
