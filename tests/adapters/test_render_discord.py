"""Discord rendering: nothing is cut off, nothing breaks a Discord limit, tables read as fields."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.render_discord import render_discord, render_discord_text
from bot.adapters.splitting import unsplit
from bot.answer import Answer, Citation, LLMInfo, Table


def _size(embed: dict[str, Any]) -> int:
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    return total + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def _each_embed_within_limits(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        assert len(message["content"]) <= 2000 and len(message["embeds"]) <= 10
        for embed in message["embeds"]:
            fields = embed.get("fields", [])
            assert len(embed.get("description", "")) <= 4096 and len(fields) <= 25
            assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in fields)
            assert _size(embed) <= 6000


def _text_of(messages: list[dict[str, Any]]) -> str:
    return unsplit([e["description"] for m in messages for e in m["embeds"] if "title" not in e])


def _long_answer() -> Answer:
    code = "```python\n" + "\n".join(f"x_{i} = load('model-{i}')" for i in range(60)) + "\n```\n\n"
    prose = "A 7B model at Q4_K_M needs about 4.5 GiB plus the KV cache. " * 12 + "\n\n"
    return Answer(
        question="q",
        language="en",
        text=((prose + code) * 30)[:20_000],
        understood="I read this as: " + "a very long question " * 200,
        tables=[
            Table(
                "Fit",
                ["model", "memory", "verdict"],
                [[f"m-{i}", "4 GiB", "fits"] for i in range(60)],
            )
        ],
        citations=[Citation(i, f"guides/g{i}.md", f"Guide {i}", "…") for i in range(1, 41)],
    )


def test_a_short_answer_is_one_message_with_what_was_understood_and_a_footer() -> None:
    answer = Answer("q", "en", "Pick Mistral 7B [1].", understood="I read this as: 24 GB")
    answer.catalog_as_of = "2026-11-01"
    answer.llm = LLMInfo(used=True, model="qwen2.5:7b-instruct")
    (message,) = render_discord(answer)
    assert message["content"] == "I read this as: 24 GB"
    (embed,) = message["embeds"]
    assert embed["description"] == "Pick Mistral 7B [1]."
    assert embed["footer"]["text"] == "Phrased by qwen2.5:7b-instruct · catalog as of 2026-11-01"


def test_tables_become_fields_one_per_row_in_embeds_of_at_most_25() -> None:
    rows = [[f"model-{i}", f"{i} GiB", "fits"] for i in range(60)]
    answer = Answer(
        "q", "en", "See the table.", tables=[Table("Fit", ["", "memory", "verdict"], rows)]
    )
    tables = [e for m in render_discord(answer) for e in m["embeds"] if e.get("title") == "Fit"]
    assert [len(e["fields"]) for e in tables] == [25, 25, 10]
    first = tables[0]["fields"][0]
    assert first == {"name": "model-0", "value": "memory: 0 GiB · verdict: fits", "inline": False}


def test_a_20000_character_answer_keeps_every_character_within_the_limits() -> None:
    answer = _long_answer()
    messages = render_discord(answer)
    _each_embed_within_limits(messages)
    assert _text_of(messages) == answer.text
    descriptions = [e.get("description", "") for m in messages for e in m["embeds"]]
    assert all(d.count("```") % 2 == 0 for d in descriptions)  # every piece renders on its own
    sources = [e for m in messages for e in m["embeds"] if e.get("title") == "Sources"]
    assert "[40] Guide 40 (guides/g40.md)" in sources[-1]["description"]


def test_sent_messages_also_keep_the_embeds_of_one_message_under_6000_characters() -> None:
    rendered = render_discord(_long_answer())
    sent = rendered
    _each_embed_within_limits(sent)
    assert all(sum(_size(e) for e in m["embeds"]) <= 6000 for m in sent)
    assert [e for m in sent for e in m["embeds"]] == [e for m in rendered for e in m["embeds"]]
    assert sent[0]["content"] == rendered[0]["content"]
    assert all(m["content"] == "" for m in sent[1:])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["word ", "\n", "\n\n", "```py\n", "```\n", "x" * 300, "漢字"]),
        max_size=300,
    )
)
def test_any_text_renders_within_the_limits_and_comes_back_whole(parts: list[str]) -> None:
    text = "".join(parts)
    sent = render_discord(Answer("q", "en", text))
    _each_embed_within_limits(sent)
    assert all(sum(_size(e) for e in m["embeds"]) <= 6000 for m in sent)
    assert _text_of(sent) == text


def test_plain_text_becomes_content_only_messages_of_at_most_2000() -> None:
    text = "Usage: /fit MODEL HARDWARE\n" * 200
    messages = render_discord_text(text)
    assert len(messages) > 1 and all(len(m["content"]) <= 2000 for m in messages)
    assert all(m["embeds"] == [] for m in messages)
    assert "".join(m["content"] for m in messages) == text
