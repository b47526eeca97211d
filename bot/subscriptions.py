"""Digest subscriptions: which chat channels get the weekly digest, and which week they got.

A row per channel (platform, workspace, channel) that said ``/digest subscribe``. The
``last_week_key`` column is what makes the weekly post happen once per ISO week even across
restarts and replicas: the scheduler claims a week with a compare-and-set update before it
posts, so two processes (or a retry after a restart) cannot both post the same week.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from knowledge.db import session_scope
from knowledge.tables import DigestSubscription


@dataclass(frozen=True)
class Subscription:
    """A subscribed channel as the scheduler and the adapters see it (no ORM session)."""

    id: int
    platform: str
    workspace: str
    channel: str
    language: str
    created_by: str
    created_at: datetime
    last_week_key: str


def _view(row: DigestSubscription) -> Subscription:
    assert row.id is not None
    return Subscription(
        id=row.id,
        platform=row.platform,
        workspace=row.workspace,
        channel=row.channel,
        language=row.language,
        created_by=row.created_by,
        created_at=datetime.fromisoformat(row.created_at),
        last_week_key=row.last_week_key,
    )


class SubscriptionStore:
    """Subscribe, unsubscribe and list channels; claim a week for a channel exactly once."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def _row(
        self, session: Session, platform: str, workspace: str, channel: str
    ) -> DigestSubscription | None:
        return session.exec(
            select(DigestSubscription).where(
                DigestSubscription.platform == platform,
                DigestSubscription.workspace == workspace,
                DigestSubscription.channel == channel,
            )
        ).first()

    def subscribe(
        self, platform: str, workspace: str, channel: str, language: str = "en", user: str = ""
    ) -> bool:
        """Subscribe a channel; True if it is new, False if it was already (language updated)."""
        with session_scope(self.engine) as session:
            row = self._row(session, platform, workspace, channel)
            if row is not None:
                row.language = language
                session.add(row)
                return False
            session.add(
                DigestSubscription(
                    platform=platform,
                    workspace=workspace,
                    channel=channel,
                    language=language,
                    created_by=user,
                    created_at=self.clock().astimezone(UTC).isoformat(),
                )
            )
            return True

    def unsubscribe(self, platform: str, workspace: str, channel: str) -> bool:
        """Stop a channel's digest; True if it was subscribed."""
        with session_scope(self.engine) as session:
            row = self._row(session, platform, workspace, channel)
            if row is None:
                return False
            session.delete(row)
            return True

    def get(self, platform: str, workspace: str, channel: str) -> Subscription | None:
        """The channel's subscription, if any."""
        with Session(self.engine) as session:
            row = self._row(session, platform, workspace, channel)
            return _view(row) if row is not None else None

    def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        with Session(self.engine) as session:
            rows = session.exec(select(DigestSubscription).order_by(DigestSubscription.id)).all()  # type: ignore[arg-type]
            return [_view(row) for row in rows]

    def claim(self, subscription: Subscription, week_key: str) -> bool:
        """Mark ``week_key`` as posted unless someone already did; True if this caller won.

        A compare-and-set on the value read earlier, so concurrent schedulers on one database
        cannot both post, and an unsubscribe in between simply makes the claim fail.
        """
        return self._swap(subscription.id, subscription.last_week_key, week_key)

    def release(self, subscription: Subscription, week_key: str) -> None:
        """Undo a claim whose post failed, so the next run tries that week again."""
        self._swap(subscription.id, week_key, subscription.last_week_key)

    def _swap(self, ident: int, expected: str, new: str) -> bool:
        statement = (
            update(DigestSubscription)
            .where(DigestSubscription.id == ident)  # type: ignore[arg-type]
            .where(DigestSubscription.last_week_key == expected)  # type: ignore[arg-type]
            .values(last_week_key=new)
        )
        with session_scope(self.engine) as session:
            return session.exec(statement).rowcount == 1
