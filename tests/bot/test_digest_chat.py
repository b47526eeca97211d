"""/digest in chat, and a subscribed Slack channel getting it once a week (real slack_sdk)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.slack_serve import post_answer
from bot.advisor import Advisor
from bot.chat_service import ChatContext, ChatService
from bot.digest import digest_answer
from bot.profiles import ProfileStore
from bot.scheduler import DigestScheduler
from bot.subscriptions import SubscriptionStore
from knowledge.db import make_engine, migrate
from rules.packs import load_rules
from tests.fakes.slack_api import SlackApiServer

CTX = ChatContext("slack", "T1", "C42", "U1", "t")
# Subscribed the Friday before the first scheduled Monday run; no test reads the real clock.
SUBSCRIBED_AT = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture
def service(catalog, curated_db: Path, tmp_path: Path) -> ChatService:  # type: ignore[no-untyped-def]
    db = tmp_path / "digest.db"
    shutil.copy(curated_db, db)
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    return ChatService(
        Advisor(catalog, load_rules()), ProfileStore(engine, catalog), clock=lambda: SUBSCRIBED_AT
    )


def test_digest_subscribe_and_unsubscribe(service: ChatService) -> None:
    assert "Subscribed" in service.handle(CTX, "/digest subscribe").text
    store = SubscriptionStore(service.profiles.engine)
    assert [s.channel for s in store.all()] == ["C42"]
    assert "Unsubscribed" in service.handle(CTX, "/digest unsubscribe").text
    assert "was not subscribed" in service.handle(CTX, "/digest unsubscribe").text
    assert "days must be between 1 and 90" in service.handle(CTX, "/digest days=400").text


def test_empty_week_still_answers(service: ChatService) -> None:
    answer = service.handle(CTX, "/digest days=7")  # nothing synced yet: says so, no failure
    assert "No new model releases were first seen in the last 7 days." in answer.text
    assert "2026-11-20 to 2026-11-27" in answer.text  # the window ends at the injected clock
    assert "went wrong" not in answer.text and not answer.tables and not answer.llm.used


def test_subscription_posts_exactly_once_per_week(service: ChatService) -> None:
    service.handle(CTX, "/digest subscribe")
    with SlackApiServer() as slack:

        def post(sub, week_key):  # type: ignore[no-untyped-def]
            answer = digest_answer(
                service.advisor, service.profiles.engine, 7, {}, sub.language, now=SUBSCRIBED_AT
            )
            post_answer("xoxb-test", sub.channel, answer, base_url=slack.url)

        scheduler = DigestScheduler(
            post, SubscriptionStore(service.profiles.engine), "mon", "09:00", "UTC"
        )
        monday = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)
        assert len(scheduler.run_due(monday)) == 1
        assert scheduler.run_due(monday.replace(hour=17)) == []  # same week: nothing more
        restarted = DigestScheduler(
            post, SubscriptionStore(service.profiles.engine), "mon", "09:00", "UTC"
        )
        assert restarted.run_due(monday.replace(hour=18)) == []  # even after a restart
        assert len(restarted.run_due(datetime(2026, 12, 7, 9, 1, tzinfo=UTC))) == 1  # next week
        posts = slack.state.called("chat.postMessage")
    assert [p["channel"] for p in posts] == ["C42", "C42"]
    assert "blocks" in posts[0] and json.dumps(posts[0]["blocks"])
