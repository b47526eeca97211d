"""The weekly digest: right day and time, once per week even across restarts, catch-up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from bot.scheduler import RETRY_ID, DigestScheduler, week_key
from bot.subscriptions import Subscription, SubscriptionStore
from core.errors import ConfigError
from knowledge.db import make_engine, migrate

# ISO week 2026-W48 runs from Monday 23 November to Sunday 29 November 2026.
SUNDAY_BEFORE = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MONDAY_0859 = datetime(2026, 11, 23, 8, 59, tzinfo=UTC)
MONDAY_0900 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)


class Clock:
    """A settable clock shared by the store (created_at) and the scheduler."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Poster:
    """Records what would have been posted; can be told to fail for one channel."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []
        self.failing: set[str] = set()

    def __call__(self, sub: Subscription, key: str) -> None:
        if sub.channel in self.failing:
            raise RuntimeError("chat platform unavailable")
        self.posts.append((sub.channel, key))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'advisor.db'}")
    migrate(engine)
    return engine


@pytest.fixture
def clock() -> Clock:
    return Clock(SUNDAY_BEFORE - timedelta(hours=1))  # subscribed after W47's run


@pytest.fixture
def store(engine: Engine, clock: Clock) -> SubscriptionStore:
    store = SubscriptionStore(engine, clock=clock)
    store.subscribe("slack", "T1", "C1", language="en", user="U1")
    store.subscribe("discord", "G1", "D1", language="zh", user="U2")
    return store


def scheduler(store: SubscriptionStore, poster: Poster, clock: Clock, **kw: str) -> DigestScheduler:
    return DigestScheduler(poster, store, clock=clock, **kw)


def test_subscribe_is_idempotent_and_unsubscribe_reports_what_it_did(
    store: SubscriptionStore,
) -> None:
    assert store.subscribe("slack", "T1", "C1", language="zh") is False
    assert [(s.channel, s.language, s.created_by) for s in store.all()] == [
        ("C1", "zh", "U1"),
        ("D1", "zh", "U2"),
    ]
    assert store.unsubscribe("slack", "T1", "C1") is True
    assert store.unsubscribe("slack", "T1", "C1") is False
    assert store.get("slack", "T1", "C1") is None
    assert store.get("discord", "G1", "D1") is not None


def test_posts_on_the_right_day_and_time_only(store: SubscriptionStore, clock: Clock) -> None:
    poster = Poster()
    digest = scheduler(store, poster, clock)
    assert digest.run_due(SUNDAY_BEFORE) == []
    assert digest.run_due(MONDAY_0859) == []
    posted = digest.run_due(MONDAY_0900)
    assert [s.channel for s in posted] == ["C1", "D1"]
    assert poster.posts == [("C1", "2026-W48"), ("D1", "2026-W48")]
    assert digest.next_run(MONDAY_0900) == datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("UTC"))
    assert digest.describe() == "Mondays at 09:00 (UTC)"


def test_exactly_once_per_week_even_across_restarts(
    engine: Engine, store: SubscriptionStore, clock: Clock
) -> None:
    poster = Poster()
    first = scheduler(store, poster, clock)
    first.run_due(MONDAY_0900)
    assert first.run_due(MONDAY_0900 + timedelta(minutes=1)) == []
    assert first.run_due(WEDNESDAY) == []
    restarted = scheduler(SubscriptionStore(engine, clock=clock), poster, clock)
    assert restarted.run_due(WEDNESDAY) == []
    assert len(poster.posts) == 2
    # next week is a new key
    assert [s.channel for s in restarted.run_due(NEXT_MONDAY)] == ["C1", "D1"]
    assert poster.posts[-2:] == [("C1", "2026-W49"), ("D1", "2026-W49")]


def test_catch_up_after_downtime_then_no_double_post(
    engine: Engine, store: SubscriptionStore, clock: Clock
) -> None:
    poster = Poster()
    # The process was down on Monday morning; it comes back on Wednesday.
    came_back = scheduler(SubscriptionStore(engine, clock=clock), poster, clock)
    assert [s.channel for s in came_back.run_due(WEDNESDAY)] == ["C1", "D1"]
    assert poster.posts == [("C1", "2026-W48"), ("D1", "2026-W48")]
    # The weekly cron firing later in the same week, or another restart, posts nothing more.
    assert came_back.run_due(WEDNESDAY + timedelta(hours=5)) == []
    assert scheduler(store, poster, clock).run_due(WEDNESDAY + timedelta(days=1)) == []
    assert len(poster.posts) == 2


def test_unsubscribe_stops_posts(store: SubscriptionStore, clock: Clock) -> None:
    poster = Poster()
    digest = scheduler(store, poster, clock)
    digest.run_due(MONDAY_0900)
    store.unsubscribe("slack", "T1", "C1")
    digest.run_due(NEXT_MONDAY)
    assert poster.posts == [("C1", "2026-W48"), ("D1", "2026-W48"), ("D1", "2026-W49")]


def test_new_subscriber_after_this_weeks_run_waits_for_next_week(
    store: SubscriptionStore, clock: Clock
) -> None:
    poster = Poster()
    digest = scheduler(store, poster, clock)
    digest.run_due(MONDAY_0900)
    clock.now = WEDNESDAY
    assert store.subscribe("slack", "T1", "C2", user="U3") is True
    assert digest.run_due(WEDNESDAY + timedelta(hours=1)) == []  # e.g. a restart mid-week
    assert [s.channel for s in digest.run_due(NEXT_MONDAY)] == ["C1", "D1", "C2"]


def test_a_failed_post_is_retried_and_does_not_block_others(
    store: SubscriptionStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    poster = Poster()
    poster.failing.add("C1")
    digest = scheduler(store, poster, clock)
    assert [s.channel for s in digest.run_due(MONDAY_0900)] == ["D1"]
    assert "digest 2026-W48 to slack:T1:C1 failed" in caplog.text
    poster.failing.clear()
    assert [s.channel for s in digest.run_due(MONDAY_0900 + timedelta(hours=1))] == ["C1"]
    assert poster.posts == [("D1", "2026-W48"), ("C1", "2026-W48")]


def test_a_week_claimed_elsewhere_is_not_posted_again(
    store: SubscriptionStore, clock: Clock
) -> None:
    stale = store.all()  # read by a second replica before the first one posted
    poster = Poster()
    scheduler(store, poster, clock).run_due(MONDAY_0900)
    assert [store.claim(sub, "2026-W48") for sub in stale] == [False, False]
    assert len(poster.posts) == 2


def test_timezone_decides_day_time_and_week_key(store: SubscriptionStore, clock: Clock) -> None:
    poster = Poster()
    digest = scheduler(store, poster, clock, day="monday", time="09:00", timezone="Asia/Shanghai")
    # Sunday 23:30 UTC is already Monday 07:30 in Shanghai: new week, not yet due.
    assert digest.run_due(datetime(2026, 11, 22, 23, 30, tzinfo=UTC)) == []
    # Monday 01:00 UTC is Monday 09:00 in Shanghai.
    assert len(digest.run_due(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))) == 2
    assert poster.posts[0] == ("C1", "2026-W48")
    # 09:00 UTC Monday would be due under UTC, but here it was already posted.
    assert digest.run_due(MONDAY_0900) == []
    assert digest.describe() == "Mondays at 09:00 (Asia/Shanghai)"


def test_week_key_is_the_iso_week() -> None:
    assert week_key(datetime(2026, 11, 23)) == "2026-W48"
    assert week_key(datetime(2027, 1, 1)) == "2026-W53"


@pytest.mark.parametrize(
    ("day", "at", "zone", "message"),
    [
        ("someday", "09:00", "UTC", "use mon, tue"),
        ("mon", "9am", "UTC", "HH:MM"),
        ("mon", "25:00", "UTC", "HH:MM"),
        ("mon", "09:00", "Mars/Base", "IANA name"),
    ],
)
def test_bad_settings_fail_at_start_up_with_what_to_set(
    store: SubscriptionStore, day: str, at: str, zone: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        DigestScheduler(Poster(), store, day=day, time=at, timezone=zone)
    assert message in caught.value.user_message


class Watched(DigestScheduler):
    """A scheduler that signals each finished run, so a test waits for the thread, not time."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.runs: list[list[str]] = []
        self.ran = threading.Event()

    def run_due(self, now: datetime | None = None) -> list[Subscription]:
        posted = super().run_due(now)
        self.runs.append([s.channel for s in posted])
        self.ran.set()
        return posted


