"""What every chat adapter shares: profiles, access control, rate limits, threads and errors.

Adapters turn a platform event into a :class:`ChatContext` and the message text, call
:meth:`ChatService.handle`, and render the returned Answer. Everything that must behave
the same on Slack and Discord lives here, free of any platform SDK:

* ``/llm-profile`` shows, sets or clears the channel's (or workspace's) defaults;
* a team profile seeds each new thread's requirements, and the answer says so;
* risky actions (profile changes now; trials, model pulls and ingest later) need an
  allowlisted user or role, while everyone can ask;
* each user gets a few questions per minute, with a friendly message past that;
* an unexpected failure becomes a short message with a request id, the trace goes to
  the log, and the service keeps serving.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.advisor import Advisor
from bot.answer import Answer
from bot.digest import digest_answer
from bot.logs import report_incident
from bot.profiles import ProfileError, ProfileStore, Scope, describe, requirements_from
from bot.subscriptions import SubscriptionStore
from bot.trials.jobs import Owner
from bot.trials.service import Trials, render_job
from core.clock import Clock, utc_now
from core.errors import AdvisorError, JobError
from core.text import detect_language

log = logging.getLogger("advisor")
RISKY = ("profile", "trial", "pull", "ingest")


@dataclass(frozen=True)
class ChatContext:
    """Where a message came from."""

    platform: str
    workspace: str
    channel: str
    user: str
    thread: str
    roles: frozenset[str] = frozenset()


@dataclass
class AccessPolicy:
    """Who may do risky things; with no allowlist configured, everyone may."""

    users: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def allows(self, ctx: ChatContext, action: str) -> bool:
        if action not in RISKY or not (self.users or self.roles):
            return True
        return ctx.user in self.users or bool(ctx.roles & self.roles)


@dataclass
class RateLimiter:
    """At most ``per_minute`` questions per user in any 60-second window."""

    per_minute: int = 10
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def wait_seconds(self, user: str) -> float:
        """0 when the user may ask now, else how long until they may."""
        now = self.clock()
        window = self._seen[user]
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= self.per_minute:
            return 60 - (now - window[0])
        window.append(now)
        return 0.0


class DuplicateGuard:
    """Remembers recent event ids so a retried delivery is answered once."""

    def __init__(self, limit: int = 2000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.limit = limit

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        return True


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
    ) -> None:
        self.advisor = advisor
        self.clock = clock
        self.profiles = profiles
        self.access = access or AccessPolicy()
        self.limiter = limiter or RateLimiter()
        self.trials = trials
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

        ``notify`` receives later answers for the same thread: trial and eval progress and
        results, which arrive after this call has returned.
        """
        language = detect_language(text)
        try:
            wait = self.limiter.wait_seconds(f"{ctx.platform}:{ctx.user}")
            if wait > 0:
                return self._notice(text, language, _slow_down(language, wait))
            if text.strip().lower().startswith(("/llm-profile", "llm-profile")):
                return self._profile(ctx, text)
            if text.strip().lower().startswith(("/trial", "/eval", "/jobs")):
                return self._trial(ctx, text, notify)
            if text.strip().lower().startswith("/digest"):
                return self._digest(ctx, text)
            return self._ask(ctx, text, on_token)
        except AdvisorError as exc:
            return self._notice(text, language, exc.user_message)
        except Exception as exc:  # noqa: BLE001 - one bad message never takes the bot down
            request_id = report_incident(exc)
            message = (
                f"Sorry, something went wrong (request id {request_id}). "
                "The team can find the details in the advisor's log."
            )
            return self._notice(text, language, message)

    def _ask(self, ctx: ChatContext, text: str, on_token: Callable[[str], None] | None) -> Answer:
        profile = self.profiles.effective(ctx.platform, ctx.workspace, ctx.channel)
        key = f"{ctx.platform}:{ctx.workspace}:{ctx.channel}:{ctx.thread}"
        thread = self.advisor.threads.get(key)
        if profile and not thread.history:
            thread.requirements = requirements_from(profile)
        answer = self.advisor.handle(
            text,
            thread=thread,
            on_token=on_token,
            language=profile.get("language"),
            model=profile.get("ollama_model"),
        )
        if profile:
            note = f"team profile: {describe(profile)}"
            answer.understood = f"{answer.understood} ({note})"
            first, _, rest = answer.text.partition("\n")
            answer.text = f"{first} ({note})\n{rest}" if rest else f"{first} ({note})"
        return answer

    def _profile(self, ctx: ChatContext, text: str) -> Answer:
        args = text.strip().split(None, 1)[1] if len(text.split()) > 1 else ""
        action, _, rest = args.partition(" ")
        scope = Scope(ctx.platform, ctx.workspace, "" if "scope=workspace" in rest else ctx.channel)
        rest = rest.replace("scope=workspace", "").replace("scope=channel", "")
        where = "this workspace" if not scope.channel else "this channel"
        if action in ("", "show"):
            profile = self.profiles.effective(ctx.platform, ctx.workspace, ctx.channel)
            body = describe(profile) or "no defaults yet"
            return self._notice(text, "en", f"Team profile for {where}: {body}.\n{PROFILE_USAGE}")
        if not self.access.allows(ctx, "profile"):
            return self._notice(
                text, "en", "Only the advisor's admins can change team profiles; ask one of them."
            )
        if action == "set":
            stored = self.profiles.set(scope, self.profiles.parse(rest), ctx.user)
            return self._notice(text, "en", f"Saved. Team profile for {where}: {describe(stored)}.")
        if action == "clear":
            self.profiles.clear(scope)
            return self._notice(text, "en", f"Cleared the team profile for {where}.")
        raise ProfileError(PROFILE_USAGE)

    def _trial(
        self, ctx: ChatContext, text: str, notify: Callable[[Answer], None] | None
    ) -> Answer:
        if self.trials is None:
            raise JobError("Trials need an Ollama server; set ADVISOR_OLLAMA_HOST.")
        command, _, args = text.strip().partition(" ")
        verb, _, rest = args.strip().partition(" ")
        if command == "/jobs":
            jobs = self.trials.runner.store.recent(10)
            lines = [f"{j.id} {j.kind} {j.status} {j.progress}" for j in jobs] or ["No jobs yet."]
            return self._notice(text, "en", "\n".join(lines))
        if command == "/trial" and verb == "cancel":
            job = self.trials.runner.cancel(rest.strip())
            return self._notice(text, "en", f"Job {job.id}: cancelling.")
        if command == "/trial" and verb == "pull":
            if not self.access.allows(ctx, "pull"):
                return self._notice(text, "en", "Only the advisor's admins can pull models.")
            return self.trials.pull(
                rest.strip(),
                lambda line: (
                    notify and notify(self._notice(text, "en", f"Pulling {rest.strip()}: {line}"))
                ),
            )
        if not self.access.allows(ctx, "trial"):
            return self._notice(text, "en", "Only the advisor's admins can run trials and evals.")
        owner = Owner(ctx.user, ctx.platform, ctx.channel, ctx.thread)
        on_job = (lambda job: notify(render_job(job))) if notify else None
        if command == "/eval":
            return self.trials.submit_eval(args, owner, on_job)
        return self.trials.submit_trial(args, owner, on_job)

    def _digest(self, ctx: ChatContext, text: str) -> Answer:
        args = text.strip().split()[1:]
        engine = self.profiles.engine
        profile = self.profiles.effective(ctx.platform, ctx.workspace, ctx.channel)
        language = str(profile.get("language") or "en")
        if args and args[0] in ("subscribe", "unsubscribe"):
            if not self.access.allows(ctx, "profile"):
                return self._notice(text, "en", "Only admins can change subscriptions.")
            store = SubscriptionStore(engine, clock=self.clock)
            if args[0] == "subscribe":
                store.subscribe(ctx.platform, ctx.workspace, ctx.channel, language, ctx.user)
                return self._notice(text, "en", "Subscribed: this channel gets the weekly digest.")
            removed = store.unsubscribe(ctx.platform, ctx.workspace, ctx.channel)
            return self._notice(
                text, "en", "Unsubscribed." if removed else "This channel was not subscribed."
            )
        days = next((int(a.split("=", 1)[1]) for a in args if a.startswith("days=")), 7)
        if not 1 <= days <= 90:
            raise JobError("days must be between 1 and 90, e.g. /digest days=14")
        return digest_answer(self.advisor, engine, days, profile, language, now=self.clock())

    @staticmethod
    def _notice(question: str, language: str, text: str) -> Answer:
        return Answer(question=question, language=language, text=text)


PROFILE_USAGE = (
    "Usage: /llm-profile [show] · /llm-profile set gpu=4090 gpus=2 commercial=yes language=zh "
    "model=qwen2.5:14b [scope=workspace] · /llm-profile clear [scope=workspace]"
)


def _slow_down(language: str, wait: float) -> str:
    if language == "zh":
        return f"问得有点快了，请 {wait:.0f} 秒后再试。"
    return f"You're asking faster than I can answer well; try again in {wait:.0f} s."
