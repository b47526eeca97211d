"""Running the Slack app: start-up checks, HTTP mode (with /health), Socket Mode, digest posts.

:func:`check_slack` calls ``auth.test`` once before serving, so a wrong token, a missing
scope or an unreachable Slack ends start-up with one line naming the setting to fix.
Socket Mode reconnects by itself; its connection errors are logged as one quiet line per
minute instead of a traceback every few seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.adapters.render_slack import fallback_text, render_slack
from bot.adapters.slack_manifest import BOT_SCOPES
from bot.answer import Answer
from core.errors import ConfigError

log = logging.getLogger("advisor")
DEFAULT_API = "https://slack.com/api/"
_BAD_TOKEN = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired")


def sync_client(token: str, base_url: str | None = None, retries: int = 2) -> WebClient:
    """A blocking Web API client retrying 429s, 5xx and dropped connections."""
    client = WebClient(token=token, base_url=base_url or DEFAULT_API, timeout=15)
    client.retry_handlers.extend(
        [
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries),
            ConnectionErrorRetryHandler(max_retry_count=retries),
        ]
    )
    return client


def check_slack(token: str, base_url: str | None = None) -> str:
    """Verify the bot token and its scopes with auth.test; the team name, or ConfigError."""
    try:
        reply = sync_client(token, base_url, retries=1).auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "")
        if error in _BAD_TOKEN:
            raise ConfigError(
                f"Slack refused ADVISOR_SLACK_BOT_TOKEN ({error}); set it to the app's Bot User "
                "OAuth Token (xoxb-...)."
            ) from None
        raise ConfigError(
            f"Slack answered auth.test with {error}; check ADVISOR_SLACK_BOT_TOKEN."
        ) from None
    except Exception as exc:  # noqa: BLE001 - no network, DNS, TLS: one line, no trace
        raise ConfigError(
            f"Slack is not reachable at {base_url or DEFAULT_API} ({type(exc).__name__}); "
            "check the network or ADVISOR_SLACK_API_URL."
        ) from None
    granted = {s.strip() for s in reply.headers.get("x-oauth-scopes", "").split(",") if s.strip()}
    missing = [s for s in BOT_SCOPES if granted and s not in granted]
    if missing:
        raise ConfigError(
            f"The Slack app lacks the scopes {', '.join(missing)}; add them (or recreate the app "
            "from bot/adapters/slack_manifest.yaml), reinstall it and update "
            "ADVISOR_SLACK_BOT_TOKEN."
        )
    return str(reply.get("team", ""))


def asgi_app(app: AsyncApp) -> Any:
    """HTTP mode: Bolt at POST /slack/events and a health check at GET /health."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Any:
        return await handler.handle(request)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", endpoint=events, methods=["POST"]),
            Route("/health", endpoint=health, methods=["GET"]),
        ]
    )


class _OncePerMinute(logging.Filter):
    """Socket Mode reconnect noise: one line without a trace per minute."""

    def __init__(self) -> None:
        super().__init__()
        self._last = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        record.exc_info, record.exc_text = None, None
        now = time.monotonic()
        if now - self._last < 60:
            return False
        self._last = now
        record.msg, record.args = (
            "Slack Socket Mode is reconnecting: %s",
            (record.getMessage()[:200],),
        )
        return True


async def run_socket_mode(app: AsyncApp, app_token: str) -> None:
    """Socket Mode: no public URL needed; reconnects quietly."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    quiet = logging.getLogger("advisor.slack_socket")
    quiet.addFilter(_OncePerMinute())
    handler = AsyncSocketModeHandler(app, app_token, logger=quiet)
    await handler.start_async()


def post_answer(token: str, channel: str, answer: Answer, base_url: str | None = None) -> None:
    """Post an answer outside any request (the weekly digest); 429/5xx retried, else raises."""
    client = sync_client(token, base_url, retries=3)
    for blocks in render_slack(answer, buttons=False):
        client.chat_postMessage(channel=channel, text=fallback_text(answer), blocks=blocks)
        time.sleep(1.0)  # at most about one message per second per channel
