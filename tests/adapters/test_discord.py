"""The Discord adapter through the real discord.py: raw interaction payloads in, REST calls out.

discord.py's own tests build ``Interaction`` objects from raw payloads; we do the same on a
real client whose HTTP layer (``Route.BASE``) points at a fake Discord REST API on
loopback. The fake records every request (method, path, JSON body, arrival time), so the
tests check what a user would see: the "thinking…" defer within Discord's 3 s, the answer
edited into the original response, follow-ups within Discord's limits, autocomplete
choices, and replies to mentions in threads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
from aiohttp import web

from bot.adapters.discord_bot import matching_ids
from bot.adapters.discord_commands import AdvisorClient, build_client
from bot.adapters.splitting import unsplit
from bot.advisor import TRIAL_PROMPT, Advisor
from bot.answer import Answer, Citation, Table
from bot.chat_service import ChatContext, ChatService
from bot.commands import COMMANDS
from bot.profiles import ProfileStore
from knowledge.catalog import Catalog
from knowledge.db import make_engine, migrate
from knowledge.index import KnowledgeIndex
from rules.packs import load_rules

SNOWFLAKE = 1_180_000_000_000_000_000  # real ids have 18-20 digits; mention parsing relies on it
BOT_ID, APP_ID, USER_ID = SNOWFLAKE + 1, SNOWFLAKE + 2, SNOWFLAKE + 3
GUILD_ID, CHANNEL_ID, DM_ID, THREAD_ID = (SNOWFLAKE + n for n in range(4, 8))
BOT_USER = {
    "id": str(BOT_ID), "username": "advisor", "discriminator": "0", "avatar": None, "bot": True
}  # fmt: skip
USER = {"id": str(USER_ID), "username": "ada", "discriminator": "0", "avatar": None}
STAMP = "2026-11-01T00:00:00+00:00"
_ids = itertools.count(SNOWFLAKE + 1000)


@dataclass(frozen=True)
class Call:
    """One request the fake Discord received."""

    method: str
    path: str
    body: Any
    at: float


@dataclass
class FakeDiscord:
    """Discord's REST API on 127.0.0.1: records every request and answers like Discord."""

    calls: list[Call] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)  # path suffix -> HTTP status

    def find(self, method: str, suffix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.endswith(suffix)]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.body_exists else None
        path = request.path.removeprefix("/api/v10")
        self.calls.append(Call(request.method, path, body, time.monotonic()))
        status = next((code for end, code in self.refuse.items() if path.endswith(end)), 200)
        if status == 200 and isinstance(body, dict) and broken_limits(body):
            status = 400
        reply = (
            {"code": 50035, "message": "Invalid Form Body"}
            if status != 200
            else self.reply(request.method, path, body)
        )
        # content type without charset, exactly as Discord sends it (discord.py compares it)
        return web.Response(
            status=status, body=json.dumps(reply).encode(), content_type="application/json"
        )

    def reply(self, method: str, path: str, body: Any) -> Any:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return BOT_USER
        if path == "/oauth2/applications/@me":
            return {
                "id": str(APP_ID), "name": "LLM Advisor", "description": "", "icon": None,
                "bot_public": True, "bot_require_code_grant": False, "owner": USER,
                "verify_key": "00", "flags": 0,
            }  # fmt: skip
        if method == "PUT" and path.endswith("/commands"):
            return [{**c, "id": str(next(_ids)), "application_id": str(APP_ID)} for c in body]
        if path.endswith("/callback"):
            return {"interaction": {"id": parts[1], "type": 2}, "resource": {"type": body["type"]}}
        if path.endswith("/threads"):
            return _thread(body["name"])
        channel = int(parts[1]) if parts[0] == "channels" else CHANNEL_ID
        return _message(channel, (body or {}).get("content") or "", (body or {}).get("embeds", []))


def _message(channel: int, content: str, embeds: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(next(_ids)), "channel_id": str(channel), "type": 0, "content": content,
        "embeds": embeds, "author": BOT_USER, "attachments": [], "mentions": [],
        "mention_roles": [], "mention_everyone": False, "pinned": False, "tts": False,
        "timestamp": STAMP, "edited_timestamp": None, "flags": 0, "components": [],
    } | extra  # fmt: skip


