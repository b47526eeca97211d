"""`advisor serve`: run the configured chat adapters in one process.

Slack runs when its bot token is set (Socket Mode with an app token, else HTTP mode with the
signing secret), Discord when its token is set, both when both are, and the terminal chat
when neither is. The weekly digest schedule runs beside them and posts to subscribed
channels. Missing pieces fail at start-up with the variable to set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bot.chat_service import ChatService
from bot.digest import digest_answer
from bot.scheduler import DigestScheduler
from bot.subscriptions import Subscription, SubscriptionStore
from core.errors import ConfigError
from core.settings import Settings

log = logging.getLogger("advisor")


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


def check_platforms(settings: Settings, chosen: list[str]) -> None:
    """Before serving: a wrong token, missing scope or unreachable Slack ends start-up."""
    if "slack" in chosen and settings.slack_bot_token:
        from bot.adapters.slack_serve import check_slack

        team = check_slack(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        log.info("Slack token accepted for %s", team)


def _slack(service: ChatService, settings: Settings) -> Coroutine[Any, Any, None]:
    from bot.adapters.slack_bot import build_app, web_client
    from bot.adapters.slack_serve import asgi_app, run_socket_mode

    assert settings.slack_bot_token is not None
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    token = settings.slack_bot_token.get_secret_value()
    app, _ = build_app(service, token, secret, web_client(token, settings.slack_api_url))
    if settings.slack_app_token:
        return run_socket_mode(app, settings.slack_app_token.get_secret_value())
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(asgi_app(app), host="0.0.0.0", port=settings.slack_http_port)
    )
    return server.serve()


def _discord(service: ChatService, settings: Settings) -> Coroutine[Any, Any, None]:
    from bot.adapters.discord_commands import run_discord

    assert settings.discord_token is not None
    names = sorted({*service.advisor.catalog.variants, *service.advisor.catalog.families})
    return run_discord(
        service,
        settings.discord_token.get_secret_value(),
        names,
        settings.discord_message_content,
        settings.discord_guild_id,
    )


def digest_poster(service: ChatService, settings: Settings) -> Callable[[Subscription, str], None]:
    """What the weekly schedule calls: build the channel's digest and post it there."""

    def post(sub: Subscription, week_key: str) -> None:
        profile = service.profiles.effective(sub.platform, sub.workspace, sub.channel)
        answer = digest_answer(service.advisor, service.profiles.engine, 7, profile, sub.language)
        if sub.platform == "slack" and settings.slack_bot_token:
            from bot.adapters.slack_serve import post_answer as post_slack

            token = settings.slack_bot_token.get_secret_value()
            post_slack(token, sub.channel, answer, settings.slack_api_url)
        elif sub.platform == "discord" and settings.discord_token:
            from bot.adapters.discord_bot import post_answer as post_discord

            post_discord(settings.discord_token.get_secret_value(), sub.channel, answer)
        else:
            raise ConfigError(f"No {sub.platform} token to post the digest for {week_key}.")
        log.info("digest %s posted to %s:%s", week_key, sub.platform, sub.channel)

    return post


async def serve_chat(service: ChatService, settings: Settings, chosen: list[str]) -> None:
    """Run every chosen adapter, and the weekly digest schedule, until one stops."""
    runners = {"slack": _slack, "discord": _discord}
    scheduler = DigestScheduler(
        digest_poster(service, settings),
        SubscriptionStore(service.profiles.engine),
        settings.digest_day,
        settings.digest_time,
        settings.digest_timezone,
        retry_minutes=settings.digest_retry_minutes,
    )
    scheduler.start()
    log.info("serving: %s; digest %s", ", ".join(chosen), scheduler.describe())
    tasks = [asyncio.create_task(runners[name](service, settings)) for name in chosen]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()
    finally:
        scheduler.shutdown(wait=False)
