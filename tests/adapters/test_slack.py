"""Slack through the real slack-bolt: signed requests into the app, Web API on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.adapters.render_slack import render_slack
from bot.adapters.slack_bot import ChannelPacer, build_app, web_client
from bot.adapters.slack_serve import asgi_app
from bot.advisor import Advisor
from bot.answer import Answer
from bot.chat_service import ChatContext, ChatService
from bot.profiles import ProfileStore
from knowledge.db import make_engine, migrate
from rules.packs import load_rules
from tests.fakes.slack_api import SlackApiServer

SECRET = "test-signing-secret"


class SlowService(ChatService):
    """The real service, slowed down: the answer takes longer than Slack's 3 s ack window."""

    delay = 1.5

    def handle(
        self, ctx: ChatContext, text: str, on_token: Any = None, notify: Any = None
    ) -> Answer:
        time.sleep(self.delay)
        return super().handle(ctx, text, on_token, notify)


@pytest.fixture
def service(catalog, knowledge_index, tmp_path: Path) -> ChatService:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'profiles.db'}")
    migrate(engine)
    advisor = Advisor(catalog, load_rules(), index=knowledge_index)
    return SlowService(advisor, ProfileStore(engine, catalog))


def _signed(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def _command(text: str, command: str = "/advisor") -> str:
    return urlencode(
        {
            "command": command,
            "text": text,
            "team_id": "T1",
            "channel_id": "C1",
            "user_id": "U1",
            "response_url": "https://hooks.slack.test/x",
            "trigger_id": "1.2",
        }
    )


def _event(event: dict[str, Any], event_id: str = "Ev1") -> str:
    return json.dumps(
        {"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event}
    )


def _run(
    service: ChatService, scenario: Callable[[httpx.AsyncClient, Any], Awaitable[None]]
) -> Any:
    with SlackApiServer() as slack:

        async def main() -> None:
            client = web_client("xoxb-test", base_url=slack.url)
            app, adapter = build_app(service, "xoxb-test", SECRET, client)
            adapter.pacer = ChannelPacer(interval=0.05)
            transport = httpx.ASGITransport(app=asgi_app(app))
            async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as http:
                await scenario(http, slack.state)

        asyncio.run(main())
        return slack.state


async def _until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for Slack calls")
        await asyncio.sleep(0.05)


def _final(state: Any) -> list[dict[str, Any]]:
    return [p for p in state.called("chat.update") if p.get("blocks")]


def test_slash_command_acks_fast_and_answers_in_the_thread(service) -> None:  # type: ignore[no-untyped-def]
    timings: dict[str, float] = {}

    async def scenario(http: httpx.AsyncClient, state: Any) -> None:
        body = _command("llama2 mistral on 4090", command="/compare")
        start = time.perf_counter()
        response = await http.post("/slack/events", content=body, headers=_signed(body))
        timings["ack"] = time.perf_counter() - start
        assert response.status_code == 200
        await _until(lambda: bool(_final(state)))
        timings["answer"] = time.perf_counter() - start

    state = _run(service, scenario)
    assert timings["ack"] < 1.0 < timings["answer"]
    placeholder = state.called("chat.postMessage")[0]
    assert placeholder["channel"] == "C1" and "Thinking about" in placeholder["text"]
    blocks = _final(state)[0]["blocks"]
    text = json.dumps(blocks)
    assert "llama2-7b-chat" in text and "mistral-7b-instruct-v0.3" in text
    assert any(b["type"] == "table" for b in blocks)


def test_retried_event_is_answered_once(service) -> None:  # type: ignore[no-untyped-def]
    event = {
        "type": "app_mention",
        "channel": "C1",
        "user": "U1",
        "ts": "100.1",
        "text": "<@UBOT> which model for code on a 4090?",
    }

    async def scenario(http: httpx.AsyncClient, state: Any) -> None:
        body = _event(event)
        first = await http.post("/slack/events", content=body, headers=_signed(body))
        retry = await http.post(
            "/slack/events",
            content=body,
            headers={
                **_signed(body),
                "X-Slack-Retry-Num": "1",
                "X-Slack-Retry-Reason": "http_timeout",
            },
        )
        assert first.status_code == retry.status_code == 200
        await _until(lambda: bool(_final(state)))
        await asyncio.sleep(0.5)

    state = _run(service, scenario)
    assert len(state.called("chat.postMessage")) == 1
    assert state.called("chat.postMessage")[0]["thread_ts"] == "100.1"


def test_bot_ignores_its_own_messages(service) -> None:  # type: ignore[no-untyped-def]
    async def scenario(http: httpx.AsyncClient, state: Any) -> None:
        body = _event(
            {
                "type": "message",
                "channel": "D1",
                "channel_type": "im",
                "bot_id": "BBOT",
                "ts": "5.1",
                "text": "an answer we posted",
            },
            event_id="Ev2",
        )
        assert (
            await http.post("/slack/events", content=body, headers=_signed(body))
        ).status_code == 200
        await asyncio.sleep(0.5)

    state = _run(service, scenario)
    assert state.called("chat.postMessage") == []


@pytest.mark.parametrize(
    "headers",
    [
        lambda body: _signed(body, secret="wrong-secret"),
        lambda body: _signed(body, timestamp=int(time.time()) - 600),  # older than 5 minutes
    ],
    ids=["bad signature", "stale signature"],
)
def test_bad_or_stale_signature_is_refused(service, headers) -> None:  # type: ignore[no-untyped-def]
    async def scenario(http: httpx.AsyncClient, state: Any) -> None:
        body = _command("hello")
        response = await http.post("/slack/events", content=body, headers=headers(body))
        assert response.status_code == 401
        await asyncio.sleep(0.2)

    state = _run(service, scenario)
    assert state.called("chat.postMessage") == []


def test_rate_limited_post_is_retried(service) -> None:  # type: ignore[no-untyped-def]
    SlowService.delay = 0.0

    async def scenario(http: httpx.AsyncClient, state: Any) -> None:
        state.rate_limit_next.add("chat.postMessage")
        body = _command("/help")
        await http.post("/slack/events", content=body, headers=_signed(body))
        await _until(lambda: bool(_final(state)))

    try:
        state = _run(service, scenario)
    finally:
        SlowService.delay = 1.5
    posts = [(name, t) for name, _, t in state.calls if name == "chat.postMessage"]
    assert len(posts) == 2 and posts[1][1] - posts[0][1] >= 0.9  # waited for Retry-After: 1


def test_long_answers_respect_block_kit_limits() -> None:
    text = "\n\n".join(f"Paragraph {i}: " + "details " * 60 for i in range(400))
    messages = render_slack(Answer(question="q", language="en", text=text))
    assert len(messages) > 1
    for blocks in messages:
        assert len(blocks) <= 50
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
    joined = "".join(b["text"]["text"] for m in messages for b in m if b["type"] == "section")
    assert joined == text


def test_trial_is_queued_and_results_arrive_in_the_thread(  # type: ignore[no-untyped-def]
    catalog, knowledge_index, tmp_path: Path, ollama_server
) -> None:
    from bot.trials.jobs import JobStore
    from bot.trials.service import Trials
    from knowledge.resolve import Resolver
    from tests.fakes.ollama_server import FakeModel

    ollama_server.state.add(FakeModel("qwen2.5:7b", reply="Short summary of the text."))
    engine = make_engine(f"sqlite:///{tmp_path / 'trial.db'}")
    migrate(engine)
    trials = Trials(ollama_server.url, Resolver(catalog), JobStore(engine))
    service = ChatService(
        Advisor(catalog, load_rules(), index=knowledge_index),
        ProfileStore(engine, catalog),
        trials=trials,
    )

    async def scenario(http: httpx.AsyncClient, state: Any) -> None:
        body = _command('qwen2.5:7b "Summarize: GPUs are fast." runs=2', command="/trial")
        assert (
            await http.post("/slack/events", content=body, headers=_signed(body))
        ).status_code == 200
        sent = lambda: state.called("chat.postMessage") + state.called("chat.update")  # noqa: E731
        await _until(
            lambda: any("Trial" in json.dumps(p) and ": done" in json.dumps(p) for p in sent())
        )

    state = _run(service, scenario)
    queued = json.dumps(_final(state)[0]["blocks"])
    assert "queued (position 1)" in queued
    posts = state.called("chat.postMessage")
    root = posts[0]
    assert root.get("thread_ts") is None  # the placeholder starts the thread
    # progress is one message in the thread, edited in place; the result replaces it there
    progress = [p for p in posts[1:] if "Trial" in json.dumps(p)]
    assert len(progress) == 1 and progress[0]["thread_ts"] == "1001.000100"
    results = [p for p in state.called("chat.update") if ": done" in json.dumps(p)]
    assert results and "output tok/s" in json.dumps(results[-1]["blocks"])
