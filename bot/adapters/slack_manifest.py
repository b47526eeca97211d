"""The Slack app manifest, generated from the command registry (Socket Mode or HTTP mode).

``make docs`` writes the Socket Mode variant to bot/adapters/slack_manifest.yaml;
``advisor slack-manifest --http https://advisor.example.com`` (or :func:`manifest_yaml`)
gives the HTTP variant with every request URL filled in.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.commands import COMMANDS

BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "chat:write",
    "commands",
)
HEADER = """\
# Slack app manifest for LLM Advisor, generated from bot/commands.py by `make docs`.
# api.slack.com/apps -> Create New App -> From a manifest -> paste this file.
# Then install it to your workspace and set ADVISOR_SLACK_BOT_TOKEN (xoxb-...),
# ADVISOR_SLACK_SIGNING_SECRET and, for Socket Mode, ADVISOR_SLACK_APP_TOKEN (xapp-...,
# an app-level token with connections:write). For HTTP mode generate the variant with
# request URLs: bot.adapters.slack_manifest.manifest_yaml("https://your.host").
"""


def manifest(request_base: str | None = None) -> dict[str, Any]:
    """The manifest; with ``request_base`` the HTTP-mode variant (events at /slack/events)."""
    url = f"{request_base.rstrip('/')}/slack/events" if request_base else None
    commands = []
    for c in COMMANDS:
        entry: dict[str, Any] = {
            "command": c.slack_name,
            "description": c.brief[:100],
            "usage_hint": (c.hint or c.usage_on("slack").partition(" ")[2])[:100],
            "should_escape": False,
        }
        if url:
            entry["url"] = url
        if not entry["usage_hint"]:
            del entry["usage_hint"]
        commands.append(entry)
    events: dict[str, Any] = {
        "bot_events": [
            "app_mention",
            "message.channels",
            "message.groups",
            "message.im",
            "message.mpim",
        ]
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    if url:
        events["request_url"] = url
        interactivity["request_url"] = url
    return {
        "display_information": {
            "name": "LLM Advisor",
            "description": "Choose, size and try large language models from chat.",
            "background_color": "#1f2937",
        },
        "features": {
            "app_home": {"messages_tab_enabled": True, "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": "llm-advisor", "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": url is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(request_base: str | None = None) -> str:
    """The manifest as the YAML file users paste into Slack."""
    body = yaml.safe_dump(manifest(request_base), sort_keys=False, allow_unicode=True)
    return HEADER + body