def _thread(name: str) -> dict[str, Any]:
    return {
        "id": str(THREAD_ID), "type": 11, "guild_id": str(GUILD_ID), "parent_id": str(CHANNEL_ID),
        "owner_id": str(BOT_ID), "name": name, "message_count": 0, "member_count": 1,
        "rate_limit_per_user": 0, "flags": 0,
        "thread_metadata": {
            "archived": False, "auto_archive_duration": 1440, "archive_timestamp": STAMP,
            "locked": False,
        },
    }  # fmt: skip


@pytest.fixture(autouse=True)
def discord_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets a test repoint discord.py's REST base URL; restored afterwards."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)


@asynccontextmanager
async def connected(
    service: Any, names: list[str], message_content: bool = False
) -> AsyncIterator[tuple[AdvisorClient, FakeDiscord]]:
    """A logged-in client (commands synced) talking to a fresh fake Discord."""
    fake = FakeDiscord()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    discord.http.Route.BASE = f"http://{host}:{port}/api/v10"
    client = build_client(service, names, message_content=message_content)
    try:
        await client.login("test-token")
        yield client, fake
    finally:
        await client.close()
        await runner.cleanup()


def interaction(
    client: discord.Client, name: str, options: dict[str, str], kind: int = 2, focused: str = ""
) -> discord.Interaction[Any]:
    """A discord.Interaction built from the raw payload Discord sends for a slash command."""
    data = {
        "id": str(next(_ids)), "application_id": str(APP_ID), "type": kind, "version": 1,
        "token": f"tok{next(_ids)}", "guild_id": str(GUILD_ID), "channel_id": str(CHANNEL_ID),
        "channel": {"id": str(CHANNEL_ID), "type": 0, "name": "llms", "position": 0},
        "member": {
            "user": USER, "roles": [], "joined_at": STAMP, "deaf": False, "mute": False,
            "permissions": "0", "flags": 0,
        },
        "app_permissions": "0", "locale": "en-US", "entitlements": [],
        "attachment_size_limit": 8_388_608,
        "data": {
            "id": "1", "name": name, "type": 1,
            "options": [
                {"name": k, "type": 3, "value": v} | ({"focused": True} if k == focused else {})
                for k, v in options.items()
            ],
        },
    }  # fmt: skip
    return discord.Interaction(data=data, state=client._connection)  # type: ignore[arg-type]


def command(
    service: Any, name: str, options: dict[str, str], names: list[str] | None = None
) -> tuple[FakeDiscord, discord.Interaction[Any]]:
    """Run one slash command to completion; return the fake's record and the interaction."""

    async def scenario() -> tuple[FakeDiscord, discord.Interaction[Any]]:
        async with connected(service, names or []) as (client, fake):
            event = interaction(client, name, options)
            await client.tree._call(event)
            return fake, event

    return asyncio.run(scenario())


@dataclass
class FakeService:
    """Stands in for ChatService: optional delay and streamed tokens, then a fixed answer."""

    answer: Answer
    delay: float = 0.0
    tokens: list[str] = field(default_factory=list)
    token_gap: float = 0.0
    seen: list[tuple[ChatContext, str, float]] = field(default_factory=list)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(8))

    def handle(
        self,
        ctx: ChatContext,
        text: str,
        on_token: Callable[[str], None] | None = None,
        notify: Callable[[Answer], None] | None = None,
    ) -> Answer:
        self.seen.append((ctx, text, time.monotonic()))
        time.sleep(self.delay)
        for token in self.tokens:
            time.sleep(self.token_gap)
            if on_token:
                on_token(token)
        return self.answer


