"""Alerts end to end: the worker's scheduler, a loopback feed, SMTP and webhook receivers.

The worker runs as `monitor up` runs it (`run_worker` in a thread) with short
intervals. Its clock is the wall clock plus an offset the test moves forward,
so a digest's local time comes a few seconds after the jump instead of at the
next whole minute; every wait polls with a deadline.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from dashboards.app import create_app
from monitor.alerts.outbox import recent_alerts
from monitor.config import FeedSettings, Settings
from monitor.scheduler import run_worker
from monitor.store.feeds import add_feed
from monitor.store.models import AlertEvent, AlertOutbox
from monitor.store.session import transaction
from tests.alertservers import MailBox, WebhookReceiver, channels
from tests.conftest import make_settings
from tests.feedserver import FeedServer
from tests.test_pipeline import rss

#: the feed is fetched every FETCH_SECONDS; the scheduler and the alert cycle tick faster
FETCH_SECONDS = 2.0
TICK_SECONDS = 0.25
ZONE = "Asia/Kolkata"  # UTC+05:30: the digest's wall-clock time is not UTC's

OTHER = ("o1", "Harvest festival opens in Lviv", "https://example.org/harvest")
NEUTRAL = (
    "n1",
    "Kremlin demands Ukrainian neutrality in exchange for a ceasefire",
    "https://example.org/neutrality",
)
GUARANTEES = (
    "g1",
    "Security guarantees for Kyiv debated in Paris",
    "https://example.org/guarantees",
)
LATER = ("g2", "Allies draft security guarantees for a ceasefire", "https://example.org/draft")


class Clock:
    """The wall clock plus an offset that only ever grows."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def jump_to(self, moment: datetime) -> None:
        assert moment > self(), "the clock only moves forward"
        self.offset = moment - datetime.now(UTC)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def subjects(mailbox: MailBox, prefix: str) -> list[str]:
    with mailbox.lock:
        return [m["Subject"] for m in mailbox.messages if m["Subject"].startswith(prefix)]


def hook_bodies(hooks: WebhookReceiver, rule: str, kind: str) -> list[dict[str, object]]:
    return [
        h.data for h in list(hooks.received) if (h.data["rule"], h.data["kind"]) == (rule, kind)
    ]


def digest_titles(body: dict[str, object]) -> list[str]:
    return sorted(str(e["title"]) for e in body["events"])  # type: ignore[attr-defined]


DESK = {
    "name": "desk",
    "kind": "match",
    "topics": ["neutrality"],
    "query": "neutral*",
    "channels": ["mail", "hook"],
}


def worker_settings(
    engine: Engine,
    mailbox: MailBox,
    hooks: WebhookReceiver,
    rules: list[dict[str, object]],
    *,
    alert_tick: float = TICK_SECONDS,
) -> Settings:
    interval_minutes = FETCH_SECONDS / 60
    return make_settings(
        str(engine.url),
        scheduler={"tick_seconds": TICK_SECONDS},
        fetch={
            "default_interval_minutes": interval_minutes,
            "min_interval_minutes": interval_minutes,
            "max_interval_minutes": interval_minutes,
        },
        alerts={"tick_seconds": alert_tick, "channels": channels(mailbox, hooks), "rules": rules},
    )


@contextmanager
def running_worker(
    settings: Settings, engine: Engine, feed_url: str, clock: Clock | None = None
) -> Iterator[None]:
    """The feed in the store and the worker's scheduler running, as `monitor up` runs it."""
    with transaction(engine) as session:
        spec = FeedSettings(
            url=feed_url, publisher="Wire", source_type="media", country="UA", language="en"
        )
        add_feed(session, spec, interval_seconds=FETCH_SECONDS)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(settings, engine), kwargs={"stop": stop, "clock": clock}
    )
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()


def test_immediate_alerts_leave_with_the_fetch_cycle_not_the_alert_tick(
    sqlite_engine: Engine,
    feed_server: FeedServer,
    mailbox: MailBox,
    hooks: WebhookReceiver,
    webhook_secret: None,
) -> None:
    # the alert cycle runs once at start, then not for ten minutes
    settings = worker_settings(sqlite_engine, mailbox, hooks, [DESK], alert_tick=600.0)
    url = feed_server.add("/desk.xml", rss(OTHER))
    with running_worker(settings, sqlite_engine, url):
        wait_until(lambda: feed_server.hits("/desk.xml") >= 1, "the first fetch")
        feed_server.add("/desk.xml", rss(NEUTRAL, OTHER))
        wait_until(
            lambda: subjects(mailbox, "[desk]") and hook_bodies(hooks, "desk", "item"),
            "the immediate email and webhook",
        )


