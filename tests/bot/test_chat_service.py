"""What Slack and Discord users share: profiles, access control, rate limits, friendly errors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.advisor import Advisor
from bot.chat_service import AccessPolicy, ChatContext, ChatService, RateLimiter
from bot.profiles import ProfileStore
from knowledge.db import make_engine, migrate
from rules.packs import load_rules

CTX = ChatContext("slack", "T1", "C1", "U1", "t1")


@pytest.fixture
def store(catalog, tmp_path: Path) -> ProfileStore:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    migrate(engine)
    return ProfileStore(engine, catalog)


@pytest.fixture
def service(catalog, store: ProfileStore) -> ChatService:  # type: ignore[no-untyped-def]
    return ChatService(Advisor(catalog, load_rules()), store)


def test_profile_is_saved_applied_and_named(service: ChatService, store: ProfileStore) -> None:
    saved = service.handle(CTX, "/llm-profile set gpu=4090 gpus=2 commercial=yes")
    assert "Saved" in saved.text and "2x rtx-4090, commercial" in saved.text
    answer = service.handle(CTX, "which model for code?")
    assert "team profile: 2x rtx-4090, commercial" in answer.understood
    assert (
        answer.data["requirements"]["gpu"] == "rtx-4090"
        and answer.data["requirements"]["gpu_count"] == 2
    )
    other_channel = service.handle(
        ChatContext("slack", "T1", "C2", "U1", "t2"), "which model for code?"
    )
    assert "team profile" not in other_channel.understood
    # persisted: a new store on the same database sees it
    assert (
        ProfileStore(store.engine, store.catalog).effective("slack", "T1", "C1")["gpu_count"] == 2
    )


def test_workspace_profile_with_channel_override(service: ChatService) -> None:
    service.handle(CTX, "/llm-profile set commercial=yes language=zh scope=workspace")
    service.handle(CTX, "/llm-profile set gpu=a100-80gb")
    shown = service.handle(ChatContext("slack", "T1", "C9", "U1", "x"), "/llm-profile")
    assert "commercial" in shown.text and "a100" not in shown.text
    answer = service.handle(CTX, "which model for summarization?")
    assert answer.language == "zh" and "1x a100-80gb" in answer.understood


def test_bad_profile_values_explain_themselves(service: ChatService) -> None:
    assert (
        "Unknown profile field 'colour'" in service.handle(CTX, "/llm-profile set colour=red").text
    )
    assert (
        "I don't know a GPU called '4909'" in service.handle(CTX, "/llm-profile set gpu=4909").text
    )
    assert (
        "commercial must be yes or no"
        in service.handle(CTX, "/llm-profile set commercial=maybe").text
    )


def test_only_admins_change_profiles_when_an_allowlist_is_set(catalog, store: ProfileStore) -> None:  # type: ignore[no-untyped-def]
    service = ChatService(
        Advisor(catalog, load_rules()), store, AccessPolicy(users=frozenset({"UADMIN"}))
    )
    refused = service.handle(CTX, "/llm-profile set commercial=yes")
    assert "Only the advisor's admins" in refused.text
    admin = ChatContext("slack", "T1", "C1", "UADMIN", "t")
    assert "Saved" in service.handle(admin, "/llm-profile set commercial=yes").text
    assert (
        "commercial" in service.handle(CTX, "/llm-profile show").text
    )  # everyone may look and ask
    role_policy = AccessPolicy(roles=frozenset({"llm-admins"}))
    assert role_policy.allows(
        ChatContext("discord", "G", "C", "U2", "t", frozenset({"llm-admins"})), "profile"
    )


def test_rate_limit_answers_kindly(catalog, store: ProfileStore) -> None:  # type: ignore[no-untyped-def]
    now = [0.0]
    service = ChatService(
        Advisor(catalog, load_rules()),
        store,
        limiter=RateLimiter(per_minute=2, clock=lambda: now[0]),
    )
    service.handle(CTX, "/help")
    service.handle(CTX, "/help")
    limited = service.handle(CTX, "/help")
    assert "try again in 60 s" in limited.text
    assert "请" in service.handle(ChatContext("slack", "T1", "C1", "U1", "t"), "帮助").text
    now[0] = 61.0
    assert "Commands" in service.handle(CTX, "/help").text


def test_unexpected_failure_gives_a_request_id_not_a_trace(
    service: ChatService, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(service.advisor, "handle", boom)
    answer = service.handle(CTX, "which model?")
    assert (
        "request id" in answer.text
        and "hunter2" not in answer.text
        and "Traceback" not in answer.text
    )


def test_only_adapters_import_platform_sdks() -> None:
    root = Path(__file__).resolve().parents[2]
    platform = ("slack_bolt", "slack_sdk", "discord")
    offenders = []
    for path in root.glob("*/**/*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in (".venv", "tests", "bench") or rel.parts[:2] == ("bot", "adapters"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [f"{rel}: {n}" for n in names if n.split(".")[0] in platform]
    assert not offenders


def test_profile_notices_follow_a_chinese_question(catalog, store: ProfileStore) -> None:  # type: ignore[no-untyped-def]
    service = ChatService(
        Advisor(catalog, load_rules()), store, AccessPolicy(users=frozenset({"UADMIN"}))
    )
    refused = service.handle(CTX, "/llm-profile clear 清除配置")
    assert refused.text.startswith("只有顾问的管理员") and refused.language == "zh"
    assert refused.data.get("private") and "admins" not in refused.text
    english = service.handle(CTX, "/llm-profile clear")
    assert english.text.startswith("Only the advisor's admins")
    admin = ChatContext("slack", "T1", "C1", "UADMIN", "t")
    assert service.handle(admin, "/llm-profile clear 清除配置").text == "已清除本频道的团队配置。"


def test_subscription_notices_follow_a_chinese_question(service: ChatService) -> None:
    subscribed = service.handle(CTX, "/digest subscribe 每周摘要")
    assert subscribed.text == "已订阅：本频道将收到每周摘要。"
    assert service.handle(CTX, "/digest unsubscribe 取消订阅").text == "已取消订阅。"
    assert service.handle(CTX, "/digest unsubscribe").text == "This channel was not subscribed."
