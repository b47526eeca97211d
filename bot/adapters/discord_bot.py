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

Safety and delivery: the client sends ``AllowedMentions.none()`` with every message, so
echoed ``@everyone``, ``@here``, role or user mentions ping no one; a reply to a message
mentions only its author. A refused edit (a missing permission, an expired token) falls
back to a new message, a refused thread to a reply in the channel, and every refusal is
logged with guild, channel, user and interaction ids. Usage errors, denials and rate-limit
notices are ephemeral. Job progress edits one message in place. Handlers never let an
exception escape. The slash command tree is built from the registry (bot/adapters/
discord_commands.py). Follow-ups arrive as buttons (5 per row, at most 25) whose custom_id
carries the command; a click answers it like a slash command for the clicker. Only
bot/adapters imports discord.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import discord
from discord import app_commands

from bot.adapters.render_discord import CONTENT, render_discord
from bot.answer import Answer
from bot.chat_service import ChatContext, ChatService
from bot.logs import report_incident
from knowledge.catalog import Catalog

log = logging.getLogger("advisor")
UPDATE_INTERVAL = 1.0
MAX_CHOICES = 25
CHOICE_LENGTH = 100
THREAD_NAME = 100
_MENTION = re.compile(r"<@!?(\d+)>\s*")

#: Follow-up buttons: ``advisor:fu:<command>`` when the command fits Discord's 100-character
#: custom_id (it survives restarts), else ``advisor:fh:<digest>`` looked up in memory.
FOLLOW_UP = re.compile(r"advisor:f(?P<kind>[uh]):(?P<value>.+)")
CUSTOM_ID = 100
BUTTON_LABEL = 80
BUTTONS_PER_ROW = 5
REMEMBERED = 2048


class Show(Protocol):
    """Shows one message's content, embeds and buttons (edits the response, or sends anew)."""

    def __call__(
        self, content: str, embeds: list[discord.Embed], view: discord.ui.View | None = None, /
    ) -> Awaitable[Any]: ...


#: Posts a message that arrives later and returns it (so progress can edit it).
Later = Callable[[str, list[discord.Embed]], Awaitable[discord.Message | None]]


def matching_ids(
    keys: Mapping[str, Sequence[str]], typed: str, limit: int = MAX_CHOICES
) -> list[str]:
    """Catalog ids one of whose keys (id, name, aliases, repo, tags) contains ``typed``.

    Any case; ids with a key equal to ``typed`` come first, then prefix matches, then the
    rest, each group in catalog order; at most ``limit``.
    """
    needle = typed.strip().lower()
    ranked: list[tuple[int, int, str]] = []
    for order, (value, names) in enumerate(keys.items()):
        lowered = [n.lower() for n in names]
        if needle in lowered:
            ranked.append((0, order, value))
        elif any(n.startswith(needle) for n in lowered):
            ranked.append((1, order, value))
        elif any(needle in n for n in lowered):
            ranked.append((2, order, value))
    return [value for *_, value in sorted(ranked)[:limit]]


def search_keys(names: Sequence[str], catalog: Catalog | None) -> dict[str, list[str]]:
    """What autocomplete matches for each catalog id: the id, and with the catalog its name,
    aliases, Hugging Face repo and Ollama tags."""
    keys: dict[str, list[str]] = {}
    for name in names:
        found: list[str] = [name]
        variant = catalog.variants.get(name) if catalog else None
        family = catalog.families.get(name) if catalog else None
        if variant is not None:
            found += [variant.name, *variant.aliases, *variant.ollama_tags]
            found += [variant.hf_repo] if variant.hf_repo else []
        elif family is not None:
            found += [family.name, *family.aliases]
        keys[name] = found
    return keys


def command_text(name: str, *parts: str | None, hardware: str | None = None) -> str:
    """A slash command's options in the shared grammar ("/compare a b on 4090")."""
    words = [p.strip() for p in parts if p and p.strip()]
    if hardware and hardware.strip():
        words += ["on", hardware.strip()]
    return " ".join([f"/{name}", *words])


