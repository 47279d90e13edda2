"""What a fetch means for a feed's schedule and status. Pure: state in, changes out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import FetchSettings
from monitor.feeds.fetch import FetchResult


@dataclass(frozen=True)
class FeedState:
    """The part of a stored feed that decisions read."""

    interval_seconds: float
    failure_score: float
    consecutive_failures: int
    body_hash: str | None
    #: why the body of body_hash is no feed (None: it is one)
    body_error: str | None = None


@dataclass(frozen=True)
class FeedUpdate:
    """Column values to write back to the feed, plus the event's outcome."""

    outcome: str
    status: str
    status_line: str
    next_check_at: datetime
    interval_seconds: float
    failure_score: float
    consecutive_failures: int
    succeeded: bool
    disable_reason: str | None = None


def clamp_interval(seconds: float | None, settings: FetchSettings) -> float:
    """The configured bounds win over any hint; no hint means the default interval."""
    low = settings.min_interval_minutes * 60
    high = settings.max_interval_minutes * 60
    if seconds is None:
        seconds = settings.default_interval_minutes * 60
    return min(high, max(low, seconds))


def publisher_interval(
    feed_hint: float | None, max_age: float | None, settings: FetchSettings
) -> float:
    """The interval the publisher asks for (ttl, sy:updatePeriod, max-age), within bounds."""
    hints = [h for h in (feed_hint, max_age) if h]
    return clamp_interval(max(hints) if hints else None, settings)


def backoff_seconds(interval: float, failure_score: float, settings: FetchSettings) -> float:
    """Linear backoff on the weighted failure count, capped (a feed is never given up)."""
    return min(
        settings.max_backoff_hours * 3600,
        interval + failure_score * settings.backoff_step_minutes * 60,
    )


def decide_success(
    state: FeedState,
    *,
    outcome: str,
    status_line: str,
    interval: float,
    now: datetime,
) -> FeedUpdate:
    return FeedUpdate(
        outcome=outcome,
        status="ok",
        status_line=one_line(status_line),
        next_check_at=now + timedelta(seconds=interval),
        interval_seconds=interval,
        failure_score=0.0,
        consecutive_failures=0,
        succeeded=True,
    )


def decide_failure(
    state: FeedState,
    result: FetchResult | None,
    *,
    message: str,
    weight: float,
    now: datetime,
    settings: FetchSettings,
) -> FeedUpdate:
    """A failed fetch or parse: back off, or obey 410 and Retry-After.

    Only 410 disables a feed; every other failure is retried, at worst after
    `max_backoff_hours`. A Retry-After is obeyed, though never sooner than the
    shortest interval nor later than the longest backoff.
    """
    message = one_line(message)
    status_code = result.status if result else None
    if result is not None and result.gone:
        return FeedUpdate(
            outcome="gone",
            status="disabled",
            status_line="disabled: HTTP 410 Gone (the publisher removed this feed)",
            next_check_at=now + timedelta(seconds=settings.max_backoff_hours * 3600),
            interval_seconds=state.interval_seconds,
            failure_score=state.failure_score + weight,
            consecutive_failures=state.consecutive_failures + 1,
            succeeded=False,
            disable_reason="HTTP 410 Gone",
        )
    failures = state.consecutive_failures + 1
    score = state.failure_score + weight
    if result is not None and status_code in (429, 503) and result.retry_after is not None:
        wait = min(
            settings.max_backoff_hours * 3600,
            max(settings.min_interval_minutes * 60, result.retry_after),
        )
        outcome = "rate_limited"
        line = f"{message}: server asked to retry after {result.retry_after:.0f} s"
    else:
        wait = backoff_seconds(state.interval_seconds, score, settings)
        outcome = "rate_limited" if status_code == 429 else "error"
        line = message
    next_check = now + timedelta(seconds=wait)
    plural = "s" if failures != 1 else ""
    return FeedUpdate(
        outcome=outcome,
        status="error",
        status_line=(
            f"{line} · {failures} failure{plural} in a row · "
            f"next try {next_check.strftime('%Y-%m-%d %H:%M')} UTC"
        ),
        next_check_at=next_check,
        interval_seconds=state.interval_seconds,
        failure_score=score,
        consecutive_failures=failures,
        succeeded=False,
    )


def one_line(text: str) -> str:
    """Status lines are shown one per feed: collapse whatever whitespace an error carried."""
    return re.sub(r"\s+", " ", text).strip()