def broken_limits(body: dict[str, Any]) -> list[str]:
    """Every Discord message limit a message body breaks (Discord refuses it with HTTP 400)."""
    broken = []
    embeds = body.get("embeds") or []
    if len(body.get("content") or "") > 2000:
        broken.append("content over 2,000")
    if len(embeds) > 10:
        broken.append("more than 10 embeds")
    for embed in embeds:
        fields = embed.get("fields", [])
        if len(embed.get("description", "")) > 4096 or len(fields) > 25:
            broken.append("description over 4,096 or more than 25 fields")
        if any(len(f["name"]) > 256 or len(f["value"]) > 1024 for f in fields):
            broken.append("field name over 256 or value over 1,024")
    total = sum(_embed_size(e) for e in embeds)
    if any(_embed_size(e) > 6000 for e in embeds) or total > 6000:
        broken.append("over 6,000 characters in the embeds of one message")
    return broken


def _embed_size(embed: dict[str, Any]) -> int:
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    return total + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


@pytest.fixture
def real_service(catalog: Catalog, knowledge_index: KnowledgeIndex, tmp_path: Path) -> ChatService:
    """The real ChatService: Advisor without an LLM, profiles on a temporary SQLite."""
    engine = make_engine(f"sqlite:///{tmp_path / 'profiles.db'}")
    migrate(engine)
    advisor = Advisor(catalog, load_rules(), index=knowledge_index, llm=None)
    return ChatService(advisor, ProfileStore(engine, catalog))


def test_slash_commands_are_registered_with_autocomplete_and_choices() -> None:
    async def scenario() -> FakeDiscord:
        async with connected(FakeService(Answer("q", "en", "ok")), []) as (_, fake):
            return fake

    (sync,) = asyncio.run(scenario()).find("PUT", f"/applications/{APP_ID}/commands")
    commands = {c["name"]: c for c in sync.body}
    assert set(commands) == {c.discord_name for c in COMMANDS}
    assert {"digest", "jobs", "help", "trial"} <= set(commands)
    for spec in COMMANDS:
        synced = commands[spec.discord_name]
        assert synced["description"] == spec.brief and len(synced["description"]) <= 100
        # admin commands are hidden from members without Manage Server (0x20) by default
        permissions = synced.get("default_member_permissions")
        assert (str(permissions) if permissions is not None else None) == (
            "32" if spec.admin else None
        )
    trial_actions = {o["name"]: o for o in commands["trial"]["options"]}["action"]
    assert [c["value"] for c in trial_actions["choices"]] == ["run", "pull", "cancel"]
    compare = {o["name"]: o for o in commands["compare"]["options"]}
    assert [n for n, o in compare.items() if o.get("autocomplete")] == ["a", "b", "c", "d"]
    assert [n for n, o in compare.items() if o["required"]] == ["a", "b"]
    action = commands["llm-profile"]["options"][0]
    assert [c["value"] for c in action["choices"]] == ["show", "set", "clear"]


def test_compare_defers_then_edits_the_answer_into_the_original_response(
    real_service: ChatService,
    catalog: Catalog,
) -> None:
    fake, _ = command(
        real_service, "compare", {"a": "llama2", "b": "mistral"}, list(catalog.variants)
    )
    callback, edit = fake.calls[-2:]
    assert callback.path.endswith("/callback") and callback.body == {"type": 5}
    assert (edit.method, edit.path) == (
        "PATCH",
        f"/webhooks/{APP_ID}/{_token(fake)}/messages/@original",
    )
    assert (
        "llama2-7b-chat" in edit.body["content"]
        and "mistral-7b-instruct-v0.3" in edit.body["content"]
    )
    text = " ".join(str(e) for e in edit.body["embeds"])
    assert "Llama 2 7B Chat" in text and "Mistral 7B Instruct v0.3" in text
    assert any(e.get("title") == "Comparison" and e["fields"] for e in edit.body["embeds"])
    assert not fake.find("POST", f"/webhooks/{APP_ID}/{_token(fake)}")  # one message suffices
    assert broken_limits(edit.body) == []


def _token(fake: FakeDiscord) -> str:
    (callback,) = [c for c in fake.calls if c.path.endswith("/callback")]
    return callback.path.split("/")[3]


