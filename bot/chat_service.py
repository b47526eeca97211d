"""What every chat adapter shares: profiles, access, conversations, rate limits and errors.

Adapters turn a platform event into a :class:`ChatContext` and the message text, call
:meth:`ChatService.handle` (in :attr:`ChatService.pool`, a bounded pool of answer
workers), and render the returned Answer. Everything that must behave the same on Slack
and Discord lives here, free of any platform SDK:

* each person has their own conversation per chat thread, stored in the database
  (bot/chat_state.py); in a DM the recent conversation continues at top level, and
  ``new`` starts afresh;
* ``/llm-profile`` shows, sets or clears a channel's (or workspace's) defaults, every value
  validated; in a DM it is the user's own profile;
* risky actions (profile changes, trials, pulls) need an allowlisted user id or role id,
  while everyone can ask; jobs are listed and cancelled only within their workspace, by
  their owner or an admin;
* each user gets a few questions per minute (the window lives in the database);
* usage errors, denials and rate-limit notices are marked private (``data["private"]``)
  so adapters show them to the asker only; an unexpected failure becomes a short message
  with a request id, and operator details (server URLs, paths) never reach the chat.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.advisor import Advisor
from bot.answer import Answer
from bot.chat_state import ConversationStore, EventLog, JobScopes, RateLimiter
from bot.commands import UsageError, help_text
from bot.digest import digest_answer
from bot.logs import report_incident
from bot.profiles import ProfileError, ProfileStore, Scope, describe, requirements_from
from bot.subscriptions import SubscriptionStore
from bot.trials.jobs import ACTIVE, Job, Owner
from bot.trials.service import Trials, render_job
from core.clock import Clock, utc_now
from core.errors import AdvisorError, JobError, LLMUnavailable
from core.text import detect_language

__all__ = ["AccessPolicy", "ChatContext", "ChatService", "EventLog", "RateLimiter"]
log = logging.getLogger("advisor")
RISKY = ("profile", "trial", "pull", "ingest")
DM_MEMORY = 2 * 3600.0  # a DM continues the conversation of the last two hours
FRESH = {"new", "/new", "start over", "reset", "新对话", "重新开始"}
_INTERNAL = re.compile(
    r"\b(?:sqlite|postgresql|postgres|redis)\S*://\S+"
    r"|\bhttps?://(?:localhost|127\.[\d.]+|10\.[\d.]+|192\.168\.[\d.]+|\[::1\]|[\w.-]+:\d+)\S*"
    r"|(?<![\w.])/(?:home|srv|var|tmp|opt|Users|root|data|mnt|work|etc)/\S+"
)


@dataclass(frozen=True)
class ChatContext:
    """Where a message came from; ``roles`` are role ids (Discord), ``dm`` a direct message."""

    platform: str
    workspace: str
    channel: str
    user: str
    thread: str
    roles: frozenset[str] = frozenset()
    dm: bool = False


@dataclass
class AccessPolicy:
    """Who may do risky things, by platform user id and role id; no allowlist: everyone."""

    users: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def is_admin(self, ctx: ChatContext) -> bool:
        """Listed by user id (``U123`` or ``slack:U123``) or holding a listed role id."""
        ids = {ctx.user, f"{ctx.platform}:{ctx.user}"}
        return bool(ids & self.users) or bool(ctx.roles & self.roles)

    def allows(self, ctx: ChatContext, action: str) -> bool:
        """Whether ``ctx``'s user may do ``action``."""
        if action not in RISKY or not (self.users or self.roles):
            return True
        return self.is_admin(ctx)


def say(language: str, en: str, zh: str) -> str:
    """The English or Chinese wording of one notice."""
    return zh if language == "zh" else en


def public_text(text: str) -> str:
    """Text with operator details (server URLs, absolute paths) taken out."""
    return _INTERNAL.sub("[internal]", text)