def _subscribed_long_ago(engine: Engine) -> SubscriptionStore:
    store = SubscriptionStore(engine, clock=lambda: datetime(2020, 1, 6, tzinfo=UTC))
    store.subscribe("slack", "T1", "C1")
    store.subscribe("discord", "G1", "D1")
    return store


def test_started_scheduler_catches_up_at_once_when_the_slot_has_passed(engine: Engine) -> None:
    """The real APScheduler thread: down at Tuesday 06:30 Shanghai, started on Wednesday."""
    posts: list[str] = []
    digest = Watched(
        lambda sub, key: posts.append(f"{sub.channel} {key}"),
        _subscribed_long_ago(engine),
        day="tue",
        time="06:30",
        timezone="Asia/Shanghai",
        clock=lambda: WEDNESDAY,
    )
    digest.start()
    try:
        assert digest.ran.wait(10), "the catch-up run did not happen"
    finally:
        digest.shutdown()
    assert sorted(posts) == ["C1 2026-W48", "D1 2026-W48"]
    assert digest.scheduled_run() is None


def test_started_scheduler_before_the_slot_posts_nothing_yet(engine: Engine) -> None:
    posts: list[str] = []
    digest = Watched(
        lambda sub, key: posts.append(sub.channel),
        _subscribed_long_ago(engine),
        clock=lambda: MONDAY_0859,
    )
    digest.start()
    try:
        assert digest.ran.wait(10), "the catch-up run did not happen"
    finally:
        digest.shutdown()
    assert digest.runs == [[]] and posts == []


