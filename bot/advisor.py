"""The advisor: one entry point for every question, whatever the adapter.

``ask`` reads the question (bot/understand.py), lets the rules decide (rules/advice.py),
retrieves passages (knowledge/index.py), and then either has Ollama phrase an answer from
exactly those facts, checked by bot/grounding.py, or composes the deterministic answer
(bot/compose.py). The deterministic answer is always computed first: it is the fallback,
and its text is the fact sheet the language model must stay within.

A :class:`Thread` carries a conversation: the last requirements and models, so "and at
8-bit?" or "那写代码呢？" refine the previous question instead of starting over.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot import compose, kind_answers
from bot.answer import Answer, Citation, LLMInfo
from bot.commands import help_text, parse, understand_request
from bot.grounding import check_claims, facts_from_answer, neutralise, replaced_note
from bot.llm import Message, OllamaChat
from bot.prompts import build_messages
from bot.refine import refine
from bot.understand import Extractor, Understanding, lexicon
from core.errors import AdvisorError, LLMUnavailable, RetrievalError
from core.text import detect_language
from knowledge.catalog import Catalog
from knowledge.index import KnowledgeIndex, Passage
from rules.advice import Advice
from rules.packs import RuleBook, RuleSet
from rules.requirements import Requirements

log = logging.getLogger("advisor")
OnToken = Callable[[str], None]
_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|also|same|那|那么|如果|换成|改成|还有)", re.I
)


@dataclass
class Thread:
    """One conversation: what was asked so far."""

    id: str
    requirements: Requirements = field(default_factory=Requirements)
    models: list[str] = field(default_factory=list)
    intent: str = "recommend"
    history: list[Message] = field(default_factory=list)

    def remember(self, understood: Understanding, question: str, answer: str) -> None:
        self.requirements = understood.requirements
        self.models = understood.models
        self.intent = understood.intent
        self.history = [*self.history, Message("user", question), Message("assistant", answer)][-8:]


class Threads:
    """Recent threads in memory, oldest forgotten first."""

    def __init__(self, limit: int = 500) -> None:
        self._threads: OrderedDict[str, Thread] = OrderedDict()
        self.limit = limit

    def get(self, thread_id: str) -> Thread:
        thread = self._threads.pop(thread_id, None) or Thread(thread_id)
        self._threads[thread_id] = thread
        while len(self._threads) > self.limit:
            self._threads.popitem(last=False)
        return thread


class Advisor:
    """Catalog, rules, index and (optionally) a language model, answering questions."""

    def __init__(
        self,
        catalog: Catalog,
        rules: RuleSet | RuleBook,
        index: KnowledgeIndex | None = None,
        llm: OllamaChat | None = None,
        apple_gpu_fraction: float | None = None,
    ) -> None:
        """``rules`` is a fixed set, or a running bot's book whose edited packs apply
        from the next question on (see :meth:`RuleBook.refresh`)."""
        self.catalog = catalog
        self.rulebook = rules if isinstance(rules, RuleBook) else None
        ruleset = rules.current if isinstance(rules, RuleBook) else rules
        self.advice = Advice(catalog, ruleset, apple_gpu_fraction)
        self._titles = {r.id: r.spec.title for r in ruleset.rules}
        self.extractor = Extractor(catalog, self.advice.resolver)
        self.index = index
        self.llm = llm
        self.threads = Threads()
        #: Whether Ollama may fill requirements the deterministic reading missed (bot/refine.py).
        self.llm_extraction = False
        #: Ollama tags -> measured figures from the team's own trials (set by the chat service).
        self.evidence: Callable[[list[str]], dict[str, str]] | None = None

    def _refresh_rules(self) -> list[str]:
        """Apply edited rule packs; the problems to show while a bad edit keeps the last good."""
        book = self.rulebook
        if book is None:
            return []
        if book.refresh():
            # One assignment swaps the rules: a question already being answered keeps its Advice.
            self.advice = self.advice.with_rules(book.current)
            self._titles = {r.id: r.spec.title for r in book.current.rules}
        return book.problems

    def understand(self, question: str, thread: Thread | None = None) -> Understanding:
        """Read a question, carrying a thread's requirements and models into follow-ups."""
        base = thread.requirements if thread else None
        understood = self.extractor.understand(question, base=base)
        if self.llm_extraction and self.llm is not None:
            understood = refine(understood, self.llm, self.catalog)
        if thread and (
            _FOLLOW_UP.match(question)
            or (understood.intent == "concept" and not understood.models and thread.models)
        ):
            return Understanding(
                text=question,
                language=understood.language,
                requirements=understood.requirements,
                models=understood.models or thread.models,
                intent=understood.intent if understood.intent != "concept" else thread.intent,
                notes=understood.notes,
            )
        return understood

    def retrieve(self, understood: Understanding, k: int = 5) -> tuple[list[Passage], str | None]:
        """Passages for the question; a broken index is reported, not fatal."""
        if self.index is None:
            return [], "no knowledge index"
        query = expand_query(understood.text)
        try:
            return self.index.search(
                query, k=k, models=understood.models, lang=understood.language
            ), None
        except RetrievalError as exc:
            log.warning("retrieval failed: %s", exc)
            return [], exc.user_message

    def handle(
        self,
        text: str,
        thread: Thread | None = None,
        use_llm: bool = True,
        on_token: OnToken | None = None,
        language: str | None = None,
        model: str | None = None,
    ) -> Answer:
        """Answer one chat message: a slash command or free text (what adapters call).

        ``language`` forces the answer's language and ``model`` the Ollama model (a team
        profile's choices); by default the question's language and the configured model.
        """
        request = parse(text)
        if request.command.name == "help":
            return Answer(question=text, language=detect_language(text), text=help_text())
        if request.command.name == "ask":
            understood = self.understand(request.args, thread)
        else:
            understood = understand_request(request, self.extractor)
        if language:
            understood = replace(understood, language=language)
        return self.respond(understood, thread, use_llm, on_token, model)

    def ask(
        self,
        question: str,
        thread: Thread | None = None,
        use_llm: bool = True,
        on_token: OnToken | None = None,
    ) -> Answer:
        """Answer a question in its own language, grounded in catalog, rules and guides."""
        return self.respond(self.understand(question, thread), thread, use_llm, on_token)

    def respond(
        self,
        understood: Understanding,
        thread: Thread | None = None,
        use_llm: bool = True,
        on_token: OnToken | None = None,
        model: str | None = None,
    ) -> Answer:
        """Answer what was understood (from free text or a parsed command)."""
        question = understood.text
        rule_problems = self._refresh_rules()
        passages, retrieval_error = self.retrieve(understood)
        cites = compose.citations(passages)
        answer = self._deterministic(understood, cites, passages)
        why, streamed = "", [False]
        llm = self.llm.with_model(model) if (self.llm and model) else self.llm
        if use_llm and llm is not None:

            def mark(piece: str) -> None:
                streamed[0] = True
                if on_token is not None:
                    on_token(piece)

            phrased, why = self._phrase(llm, understood, answer, cites, thread, mark)
            if phrased is not None:
                answer.text = phrased
                answer.llm = LLMInfo(used=True, model=llm.model)
            elif streamed[0]:
                answer.llm = LLMInfo(used=False, model=llm.model, error=why, replaced=why)
                answer.text += "\n\n_" + replaced_note(answer.language, why) + "_"
        else:
            why = ""  # deliberately without a language model (--no-llm)
        if not answer.llm.used and not answer.llm.replaced:
            answer.llm = LLMInfo(used=False, model=llm.model if llm else None, error=why or None)
            suffix = f": {compose.llm_reason(answer.language, why)}" if why else ""
            answer.text += "\n\n_" + compose.say(answer.language, "deterministic", why=suffix) + "_"
        if retrieval_error and not passages:
            log.info("answered without passages: %s", retrieval_error)
        if rule_problems:
            more = len(rule_problems) - 1
            first = rule_problems[0] + (f" (+{more})" if more else "")
            answer.text += "\n\n_" + compose.say(answer.language, "rules_kept", error=first) + "_"
        if thread is not None:
            thread.remember(understood, question, answer.text)
        return answer

    def _phrase(
        self,
        llm: OllamaChat,
        understood: Understanding,
        answer: Answer,
        cites: list[Citation],
        thread: Thread | None,
        on_token: OnToken | None,
    ) -> tuple[str | None, str]:
        messages = build_messages(understood, answer.text, cites, thread.history if thread else [])
        pieces: list[str] = []
        try:
            for piece in llm.stream(messages):
                pieces.append(piece)
                if on_token is not None:
                    on_token(piece)
        except LLMUnavailable as exc:
            log.info("LLM unavailable: %s", exc)
            return None, exc.user_message
        text = "".join(pieces).strip()
        facts = facts_from_answer(
            answer.text + "\n" + "\n".join(f"{c.title} {c.snippet}" for c in cites),
            answer.data,
            understood.models,
            self.catalog,
        )
        report = check_claims(text, facts, self.extractor)
        if not text or not report.ok:
            reason = report.describe() or "gave an empty reply"
            log.warning("LLM answer replaced: %s", reason)
            return None, f"the model's answer was replaced because it {reason}"
        return neutralise(text), ""

    def _deterministic(
        self, understood: Understanding, cites: list[Citation], passages: list[Passage]
    ) -> Answer:
        lang, req = understood.language, understood.requirements
        answer = Answer(
            question=understood.text,
            language=lang,
            text="",
            understood=understood.summary(),
            citations=cites,
            catalog_as_of=self.catalog.as_of.isoformat() if self.catalog.as_of else None,
        )
        answer.data["requirements"] = req.model_dump(mode="json", exclude_defaults=True)
        lines = [understood.summary(), ""]
        try:
            lines += self._body(understood, answer, passages)
        except AdvisorError as exc:
            lines.append(exc.user_message)
        if understood.intent != "concept":
            lines += [""] + compose.guide_lines(cites, lang)
        if answer.catalog_as_of:
            lines += ["", compose.say(lang, "as_of", date=answer.catalog_as_of)]
        answer.text = "\n".join(lines).strip()
        return answer

    def _evidence(self, variant_ids: list[str]) -> list[str]:
        """Team evidence: what the team's own trials measured for these models."""
        if self.evidence is None:
            return []
        tags = {t: v for v in variant_ids for t in self.catalog.variants[v].ollama_tags}
        measured = self.evidence(list(tags))
        if not measured:
            return []
        return ["Team evidence (your trials):"] + [
            f"- {tags[tag]} (`{tag}`): {figures}" for tag, figures in measured.items()
        ]

    def _body(
        self, understood: Understanding, answer: Answer, passages: list[Passage]
    ) -> list[str]:
        lang, req, models = understood.language, understood.requirements, understood.models
        lines: list[str] = []
        kind = understood.intent
        if kind == "cost":
            lines, answer.data["cost"] = kind_answers.cost_lines(
                understood, self.catalog, self.advice
            )
            return lines
        if kind == "license" and models:
            return kind_answers.license_lines(understood, self.catalog, self.advice)
        if kind == "trial":
            return kind_answers.trial_lines(understood, self.catalog)
        if kind == "concept":
            lines = kind_answers.concept_lines(understood, passages, answer.citations)
            for name in [m for m in models if m in self.catalog.variants][:3]:
                lines += ["", *compose.why_not_lines(self.advice.why_not(name, req), lang)]
            return lines
        if understood.intent == "compare" and len(models) >= 2:
            result = self.advice.compare(models[:4], req)
            answer.tables.append(compose.comparison_table(result))
            answer.data["comparison"] = result.model_dump(mode="json")
            return compose.comparison_lines(result, self.catalog, lang) + self._evidence(
                result.models
            )
        if understood.intent == "fit" and models and req.has_hardware:
            report = self.advice.fit(models[0], req)
            answer.tables.append(compose.fit_table(report))
            answer.data["fit"] = report.model_dump(mode="json")
            lines = [compose.fit_sentence(report, lang), *[f"- {n}" for n in report.notes]]
            if report.best is None:  # say what does fit instead
                rec = self.advice.recommend(req, limit=3)
                lines += ["", compose.say(lang, "fits")]
                lines += [
                    compose.candidate_line(i, c, self.catalog, lang, self._titles)
                    for i, c in enumerate(rec.candidates, 1)
                ]
            return lines
        families = frozenset(m for m in models if m in self.catalog.families)
        variants = [m for m in models if m in self.catalog.variants]
        if understood.intent == "why-not" and variants:
            verdict = self.advice.why_not(variants[0], req)
            lines += compose.why_not_lines(verdict, lang)
            if verdict.alternatives:
                lines.append(
                    ("Allowed instead: " if lang == "en" else "可以改用：")
                    + ", ".join(verdict.alternatives)
                )
            return lines
        if variants:
            lines.append(compose.say(lang, "asked"))
            for name in variants[:3]:
                lines += compose.why_not_lines(self.advice.why_not(name, req), lang)
            lines.append("")
        rec = self.advice.recommend(req, limit=5, families=families)
        answer.data["candidates"] = [_candidate_json(c) for c in rec.candidates]
        if rec.candidates:
            lines.append(compose.say(lang, "fits"))
            lines += [
                compose.candidate_line(i, c, self.catalog, lang, self._titles)
                for i, c in enumerate(rec.candidates, 1)
            ]
            answer.tables.append(compose.verdict_table(rec.candidates, self.catalog))
            answer.follow_ups = follow_ups(rec.candidates, self.catalog, req)
        else:
            lines.append(compose.say(lang, "none"))
        return lines


