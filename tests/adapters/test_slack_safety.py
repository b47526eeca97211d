"""Slack a workspace can trust, through the real Bolt app and the loopback Web API fake.

Hostile input is echoed without pinging anyone; answers are never lost (channel not joined,
refused edits, 5xx); notices only the asker should see are ephemeral; a retried event is
answered once even across two replicas sharing one database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.adapters.render_slack import render_slack
from bot.adapters.slack_bot import INVITE, ChannelPacer, build_app, web_client
from bot.adapters.slack_manifest import manifest, manifest_yaml
from bot.adapters.slack_serve import asgi_app, check_slack, post_answer
from bot.advisor import Advisor
from bot.answer import Answer, Table
from bot.chat_service import ChatService
from bot.commands import COMMANDS
from bot.profiles import ProfileStore
from core.errors import ConfigError
from knowledge.db import make_engine, migrate
from rules.packs import load_rules
from tests.adapters.test_slack import SECRET, _event, _signed, _until
from tests.fakes.slack_api import SlackApiServer

PINGS = re.compile(r"<!(?:here|channel|everyone|subteam)|<@U")


def _service(catalog: Any, db: Path) -> ChatService:
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    return ChatService(Advisor(catalog, load_rules()), ProfileStore(engine, catalog))


def _cmd(text: str, command: str, hooks: str, channel: str = "C1") -> str:
    return urlencode(
        {
            "command": command, "text": text, "team_id": "T1", "channel_id": channel,
            "user_id": "U1", "response_url": hooks + "hooks/resp", "trigger_id": "trig-1",
        }
    )  # fmt: skip


def _sent(state: Any) -> list[str]:
    """Every text Slack would render or notify with, from every call the bot made."""
    return [json.dumps(params) for name, params, _ in state.calls if name != "auth.test"]


def _drive(services: list[ChatService], scenario: Any) -> Any:
    """One Bolt app per service (replicas), all on one loopback Slack."""
    with SlackApiServer() as slack:

        async def main() -> None:
            https = []
            for service in services:
                app, adapter = build_app(service, "xoxb-t", SECRET, web_client("xoxb-t", slack.url))
                adapter.pacer = ChannelPacer(interval=0.01)
                transport = httpx.ASGITransport(app=asgi_app(app))
                https.append(httpx.AsyncClient(transport=transport, base_url="http://slack.test"))
            await scenario(https, slack.state, slack.url)

        asyncio.run(main())
        return slack.state


async def _post(http: httpx.AsyncClient, body: str, **headers: str) -> httpx.Response:
    return await http.post("/slack/events", content=body, headers={**_signed(body), **headers})


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("/advisor", "<!everyone> which model for code on a 4090?"),
        ("/nonsense-never", ""),
        ("/fit", "llama2 <!channel>"),
        ("/compare", "<!here> <!subteam^S123> <@U999>"),
        ("/jobs", "<!channel>"),
    ],
)
def test_echoed_text_never_pings_anyone(catalog, tmp_path: Path, command: str, text: str) -> None:  # type: ignore[no-untyped-def]
    service = _service(catalog, tmp_path / "a.db")

    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        body = _cmd(text, "/advisor" if command == "/nonsense-never" else command, url)
        if command == "/nonsense-never":
            body = _cmd("/<!everyone> now", "/advisor", url)
        await _post(https[0], body)
        await _until(
            lambda: any(n in ("chat.update", "chat.postEphemeral") for n, *_ in state.calls)
        )
        await asyncio.sleep(0.2)

    state = _drive([service], scenario)
    sent = _sent(state)
    assert sent and not [s for s in sent if PINGS.search(s)]
    assert any("&lt;!" in s for s in sent)  # shown as text, not swallowed


def test_channel_not_joined_is_answered_through_response_url(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        state.refuse_next["chat.postMessage"] = "not_in_channel"
        await _post(https[0], _cmd("llama2 mistral", "/compare", url, channel="C404"))
        await _until(lambda: bool(state.called("resp")))

    state = _drive([_service(catalog, tmp_path / "a.db")], scenario)
    (reply,) = state.called("resp")
    assert reply["response_type"] == "ephemeral"
    text = json.dumps(reply["blocks"])
    assert "llama2-7b-chat" in text and "/invite @LLM Advisor" in text
    assert INVITE[:20] in text


def test_usage_errors_are_ephemeral_and_the_placeholder_is_removed(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        await _post(https[0], _cmd("onlyone", "/compare", url))
        await _until(lambda: bool(state.called("chat.postEphemeral")))

    state = _drive([_service(catalog, tmp_path / "a.db")], scenario)
    (notice,) = state.called("chat.postEphemeral")
    assert notice["user"] == "U1" and "Usage: /compare" in json.dumps(notice["blocks"])
    assert state.called("chat.delete") and not _final_blocks(state)


def _final_blocks(state: Any) -> list[Any]:
    return [p for p in state.called("chat.update") if p.get("blocks")]


def test_a_refused_final_edit_falls_back_to_a_new_message_and_is_logged(  # type: ignore[no-untyped-def]
    catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="advisor")

    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        state.refuse_next["chat.update"] = "cant_update_message"
        await _post(https[0], _cmd("llama2 mistral", "/compare", url))
        await _until(lambda: len(state.called("chat.postMessage")) >= 2)

    state = _drive([_service(catalog, tmp_path / "a.db")], scenario)
    placeholder, answer = state.called("chat.postMessage")[:2]
    assert answer["thread_ts"] == "1001.000100" and "llama2-7b-chat" in json.dumps(answer["blocks"])
    line = next(r.getMessage() for r in caplog.records if "cant_update_message" in r.getMessage())
    assert all(part in line for part in ("workspace=T1", "channel=C1", "user=U1", "trig-1"))
    assert "slack_req=req-chat.update" in line


def test_server_errors_are_retried(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        state.server_error_next.add("chat.postMessage")
        await _post(https[0], _cmd("/help", "/advisor", url))
        await _until(lambda: bool(_final_blocks(state)))

    state = _drive([_service(catalog, tmp_path / "a.db")], scenario)
    assert len(state.called("chat.postMessage")) == 2  # the 500, then the retry that worked


def test_a_retry_reaching_another_replica_is_answered_once(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "shared.db"
    replicas = [_service(catalog, db), _service(catalog, db)]
    event = {"type": "app_mention", "channel": "C1", "user": "U1", "ts": "7.1",
             "text": "<@UBOT> which model for code on a 4090?"}  # fmt: skip

    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        body = _event(event, event_id="EvShared")
        await _post(https[0], body)
        await _post(https[1], body, **{"X-Slack-Retry-Num": "1"})
        await _until(lambda: bool(_final_blocks(state)))
        await asyncio.sleep(0.5)

    state = _drive(replicas, scenario)
    assert len(state.called("chat.postMessage")) == 1


def test_a_dm_that_mentions_someone_else_is_answered(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dm = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "ts": "8.1",
          "text": "cc <@U999> which model fits 8 GB?"}  # fmt: skip

    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        await _post(https[0], _event(dm, event_id="EvDM"))
        await _until(lambda: bool(_final_blocks(state)))

    state = _drive([_service(catalog, tmp_path / "a.db")], scenario)
    assert not [s for s in _sent(state) if PINGS.search(s)]
    assert state.called("chat.postMessage")[0].get("thread_ts") is None  # top level in the DM


def test_health_endpoint_answers_in_http_mode(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario(https: list[httpx.AsyncClient], state: Any, url: str) -> None:
        response = await https[0].get("/health")
        assert response.status_code == 200 and response.json() == {"status": "ok"}

    _drive([_service(catalog, tmp_path / "a.db")], scenario)


def test_one_table_per_slack_message() -> None:
    tables = [Table(f"T{i}", ["a", "b"], [["1", "2"]]) for i in range(3)]
    messages = render_slack(Answer("q", "en", "Eval done.", tables=tables))
    assert len(messages) == 3
    assert all(sum(b["type"] == "table" for b in m) == 1 for m in messages)


def test_llm_markdown_tables_become_aligned_code_and_labels_follow_the_language() -> None:
    text = "结果如下：\n\n| 模型 | 显存 |\n|---|---|\n| qwen | 16 GB |\n\n**注意**"
    (blocks,) = render_slack(Answer("q", "zh", text))
    shown = blocks[0]["text"]["text"]
    assert "```" in shown and "|---|" not in shown and "*注意*" in shown
    assert "确定性回答" in json.dumps(blocks, ensure_ascii=False)


def test_manifest_comes_from_the_registry_in_both_modes() -> None:
    socket, http = manifest(), manifest("https://advisor.example.com")
    names = [c["command"] for c in socket["features"]["slash_commands"]]
    assert names == [c.slack_name for c in COMMANDS]
    assert {"/digest", "/jobs", "/advisor-help", "/trial"} <= set(names)
    assert socket["settings"]["socket_mode_enabled"] is True
    url = "https://advisor.example.com/slack/events"
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["settings"]["event_subscriptions"]["request_url"] == url
    assert http["settings"]["interactivity"]["request_url"] == url
    assert all(c["url"] == url for c in http["features"]["slash_commands"])
    shipped = Path(__file__).parents[2] / "bot" / "adapters" / "slack_manifest.yaml"
    assert shipped.read_text() == manifest_yaml(), "run `make docs`"


def test_start_up_checks_name_the_setting_to_fix() -> None:
    with SlackApiServer() as slack:
        slack.state.refuse_next["auth.test"] = "invalid_auth"
        with pytest.raises(ConfigError) as bad:
            check_slack("xoxb-wrong", slack.url)
        slack.state.scopes = "chat:write"
        with pytest.raises(ConfigError) as scopes:
            check_slack("xoxb-ok", slack.url)
        slack.state.scopes = manifest()["oauth_config"]["scopes"]["bot"]
        slack.state.scopes = ",".join(slack.state.scopes)
        check_slack("xoxb-ok", slack.url)
        closed = slack.url
    assert "ADVISOR_SLACK_BOT_TOKEN" in bad.value.user_message
    assert (
        "commands" in scopes.value.user_message and "app_mentions:read" in scopes.value.user_message
    )
    with pytest.raises(ConfigError) as down:
        check_slack("xoxb-ok", closed)
    assert "ADVISOR_SLACK_API_URL" in down.value.user_message


def test_a_digest_post_that_meets_a_429_is_retried() -> None:
    with SlackApiServer() as slack:
        slack.state.rate_limit_next.add("chat.postMessage")
        post_answer("xoxb-t", "C9", Answer("q", "en", "This week: 3 releases."), slack.url)
        posts = slack.state.called("chat.postMessage")
    assert len(posts) == 2 and "3 releases" in json.dumps(posts[-1]["blocks"])
