"""The Slack adapter (slack-bolt, async): slash commands, mentions, DMs and thread follow-ups.

Every request is acknowledged at once; the answer is worked out in the chat service's
bounded answer pool and lands in a thread: a placeholder first, edited as tokens stream in
(at most once a second), then replaced by the rendered Block Kit answer, with further
messages in the thread when the answer is long or has a second table.

Nothing is lost silently. Every Web API call goes through :meth:`SlackAdvisor.call`, which
retries 429s, 5xx and dropped connections (the SDK's retry handlers) and logs any failure
with workspace, channel, user and request ids. A slash command in a channel the bot has
not joined, or in a DM between two people, is answered through its ``response_url``
(ephemeral, with a note on inviting the bot). A failed final edit falls back to a new
message. Usage errors, denials and rate-limit notices are ephemeral. Job progress edits
one message in place. Retried or duplicated events are answered once across replicas
(event ids in the database). All echoed text is escaped (bot/adapters/render_slack.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.render_slack import escape, fallback_text, progress_text, render_slack
from bot.answer import Answer
from bot.chat_service import ChatContext, ChatService
from bot.commands import COMMANDS, grammar_text

log = logging.getLogger("advisor")
NOT_JOINED = ("not_in_channel", "channel_not_found", "is_archived", "restricted_action")
INVITE = (
    "_I'm not a member of this conversation, so only you see this answer. "
    "Invite me with `/invite @LLM Advisor` to get answers in threads everyone can read._"
)
_MENTION = re.compile(r"<@([A-Z0-9]+)>\s*")


class ChannelPacer:
    """At most one post or update per channel per ``interval`` seconds."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}

    async def call(self, channel: str, send: Callable[[], Awaitable[Any]]) -> Any:
        async with self._locks[channel]:
            wait = self._last.get(channel, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await send()
            finally:
                self._last[channel] = time.monotonic()


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for delivery fallbacks and the log."""

    ctx: ChatContext
    request_id: str = ""
    response_url: str = ""


class _Failed(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SlackAdvisor:
    """Bolt listeners bound to one ChatService."""

    def __init__(self, service: ChatService, pacer: ChannelPacer | None = None) -> None:
        self.service = service
        self.pacer = pacer or ChannelPacer()
        self.threads: set[str] = set()
        self.progress_interval = 1.0

    async def call(self, origin: Origin, method: str, send: Callable[[], Awaitable[Any]]) -> Any:
        """One paced Web API call; a refusal is logged with every id and raised as _Failed."""
        ctx = origin.ctx
        try:
            return await self.pacer.call(ctx.channel, send)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) or f"HTTP {exc.response.status_code}"
            slack_id = exc.response.headers.get("x-slack-req-id", "")
            log.warning(
                "Slack refused %s: %s (workspace=%s channel=%s user=%s request=%s slack_req=%s)",
                method, error, ctx.workspace, ctx.channel, ctx.user, origin.request_id, slack_id,
            )  # fmt: skip
            raise _Failed(error) from exc
        except Exception as exc:  # the platform unreachable after the retries
            log.warning(
                "Slack %s failed: %s (workspace=%s channel=%s user=%s request=%s)",
                method, type(exc).__name__, ctx.workspace, ctx.channel, ctx.user,
                origin.request_id,
            )  # fmt: skip
            raise _Failed(type(exc).__name__) from exc

    async def answer(
        self, client: AsyncWebClient, origin: Origin, text: str, thread_ts: str | None
    ) -> None:
        """Post a placeholder, stream into it, then the rendered answer in the thread."""
        ctx = origin.ctx
        try:
            placeholder = await self.call(
                origin,
                "chat.postMessage",
                lambda: client.chat_postMessage(
                    channel=ctx.channel,
                    thread_ts=thread_ts,
                    text=f"_Thinking about:_ {escape(text[:200])}",
                ),
            )
        except _Failed as failed:
            if failed.error in NOT_JOINED and origin.response_url:
                await self._answer_by_response_url(origin, text)
            return
        ts = placeholder["ts"]
        root = thread_ts or ts
        self.threads.add(f"{ctx.channel}:{root}")
        loop = asyncio.get_running_loop()
        streamed: list[str] = []
        last_update = [0.0]

        def on_token(piece: str) -> None:
            streamed.append(piece)
            if time.monotonic() - last_update[0] >= 1.0:
                last_update[0] = time.monotonic()
                snapshot = progress_text("".join(streamed))
                asyncio.run_coroutine_threadsafe(
                    self._quiet(
                        self.call(
                            origin,
                            "chat.update",
                            lambda: client.chat_update(channel=ctx.channel, ts=ts, text=snapshot),
                        )
                    ),
                    loop,
                )

        later = _Later(self, client, origin, root)
        context = ChatContext(
            ctx.platform, ctx.workspace, ctx.channel, ctx.user, root, ctx.roles, ctx.dm
        )
        answer: Answer = await loop.run_in_executor(
            self.service.pool, self.service.handle, context, text, on_token, later.notify
        )
        if answer.data.get("private"):
            await self._private(client, origin, answer, ts, thread_ts)
            return
        await self.replace(client, origin, ts, root, answer)

    async def replace(
        self, client: AsyncWebClient, origin: Origin, ts: str, root: str, answer: Answer
    ) -> None:
        """Edit message ``ts`` into the answer (a new message if the edit fails), rest after."""
        channel = origin.ctx.channel
        messages = render_slack(answer)
        try:
            await self.call(
                origin,
                "chat.update",
                lambda: client.chat_update(
                    channel=channel, ts=ts, text=fallback_text(answer), blocks=messages[0]
                ),
            )
        except _Failed:
            messages = [messages[0], *messages[1:]]
            await self.post(client, origin, root, messages[:1], answer)
        await self.post(client, origin, root, messages[1:], answer)

    async def post(
        self,
        client: AsyncWebClient,
        origin: Origin,
        root: str,
        messages: list[list[dict[str, Any]]],
        answer: Answer,
    ) -> str:
        """Post rendered messages in the thread; the ts of the first one posted ("" if none)."""
        first = ""
        for blocks in messages:
            try:
                sent = await self.call(
                    origin,
                    "chat.postMessage",
                    functools.partial(
                        client.chat_postMessage,
                        channel=origin.ctx.channel,
                        thread_ts=root,
                        text=fallback_text(answer),
                        blocks=blocks,
                    ),
                )
                first = first or sent["ts"]
            except _Failed:
                continue
        return first

    async def _private(
        self,
        client: AsyncWebClient,
        origin: Origin,
        answer: Answer,
        placeholder: str,
        thread_ts: str | None,
    ) -> None:
        """Show a notice to the asker only: drop the placeholder, post it ephemerally."""
        ctx = origin.ctx
        await self._quiet(
            self.call(
                origin,
                "chat.delete",
                lambda: client.chat_delete(channel=ctx.channel, ts=placeholder),
            )
        )
        blocks = render_slack(answer, buttons=False)[0]
        try:
            await self.call(
                origin,
                "chat.postEphemeral",
                lambda: client.chat_postEphemeral(
                    channel=ctx.channel,
                    user=ctx.user,
                    thread_ts=thread_ts,
                    text=fallback_text(answer),
                    blocks=blocks,
                ),
            )
        except _Failed:
            if origin.response_url:
                await self._webhook(origin, answer, note="")

    async def _answer_by_response_url(self, origin: Origin, text: str) -> None:
        loop = asyncio.get_running_loop()
        answer: Answer = await loop.run_in_executor(
            self.service.pool, self.service.handle, origin.ctx, text, None, None
        )
        await self._webhook(origin, answer, note=INVITE)

    async def _webhook(self, origin: Origin, answer: Answer, note: str) -> None:
        """Reply through the command's response_url (ephemeral: valid 30 minutes, 5 uses)."""
        blocks = render_slack(answer, buttons=False)[0][:49]
        if note:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        hook = AsyncWebhookClient(origin.response_url)
        hook.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        try:
            sent = await hook.send(
                text=fallback_text(answer), blocks=blocks, response_type="ephemeral"
            )
            if sent.status_code >= 300:
                raise RuntimeError(f"HTTP {sent.status_code}")
        except Exception as exc:  # noqa: BLE001 - logged with every id, then dropped
            ctx = origin.ctx
            log.warning(
                "response_url reply failed: %s (workspace=%s channel=%s user=%s request=%s)",
                exc, ctx.workspace, ctx.channel, ctx.user, origin.request_id,
            )  # fmt: skip

    @staticmethod
    async def _quiet(work: Awaitable[Any]) -> None:
        with contextlib.suppress(_Failed):  # already logged; a lost progress edit is harmless
            await work

    def register(self, app: AsyncApp) -> None:
        """Attach every listener to ``app``."""

        @app.middleware
        async def drop_duplicates(
            req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
        ) -> BoltResponse:
            event_id = req.body.get("event_id")
            if event_id:
                first = await asyncio.to_thread(self.service.events.first_time, f"slack:{event_id}")
                if not first:
                    log.info("duplicate delivery of %s ignored", event_id)
                    return BoltResponse(status=200, body="")
            return await next()

        for command in COMMANDS:
            app.command(command.slack_name)(self._on_command)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.action(re.compile(r"^advisor_followup_\d+$"))(self._on_button)

    async def _on_command(self, ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        dm = command.get("channel_name") in ("directmessage", "mpdm") or str(
            command.get("channel_id", "")
        ).startswith("D")
        ctx = ChatContext(
            "slack", command.get("team_id", ""), command["channel_id"], command["user_id"], "",
            dm=dm,
        )  # fmt: skip
        origin = Origin(ctx, command.get("trigger_id", ""), command.get("response_url", ""))
        text = grammar_text("slack", command["command"], command.get("text", ""))
        await self.answer(client, origin, text, None)

    async def _on_mention(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        if event.get("bot_id"):
            return
        ctx = ChatContext(
            "slack", body.get("team_id", ""), event["channel"], event.get("user", ""), ""
        )
        bot = context.get("bot_user_id") or ""
        text = re.sub(rf"<@{re.escape(bot)}>\s*", "", event.get("text", "")).strip()
        origin = Origin(ctx, str(body.get("event_id", "")))
        await self.answer(client, origin, text or "/help", event.get("thread_ts") or event["ts"])

    async def _on_message(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return  # our own posts, edits and joins
        bot = context.get("bot_user_id") or ""
        text = event.get("text", "")
        in_dm = event.get("channel_type") == "im"
        if bot in _MENTION.findall(text) and not in_dm:
            return  # answered by _on_mention
        thread_ts = event.get("thread_ts")
        if not in_dm and not (thread_ts and f"{event['channel']}:{thread_ts}" in self.threads):
            return
        if in_dm and bot:
            text = re.sub(rf"<@{re.escape(bot)}>\s*", "", text).strip()
        ctx = ChatContext(
            "slack", body.get("team_id", ""), event["channel"], event.get("user", ""),
            thread_ts or "", dm=in_dm and not thread_ts,
        )  # fmt: skip
        origin = Origin(ctx, str(body.get("event_id", "")))
        await self.answer(client, origin, text, thread_ts or (None if in_dm else event["ts"]))

    async def _on_button(self, ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        message = body.get("message", {})
        channel = body["channel"]["id"]
        ctx = ChatContext(
            "slack", body.get("team", {}).get("id", ""), channel, body["user"]["id"], "",
            dm=channel.startswith("D") and not message.get("thread_ts"),
        )  # fmt: skip
        origin = Origin(ctx, str(body.get("trigger_id", "")), str(body.get("response_url", "")))
        thread = message.get("thread_ts") or (None if ctx.dm else message.get("ts"))
        await self.answer(client, origin, action["value"], thread)


class _Later:
    """Answers that arrive after the reply (job progress and results) for one thread.

    Progress of one job edits one message in place, at most once per ``progress_interval``;
    the result replaces it (or, if that edit fails, arrives as a new message).
    """

    def __init__(
        self, adapter: SlackAdvisor, client: AsyncWebClient, origin: Origin, root: str
    ) -> None:
        self.adapter, self.client, self.origin, self.root = adapter, client, origin, root
        self.loop = asyncio.get_running_loop()
        self.messages: dict[str, str] = {}  # progress key -> ts of its message
        self.last: dict[str, float] = {}
        self.lock = asyncio.Lock()

    def notify(self, answer: Answer) -> None:
        """Called from worker threads."""
        asyncio.run_coroutine_threadsafe(self.show(answer), self.loop)

    async def show(self, answer: Answer) -> None:
        key = answer.data.get("progress")
        final = bool(answer.data.get("final"))
        async with self.lock:
            if key is None:
                await self.adapter.post(
                    self.client, self.origin, self.root, render_slack(answer), answer
                )
                return
            now = time.monotonic()
            if not final and now - self.last.get(key, -1e9) < self.adapter.progress_interval:
                return
            self.last[key] = now
            ts = self.messages.get(key)
            if ts is None:
                posted = await self.adapter.post(
                    self.client, self.origin, self.root, render_slack(answer)[:1], answer
                )
                if posted and not final:
                    self.messages[key] = posted
                if final:
                    await self.adapter.post(
                        self.client, self.origin, self.root, render_slack(answer)[1:], answer
                    )
                return
            await self.adapter.replace(self.client, self.origin, ts, self.root, answer)


def web_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    """A Web API client that retries 429s (after Retry-After), 5xx and dropped connections."""
    client = AsyncWebClient(token=token, base_url=base_url or AsyncWebClient.BASE_URL)
    client.retry_handlers.extend(
        [
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
        ]
    )
    return client


def build_app(
    service: ChatService, bot_token: str, signing_secret: str, client: AsyncWebClient | None = None
) -> tuple[AsyncApp, SlackAdvisor]:
    """A Bolt app with the advisor's listeners; ``client`` lets tests point it at a fake API."""
    app = AsyncApp(
        signing_secret=signing_secret,
        client=client or web_client(bot_token),
        request_verification_enabled=True,
    )
    adapter = SlackAdvisor(service)
    adapter.register(app)
    return app, adapter
