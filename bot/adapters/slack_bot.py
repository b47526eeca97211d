"""The Slack adapter (slack-bolt, async): slash commands, mentions, DMs and thread follow-ups.

Every request is acknowledged at once; the answer is worked out off the event loop and
lands in a thread: a placeholder message first, updated as tokens stream in (at most once
a second), then replaced by the rendered Block Kit answer, with further messages in the
thread when the answer is long. The thread is the conversation: follow-ups in it refine the
earlier question.

Slack retries slow events (``x-slack-retry-num``) and sometimes delivers one twice; both
are answered once, by event id. The bot ignores its own messages, retries 429s with the
SDK's RateLimitErrorRetryHandler, and posts to any one channel at most about once a second.
Socket Mode needs only ``ADVISOR_SLACK_APP_TOKEN``; HTTP mode serves Bolt through Starlette
behind a load balancer, with every request's signature verified.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.render_slack import fallback_text, render_slack
from bot.answer import Answer
from bot.chat_service import ChatContext, ChatService, DuplicateGuard

log = logging.getLogger("advisor")
COMMANDS = (
    "/advisor",
    "/compare",
    "/fit",
    "/recommend",
    "/whynot",
    "/llm-profile",
    "/trial",
    "/eval",
)
_MENTION = re.compile(r"<@[A-Z0-9]+>\s*")


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


def command_text(command: str, text: str) -> str:
    """A slash command's payload in the shared grammar ("/whynot x" -> "/why-not x")."""
    if command == "/advisor":
        return text
    name = {"/whynot": "/why-not"}.get(command, command)
    return f"{name} {text}".strip()


class SlackAdvisor:
    """Bolt listeners bound to one ChatService."""

    def __init__(
        self, service: ChatService, pacer: ChannelPacer | None = None, workers: int = 1
    ) -> None:
        self.service = service
        # Answers are CPU work under the GIL: one worker keeps the event loop free to
        # acknowledge new requests within Slack's 3 seconds during a burst.
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-answer")
        self.pacer = pacer or ChannelPacer()
        self.seen = DuplicateGuard()
        self.threads: set[str] = set()

    async def answer(
        self, client: AsyncWebClient, ctx: ChatContext, text: str, thread_ts: str | None
    ) -> None:
        """Post a placeholder, stream into it, then the rendered answer in the thread."""
        placeholder = await self.pacer.call(
            ctx.channel,
            lambda: client.chat_postMessage(
                channel=ctx.channel, thread_ts=thread_ts, text=f"_Thinking about:_ {text[:200]}"
            ),
        )
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
                snapshot = "".join(streamed)
                asyncio.run_coroutine_threadsafe(
                    self.pacer.call(
                        ctx.channel,
                        lambda: client.chat_update(
                            channel=ctx.channel, ts=ts, text=snapshot + " …"
                        ),
                    ),
                    loop,
                )

        def notify(later: Answer) -> None:
            asyncio.run_coroutine_threadsafe(self.post(client, ctx.channel, root, later), loop)

        context = ChatContext(ctx.platform, ctx.workspace, ctx.channel, ctx.user, root, ctx.roles)
        answer: Answer = await loop.run_in_executor(
            self.executor, self.service.handle, context, text, on_token, notify
        )
        messages = render_slack(answer)
        await self.pacer.call(
            ctx.channel,
            lambda: client.chat_update(
                channel=ctx.channel, ts=ts, text=fallback_text(answer), blocks=messages[0]
            ),
        )
        for blocks in messages[1:]:
            await self.pacer.call(
                ctx.channel,
                functools.partial(
                    client.chat_postMessage,
                    channel=ctx.channel,
                    thread_ts=root,
                    text=fallback_text(answer),
                    blocks=blocks,
                ),
            )

    async def post(
        self, client: AsyncWebClient, channel: str, thread_ts: str, answer: Answer
    ) -> None:
        """Post an answer that arrives later (trial and eval results) in the thread."""
        for blocks in render_slack(answer):
            await self.pacer.call(
                channel,
                functools.partial(
                    client.chat_postMessage,
                    channel=channel,
                    thread_ts=thread_ts,
                    text=fallback_text(answer),
                    blocks=blocks,
                ),
            )

    def register(self, app: AsyncApp) -> None:
        """Attach every listener to ``app``."""

        @app.middleware
        async def drop_duplicates(
            req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
        ) -> BoltResponse:
            event_id = req.body.get("event_id")
            if event_id and not self.seen.first_time(str(event_id)):
                log.info("duplicate delivery of %s ignored", event_id)
                return BoltResponse(status=200, body="")
            return await next()

        for name in COMMANDS:
            app.command(name)(self._on_command)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.action(re.compile(r"^advisor_followup_\d+$"))(self._on_button)

    async def _on_command(self, ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ctx = ChatContext(
            "slack", command.get("team_id", ""), command["channel_id"], command["user_id"], ""
        )
        await self.answer(
            client, ctx, command_text(command["command"], command.get("text", "")), None
        )

    async def _on_mention(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if event.get("bot_id"):
            return
        ctx = ChatContext(
            "slack", body.get("team_id", ""), event["channel"], event.get("user", ""), ""
        )
        text = _MENTION.sub("", event.get("text", "")).strip()
        await self.answer(client, ctx, text or "/help", event.get("thread_ts") or event["ts"])

    async def _on_message(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if event.get("bot_id") or event.get("subtype") or _MENTION.search(event.get("text", "")):
            return  # our own posts, edits and joins; mentions are answered by _on_mention
        thread_ts = event.get("thread_ts")
        in_dm = event.get("channel_type") == "im"
        if not in_dm and not (thread_ts and f"{event['channel']}:{thread_ts}" in self.threads):
            return
        ctx = ChatContext(
            "slack", body.get("team_id", ""), event["channel"], event.get("user", ""), ""
        )
        await self.answer(
            client, ctx, event.get("text", ""), thread_ts or (None if in_dm else event["ts"])
        )

    async def _on_button(self, ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        message = body.get("message", {})
        ctx = ChatContext(
            "slack",
            body.get("team", {}).get("id", ""),
            body["channel"]["id"],
            body["user"]["id"],
            "",
        )
        await self.answer(
            client, ctx, action["value"], message.get("thread_ts") or message.get("ts")
        )


def web_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    """A Web API client that retries rate-limited calls (HTTP 429) after Retry-After."""
    client = AsyncWebClient(token=token, base_url=base_url or AsyncWebClient.BASE_URL)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
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


def asgi_app(app: AsyncApp) -> Any:
    """HTTP mode: a Starlette app serving Bolt at POST /slack/events."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Any:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", endpoint=events, methods=["POST"])])


async def run_socket_mode(app: AsyncApp, app_token: str) -> None:
    """Socket Mode: no public URL needed."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    await AsyncSocketModeHandler(app, app_token).start_async()


def post_answer(token: str, channel: str, answer: Answer, base_url: str | None = None) -> None:
    """Post an answer to a channel outside any request (the weekly digest); raises on failure."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    for blocks in render_slack(answer, buttons=False):
        client.chat_postMessage(channel=channel, text=fallback_text(answer), blocks=blocks)
        time.sleep(1.0)  # at most about one message per second per channel
