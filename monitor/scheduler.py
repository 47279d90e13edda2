"""The worker: APScheduler runs a fetch cycle every tick until SIGTERM or SIGINT.

With alert rules configured it also runs the alert cycle every
`alerts.tick_seconds` (spikes, shifts, due digests, retries), and a fetch cycle
that stored new items has the immediate alerts it queued delivered at once, so
a matching item reaches its channels within one fetch interval of being published.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from monitor.alerts.cycle import run_alerts
from monitor.alerts.sender import deliver_due
from monitor.config import Settings
from monitor.pipeline import run_cycle, worker_name
from monitor.pool import parse_pool
from monitor.tagging.tagger import Tagger
from monitor.tagging.train import load_tagger

log = logging.getLogger(__name__)


def start_worker(settings: Settings) -> Tagger:
    """What a worker does once: load the tagger and start the parse processes, so the
    first cycle does not wait for them."""
    tagger = load_tagger(settings.tagging)
    parse_pool(tagger)
    return tagger


def run_worker(
    settings: Settings,
    engine: Engine,
    *,
    stop: threading.Event | None = None,
    on_cycle: Callable[[str], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Block until stopped; in-flight feeds are finished and stored before returning.

    `clock` replaces the wall clock in both jobs; a fetch cycle reads it once.
    """
    stop = stop or threading.Event()
    worker = worker_name()
    try:
        tagger = start_worker(settings)
    except Exception:
        if stop.is_set():
            return  # stopped while starting (Ctrl-C reaches the parse processes too)
        raise
    immediate = any(
        r.enabled and r.kind == "match" and r.delivery == "immediate" for r in settings.alerts.rules
    )

    def now() -> datetime | None:
        return clock() if clock else None

    def deliver() -> None:
        deliver_due(settings, engine, worker=worker, now=now())

    def cycle() -> None:
        report = run_cycle(settings, engine, worker=worker, stop=stop, tagger=tagger, now=now())
        if report.items.new and immediate:
            # the match alerts this cycle queued go out now, not at the next alert tick,
            # and in a thread of their own: a slow channel must not hold up fetching
            scheduler.add_job(deliver, id="alerts-delivery", replace_existing=True)
        if report.feeds_checked:
            log.info("%s", report.summary())
            if on_cycle:
                on_cycle(report.summary())

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        cycle,
        "interval",
        seconds=settings.scheduler.tick_seconds,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        id="fetch-cycle",
    )
    if settings.alerts.rules:
        scheduler.add_job(
            lambda: run_alerts(settings, engine, worker=worker, now=now()),
            "interval",
            seconds=settings.alerts.tick_seconds,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            id="alerts-cycle",
        )
    _install_signal_handlers(stop)
    scheduler.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        # wait=True lets the running cycle finish the batch it already claimed
        scheduler.shutdown(wait=True)


def _install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.warning("received %s: finishing in-flight feeds", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