class ChatService:
    """One chat message in, one Answer out, for any platform."""

    def __init__(
        self,
        advisor: Advisor,
        profiles: ProfileStore,
        access: AccessPolicy | None = None,
        limiter: RateLimiter | None = None,
        trials: Trials | None = None,
        clock: Clock = utc_now,
        workers: int = 8,
    ) -> None:
        self.advisor = advisor
        self.clock = clock
        self.profiles = profiles
        self.access = access or AccessPolicy()
        self.limiter = limiter or RateLimiter(engine=profiles.engine)
        self.trials = trials
        self.conversations = ConversationStore(profiles.engine)
        self.events = EventLog(profiles.engine)
        self.scopes = JobScopes(profiles.engine)
        #: Answers run here: several users are answered at once, a slow one blocks no one.
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="answer")
        #: Model pulls run here, so a long download never holds an answer worker.
        self.long_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="long-work")
        if trials is not None:
            advisor.evidence = trials.evidence

    def handle(
        self,
        ctx: ChatContext,
        text: str,
        on_token: Callable[[str], None] | None = None,
        notify: Callable[[Answer], None] | None = None,
    ) -> Answer:
        """Answer one message; never raises.

        ``notify`` receives later answers for the same thread: job progress (marked with
        ``data["progress"]`` = job id, to be edited in place) and results.
        """
        language = detect_language(text)
        try:
            wait = self.limiter.wait_seconds(f"{ctx.platform}:{ctx.user}")
            if wait > 0:
                return self._private(text, language, _slow_down(language, wait))
            word = text.strip().lower()
            if word.startswith(("/llm-profile", "llm-profile")):
                return self._profile(ctx, text)
            if word.startswith(("/trial", "/eval", "/jobs")):
                return self._trial(ctx, text, notify)
            if word.startswith("/digest"):
                return self._digest(ctx, text)
            if word in ("/help", "help", "帮助"):
                return self._notice(text, language, help_text(ctx.platform))
            if word in FRESH:
                self.conversations.forget(self.conversation_key(ctx))
                return self._notice(
                    text, language, say(language, "Started a new conversation.", "已开始新的对话。")
                )
            return self._ask(ctx, text, on_token)
        except UsageError as exc:
            return self._private(text, language, exc.user_message)
        except LLMUnavailable as exc:
            log.warning("language model unavailable: %s (%s)", exc.user_message, exc)
            message = say(
                language,
                "The language model is not reachable right now; try again later.",
                "语言模型暂时无法连接，请稍后再试。",
            )
            return self._notice(text, language, message)
        except AdvisorError as exc:
            return self._private(text, language, public_text(exc.user_message))
        except Exception as exc:  # noqa: BLE001 - one bad message never takes the bot down
            request_id = report_incident(exc)
            message = say(
                language,
                f"Sorry, something went wrong (request id {request_id}). "
                "The team can find the details in the advisor's log.",
                f"抱歉，出了点问题（请求编号 {request_id}），管理员可在日志中查看详情。",
            )
            return self._notice(text, language, message)

    @staticmethod
    def conversation_key(ctx: ChatContext) -> str:
        """One conversation per person and chat thread (per person in a DM)."""
        thread = "dm" if ctx.dm else ctx.thread
        return f"{ctx.platform}:{ctx.workspace}:{ctx.channel}:{thread}:{ctx.user}"

    def _ask(self, ctx: ChatContext, text: str, on_token: Callable[[str], None] | None) -> Answer:
        profile = self.profiles.effective(ctx.platform, ctx.workspace, ctx.channel)
        key = self.conversation_key(ctx)
        thread, expired = self.conversations.load(key, DM_MEMORY if ctx.dm else None)
        continuing = bool(thread.history)
        if profile and not thread.history:
            thread.requirements = requirements_from(profile)
        answer = self.advisor.handle(
            text,
            thread=thread,
            on_token=on_token,
            language=profile.get("language"),
            model=profile.get("ollama_model"),
        )
        self.conversations.save(thread)
        if profile:
            label = say(answer.language, "team profile", "团队配置")
            note = f"{label}: {describe(profile)}"
            answer.understood = f"{answer.understood} ({note})"
            first, _, rest = answer.text.partition("\n")
            answer.text = f"{first} ({note})\n{rest}" if rest else f"{first} ({note})"
        if ctx.dm and (continuing or expired):
            hint = say(
                answer.language,
                "_Continuing our conversation; send `new` to start fresh._",
                "_继续我们之前的对话；发送 `new` 可重新开始。_",
            )
            if expired:
                hint = say(
                    answer.language,
                    "_Our last conversation was a while ago, so this starts a new one._",
                    "_上次对话已过去较久，这是一个新的对话。_",
                )
            answer.text += "\n\n" + hint
        answer.text = public_text(answer.text)
        return answer

    def _profile(self, ctx: ChatContext, text: str) -> Answer:
        args = text.strip().split(None, 1)[1] if len(text.split()) > 1 else ""
        action, _, rest = args.partition(" ")
        wide = "scope=workspace" in rest
        scope = Scope(ctx.platform, ctx.workspace, "" if wide else ctx.channel)
        rest = rest.replace("scope=workspace", "").replace("scope=channel", "")
        lang = detect_language(text)
        if wide:
            where = say(lang, "this workspace", "本工作区")
        else:
            where = (
                say(lang, "your DMs", "你的私信") if ctx.dm else say(lang, "this channel", "本频道")
            )
        if action in ("", "show"):
            profile = self.profiles.effective(ctx.platform, ctx.workspace, ctx.channel)
            body = describe(profile) or say(lang, "no defaults yet", "尚无默认设置")
            shown = say(lang, f"Team profile for {where}: {body}.", f"{where}的团队配置：{body}。")
            return self._notice(text, lang, f"{shown}\n{PROFILE_USAGE}")
        # In a DM the channel profile is the user's own; everywhere else it is the team's.
        if not (ctx.dm and not wide) and not self.access.allows(ctx, "profile"):
            return self._private(
                text,
                lang,
                say(
                    lang,
                    "Only the advisor's admins can change team profiles; ask one of them.",
                    "只有顾问的管理员可以修改团队配置，请联系其中一位。",
                ),
            )
        if action == "set":
            stored = describe(self.profiles.set(scope, self.profiles.parse(rest), ctx.user))
            saved = say(
                lang,
                f"Saved. Team profile for {where}: {stored}.",
                f"已保存。{where}的团队配置：{stored}。",
            )
            return self._notice(text, lang, saved)
        if action == "clear":
            self.profiles.clear(scope)
            cleared = say(
                lang, f"Cleared the team profile for {where}.", f"已清除{where}的团队配置。"
            )
            return self._notice(text, lang, cleared)
        raise ProfileError(PROFILE_USAGE)

    def _jobs_here(self, ctx: ChatContext) -> list[Job]:
        assert self.trials is not None
        mine = self.scopes.in_workspace(ctx.platform, ctx.workspace)
        return [j for j in self.trials.runner.store.recent(200) if j.id in mine][:10]

    def _trial(
        self, ctx: ChatContext, text: str, notify: Callable[[Answer], None] | None
    ) -> Answer:
        lang = detect_language(text)
        if self.trials is None:
            raise JobError(
                say(
                    lang,
                    "Trials need an Ollama server; the advisor's admins can set one up.",
                    "试运行需要 Ollama 服务器，请顾问的管理员配置。",
                )
            )
        command, _, args = text.strip().partition(" ")
        verb, _, rest = args.strip().partition(" ")
        if command == "/jobs":
            jobs = self._jobs_here(ctx)
            if not jobs:
                return self._notice(
                    text, lang, say(lang, "No jobs in this workspace yet.", "本工作区还没有任务。")
                )
            header = say(
                lang, "Jobs in this workspace (newest first):", "本工作区的任务（最新在前）："
            )
            lines = [f"{j.id} {j.kind} {j.status} {j.progress}" for j in jobs]
            return self._notice(text, lang, "\n".join([header, *lines]))
        if command == "/trial" and verb == "cancel":
            return self._cancel(ctx, text, rest.strip())
        if command == "/trial" and verb == "pull":
            if not self.access.allows(ctx, "pull"):
                denied = say(
                    lang,
                    "Only the advisor's admins can pull models.",
                    "只有顾问的管理员可以拉取模型。",
                )
                return self._private(text, lang, denied)
            return self._pull(text, rest.strip(), notify)
        if not self.access.allows(ctx, "trial"):
            denied = say(
                lang,
                "Only the advisor's admins can run trials and evals.",
                "只有顾问的管理员可以运行试运行和评测。",
            )
            return self._private(text, lang, denied)
        owner = Owner(ctx.user, ctx.platform, ctx.channel, ctx.thread)
        on_job = (lambda job: notify(_job_answer(job))) if notify else None
        before = {j.id for j in self.trials.runner.store.recent(5)}
        if command == "/eval":
            answer = self.trials.submit_eval(args, owner, on_job)
        else:
            answer = self.trials.submit_trial(args, owner, on_job)
        for job in self.trials.runner.store.recent(5):
            if job.id not in before and job.user == ctx.user:
                self.scopes.record(job.id, ctx.platform, ctx.workspace)
        return answer

    def _cancel(self, ctx: ChatContext, text: str, job_id: str) -> Answer:
        assert self.trials is not None
        lang = detect_language(text)
        job = next((j for j in self._jobs_here(ctx) if j.id == job_id), None)
        if job is None:
            missing = say(
                lang,
                "No such job in this workspace; /jobs lists them.",
                "本工作区没有这个任务；/jobs 会列出所有任务。",
            )
            return self._private(text, lang, missing)
        if job.user != ctx.user and not self.access.is_admin(ctx):
            return self._private(
                text,
                lang,
                say(
                    lang,
                    f"Job {job.id} belongs to someone else; only they or an admin can stop it.",
                    f"任务 {job.id} 属于其他人，只有本人或管理员可以停止它。",
                ),
            )
        self.trials.runner.cancel(job.id)
        return self._notice(
            text, lang, say(lang, f"Job {job.id}: cancelling.", f"任务 {job.id}：正在取消。")
        )

    def _pull(self, text: str, tag: str, notify: Callable[[Answer], None] | None) -> Answer:
        assert self.trials is not None
        if not tag:
            raise UsageError("Usage: /trial pull TAG, e.g. /trial pull qwen2.5:7b")
        trials = self.trials
        key = f"pull:{tag}"

        def progress(line: str) -> None:
            if notify:
                notify(_progress(self._notice(text, "en", f"Pulling {tag}: {line}"), key))

        def work() -> None:
            try:
                done = trials.pull(tag, progress)
            except AdvisorError as exc:
                log.warning("pull of %s failed: %s", tag, exc)
                done = self._notice(
                    text, "en", f"Pulling {tag} failed: {public_text(exc.user_message)}"
                )
            except Exception as exc:  # noqa: BLE001 - a failed pull is reported, not fatal
                done = self._notice(
                    text, "en", f"Pulling {tag} failed (request id {report_incident(exc)})."
                )
            if notify:
                notify(_final(done, key))

        self.long_pool.submit(work)
        return self._notice(text, "en", f"Pulling {tag}; progress follows here.")

    def _digest(self, ctx: ChatContext, text: str) -> Answer:
        args = text.strip().split()[1:]
        engine = self.profiles.engine
        profile = self.profiles.effective(ctx.platform, ctx.workspace, ctx.channel)
        language = str(profile.get("language") or detect_language(text))
        if args and args[0] in ("subscribe", "unsubscribe"):
            lang = detect_language(text)
            if not self.access.allows(ctx, "profile"):
                denied = say(
                    lang, "Only admins can change subscriptions.", "只有管理员可以修改订阅。"
                )
                return self._private(text, lang, denied)
            store = SubscriptionStore(engine, clock=self.clock)
            if args[0] == "subscribe":
                store.subscribe(ctx.platform, ctx.workspace, ctx.channel, language, ctx.user)
                subscribed = say(
                    lang,
                    "Subscribed: this channel gets the weekly digest.",
                    "已订阅：本频道将收到每周摘要。",
                )
                return self._notice(text, lang, subscribed)
            removed = store.unsubscribe(ctx.platform, ctx.workspace, ctx.channel)
            if removed:
                return self._notice(text, lang, say(lang, "Unsubscribed.", "已取消订阅。"))
            return self._notice(
                text, lang, say(lang, "This channel was not subscribed.", "本频道尚未订阅。")
            )
        try:
            days = next((int(a.split("=", 1)[1]) for a in args if a.startswith("days=")), 7)
        except ValueError:
            days = 0
        if not 1 <= days <= 90:
            raise UsageError("days must be between 1 and 90, e.g. /digest days=14")
        return digest_answer(self.advisor, engine, days, profile, language, now=self.clock())

    @staticmethod
    def _notice(question: str, language: str, text: str) -> Answer:
        return Answer(question=question, language=language, text=text)

    @staticmethod
    def _private(question: str, language: str, text: str) -> Answer:
        """A notice only the asker should see (usage error, denial, rate limit)."""
        return Answer(question=question, language=language, text=text, data={"private": True})


def _progress(answer: Answer, key: str) -> Answer:
    answer.data["progress"] = key
    return answer


def _final(answer: Answer, key: str) -> Answer:
    answer.data["progress"], answer.data["final"] = key, True
    return answer


def _job_answer(job: Job) -> Answer:
    """A job update: progress to edit in place while it runs, the result once it ended."""
    answer = render_job(job)
    return _progress(answer, job.id) if job.status in ACTIVE else _final(answer, job.id)


PROFILE_USAGE = (
    "Usage: /llm-profile [show] · /llm-profile set gpu=4090 gpus=2 commercial=yes language=zh "
    "model=qwen2.5:14b [scope=workspace] · /llm-profile clear [scope=workspace]"
)


def _slow_down(language: str, wait: float) -> str:
    if language == "zh":
        return f"问得有点快了，请 {wait:.0f} 秒后再试。"
    return f"You're asking faster than I can answer well; try again in {wait:.0f} s."