def _roles(user: discord.abc.User) -> frozenset[str]:
    """Role ids (never names: anyone with Manage Roles can name a role anything)."""
    if isinstance(user, discord.Member):
        ids = [r.id for r in user.roles if not r.is_default()]
        ids += list(getattr(user, "_roles", []))
        guild = user.guild.id
        return frozenset({str(i) for i in ids} | {f"{guild}:{i}" for i in ids})
    return frozenset()


REPLY_MENTION = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)


def _where(ctx: ChatContext, request: str = "") -> str:
    return f"guild={ctx.workspace} channel={ctx.channel} user={ctx.user} request={request}"


def _progress(text: str) -> str:
    """The streamed text so far, trimmed to its tail so it fits one message."""
    shown = text if len(text) <= CONTENT - 2 else "…" + text[-(CONTENT - 3) :]
    return shown + " …"


def _embeds(message: dict[str, Any]) -> list[discord.Embed]:
    return [discord.Embed.from_dict(e) for e in message["embeds"]]


def _view(view: discord.ui.View | None) -> Any:
    """``view`` for an edit or send; without one, the message's components stay as they are."""
    return view if view is not None else discord.utils.MISSING


class FollowUpButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=FOLLOW_UP.pattern):
    """A button that runs one follow-up command; ``follow_up_item`` binds it to an advisor."""

    def __init__(self, command: str | None, custom_id: str, row: int | None = None) -> None:
        label = (command or "expired")[:BUTTON_LABEL]
        super().__init__(discord.ui.Button(label=label, custom_id=custom_id), row=row)
        self.command = command


