"""Slack ack latency under a burst of 50 concurrent slash commands, and serving memory.

Signed slash-command requests go into the real Bolt app (HTTP mode, ASGI) while the
answers are worked out and posted to a loopback Slack Web API. Slack requires an ack
within 3 s; the target here is p95 under 300 ms. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stats import percentile  # noqa: E402

from bot.adapters.slack_bot import ChannelPacer, build_app, web_client  # noqa: E402
from bot.adapters.slack_serve import asgi_app  # noqa: E402
from bot.advisor import Advisor  # noqa: E402
from bot.chat_service import ChatService, RateLimiter  # noqa: E402
from bot.profiles import ProfileStore  # noqa: E402
from knowledge.db import make_engine, migrate  # noqa: E402
from knowledge.store import load_curated, read_catalog  # noqa: E402
from rules.packs import load_rules  # noqa: E402
from tests.fakes.slack_api import SlackApiServer  # noqa: E402

SECRET = "bench-secret"
BURST = 50
COMMANDS = [
    "/recommend commercial 2x4090 code",
    "/fit mixtral-8x7b 2x4090",
    "/compare llama2 mistral",
]


def signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


async def burst(service: ChatService, api_url: str, state: object) -> list[float]:
    app, adapter = build_app(service, "xoxb-bench", SECRET, web_client("xoxb-bench", api_url))
    adapter.pacer = ChannelPacer(interval=0.0)
    transport = httpx.ASGITransport(app=asgi_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://slack.bench") as http:

        async def one(i: int) -> float:
            command, _, text = COMMANDS[i % len(COMMANDS)].partition(" ")
            body = urlencode(
                {
                    "command": command,
                    "text": text,
                    "team_id": "T1",
                    "channel_id": f"C{i}",
                    "user_id": f"U{i}",
                    "trigger_id": str(i),
                }
            )
            start = time.perf_counter()
            response = await http.post("/slack/events", content=body, headers=signed(body))
            assert response.status_code == 200
            return (time.perf_counter() - start) * 1000

        acks = await asyncio.gather(*(one(i) for i in range(BURST)))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            finals = [c for c in state.calls if c[0] == "chat.update" and c[1].get("blocks")]  # type: ignore[attr-defined]
            if len(finals) >= BURST:
                break
            await asyncio.sleep(0.1)
    return list(acks)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    load_curated(engine)
    migrate(engine)
    catalog = read_catalog(engine)
    service = ChatService(
        Advisor(catalog, load_rules()), ProfileStore(engine, catalog), limiter=RateLimiter(1000)
    )
    with SlackApiServer() as slack:
        start = time.perf_counter()
        acks = asyncio.run(burst(service, slack.url, slack.state))
        total = time.perf_counter() - start
        answered = len(
            [c for c in slack.state.calls if c[0] == "chat.update" and c[1].get("blocks")]
        )
    p95 = percentile(acks, 0.95)
    print(
        f"{BURST} concurrent slash commands: ack p50 {statistics.median(acks):.0f} ms, "
        f"p95 {p95:.0f} ms, max {max(acks):.0f} ms; {answered} answers posted in {total:.1f} s"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"serving process peak RSS (catalog, rules, Bolt, no embedding model): {rss:.0f} MB")


if __name__ == "__main__":
    main()
