"""ChatService behaviour a workspace relies on: validated profiles, own conversations, access."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from bot.advisor import Advisor
from bot.chat_service import AccessPolicy, ChatContext, ChatService
from bot.chat_state import RateLimiter
from bot.llm import OllamaChat
from bot.profiles import ProfileStore
from knowledge.db import make_engine, migrate
from knowledge.tables import TeamProfile
from rules.packs import load_rules

CTX = ChatContext("slack", "T1", "C1", "U1", "t1")


def _service(catalog, db: Path, **kw) -> ChatService:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    return ChatService(
        Advisor(catalog, load_rules(), llm=kw.pop("llm", None)), ProfileStore(engine, catalog), **kw
    )


@pytest.mark.parametrize(
    ("setting", "named"),
    [("gpus=0", "gpus"), ("gpus=100", "gpus"), ("gpus=-3", "gpus"), ("vram=0", "vram"),
     ("gpus=1.5", "gpus"), ("vram=lots", "vram")],
)  # fmt: skip
def test_out_of_range_profile_values_are_refused_with_field_and_range(  # type: ignore[no-untyped-def]
    catalog, tmp_path: Path, setting: str, named: str
) -> None:
    service = _service(catalog, tmp_path / "p.db")
    refused = service.handle(CTX, f"/llm-profile set {setting}")
    assert refused.text.startswith(f"{named} must be") and (
        "64" in refused.text or "2048" in refused.text
    )
    assert refused.data.get("private") is True
    assert "went wrong" not in service.handle(CTX, "/help").text
    assert "no defaults yet" in service.handle(CTX, "/llm-profile").text


def test_an_already_saved_bad_value_is_ignored_with_a_note(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service = _service(catalog, tmp_path / "p.db")
    with Session(service.profiles.engine) as session:
        session.add(
            TeamProfile(platform="slack", workspace="T1", channel="C1", gpu_count=0, gpu="rtx-4090")
        )
        session.commit()
    assert "Commands" in service.handle(CTX, "/help").text
    answer = service.handle(CTX, "which model for code?")
    assert "went wrong" not in answer.text and "ignored invalid gpus=0" in answer.understood
    assert answer.data["requirements"]["gpu"] == "rtx-4090"


def test_each_person_has_their_own_conversation_in_one_channel(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service = _service(catalog, tmp_path / "p.db")
    bob = ChatContext("discord", "G1", "C1", "bob", "C1")
    alice = ChatContext("discord", "G1", "C1", "alice", "C1")
    service.handle(bob, "which model for code on 2x A100 80GB, non-commercial?")
    answer = service.handle(alice, "and with 32k context?")
    assert answer.data["requirements"].get("gpu") is None


def test_a_dm_follow_up_survives_a_restart_and_new_starts_fresh(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dm = ChatContext("slack", "T1", "D1", "U1", "", dm=True)
    _service(catalog, tmp_path / "p.db").handle(dm, "which model for code on a 4090?")
    restarted = _service(catalog, tmp_path / "p.db")  # another process, same database
    follow = restarted.handle(dm, "and at 8-bit?")
    assert follow.data["requirements"]["gpu"] == "rtx-4090"
    assert "send `new` to start fresh" in follow.text
    assert "new conversation" in restarted.handle(dm, "new").text
    assert restarted.handle(dm, "and at 8-bit?").data["requirements"].get("gpu") is None


def test_rate_limit_is_shared_by_replicas(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    a, b = (_service(catalog, tmp_path / "p.db") for _ in range(2))
    for s in (a, b):
        s.limiter = RateLimiter(per_minute=2, clock=lambda: now[0], engine=s.profiles.engine)
    a.handle(CTX, "/help")
    b.handle(CTX, "/help")
    limited = a.handle(CTX, "/help")
    assert "try again in 60 s" in limited.text and limited.data["private"]
    now[0] += 61
    assert "Commands" in b.handle(CTX, "/help").text


def test_admin_roles_are_ids_and_dm_profiles_are_personal(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = AccessPolicy(users=frozenset({"discord:42"}), roles=frozenset({"1180000000000000099"}))
    service = _service(catalog, tmp_path / "p.db", access=policy)
    named = ChatContext("discord", "G1", "C1", "7", "C1", roles=frozenset({"llm-admins"}))
    assert "Only the advisor's admins" in service.handle(named, "/llm-profile set gpus=2").text
    by_role = ChatContext(
        "discord", "G1", "C1", "7", "C1", roles=frozenset({"1180000000000000099"})
    )
    assert "Saved" in service.handle(by_role, "/llm-profile set gpus=2").text
    assert (
        "Saved"
        in service.handle(
            ChatContext("discord", "G1", "C1", "42", "C1"), "/llm-profile set gpus=3"
        ).text
    )
    me = ChatContext("discord", "dm:7", "DM7", "7", "dm", dm=True)
    assert "Saved. Team profile for your DMs" in service.handle(me, "/llm-profile set gpus=4").text
    other = ChatContext("discord", "dm:8", "DM8", "8", "dm", dm=True)
    assert "no defaults yet" in service.handle(other, "/llm-profile").text


def test_help_lists_the_names_each_platform_accepts(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service = _service(catalog, tmp_path / "p.db")
    slack = service.handle(CTX, "/help").text
    assert "/whynot" in slack and "/advisor-help" not in slack.split("\n")[0]
    assert "/why-not" not in slack and "/ask " not in slack
    discord = service.handle(ChatContext("discord", "G", "C", "U", "C"), "/help").text
    assert "/whynot" in discord and "/ask" in discord


def test_an_unreachable_llm_is_named_without_operator_details(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    llm = OllamaChat("http://127.0.0.1:9", "qwen2.5:7b", timeout=2)
    service = _service(catalog, tmp_path / "p.db", llm=llm)
    answer = service.handle(CTX, "which model for code on a 4090?")
    assert "127.0.0.1" not in answer.text and "language model is not reachable" in answer.text
    zh = service.handle(CTX, "4090 上写代码用哪个模型？")
    assert "127.0.0.1" not in zh.text and "语言模型无法连接" in zh.text


def test_jobs_stay_in_their_workspace_and_with_their_owner(  # type: ignore[no-untyped-def]
    catalog, tmp_path: Path, ollama_server
) -> None:
    from bot.trials.jobs import JobStore
    from bot.trials.service import Trials
    from knowledge.resolve import Resolver
    from tests.fakes.ollama_server import FakeModel

    ollama_server.state.add(FakeModel("qwen2.5:7b", reply="ok", chunk_delay=0.2))
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    migrate(engine)
    trials = Trials(ollama_server.url, Resolver(catalog), JobStore(engine))
    service = ChatService(
        Advisor(catalog, load_rules()), ProfileStore(engine, catalog), trials=trials,
        access=AccessPolicy(users=frozenset({"UADMIN"})),
    )  # fmt: skip
    service.access = AccessPolicy()  # everyone may run trials; cancelling is still owner/admin
    alice = ChatContext("slack", "T1", "C1", "alice", "t")
    queued = service.handle(alice, '/trial qwen2.5:7b "Say hi" runs=3')
    job_id = queued.text.split()[1]
    assert job_id in service.handle(ChatContext("slack", "T1", "C2", "bob", "t"), "/jobs").text
    assert job_id not in service.handle(ChatContext("slack", "T2", "C1", "eve", "t"), "/jobs").text
    other_ws = service.handle(
        ChatContext("slack", "T2", "C1", "eve", "t"), f"/trial cancel {job_id}"
    )
    assert "No such job in this workspace" in other_ws.text
    bob = service.handle(ChatContext("slack", "T1", "C1", "bob", "t"), f"/trial cancel {job_id}")
    assert "belongs to someone else" in bob.text
    service.access = AccessPolicy(users=frozenset({"UADMIN"}))
    admin = service.handle(
        ChatContext("slack", "T1", "C1", "UADMIN", "t"), f"/trial cancel {job_id}"
    )
    assert "cancelling" in admin.text
