"""`make run` / `advisor serve` pick the adapters from the tokens that are set."""

from __future__ import annotations

import pytest

from bot.serve import adapters
from core.errors import ConfigError
from core.settings import load_settings


def test_no_tokens_means_terminal_chat() -> None:
    assert adapters(load_settings()) == []


def test_slack_and_discord_tokens_choose_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("ADVISOR_SLACK_APP_TOKEN", "xapp-1")
    assert adapters(load_settings()) == ["slack"]
    monkeypatch.setenv("ADVISOR_DISCORD_TOKEN", "d-1")
    assert adapters(load_settings()) == ["slack", "discord"]


def test_slack_needs_an_app_token_or_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(ConfigError) as caught:
        adapters(load_settings())
    assert "ADVISOR_SLACK_APP_TOKEN" in caught.value.user_message
    assert "ADVISOR_SLACK_SIGNING_SECRET" in caught.value.user_message
