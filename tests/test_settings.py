"""Settings come from the environment, then .env, with messages that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import load_settings


def test_the_environment_wins_over_dotenv_and_dotenv_fills_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "ADVISOR_CHAT_WORKERS=3\n"
        "# a comment\n"
        "export ADVISOR_RATE_LIMIT_PER_MINUTE=25\n"
        "ADVISOR_ADMIN_USERS='U1, discord:42'\n"
        "ADVISOR_NOT_A_SETTING=ignored\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ADVISOR_CHAT_WORKERS", "5")
    settings = load_settings()
    assert settings.chat_workers == 5  # environment
    assert settings.rate_limit_per_minute == 25  # .env, `export` form
    assert settings.admin_users == ["U1", "discord:42"]


def test_ollama_host_falls_back_to_ollamas_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://gpu-box:11434")
    assert load_settings().ollama_host == "http://gpu-box:11434"
    monkeypatch.setenv("ADVISOR_OLLAMA_HOST", "http://other:11434")
    assert load_settings().ollama_host == "http://other:11434"


def test_names_are_read_in_any_case_and_lists_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("advisor_feeds", '["https://a.example/rss", "https://b.example/atom"]')
    assert load_settings().feeds == ["https://a.example/rss", "https://b.example/atom"]


def test_a_bad_value_names_its_variable_and_hides_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADVISOR_CHAT_WORKERS", "lots")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert "ADVISOR_CHAT_WORKERS='lots' is not valid" in bad.value.user_message
    monkeypatch.delenv("ADVISOR_CHAT_WORKERS")
    (tmp_path / ".env").write_text("ADVISOR_OLLAMA_HEADERS=not a header line\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "ADVISOR_OLLAMA_HEADERS='********'" in caught.value.user_message
    assert "not a header line" not in caught.value.user_message


def test_explicit_overrides_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path / "from-env"))
    assert load_settings(data_dir=tmp_path / "given").data_dir == tmp_path / "given"
