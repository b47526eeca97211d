"""`advisor serve`: run the configured chat adapters in one process.

Slack runs when its bot token is set (Socket Mode with an app token, else HTTP mode with the
signing secret), Discord when its token is set, both when both are, and the terminal chat
when neither is. Missing pieces fail at start-up with the variable to set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from bot.advisor import Advisor
from bot.chat_service import AccessPolicy, ChatService, RateLimiter
from bot.errors import ConfigError
from bot.profiles import ProfileStore
from bot.settings import Settings
from bot.trials.jobs import JobStore
from bot.trials.service import Trials
from knowledge.db import make_engine, migrate

log = logging.getLogger("advisor")


def chat_service(advisor: Advisor, settings: Settings) -> ChatService:
    """The shared service with the configured profiles database, admins and rate limit."""
    engine = make_engine(settings.db_url)
    migrate(engine)
    trials = Trials(settings.ollama_host, advisor.advice.resolver, JobStore(engine))
    interrupted = trials.runner.recover()
    if interrupted:
        log.warning("jobs interrupted by the last restart: %s", ", ".join(interrupted))
    return ChatService(
        advisor,
        ProfileStore(engine, advisor.catalog),
        AccessPolicy(frozenset(settings.admin_users), frozenset(settings.admin_roles)),
        RateLimiter(settings.rate_limit_per_minute),
        trials,
    )


def adapters(settings: Settings) -> list[str]:
    """Which adapters the settings ask for ("slack", "discord"); empty means the terminal."""
    chosen = []
    if settings.slack_bot_token:
        if not (settings.slack_app_token or settings.slack_signing_secret):
            raise ConfigError(
                "Slack needs ADVISOR_SLACK_APP_TOKEN (Socket Mode) or ADVISOR_SLACK_SIGNING_SECRET "
                "(HTTP mode) besides ADVISOR_SLACK_BOT_TOKEN."
            )
        chosen.append("slack")
    if settings.discord_token:
        chosen.append("discord")
    return chosen


def _slack(service: ChatService, settings: Settings) -> Coroutine[Any, Any, None]:
    from bot.adapters.slack_bot import asgi_app, build_app, run_socket_mode

    assert settings.slack_bot_token is not None
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    app, _ = build_app(service, settings.slack_bot_token.get_secret_value(), secret)
    if settings.slack_app_token:
        return run_socket_mode(app, settings.slack_app_token.get_secret_value())
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(asgi_app(app), host="0.0.0.0", port=settings.slack_http_port)
    )
    return server.serve()


def _discord(service: ChatService, settings: Settings) -> Coroutine[Any, Any, None]:
    from bot.adapters.discord_bot import run_discord

    assert settings.discord_token is not None
    names = sorted({*service.advisor.catalog.variants, *service.advisor.catalog.families})
    return run_discord(
        service, settings.discord_token.get_secret_value(), names, settings.discord_message_content
    )


async def serve_chat(service: ChatService, settings: Settings, chosen: list[str]) -> None:
    """Run every chosen adapter until one stops."""
    runners = {"slack": _slack, "discord": _discord}
    tasks = [asyncio.create_task(runners[name](service, settings)) for name in chosen]
    log.info("serving: %s", ", ".join(chosen))
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()