def follow_up_item(advisor: DiscordAdvisor) -> type[FollowUpButton]:
    """The follow-up button class bound to ``advisor``: a click answers its command."""

    class FollowUp(FollowUpButton, template=FOLLOW_UP.pattern):
        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction[Any], item: Any, match: re.Match[str], /
        ) -> FollowUp:
            value = match["value"]
            command = value if match["kind"] == "u" else advisor.long_follow_ups.get(value)
            return cls(command, match.string)

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            await advisor.on_follow_up(interaction, self.command)

    return FollowUp


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

    def __init__(
        self, service: ChatService, catalog_names: Sequence[str], catalog: Catalog | None = None
    ) -> None:
        self.service = service
        self.model_keys = search_keys(catalog_names, catalog)
        self.long_follow_ups: OrderedDict[str, str] = OrderedDict()
        self.button = follow_up_item(self)

    def buttons(self, commands: Sequence[str]) -> discord.ui.View | None:
        """A view of follow-up buttons (5 per row), or None when there are none."""
        if not commands:
            return None
        view = discord.ui.View(timeout=None)
        for i, command in enumerate(commands):
            custom_id = f"advisor:fu:{command}"
            if len(custom_id) > CUSTOM_ID:
                digest = hashlib.sha256(command.encode()).hexdigest()[:24]
                self.long_follow_ups[digest] = command
                self.long_follow_ups.move_to_end(digest)
                while len(self.long_follow_ups) > REMEMBERED:
                    self.long_follow_ups.popitem(last=False)
                custom_id = f"advisor:fh:{digest}"
            view.add_item(self.button(command, custom_id, row=i // BUTTONS_PER_ROW))
        return view

    async def on_follow_up(self, interaction: discord.Interaction, command: str | None) -> None:
        """A follow-up button: answer its command for the clicking user, like a slash command."""
        if command is None:
            await self.guarded(
                interaction.response.send_message(
                    "This button has expired; ask again for fresh ones.", ephemeral=True
                )
            )
            return
        await self.on_command(interaction, command)
        self.progress_interval = UPDATE_INTERVAL

    async def deliver(
        self,
        ctx: ChatContext,
        text: str,
        first: Show,
        more: Show,
        later: Later | None = None,
        private: Show | None = None,
    ) -> None:
        """Answer off the loop, stream into ``first``, then the answer (overflow via ``more``).

        ``later`` posts what arrives after the answer (job progress and results) and returns
        the message, so progress edits it in place; it uses the bot token, because an
        interaction's follow-up token expires after 15 minutes. ``private`` shows notices to
        the asker only. A refused ``first`` (the final edit) falls back to ``more``.
        """
        loop = asyncio.get_running_loop()
        stream = _Stream(loop, first)
        jobs = _Jobs(self, later or _as_later(more))

        def notify(result: Answer) -> None:
            asyncio.run_coroutine_threadsafe(jobs.show(result), loop)

        answer = await loop.run_in_executor(
            self.service.pool, self.service.handle, ctx, text, stream.on_token, notify
        )
        await stream.drain()
        messages = render_discord(answer)
        if answer.data.get("private") and private is not None:
            await private(messages[0]["content"], _embeds(messages[0]))
            return
        views = [self.buttons(m.get("buttons", [])) for m in messages]
        try:
            await first(messages[0]["content"], _embeds(messages[0]), views[0])
        except discord.HTTPException as exc:
            log.warning("final edit refused (%s %s), sending it as a new message: %s",
                        exc.status, exc.code, _where(ctx))  # fmt: skip
            await more(messages[0]["content"], _embeds(messages[0]), views[0])
        for message, view in zip(messages[1:], views[1:], strict=True):
            await more(message["content"], _embeds(message), view)

    async def guarded(
        self, work: Awaitable[Any], fail: Show | None = None, where: str = ""
    ) -> None:
        """Run ``work``; log Discord errors, and turn anything else into an incident id."""
        try:
            await work
        except discord.HTTPException as exc:
            log.warning("Discord refused a request: %s %s (%s)", exc.status, exc.text[:200], where)
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
        user = str(interaction.user.id)
        ctx = ChatContext(
            platform="discord",
            workspace=str(interaction.guild_id or f"dm:{user}"),
            channel=channel,
            user=user,
            thread=channel,
            roles=_roles(interaction.user),
            dm=interaction.guild_id is None,
        )

        async def edit(
            content: str, embeds: list[discord.Embed], view: discord.ui.View | None = None
        ) -> None:
            await interaction.edit_original_response(
                content=content, embeds=embeds, view=_view(view)
            )

        async def follow(
            content: str, embeds: list[discord.Embed], view: discord.ui.View | None = None
        ) -> discord.Message:
            return await interaction.followup.send(
                content or discord.utils.MISSING, embeds=embeds, wait=True, view=_view(view)
            )

        async def private(
            content: str, embeds: list[discord.Embed], view: discord.ui.View | None = None
        ) -> None:
            await interaction.delete_original_response()
            await interaction.followup.send(
                content or discord.utils.MISSING, embeds=embeds, ephemeral=True
            )

        async def later(content: str, embeds: list[discord.Embed]) -> discord.Message:
            channel = interaction.channel
            if isinstance(channel, discord.abc.Messageable):
                try:
                    return await channel.send(content or None, embeds=embeds)
                except discord.Forbidden:
                    log.warning("no permission to post in the channel: %s", _where(ctx))
            return await follow(content, embeds)

        await self.guarded(
            self.deliver(ctx, text, edit, follow, later, private), fail=edit, where=_where(ctx)
        )

    async def complete_model(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete for model options: catalog ids whose id, name, alias, repo or tag
        contains what was typed."""
        return [
            app_commands.Choice(name=n[:CHOICE_LENGTH], value=n[:CHOICE_LENGTH])
            for n in matching_ids(self.model_keys, current)
        ]

    async def on_message(self, me: discord.ClientUser, message: discord.Message) -> None:
        """Answer DMs, mentions, and replies in threads the bot started."""
        if message.author.bot:
            return
        await self.guarded(self._answer_message(me, message))

    async def _answer_message(self, me: discord.ClientUser, message: discord.Message) -> None:
        channel = message.channel
        mentioned = any(user.id == me.id for user in message.mentions)
        text = re.sub(rf"<@!?{me.id}>\s*", "", message.content).strip() or "/help"
        user = str(message.author.id)
        workspace = str(message.guild.id) if message.guild else f"dm:{user}"
        target: discord.abc.Messageable
        reference: discord.Message | None = message
        if isinstance(channel, discord.DMChannel):
            target, parent, thread = channel, channel.id, "dm"
        elif isinstance(channel, discord.Thread):
            if channel.owner_id != me.id and not mentioned:
                return
            target, parent, thread = channel, channel.parent_id, str(channel.id)
        elif mentioned:
            name = (
                " ".join(text.split())[:THREAD_NAME] if not text.startswith("/") else "LLM Advisor"
            )
            try:
                created = await message.create_thread(name=name)
                target, parent, thread, reference = created, channel.id, str(created.id), None
            except discord.HTTPException as exc:  # no thread permission: reply in the channel
                log.warning("could not start a thread (%s): guild=%s channel=%s user=%s",
                            exc.status, workspace, channel.id, user)  # fmt: skip
                target, parent, thread = channel, channel.id, str(message.id)
        else:
            return
        ctx = ChatContext(
            "discord", workspace, str(parent), user, thread, _roles(message.author),
            dm=isinstance(channel, discord.DMChannel),
        )  # fmt: skip
        placeholder = await target.send(
            _progress(f"Thinking about: {text[:200]}"),
            reference=reference,  # type: ignore[arg-type]
            allowed_mentions=REPLY_MENTION if reference else discord.AllowedMentions.none(),
            mention_author=reference is not None,
        )

        async def edit(
            content: str, embeds: list[discord.Embed], view: discord.ui.View | None = None
        ) -> None:
            await placeholder.edit(content=content, embeds=embeds, view=_view(view))

        async def send(
            content: str, embeds: list[discord.Embed], view: discord.ui.View | None = None
        ) -> discord.Message:
            return await target.send(content=content or None, embeds=embeds, view=_view(view))

        await self.guarded(self.deliver(ctx, text, edit, send), fail=edit, where=_where(ctx))


class _Jobs:
    """Later answers for one conversation: one message per job, edited in place at most once
    per interval; the result edits it too, or arrives as a new message if that edit fails."""

    def __init__(self, advisor: DiscordAdvisor, later: Later) -> None:
        self.advisor, self.later = advisor, later
        self.messages: dict[str, discord.Message] = {}
        self.last: dict[str, float] = {}
        self.lock = asyncio.Lock()

    async def show(self, answer: Answer) -> None:
        async with self.lock:
            await self.advisor.guarded(self._show(answer))

    async def _show(self, answer: Answer) -> None:
        key = answer.data.get("progress")
        final = bool(answer.data.get("final"))
        messages = render_discord(answer)
        now = time.monotonic()
        if key is not None and not final:
            if now - self.last.get(key, -1e9) < self.advisor.progress_interval:
                return
            self.last[key] = now
        known = self.messages.get(key) if key else None
        rest = messages
        if known is not None:
            try:
                await known.edit(content=messages[0]["content"], embeds=_embeds(messages[0]))
                rest = messages[1:]
            except discord.HTTPException as exc:
                log.warning("progress edit refused (%s); posting anew", exc.status)
        for i, message in enumerate(rest):
            sent = await self.later(message["content"], _embeds(message))
            if i == 0 and key and not final and sent is not None:
                self.messages[key] = sent


def _as_later(show: Show) -> Later:
    async def later(content: str, embeds: list[discord.Embed]) -> discord.Message | None:
        sent = await show(content, embeds)
        return sent if isinstance(sent, discord.Message) else None

    return later


def post_answer(
    token: str, channel: str, answer: Answer, base_url: str = "https://discord.com/api/v10"
) -> None:
    """Post an answer to a channel with the bot token (the weekly digest); raises on failure."""
    import httpx

    headers = {"Authorization": f"Bot {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=20) as client:
        for message in render_discord(answer):
            body = {
                "content": message["content"] or None,
                "embeds": message["embeds"],
                "allowed_mentions": {"parse": []},
            }
            for attempt in range(4):
                reply = client.post(f"/channels/{channel}/messages", json=body)
                if reply.status_code == 429 or (reply.status_code >= 500 and attempt < 3):
                    wait = reply.json().get("retry_after", 1.0) if reply.status_code == 429 else 1.0
                    time.sleep(min(float(wait), 30.0))
                    continue
                break
            reply.raise_for_status()
