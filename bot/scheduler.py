"""The weekly digest schedule: post to every subscribed channel once per ISO week.

APScheduler only decides *when to look*; :meth:`DigestScheduler.run_due` decides *what is
due*, from the clock and the database. That split is what makes the guarantees hold:

* once per week key: each subscription's ``last_week_key`` is claimed with a
  compare-and-set before posting, so repeated runs, a restart or a second replica on the
  same database never post the same week twice;
* catch-up: the retry job (below) first runs at start, so a process that was down at the
  scheduled time posts that week's digest when it comes back (older weeks are not
  replayed; a digest is about the current week);
* a failed post releases its claim and is retried: an interval job (every
  ``retry_minutes``, 15 by default) calls :meth:`DigestScheduler.run_due` again, so a
  channel whose post failed gets it later the same week; when the last attempt before the
  week ends fails too, one error names the channel and the week (the digest is not carried
  into the next week);
* a channel that subscribes after this week's run time gets its first digest next week,
  whether or not the process restarts in between.

The week key and the run time are computed in the configured timezone, so "Monday 09:00
Asia/Shanghai" is Monday 01:00 UTC and belongs to the Shanghai ISO week. Every decision
reads the injected clock (``core.clock.Clock``), so tests fix the time instead of waiting or
depending on today's date; APScheduler's own timer only wakes the job up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.subscriptions import Subscription, SubscriptionStore
from core.clock import Clock, utc_now
from core.errors import ConfigError

log = logging.getLogger("advisor")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
JOB_ID = "weekly-digest"
RETRY_ID = "weekly-digest-retry"

Post = Callable[[Subscription, str], None]


def week_key(moment: datetime) -> str:
    """The ISO week of ``moment`` as ``2026-W48``."""
    iso = moment.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _weekday(day: str) -> int:
    key = day.strip().lower()[:3]
    if key not in DAYS:
        raise ConfigError(f"Digest day {day!r} is not a weekday; use mon, tue, ... sun.")
    return DAYS.index(key)


def _time_of_day(text: str) -> time:
    try:
        hour, minute = (int(part) for part in text.strip().split(":"))
        return time(hour, minute)
    except ValueError:
        raise ConfigError(f"Digest time {text!r} is not HH:MM (24-hour), e.g. 09:00.") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Digest timezone {name!r} is unknown; use an IANA name such as UTC or Asia/Shanghai."
        ) from None


class DigestScheduler:
    """Calls ``post(subscription, week_key)`` for each due subscription, weekly.

    ``post`` runs in the scheduler's worker thread; an adapter living on an asyncio loop
    hands the work over with ``asyncio.run_coroutine_threadsafe``. Invalid ``day``,
    ``time`` or ``timezone`` fail here, at start-up, with the setting to fix.
    """

    def __init__(
        self,
        post: Post,
        subscriptions: SubscriptionStore,
        day: str = "mon",
        time: str = "09:00",
        timezone: str = "UTC",
        clock: Clock = utc_now,
        retry_minutes: float = 15.0,
    ) -> None:
        if not retry_minutes > 0:
            raise ConfigError(
                f"Digest retry interval {retry_minutes!r} must be a positive number of minutes."
            )
        self.post = post
        self.subscriptions = subscriptions
        self.weekday = _weekday(day)
        self.at = _time_of_day(time)
        self.timezone = _zone(timezone)
        self.clock = clock
        self.retry = timedelta(minutes=retry_minutes)
        self._scheduler: Any = None
        self._reported: set[tuple[int, str]] = set()

    def _local(self, now: datetime | None) -> datetime:
        moment = now or self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.timezone)

    def due_at(self, now: datetime | None = None) -> datetime:
        """The scheduled time in the ISO week containing ``now`` (in the configured zone)."""
        local = self._local(now)
        day = local.date() + timedelta(days=self.weekday - local.weekday())
        return datetime.combine(day, self.at, tzinfo=self.timezone)

    def week_end(self, now: datetime | None = None) -> datetime:
        """Midnight at the end of the ISO week containing ``now`` (in the configured zone)."""
        local = self._local(now)
        monday = local.date() - timedelta(days=local.weekday())
        return datetime.combine(monday + timedelta(days=7), time(0), tzinfo=self.timezone)

    def next_run(self, now: datetime | None = None) -> datetime:
        """When the next scheduled post happens after ``now``."""
        local = self._local(now)
        due = self.due_at(local)
        if local < due:
            return due
        return datetime.combine(due.date() + timedelta(days=7), self.at, tzinfo=self.timezone)

    def describe(self) -> str:
        """The schedule in words, for ``/digest subscribe`` replies: 'Mondays at 09:00 (UTC)'."""
        return f"{DAY_NAMES[self.weekday]}s at {self.at:%H:%M} ({self.timezone.key})"

    def run_due(self, now: datetime | None = None) -> list[Subscription]:
        """Post this week's digest to every subscription still owed it; return those posted.

        Nothing is due before this week's run time. A subscription is owed the week when it
        existed at the run time and its ``last_week_key`` is not this week's.
        """
        local = self._local(now)
        due = self.due_at(local)
        if local < due:
            return []
        key = week_key(local)
        posted = []
        for sub in self.subscriptions.all():
            if sub.last_week_key == key or sub.created_at > due:
                continue
            if not self.subscriptions.claim(sub, key):
                continue  # another run or replica got there first
            try:
                self.post(sub, key)
            except Exception:  # noqa: BLE001 - one failing channel must not stop the others
                self.subscriptions.release(sub, key)
                self._failed(sub, key, local)
                continue
            posted.append(sub)
        return posted

    def _failed(self, sub: Subscription, key: str, local: datetime) -> None:
        """Log a failed post; the last attempt of the week also reports the lost digest."""
        where = f"{sub.platform}:{sub.workspace}:{sub.channel}"
        if local + self.retry < self.week_end(local):
            log.exception("digest %s to %s failed; will retry in %s", key, where, self.retry)
            return
        log.exception("digest %s to %s failed on the last attempt of the week", key, where)
        if (sub.id, key) not in self._reported:
            self._reported.add((sub.id, key))
            log.error(
                "digest %s was never posted to %s: every attempt that week failed "
                "(see the errors above); the next digest is due %s",
                key,
                where,
                self.next_run(local).isoformat(),
            )

    def trigger(self) -> Any:
        """The APScheduler cron trigger for the weekly run (in the configured zone)."""
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger(
            day_of_week=DAYS[self.weekday],
            hour=self.at.hour,
            minute=self.at.minute,
            timezone=self.timezone,
        )

    def start(self) -> None:
        """Run the weekly job, a catch-up run right away and the retry job, in a thread."""
        from apscheduler.schedulers.background import BackgroundScheduler

        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone=self.timezone)
        # A late run (sleep, busy host) is still a run; the claim keeps it once per week.
        common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        scheduler.add_job(self.run_due, self.trigger(), id=JOB_ID, **common)
        # The retry job's first run is the catch-up (APScheduler's timer runs on real time).
        scheduler.add_job(
            self.run_due,
            "interval",
            seconds=self.retry.total_seconds(),
            id=RETRY_ID,
            next_run_time=utc_now(),
            **common,
        )
        scheduler.start()
        self._scheduler = scheduler

    def scheduled_run(self) -> datetime | None:
        """When APScheduler will next call :meth:`run_due` (None when not started)."""
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job(JOB_ID)
        return job.next_run_time if job is not None else None

    def shutdown(self, wait: bool = True) -> None:
        """Stop the background thread; ``wait`` lets a post in progress finish first."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