TRIAL_PROMPT = "Summarize the trade-offs between RAG and fine-tuning in three bullet points."


def follow_ups(candidates: list[Any], catalog: Catalog, req: Requirements) -> list[str]:
    """Next steps offered as buttons: explain, compare, try it, and another precision."""
    top = catalog.variants[candidates[0].model]
    steps = [f"/why-not {top.id}"]
    if len(candidates) > 1:
        steps.append(f"/compare {' '.join(c.model for c in candidates[:2])}")
    if top.ollama_tags:
        steps.append(f'/trial {top.ollama_tags[0]} "{TRIAL_PROMPT}"')
    fit = candidates[0].fit
    if req.has_hardware and fit is not None:
        other = "4-bit" if fit.precision in ("bf16", "q8_0") else "8-bit"
        steps.append(f"/fit {top.id} {req.hardware_label()} {other}")
    return steps


def _candidate_json(verdict: Any) -> dict[str, Any]:
    return {
        "model": verdict.model,
        "status": verdict.status.value,
        "score": verdict.score,
        "reasons": [
            {"rule": r.rule, "severity": r.severity, "message": r.message} for r in verdict.reasons
        ],
        "fit": verdict.fit.model_dump() if verdict.fit else None,
    }


def expand_query(text: str) -> str:
    """The question plus English glossary terms for its Chinese words, for retrieval."""
    extra = [en for zh, en in lexicon()["glossary"].items() if zh in text]
    return " ".join([text, *extra])
