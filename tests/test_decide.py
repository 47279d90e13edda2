"""Schedule and status decisions: pure functions, no network, no database."""

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import FetchSettings
from monitor.errors import FetchError
from monitor.feeds.decide import (
    FeedState,
    backoff_seconds,
    clamp_interval,
    decide_failure,
    decide_success,
    publisher_interval,
)
from monitor.feeds.fetch import FetchRequest, FetchResult

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
#: defaults: interval 60 min within [15 min, 1440 min], +30 min per failure unit, cap 24 h
SETTINGS = FetchSettings()
HOUR = 3600.0
FRESH = FeedState(interval_seconds=HOUR, failure_score=0.0, consecutive_failures=0, body_hash=None)


def result(status: int, retry_after: float | None = None, weight: float = 1.0) -> FetchResult:
    return FetchResult(
        request=FetchRequest(1, "https://example.org/feed.xml"),
        started_at=NOW,
        duration=0.1,
        final_url="https://example.org/feed.xml",
        status=status,
        retry_after=retry_after,
        error=FetchError(f"HTTP {status}", weight=weight, status=status),
    )


def fail(state: FeedState, res: FetchResult | None, message: str = "boom", weight: float = 1.0):
    return decide_failure(state, res, message=message, weight=weight, now=NOW, settings=SETTINGS)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (None, 60 * 60),  # no hint: the default interval
        (60, 15 * 60),  # below the minimum
        (2 * HOUR, 2 * HOUR),  # within bounds: kept
        (30 * 86400, 1440 * 60),  # above the maximum
    ],
)
def test_clamp_interval_keeps_hints_within_configured_bounds(hint, expected):
    assert clamp_interval(hint, SETTINGS) == expected


def test_publisher_interval_takes_the_longer_of_feed_hint_and_max_age():
    assert publisher_interval(2 * HOUR, None, SETTINGS) == 2 * HOUR
    assert publisher_interval(None, 3 * HOUR, SETTINGS) == 3 * HOUR
    assert publisher_interval(2 * HOUR, 3 * HOUR, SETTINGS) == 3 * HOUR
    assert publisher_interval(4 * HOUR, 3 * HOUR, SETTINGS) == 4 * HOUR


def test_publisher_interval_ignores_zero_max_age_and_clamps():
    assert publisher_interval(None, 0.0, SETTINGS) == SETTINGS.default_interval_minutes * 60
    assert publisher_interval(None, 5.0, SETTINGS) == SETTINGS.min_interval_minutes * 60
    assert publisher_interval(90 * 86400, None, SETTINGS) == SETTINGS.max_interval_minutes * 60


def test_backoff_grows_linearly_with_the_failure_score():
    step = SETTINGS.backoff_step_minutes * 60
    assert backoff_seconds(HOUR, 0.5, SETTINGS) == HOUR + 0.5 * step
    assert backoff_seconds(HOUR, 1.0, SETTINGS) == HOUR + step
    assert backoff_seconds(HOUR, 4.0, SETTINGS) == HOUR + 4 * step


def test_backoff_is_capped_at_max_backoff_hours():
    assert backoff_seconds(HOUR, 1000.0, SETTINGS) == 24 * HOUR
    small_cap = FetchSettings(max_backoff_hours=2.0)
    assert backoff_seconds(HOUR, 3.0, small_cap) == 2 * HOUR


def test_success_resets_failures_and_schedules_after_the_interval():
    failing = FeedState(
        interval_seconds=HOUR, failure_score=6.5, consecutive_failures=4, body_hash=None
    )
    update = decide_success(
        failing, outcome="ok", status_line="ok · fine", interval=2 * HOUR, now=NOW
    )
    assert (update.failure_score, update.consecutive_failures) == (0.0, 0)
    assert update.succeeded and update.status == "ok" and update.disable_reason is None
    assert update.next_check_at == NOW + timedelta(hours=2)
    assert update.interval_seconds == 2 * HOUR


def test_410_disables_the_feed_with_a_reason():
    update = fail(FRESH, result(410, weight=2.0), "HTTP 410 Gone", weight=2.0)
    assert update.outcome == "gone" and update.status == "disabled"
    assert update.disable_reason == "HTTP 410 Gone"
    assert update.status_line == "disabled: HTTP 410 Gone (the publisher removed this feed)"
    assert not update.succeeded


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_sets_the_next_check(status):
    update = fail(FRESH, result(status, retry_after=7200.0), f"HTTP {status}")
    assert update.next_check_at == NOW + timedelta(seconds=7200)
    assert update.outcome == "rate_limited" and update.status == "error"
    assert update.failure_score == 1.0 and update.disable_reason is None
    assert "server asked to retry after 7200 s" in update.status_line


def test_retry_after_shorter_than_min_interval_waits_the_min_interval():
    update = fail(FRESH, result(503, retry_after=5.0))
    assert update.next_check_at == NOW + timedelta(minutes=SETTINGS.min_interval_minutes)


def test_retry_after_longer_than_max_backoff_is_capped():
    update = fail(FRESH, result(429, retry_after=30 * 86400.0))
    assert update.next_check_at == NOW + timedelta(hours=SETTINGS.max_backoff_hours)


@pytest.mark.parametrize(("status", "outcome"), [(429, "rate_limited"), (503, "error")])
def test_429_and_503_without_retry_after_back_off_normally(status, outcome):
    update = fail(FRESH, result(status), weight=1.0)
    assert update.next_check_at == NOW + timedelta(seconds=HOUR + 30 * 60)
    assert update.outcome == outcome


def test_retry_after_on_other_statuses_is_ignored():
    update = fail(FRESH, result(500, retry_after=7200.0), weight=1.0)
    assert update.next_check_at == NOW + timedelta(seconds=HOUR + 30 * 60)


def test_other_failures_add_their_weight_and_never_disable():
    state = FeedState(
        interval_seconds=HOUR, failure_score=2.0, consecutive_failures=1, body_hash=None
    )
    update = fail(state, result(404, weight=2.0), "HTTP 404 Not Found", weight=2.0)
    assert update.outcome == "error" and update.status == "error"
    assert update.failure_score == 4.0 and update.consecutive_failures == 2
    assert update.disable_reason is None
    assert update.next_check_at == NOW + timedelta(hours=3)
    assert update.status_line == (
        "HTTP 404 Not Found · 2 failures in a row · next try 2026-11-26 15:00 UTC"
    )


def test_failure_without_a_response_backs_off_by_its_weight():
    update = fail(FRESH, None, "timed out: the server sent nothing for 2 s", weight=0.5)
    assert update.failure_score == 0.5
    assert update.next_check_at == NOW + timedelta(seconds=HOUR + 15 * 60)
    assert update.status_line.startswith("timed out: the server sent nothing for 2 s · 1 failure ")


def test_status_line_is_one_line_whatever_the_error_carried():
    update = fail(FRESH, None, "parse error: not a feed\n  line 3:\tjunk", weight=2.0)
    assert "\n" not in update.status_line and "\t" not in update.status_line
    assert update.status_line.startswith("parse error: not a feed line 3: junk · ")