def test_worker_sends_immediate_alerts_once_and_digests_at_their_local_time(
    engine: Engine,
    feed_server: FeedServer,
    mailbox: MailBox,
    hooks: WebhookReceiver,
    webhook_secret: None,
) -> None:
    clock = Clock()
    # the digest is due at the first whole minute at least two minutes away, local time
    due = (clock() + timedelta(minutes=3)).replace(second=0, microsecond=0)
    local_due = due.astimezone(ZoneInfo(ZONE))
    morning = {
        "name": "morning",
        "kind": "match",
        "query": "neutral* OR guarantee*",
        "channels": ["mail", "hook"],
        "delivery": "daily",
        "digest_time": f"{local_due:%H:%M}",
        "time_zone": ZONE,
    }
    settings = worker_settings(engine, mailbox, hooks, [DESK, morning])
    url = feed_server.add("/desk.xml", rss(OTHER))
    with running_worker(settings, engine, url, clock):
        wait_until(lambda: feed_server.hits("/desk.xml") >= 1, "the first fetch")

        # published: one email and one signed webhook before the feed's next fetch
        feed_server.add("/desk.xml", rss(NEUTRAL, GUARANTEES, OTHER))
        published_at_fetch = feed_server.hits("/desk.xml")
        published = time.monotonic()
        wait_until(
            lambda: subjects(mailbox, "[desk]") and hook_bodies(hooks, "desk", "item"),
            "the immediate email and webhook",
        )
        print(f"\npublished → email and webhook in {time.monotonic() - published:.2f} s")
        assert feed_server.hits("/desk.xml") <= published_at_fetch + 1
        assert NEUTRAL[1] in subjects(mailbox, "[desk]")[0]
        (hook,) = [h for h in hooks.received if h.data["rule"] == "desk"]
        assert hook.signature_ok()

        # further fetches and alert ticks send nothing again
        seen = feed_server.hits("/desk.xml")
        wait_until(lambda: feed_server.hits("/desk.xml") >= seen + 2, "two more fetches")
        assert len(subjects(mailbox, "[desk]")) == 1
        assert len(hook_bodies(hooks, "desk", "item")) == 1
        assert subjects(mailbox, "[morning]") == []  # the digest is not due yet

        # the digest: a few seconds after the jump, at its local time, with both items
        clock.jump_to(due - timedelta(seconds=2))
        wait_until(
            lambda: subjects(mailbox, "[morning]") and hook_bodies(hooks, "morning", "digest"),
            "the first digest",
        )
        (first,) = hook_bodies(hooks, "morning", "digest")
        assert digest_titles(first) == sorted([NEUTRAL[1], GUARANTEES[1]])
        (subject,) = subjects(mailbox, "[morning]")
        assert subject.endswith(": 2 alerts")
        with transaction(engine) as session:
            queued = session.scalars(
                select(AlertOutbox.created_at).where(AlertOutbox.rule == "morning")
            ).all()
        assert len(queued) == 2  # one message per channel
        assert all(due <= at < due + timedelta(seconds=5) for at in queued)

        # a later item waits for the next morning's digest, which has it alone
        feed_server.add("/desk.xml", rss(LATER, NEUTRAL, GUARANTEES, OTHER))
        wait_until(lambda: _events(engine, "morning") == 3, "the later item's event")
        clock.jump_to(due + timedelta(days=1, seconds=-2))
        wait_until(lambda: len(hook_bodies(hooks, "morning", "digest")) == 2, "the second digest")
        second = hook_bodies(hooks, "morning", "digest")[1]
        assert digest_titles(second) == [LATER[1]]
        wait_until(lambda: len(subjects(mailbox, "[morning]")) == 2, "the second digest email")
        assert len(subjects(mailbox, "[desk]")) == 1  # the later item is not the desk's
    assert all(h.signature_ok() for h in hooks.received)

    # the Alerts page: every alert with how its channels fared, digested ones included
    with transaction(engine) as session:
        history = recent_alerts(session)
    assert sorted((a.rule, a.headline) for a in history) == sorted(
        [
            ("desk", NEUTRAL[1]),
            ("morning", NEUTRAL[1]),
            ("morning", GUARANTEES[1]),
            ("morning", LATER[1]),
        ]
    )
    assert all(a.deliveries == {"mail": "sent", "hook": "sent"} for a in history)
    page = _alerts_page(settings, engine)
    assert page.count("hook: sent, mail: sent") == 4 and LATER[1] in page


def _events(engine: Engine, rule: str) -> int:
    with transaction(engine) as session:
        return len(session.scalars(select(AlertEvent.id).where(AlertEvent.rule == rule)).all())


def _alerts_page(settings: Settings, engine: Engine) -> str:
    app = create_app(settings, engine)
    alerts = sys.modules["dashboards.pages.alerts"]
    with app.server.test_request_context("/alerts"):
        return str(alerts.layout())