@pytest.mark.parametrize("now", [SUNDAY_BEFORE, MONDAY_0859, MONDAY_0900, WEDNESDAY, NEXT_MONDAY])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/New_York"])
def test_cron_trigger_fires_when_next_run_says(
    store: SubscriptionStore, now: datetime, zone: str
) -> None:
    """APScheduler's timer (first fire strictly after ``now``) agrees with our schedule."""
    digest = DigestScheduler(Poster(), store, day="mon", time="09:00", timezone=zone)
    after_now = now.astimezone(ZoneInfo(zone)) + timedelta(seconds=1)
    assert digest.trigger().get_next_fire_time(None, after_now) == digest.next_run(now)


class Flaky(Poster):
    """Fails the first ``failures`` posts to C1 (``None``: every one), then posts normally."""

    def __init__(self, failures: int | None) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def __call__(self, sub: Subscription, key: str) -> None:
        if sub.channel == "C1":
            self.attempts += 1
            if self.failures is None or self.attempts <= self.failures:
                raise RuntimeError("chat platform unavailable")
        super().__call__(sub, key)


def _retry_ticks(digest: DigestScheduler, start: datetime, end: datetime) -> None:
    """What the interval job does: call run_due every retry interval from start to end."""
    moment = start
    while moment < end:
        digest.run_due(moment)
        moment += digest.retry


def test_a_post_that_fails_twice_is_retried_and_posted_once_that_week(
    store: SubscriptionStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    poster = Flaky(failures=2)
    digest = scheduler(store, poster, clock)
    _retry_ticks(digest, MONDAY_0900, NEXT_MONDAY - timedelta(hours=9, minutes=5))
    assert sorted(poster.posts) == [("C1", "2026-W48"), ("D1", "2026-W48")]
    assert poster.attempts == 3  # two failures, one success, then nothing more was owed
    assert "digest 2026-W48 to slack:T1:C1 failed; will retry in 0:15:00" in caplog.text
    assert "never posted" not in caplog.text


def test_a_post_that_always_fails_is_reported_once_at_the_end_of_the_week(
    store: SubscriptionStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    poster = Flaky(failures=None)
    digest = DigestScheduler(poster, store, clock=clock, retry_minutes=30)
    week_end = datetime(2026, 11, 30, tzinfo=UTC)
    _retry_ticks(digest, MONDAY_0900, week_end - timedelta(hours=1))
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "never" in r.message]
    _retry_ticks(digest, week_end - timedelta(hours=1), week_end)
    digest.run_due(week_end - timedelta(minutes=1))  # a late extra run in the last interval
    reports = [r.getMessage() for r in caplog.records if "never posted" in r.getMessage()]
    assert len(reports) == 1
    assert reports[0].startswith("digest 2026-W48 was never posted to slack:T1:C1")
    assert "next digest is due 2026-11-30T09:00:00+00:00" in reports[0]
    assert poster.posts == [("D1", "2026-W48")]
    assert poster.attempts == (week_end - MONDAY_0900) // timedelta(minutes=30) + 1
    poster.failures = 0  # the platform is back: next week's digest goes out as usual
    assert [s.channel for s in digest.run_due(NEXT_MONDAY)] == ["C1", "D1"]


def test_the_last_attempt_is_judged_in_the_digest_timezone(
    store: SubscriptionStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Shanghai's week W48 ends at Sunday 16:00 UTC; an attempt then belongs to W49."""
    poster = Flaky(failures=None)
    digest = scheduler(store, poster, clock, timezone="Asia/Shanghai")
    digest.run_due(datetime(2026, 11, 29, 15, 50, tzinfo=UTC))
    assert "digest 2026-W48 was never posted to slack:T1:C1" in caplog.text


def test_started_scheduler_has_a_retry_job_at_the_configured_interval(engine: Engine) -> None:
    digest = Watched(
        Poster(), _subscribed_long_ago(engine), clock=lambda: MONDAY_0859, retry_minutes=5
    )
    digest.start()
    try:
        assert digest.ran.wait(10), "the catch-up run did not happen"
        job = digest._scheduler.get_job(RETRY_ID)
        assert job.trigger.interval == timedelta(minutes=5)
    finally:
        digest.shutdown()


@pytest.mark.parametrize("minutes", [0, -15])
def test_a_retry_interval_that_is_not_positive_is_refused(
    store: SubscriptionStore, minutes: float
) -> None:
    with pytest.raises(ConfigError) as caught:
        DigestScheduler(Poster(), store, retry_minutes=minutes)
    assert "positive number of minutes" in caught.value.user_message
