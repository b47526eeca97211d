"""The prompt that turns the deterministic answer and passages into a phrased one.

The model gets only three things: what was understood, the deterministic answer (every
recommendation, verdict and figure the rules produced) and numbered passages. It is told
to cite passages as [n], to name no model outside the facts, and to answer in the
question's language. The wording lives in ``SYSTEM`` (a ``str.format`` template), apart
from the code that fills it.
"""

from __future__ import annotations

from bot.answer import Citation
from bot.llm import Message
from bot.understand import Understanding

SYSTEM = """You are LLM Advisor, helping a team choose, size and run large language models.
Answer in {language_name}. Use ONLY the facts and passages below. Rules:
- Recommend only models listed in the facts as meeting the requirements; never name any other model.
- Copy figures (GiB, parameters, context, prices, tokens/s) exactly from the facts;
  do not compute new ones.
- When a license is conditional, say so and give the condition.
- Cite passages as [n] when you use them. Be concise: at most 12 lines.

FACTS (decided by the rules engine and the catalog):
{facts}

PASSAGES:
{passages}"""

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}


def build_messages(
    understood: Understanding, facts: str, cites: list[Citation], history: list[Message]
) -> list[Message]:
    """Chat messages for Ollama: system facts, the thread so far, then the question."""
    passages = "\n".join(f"[{c.id}] {c.title}: {c.snippet}" for c in cites) or "(none)"
    system = SYSTEM.format(
        language_name=LANGUAGE_NAMES.get(understood.language, "English"),
        facts=facts,
        passages=passages,
    )
    return [Message("system", system), *history, Message("user", understood.text)]
