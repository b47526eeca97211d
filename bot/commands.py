"""One command grammar for every adapter: slash commands and free text.

The registry below is the single list of commands: the terminal chat, Slack and Discord
all parse with :func:`parse`, the help text comes from it, and so does the generated
reference in docs/commands.md (``make docs``). A command becomes an
:class:`~bot.understand.Understanding` — the same object free text becomes — so every
path through the advisor is the same after parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.understand import Extractor, Understanding
from core.errors import AdvisorError, UnknownModel
from core.text import detect_language


class UsageError(AdvisorError):
    """A command with missing or malformed arguments."""


@dataclass(frozen=True)
class Command:
    """One command: its grammar name, help, and its names on each chat platform."""

    name: str
    usage: str
    summary: str
    example: str
    aliases: tuple[str, ...] = ()
    slack: str = ""  # Slack slash command (default "/<name>")
    discord: str = ""  # Discord slash command (default "<name>")
    admin: bool = False  # Discord hides it from members without Manage Server by default
    hint: str = ""  # Slack usage hint (default: the usage without the command)

    @property
    def slack_name(self) -> str:
        """The command as Slack users type it."""
        return self.slack or f"/{self.name}"

    @property
    def discord_name(self) -> str:
        """The command's name in the Discord command tree."""
        return self.discord or self.name

    @property
    def brief(self) -> str:
        """The summary's first sentence, at most 100 characters (Discord's limit)."""
        first = self.summary.split(". ")[0].rstrip(".")
        return first if len(first) <= 100 else first[:99] + "…"

    def usage_on(self, platform: str) -> str:
        """The usage line with the command as typed on ``platform``."""
        rest = self.usage.partition(" ")[2]
        name = {"slack": self.slack_name, "discord": "/" + self.discord_name}.get(
            platform, "/" + self.name
        )
        return f"{name} {rest}".strip()


COMMANDS: tuple[Command, ...] = (
    Command(
        "ask",
        "/ask QUESTION",
        "Ask anything, in English or Chinese (plain text works too).",
        "/ask which open model can we use commercially on one 24 GB GPU?",
        slack="/advisor",
    ),
    Command(
        "recommend",
        "/recommend REQUIREMENTS",
        "Rank the models that meet your requirements.",
        "/recommend commercial, 2x4090, code, 32k context",
    ),
    Command(
        "compare",
        "/compare MODEL MODEL [MODEL MODEL] [on HARDWARE]",
        "Side-by-side license, size, context, memory, fit, prices and benchmarks.",
        "/compare llama2 mistral on 4090",
    ),
    Command(
        "fit",
        "/fit MODEL HARDWARE [context N] [PRECISION]",
        "Memory at each precision on your hardware, the best fit and a speed estimate.",
        "/fit mixtral-8x7b 2x4090",
    ),
    Command(
        "why-not",
        "/why-not MODEL [REQUIREMENTS]",
        "Every rule that speaks for or against a model.",
        "/why-not llama2-70b-chat commercial 900M users",
        aliases=("whynot", "why"),
        slack="/whynot",
        discord="whynot",
    ),
    Command(
        "trial",
        '/trial MODEL[,MODEL] "PROMPT" [runs=3] [temperature=0.2] [max_tokens=256] [compare=...]',
        "Run a prompt on models through Ollama and compare speed (TTFT, tok/s) and outputs.",
        '/trial qwen2.5:7b,mistral "Summarize: ..." runs=3',
        admin=True,
        hint='qwen2.5:7b,mistral "Summarize ..." runs=3 | pull TAG | cancel ID',
    ),
    Command(
        "eval",
        "/eval MODEL[,MODEL] suite=math [n=20] [cot=on] [votes=5]",
        "Score models on a small eval suite (math, format, extraction, classification, chinese, "
        "summarization or your own).",
        "/eval qwen2.5:7b,mistral suite=math n=20",
        admin=True,
    ),
    Command(
        "digest",
        "/digest [days=N] | /digest subscribe | /digest unsubscribe",
        "New model releases of the last week (Hugging Face, Ollama, feeds); subscribe a channel "
        "to a weekly post.",
        "/digest days=14",
    ),
    Command("jobs", "/jobs", "Recent trial and eval jobs in this workspace.", "/jobs"),
    Command(
        "llm-profile",
        "/llm-profile [show] | set gpu=4090 gpus=2 commercial=yes language=zh [scope=workspace]"
        " | clear",
        "Show or set this channel's defaults (GPUs, commercial use, language, model).",
        "/llm-profile set gpu=4090 gpus=2 commercial=yes",
    ),
    Command("help", "/help", "This list.", "/help", slack="/advisor-help"),
)
_BY_NAME = {alias: c for c in COMMANDS for alias in (c.name, *c.aliases)}


@dataclass(frozen=True)
class Request:
    """A parsed message: which command, and the text after it."""

    command: Command
    args: str
    raw: str