def test_team_profile_set_by_command_applies_to_the_next_compare(real_service: ChatService) -> None:
    fake, _ = command(real_service, "llm-profile", {"action": "set", "settings": "gpu=4090"})
    assert "Saved. Team profile for this channel: 1x rtx-4090" in str(fake.calls[-1].body)
    fake, _ = command(real_service, "compare", {"a": "llama2", "b": "mistral"})
    assert "team profile: 1x rtx-4090" in fake.calls[-1].body["content"]


def test_unusable_hardware_gets_a_usage_message_not_an_error(real_service: ChatService) -> None:
    fake, event = command(real_service, "fit", {"model": "llama2-7b-chat", "hardware": "banana"})
    shown = str(fake.calls[-1].body)
    assert "Usage: /fit MODEL HARDWARE" in shown and "went wrong" not in shown
    # only the asker sees a usage error: the public "thinking" response is deleted and the
    # notice arrives as an ephemeral follow-up (flag 64)
    assert fake.find("DELETE", "/messages/@original")
    assert fake.calls[-1].method == "POST" and fake.calls[-1].body["flags"] & 64
    assert not event.command_failed


def test_defer_arrives_at_once_and_the_loop_stays_free_while_the_answer_is_worked_out() -> None:
    service = FakeService(Answer("q", "en", "All done."), delay=1.5)

    async def scenario() -> tuple[FakeDiscord, float, float]:
        async with connected(service, []) as (client, fake):
            gaps: list[float] = []

            async def heartbeat() -> None:
                last = time.monotonic()
                while True:
                    await asyncio.sleep(0.05)
                    gaps.append(time.monotonic() - last)
                    last = time.monotonic()

            beating = asyncio.create_task(heartbeat())
            started = time.monotonic()
            await client.tree._call(interaction(client, "ask", {"question": "which model?"}))
            beating.cancel()
            return fake, started, max(gaps)

    fake, started, longest_pause = asyncio.run(scenario())
    (callback,) = fake.find("POST", "/callback")
    (edit,) = fake.find("PATCH", "/messages/@original")
    assert callback.at - started < 1.0 and callback.at < service.seen[0][2]
    assert edit.at - callback.at >= 1.5 and "All done." in str(edit.body)
    assert longest_pause < 0.5  # the gateway heartbeat would keep beating
    ctx, text, _ = service.seen[0]
    assert text == "/ask which model?"
    assert ctx == ChatContext(
        "discord", str(GUILD_ID), str(CHANNEL_ID), str(USER_ID), str(CHANNEL_ID)
    )


def test_streamed_tokens_update_the_response_at_most_once_a_second() -> None:
    tokens = [f"word{i} " for i in range(40)]
    service = FakeService(Answer("q", "en", "".join(tokens)), tokens=tokens, token_gap=0.06)
    fake, _ = command(service, "ask", {"question": "stream please"})
    edits = fake.find("PATCH", "/messages/@original")
    progress, final = edits[:-1], edits[-1]
    assert 2 <= len(progress) <= 4
    assert all(b.at - a.at >= 0.9 for a, b in itertools.pairwise(progress))
    assert progress[0].body["content"].startswith("word0") and progress[-1].body["embeds"] == []
    assert final.body["embeds"] and "word39" in final.body["embeds"][0]["description"]


def test_a_very_long_answer_is_split_into_messages_within_every_limit() -> None:
    block = "```python\n" + "\n".join(f"print({i})  # step {i}" for i in range(40)) + "\n```\n\n"
    prose = "Quantisation trades memory for quality. " * 10 + "\n\n"
    text = ((prose + block) * 40)[:20_000]
    rows = [[f"model-{i}", f"{i} GiB", "fits"] for i in range(60)]
    long = Answer(
        "q", "en", text, understood="I read this as: a long question",
        tables=[Table("Fit", ["model", "memory", "verdict"], rows)],
        citations=[Citation(i, f"guide-{i}.md", f"Guide {i}", "…") for i in range(1, 31)],
    )  # fmt: skip
    fake, _ = command(FakeService(long), "ask", {"question": "tell me everything"})
    (edit,) = fake.find("PATCH", "/messages/@original")
    followups = fake.find("POST", f"/webhooks/{APP_ID}/{_token(fake)}")
    assert followups and all(f.at >= edit.at for f in followups)
    bodies = [edit.body] + [f.body for f in followups]
    assert all(broken_limits(body) == [] for body in bodies)
    embeds = [e for body in bodies for e in body["embeds"]]
    assert unsplit([e["description"] for e in embeds if "title" not in e]) == text
    assert sum(len(e.get("fields", [])) for e in embeds if e.get("title") == "Fit") == 60
    assert all(d.count("```") % 2 == 0 for e in embeds if (d := e.get("description")))
    assert edit.body["content"] == "I read this as: a long question"


