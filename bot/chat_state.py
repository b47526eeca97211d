"""Chat state in the database: conversations, processed event ids and rate-limit windows.

Everything a second replica (or the same process after a restart) must agree on lives
here, in the advisor's database, so that with several Slack HTTP replicas behind a load
balancer a retried event is answered once, a follow-up finds its conversation, and a
user's rate limit counts every question wherever it landed.

* :class:`ConversationStore` keeps one advisor ``Thread`` per person and chat thread.
* :class:`EventLog` claims an event id with an INSERT on a primary key: the replica whose
  insert succeeds answers, every other one sees the duplicate and stays quiet.
* :class:`RateLimiter` counts each user's questions in a sliding 60-second window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.advisor import Thread
from bot.llm import Message
from knowledge.db import session_scope
from knowledge.tables import Conversation, JobScope, ProcessedEvent, RateHit
from rules.requirements import Requirements

Seconds = Callable[[], float]
EVENT_MEMORY = 24 * 3600.0  # Slack retries within minutes; a day is ample


class ConversationStore:
    """Load and save one person's conversation in one chat thread."""

    def __init__(self, engine: Engine, clock: Seconds = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def load(self, key: str, max_age: float | None = None) -> tuple[Thread, bool]:
        """The stored thread (or a new one) and whether it was too old and so started afresh."""
        with Session(self.engine) as session:
            row = session.get(Conversation, key)
        if row is None:
            return Thread(key), False
        if max_age is not None and self.clock() - row.updated_at > max_age:
            return Thread(key), True
        state = row.state
        try:
            requirements = Requirements(**state.get("requirements", {}))
        except ValueError:
            requirements = Requirements()
        return (
            Thread(
                key,
                requirements=requirements,
                models=list(state.get("models", [])),
                intent=str(state.get("intent", "recommend")),
                history=[Message(m["role"], m["content"]) for m in state.get("history", [])],
            ),
            False,
        )

    def save(self, thread: Thread) -> None:
        """Store the thread's state (insert or replace)."""
        state = {
            "requirements": thread.requirements.model_dump(mode="json", exclude_defaults=True),
            "models": thread.models,
            "intent": thread.intent,
            "history": [{"role": m.role, "content": m.content} for m in thread.history],
        }
        with session_scope(self.engine) as session:
            row = session.get(Conversation, thread.id) or Conversation(key=thread.id)
            row.state, row.updated_at = state, self.clock()
            session.add(row)

    def forget(self, key: str) -> bool:
        """Drop a conversation ("new" / "start over"); True if there was one."""
        with session_scope(self.engine) as session:
            row = session.get(Conversation, key)
            if row is None:
                return False
            session.delete(row)
            return True


class EventLog:
    """Event ids already handled, shared by every replica on the database."""

    def __init__(self, engine: Engine, clock: Seconds = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def first_time(self, event_id: str) -> bool:
        """Claim ``event_id``; False when this or another replica already did."""
        now = self.clock()
        try:
            with session_scope(self.engine) as session:
                session.add(ProcessedEvent(id=event_id, seen_at=now))
        except IntegrityError:
            return False
        with session_scope(self.engine) as session:
            session.exec(delete(ProcessedEvent).where(ProcessedEvent.seen_at < now - EVENT_MEMORY))  # type: ignore[arg-type]
        return True


class RateLimiter:
    """At most ``per_minute`` questions per user in any 60-second window.

    With an engine the window lives in the database (shared by replicas, kept across
    restarts); without one it lives in this process.
    """

    def __init__(
        self, per_minute: int = 10, clock: Seconds = time.time, engine: Engine | None = None
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.engine = engine
        self._local: dict[str, list[float]] = {}

    def wait_seconds(self, user: str) -> float:
        """0 when the user may ask now (and the question is counted), else seconds to wait."""
        now = self.clock()
        if self.engine is None:
            window = [t for t in self._local.get(user, []) if now - t < 60]
            self._local[user] = window
            if len(window) >= self.per_minute:
                return 60 - (now - window[0])
            window.append(now)
            return 0.0
        with session_scope(self.engine) as session:
            session.exec(delete(RateHit).where(RateHit.key == user, RateHit.at <= now - 60))  # type: ignore[arg-type]
            count, first = session.exec(
                select(func.count(), func.min(RateHit.at)).where(RateHit.key == user)
            ).one()
            if count >= self.per_minute:
                return 60 - (now - float(first))
            session.add(RateHit(key=user, at=now))
        return 0.0


class JobScopes:
    """Which workspace each chat job belongs to."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, job_id: str, platform: str, workspace: str) -> None:
        """Remember the workspace a job was started from."""
        with session_scope(self.engine) as session:
            session.merge(JobScope(job_id=job_id, platform=platform, workspace=workspace))

    def in_workspace(self, platform: str, workspace: str) -> set[str]:
        """Ids of the jobs started from one workspace."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(JobScope.job_id).where(
                    JobScope.platform == platform, JobScope.workspace == workspace
                )
            )
            return set(rows.all())