def parse(text: str) -> Request:
    """Slash command or free text -> Request; unknown commands are a usage error."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return Request(_BY_NAME["ask"], stripped, text)
    name, _, args = stripped[1:].partition(" ")
    command = _BY_NAME.get(name.lower())
    if command is None:
        known = ", ".join(f"/{c.name}" for c in COMMANDS)
        raise UsageError(f"Unknown command /{name}. Commands: {known}. Or just ask in plain words.")
    return Request(command, args.strip(), text)


#: Longest model name tried, in words, and most models read from one command.
_NAME_WORDS = 6
_MAX_MODELS = 4


def _split_models(extractor: Extractor, words: list[str]) -> tuple[list[str], str, list[str]]:
    """Leading model names (longest spelling first), the rest of the text, and notes.

    At most :data:`_MAX_MODELS` names of up to :data:`_NAME_WORDS` words each are tried, so a
    long message costs a bounded number of lookups. A loose match says what it matched.
    """
    models: list[str] = []
    notes: list[str] = []
    i = 0
    while i < len(words) and len(models) < _MAX_MODELS:
        for j in range(min(len(words), i + _NAME_WORDS), i, -1):
            query = " ".join(words[i:j])
            found = extractor.resolver.find(query)
            if found is None:
                continue
            models.append(found.variant.id)
            if not found.exact or found.match == "family":
                notes.append(
                    f"I took '{query}' to mean {found.variant.name} (`{found.variant.id}`)."
                )
            i = j
            break
        else:
            break
    return models, " ".join(words[i:]), notes


def _unknown(extractor: Extractor, rest: str) -> UnknownModel:
    """The error for a command whose first name matches no model: nearest names included."""
    first = rest.split()[0] if rest.split() else rest
    return UnknownModel(first, extractor.resolver.suggest(first))


def understand_request(request: Request, extractor: Extractor) -> Understanding:
    """Turn a parsed command into what the advisor answers."""
    name, args = request.command.name, request.args
    if name == "ask":
        if not args:
            raise UsageError(f"Usage: {request.command.usage}")
        return extractor.understand(args)
    if name == "recommend":
        understood = extractor.understand(args)
        return Understanding(
            args, understood.language, understood.requirements, understood.models, "recommend"
        )
    words = [
        w for w in re.split(r"[\s,]+", args) if w and w.lower() not in ("on", "vs", "and", "with")
    ]
    models, rest, notes = _split_models(extractor, words)
    models, notes = list(dict.fromkeys(models)), list(dict.fromkeys(notes))  # each once
    language = detect_language(args)
    read = extractor.understand(rest)
    requirements, notes = read.requirements, notes + read.notes
    if name == "compare":
        if len(models) < 2:  # name what was not recognised, then how to ask
            first = rest.split()[0] if rest.split() else ""
            if first and extractor.resolver.find(first) is None:
                unknown = f"{_unknown(extractor, rest).user_message} "
            else:  # nothing unknown: the same model twice, or only one named
                unknown = "Compare needs two different models. "
            raise UsageError(
                f"{unknown}Usage: {request.command.usage} — for example {request.command.example}"
            )
        return Understanding(args, language, requirements, models[:4], "compare", notes)
    if name == "fit":
        if not models and rest:
            raise _unknown(extractor, rest)
        if not models or not (requirements.has_hardware or requirements.cpu_only):
            raise UsageError(
                f"Usage: {request.command.usage} — for example {request.command.example}"
            )
        return Understanding(args, language, requirements, models[:1], "fit", notes)
    if name == "why-not":
        if not models and rest:
            raise _unknown(extractor, rest)
        if not models:
            raise UsageError(
                f"Usage: {request.command.usage} — for example {request.command.example}"
            )
        return Understanding(args, language, requirements, models[:1], "why-not", notes)
    raise UsageError(f"Usage: {request.command.usage}")


def on_platform(platform: str, name: str) -> Command | None:
    """The command a platform's slash command name stands for ("/whynot" on Slack)."""
    for c in COMMANDS:
        if name in (c.slack_name if platform == "slack" else c.discord_name, "/" + c.name):
            return c
    return None


def grammar_text(platform: str, name: str, text: str) -> str:
    """A platform slash command and its text in the shared grammar ("/whynot x" -> "/why-not x")."""
    command = on_platform(platform, name)
    if command is None:
        raise UsageError(f"Unknown command {name}.")
    if command.name == "ask":
        return text.strip() or "/help"
    return f"/{command.name} {text}".strip()


def help_text(platform: str = "terminal") -> str:
    """The command list with the names as typed on ``platform``, for /help."""
    lines = ["Commands (or just ask in plain English or Chinese):"]
    lines += [f"  {c.usage_on(platform):<48} {c.summary}" for c in COMMANDS]
    return "\n".join(lines)


def reference_markdown() -> str:
    """docs/commands.md: the same registry as a Markdown reference."""
    lines = ["# Command reference", "", "Generated from `bot/commands.py` by `make docs`.", ""]
    for c in COMMANDS:
        lines += [
            f"## /{c.name}",
            "",
            c.summary,
            "",
            f"Usage: `{c.usage}`",
            "",
            f"Example: `{c.example}`",
            "",
        ]
        lines += [f"Slack: `{c.slack_name}` · Discord: `/{c.discord_name}`", ""]
        if c.admin:
            lines += [
                "Discord shows it to members with Manage Server unless an admin allows more.",
                "",
            ]
        if c.aliases:
            lines += [f"Also: {', '.join('/' + a for a in c.aliases)}", ""]
    return "\n".join(lines)