def test_discord_errors_are_logged_and_never_escape_the_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = FakeService(Answer("q", "en", "fine"))

    async def scenario(refuse: dict[str, int]) -> FakeDiscord:
        async with connected(service, []) as (client, fake):
            fake.refuse = refuse
            await client.tree._call(interaction(client, "ask", {"question": "hello"}))
            return fake

    asyncio.run(scenario({"/callback": 404}))  # the interaction expired before we deferred
    assert service.seen == [] and "could not defer /ask" in caplog.text
    fake = asyncio.run(scenario({"/messages/@original": 403}))
    assert len(service.seen) == 1 and "final edit refused (403" in caplog.text
    # the refused final edit falls back to a new message, so the answer is not lost
    assert fake.calls[-1].method == "POST" and "fine" in str(fake.calls[-1].body)


def test_model_autocomplete_offers_at_most_25_matching_catalog_names(
    catalog: Catalog,
) -> None:
    names = list(catalog.variants)

    async def scenario(typed: str) -> list[dict[str, str]]:
        async with connected(FakeService(Answer("q", "en", "")), names) as (client, fake):
            event = interaction(client, "compare", {"a": "x", "b": typed}, kind=4, focused="b")
            await client.tree._call(event)
            (callback,) = fake.find("POST", "/callback")
            assert callback.body["type"] == 8
            return callback.body["data"]["choices"]

    llama = asyncio.run(scenario("LLaMA"))
    assert 0 < len(llama) <= 25 and all("llama" in c["value"].lower() for c in llama)
    assert len(asyncio.run(scenario(""))) == 25
    assert [c["value"] for c in asyncio.run(scenario("mistral-7b-instruct-v0.3"))] == [
        "mistral-7b-instruct-v0.3"
    ]


def test_matching_ids_puts_exact_then_prefix_matches_first() -> None:
    keys = {n: [n] for n in ["code-llama-7b", "llama2-7b-chat", "tinyllama", "mistral"]}
    assert matching_ids(keys, "Llama") == ["llama2-7b-chat", "code-llama-7b", "tinyllama"]
    many = {f"m{i}": [f"m{i}"] for i in range(40)}
    assert matching_ids(many, "m") == [f"m{i}" for i in range(25)]
    assert matching_ids({"a-b": ["a-b", "Other"], "other-x": ["other-x"]}, "other") == [
        "a-b",
        "other-x",
    ]


def test_autocomplete_matches_aliases_ollama_tags_and_hf_repos(
    real_service: ChatService, catalog: Catalog
) -> None:
    names = sorted({*catalog.variants, *catalog.families})

    async def scenario(typed: str) -> list[str]:
        async with connected(real_service, names) as (client, fake):
            event = interaction(client, "fit", {"model": typed}, kind=4, focused="model")
            await client.tree._call(event)
            (callback,) = fake.find("POST", "/callback")
            choices = callback.body["data"]["choices"]
            assert len(choices) <= 25 and all(c["value"] in names for c in choices)
            return [c["value"] for c in choices]

    alias = asyncio.run(scenario("LLAMA-2-7B"))  # an alias, in another case
    assert alias[0] == "llama2-7b" and "llama2-7b-chat" in alias
    assert asyncio.run(scenario("qwen2.5:7b"))[0] == "qwen2.5-7b-instruct"  # an Ollama tag
    repo = asyncio.run(scenario("meta-llama/Llama-2-7b"))  # a Hugging Face repo prefix
    assert {"llama2-7b", "llama2-7b-chat"} <= set(repo)
    assert all(
        (catalog.variants[v].hf_repo or "").lower().startswith("meta-llama/llama-2-7b")
        for v in repo
    )
    assert asyncio.run(scenario("no-such-model-anywhere")) == []


