"""Property tests: split pieces fit the limit, lose nothing and keep code fences balanced."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.splitting import split_text, unsplit

words = st.sampled_from(
    ["model", "GPU", "显存", "Q4_K_M", "\n", "\n\n", "```python\n", "```\n", "x" * 50, " "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(words, max_size=400), st.integers(min_value=40, max_value=500))
def test_pieces_fit_lose_nothing_and_balance_fences(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert unsplit(pieces) == text
    for piece in pieces[:-1]:
        fences = [line for line in piece.split("\n") if line.startswith("```")]
        assert len(fences) % 2 == 0, piece


def test_short_text_is_one_piece() -> None:
    assert split_text("hello", 2000) == ["hello"]


def test_prefers_paragraph_breaks() -> None:
    text = "a" * 30 + "\n\n" + "b" * 30
    assert split_text(text, 45) == ["a" * 30 + "\n\n", "b" * 30]


def test_code_block_is_closed_and_reopened() -> None:
    code = "```python\n" + "\n".join(f"x = {i}" for i in range(40)) + "\n```"
    pieces = split_text(code, 80)
    assert len(pieces) > 1
    assert pieces[0].endswith("\n```") and pieces[1].startswith("```python\n")
    assert unsplit(pieces) == code