def gateway(client: discord.Client) -> Any:
    """The connection state the gateway feeds: raw events go in exactly as Discord sends them."""
    return client._connection


def _user_message(channel: int, content: str, guild: bool = True, **extra: Any) -> dict[str, Any]:
    message = _message(channel, content, [], author=USER, **extra)
    if guild:
        message |= {"guild_id": str(GUILD_ID), "member": {"roles": [], "joined_at": STAMP}}
    return message


async def _settled(fake: FakeDiscord, count: int) -> None:
    """Wait until the fake has received ``count`` requests (message events run as tasks)."""
    for _ in range(200):
        if len(fake.calls) >= count:
            await asyncio.sleep(0.05)
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} requests, got {[c.path for c in fake.calls]}")


def test_mentions_start_a_thread_and_replies_there_continue_it() -> None:
    service = FakeService(Answer("q", "en", "Mistral 7B fits."))
    question = _user_message(
        CHANNEL_ID, f"<@{BOT_ID}> which 7B model\nfits 8 GB?", mentions=[BOT_USER]
    )

    async def scenario() -> list[Call]:
        async with connected(service, [], message_content=True) as (client, fake):
            state = gateway(client)
            state._add_guild_from_data({
                "id": str(GUILD_ID), "name": "team", "owner_id": str(USER_ID),
                "channels": [{"id": str(CHANNEL_ID), "type": 0, "name": "llms", "position": 0}],
                "roles": [], "members": [], "threads": [],
            })  # fmt: skip
            base = len(fake.calls)
            state.parse_message_create(_user_message(CHANNEL_ID, "plain chatter"))
            state.parse_message_create(
                _message(CHANNEL_ID, f"<@{BOT_ID}> hi", [], mentions=[BOT_USER])  # a bot
            )
            state.parse_message_create(question)
            await _settled(fake, base + 3)
            state.parse_thread_create(_thread("which 7B model fits 8 GB?"))  # the gateway event
            state.parse_message_create(_user_message(THREAD_ID, "and with 32k context?"))
            await _settled(fake, base + 5)
            return fake.calls[base:]

    start, placeholder, answer, *follow_up = asyncio.run(scenario())
    assert start.path == f"/channels/{CHANNEL_ID}/messages/{question['id']}/threads"
    assert start.body["name"] == "which 7B model fits 8 GB?"
    assert placeholder.method == "POST" and placeholder.path == f"/channels/{THREAD_ID}/messages"
    assert answer.method == "PATCH" and "Mistral 7B fits." in str(answer.body["embeds"])
    assert [(c.method, c.path.split("/")[2]) for c in follow_up] == [
        ("POST", str(THREAD_ID)),
        ("PATCH", str(THREAD_ID)),
    ]
    first, second = service.seen
    assert (first[0].channel, first[0].thread, first[1]) == (
        str(CHANNEL_ID),
        str(THREAD_ID),
        "which 7B model\nfits 8 GB?",
    )
    assert (second[0].thread, second[1]) == (str(THREAD_ID), "and with 32k context?")


def test_direct_messages_are_answered_in_the_dm() -> None:
    service = FakeService(Answer("q", "en", "Use Qwen2.5 7B."))

    async def scenario() -> list[Call]:
        async with connected(service, [], message_content=True) as (client, fake):
            base = len(fake.calls)
            gateway(client).parse_message_create(
                _user_message(DM_ID, "best model for 8 GB?", guild=False)
            )
            await _settled(fake, base + 2)
            return fake.calls[base:]

    placeholder, answer = asyncio.run(scenario())
    assert (placeholder.method, placeholder.path) == ("POST", f"/channels/{DM_ID}/messages")
    assert answer.method == "PATCH" and "Use Qwen2.5 7B." in str(answer.body["embeds"])
    ctx, text, _ = service.seen[0]
    assert (ctx.workspace, ctx.channel, ctx.thread, ctx.dm, text) == (
        f"dm:{USER_ID}",  # each user's DMs are their own workspace: own profile, own history
        str(DM_ID),
        "dm",
        True,
        "best model for 8 GB?",
    )


def test_without_the_message_content_intent_messages_are_ignored() -> None:
    service = FakeService(Answer("q", "en", "never"))

    async def scenario() -> list[Call]:
        async with connected(service, []) as (client, fake):
            base = len(fake.calls)
            gateway(client).parse_message_create(_user_message(DM_ID, "hello?", guild=False))
            await asyncio.sleep(0.2)
            return fake.calls[base:]

    assert asyncio.run(scenario()) == [] and service.seen == []


def _sent_bodies(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [
        c.body
        for c in fake.calls
        if c.method in ("POST", "PATCH") and isinstance(c.body, dict) and "content" in c.body
    ]


def test_no_message_can_ping_everyone_a_role_or_another_user() -> None:
    hostile = "@everyone @here <@&1180000000000000050> <@1180000000000000051> which model?"
    service = FakeService(Answer("q", "en", f"Thinking about: {hostile}", understood=hostile))

    async def scenario() -> FakeDiscord:
        async with connected(service, [], message_content=True) as (client, fake):
            await client.tree._call(interaction(client, "ask", {"question": hostile}))
            gateway(client).parse_message_create(_user_message(DM_ID, hostile, guild=False))
            await _settled(fake, len(fake.calls) + 2)
            return fake

    fake = asyncio.run(scenario())
    bodies = _sent_bodies(fake)
    assert bodies and any("@everyone" in json.dumps(b) for b in bodies)
    for body in bodies:
        mentions = body.get("allowed_mentions")
        assert mentions is not None and mentions["parse"] == [], body
        assert not mentions.get("users") and not mentions.get("roles")
    replies = [b for b in bodies if b.get("message_reference")]
    assert replies and all(b["allowed_mentions"].get("replied_user") for b in replies)


def test_a_missing_thread_permission_still_answers_in_the_channel() -> None:
    service = FakeService(Answer("q", "en", "Mistral 7B fits."))
    question = _user_message(CHANNEL_ID, f"<@{BOT_ID}> which 7B model?", mentions=[BOT_USER])

    async def scenario() -> list[Call]:
        async with connected(service, [], message_content=True) as (client, fake):
            fake.refuse = {"/threads": 403}
            state = gateway(client)
            state._add_guild_from_data({
                "id": str(GUILD_ID), "name": "team", "owner_id": str(USER_ID),
                "channels": [{"id": str(CHANNEL_ID), "type": 0, "name": "llms", "position": 0}],
                "roles": [], "members": [], "threads": [],
            })  # fmt: skip
            base = len(fake.calls)
            state.parse_message_create(question)
            await _settled(fake, base + 3)
            return fake.calls[base:]

    refused, placeholder, answer = asyncio.run(scenario())
    assert refused.path.endswith("/threads")
    assert placeholder.path == f"/channels/{CHANNEL_ID}/messages"
    assert "Mistral 7B fits." in str(answer.body["embeds"])


CLICKER = {"id": str(SNOWFLAKE + 60), "username": "bob", "discriminator": "0", "avatar": None}


def _click(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """The raw INTERACTION_CREATE payload Discord sends when someone clicks a button."""
    return {
        "id": str(next(_ids)), "application_id": str(APP_ID), "type": 3, "version": 1,
        "token": f"click{next(_ids)}", "guild_id": str(GUILD_ID), "channel_id": str(CHANNEL_ID),
        "channel": {"id": str(CHANNEL_ID), "type": 0, "name": "llms", "position": 0},
        "member": {
            "user": CLICKER, "roles": [], "joined_at": STAMP, "deaf": False, "mute": False,
            "permissions": "0", "flags": 0,
        },
        "app_permissions": "0", "locale": "en-US", "entitlements": [],
        "attachment_size_limit": 8_388_608, "message": message,
        "data": {"custom_id": custom_id, "component_type": 2},
    }  # fmt: skip


def test_follow_up_buttons_run_their_command_for_the_clicking_user() -> None:
    trial = f'/trial qwen2.5:7b "{TRIAL_PROMPT}"'
    steps = ["/why-not qwen2.5-7b-instruct", "/compare qwen2.5-7b-instruct mistral", trial]
    steps += [f"/fit qwen2.5-7b-instruct on {n}x4090 4-bit" for n in range(1, 30)]
    service = FakeService(Answer("q", "en", "Qwen2.5 7B fits.", follow_ups=steps))

    async def scenario() -> tuple[Call, list[Call], list[Call]]:
        async with connected(service, []) as (client, fake):
            await client.tree._call(interaction(client, "recommend", {"requirements": "4090"}))
            (answer,) = fake.find("PATCH", "/messages/@original")
            message = _message(CHANNEL_ID, "", [], components=answer.body["components"])
            clicks = []
            for button in (0, 2):  # a short command, and one too long for a custom_id
                custom_id = answer.body["components"][0]["components"][button]["custom_id"]
                base = len(fake.calls)
                gateway(client).parse_interaction_create(_click(message, custom_id))
                await _settled(fake, base + 2)
                clicks.append(fake.calls[base:])
            return answer, *clicks

    answer, first, second = asyncio.run(scenario())
    rows = answer.body["components"]
    assert [len(r["components"]) for r in rows] == [5, 5, 5, 5, 5]  # 25 buttons, 5 per row
    labels = [b["label"] for r in rows for b in r["components"]]
    assert labels[:2] == steps[:2] and all(
        len(b["custom_id"]) <= 100 for r in rows for b in r["components"]
    )
    assert labels[2].startswith("/trial qwen2.5:7b") and len(labels[2]) <= 80
    ids = [b["custom_id"] for b in rows[0]["components"]]
    assert ids[0] == f"advisor:fu:{steps[0]}" and ids[2].startswith("advisor:fh:")
    for click in (first, second):
        callback, reply = click[:2]
        assert callback.path.endswith("/callback") and callback.body == {"type": 5}  # deferred
        token = callback.path.split("/")[3]
        assert (reply.method, reply.path) == (
            "PATCH", f"/webhooks/{APP_ID}/{token}/messages/@original"
        )  # fmt: skip
        assert "Qwen2.5 7B fits." in str(reply.body["embeds"])
    (_, asked, _), (ctx, clicked, _), (_, long, _) = service.seen
    assert asked == "/recommend 4090" and (clicked, long) == (steps[0], trial)
    assert ctx.user == CLICKER["id"] and ctx.channel == str(CHANNEL_ID)


def test_a_real_recommendation_offers_its_follow_ups_as_buttons(real_service: ChatService) -> None:
    fake, _ = command(real_service, "recommend", {"requirements": "commercial, code, 4090"})
    (answer,) = fake.find("PATCH", "/messages/@original")
    labels = [b["label"] for r in answer.body["components"] for b in r["components"]]
    assert any(label.startswith("/why-not ") for label in labels)
    assert any(label.startswith("/fit ") and "4090" in label for label in labels)


def test_a_long_button_from_before_a_restart_says_it_expired() -> None:
    service = FakeService(Answer("q", "en", "never"))

    async def scenario() -> list[Call]:
        async with connected(service, []) as (client, fake):
            base = len(fake.calls)
            old_id = "advisor:fh:0123456789ab"  # remembered only by the process that sent it
            button = {"type": 2, "style": 2, "label": "/trial …", "custom_id": old_id}
            message = _message(CHANNEL_ID, "", [], components=[{"type": 1, "components": [button]}])
            gateway(client).parse_interaction_create(_click(message, old_id))
            await _settled(fake, base + 1)
            return fake.calls[base:]

    (reply,) = asyncio.run(scenario())
    assert reply.body["type"] == 4 and reply.body["data"]["flags"] & 64  # only the clicker sees it
    assert "expired" in reply.body["data"]["content"] and service.seen == []
