"""Deliver the outbox: lease due messages, send each outside any transaction, log it.

A message is leased before it is sent and settled after, each in its own short
transaction; a channel that is down costs a logged attempt and a retry after an
exponentially growing pause, never the message. A worker that dies between
sending and settling leaves a lease that expires, and the message is sent again:
delivery is at least once, and exactly once whenever the worker survives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from monitor.alerts.channels import ChannelError, send
from monitor.alerts.outbox import Outgoing, claim_due_messages, record_attempt
from monitor.alerts.render import Message
from monitor.config import AlertChannelSettings, AlertSettings, Settings
from monitor.store.session import transaction

log = logging.getLogger(__name__)

Sender = Callable[[AlertChannelSettings, Message], None]


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.sent} messages sent, {self.retrying} to retry, {self.failed} given up"


def backoff(alerts: AlertSettings, attempts: int) -> timedelta:
    """Pause before the next attempt after `attempts` failures: doubling, capped."""
    seconds = alerts.backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, alerts.max_backoff_seconds))


def deliver_due(
    settings: Settings,
    engine: Engine,
    *,
    worker: str,
    now: datetime | None = None,
    sender: Sender = send,
) -> DeliveryReport:
    """Send every due message once; failures are scheduled for a later attempt."""
    alerts = settings.alerts
    channels = {c.name: c for c in alerts.channels}
    report = DeliveryReport()
    while True:
        with transaction(engine) as session:
            batch = claim_due_messages(
                session,
                worker=worker,
                now=now or datetime.now(UTC),
                limit=alerts.batch_size,
                lease_seconds=alerts.lease_seconds,
            )
        if not batch:
            return report
        for outgoing in batch:
            _deliver_one(engine, alerts, channels, outgoing, worker, now, sender, report)


def _deliver_one(
    engine: Engine,
    alerts: AlertSettings,
    channels: dict[str, AlertChannelSettings],
    outgoing: Outgoing,
    worker: str,
    now: datetime | None,
    sender: Sender,
    report: DeliveryReport,
) -> None:
    started = time.monotonic()
    error: str | None = None
    channel = channels.get(outgoing.channel)
    if channel is None:
        error = f"channel {outgoing.channel} is not configured"
    else:
        try:
            sender(channel, outgoing.message)
        except ChannelError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in one channel must not stop the others
            log.exception("sending alert %s failed", outgoing.id)
            error = f"internal error: {type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - started) * 1000)
    at = now or datetime.now(UTC)
    with transaction(engine) as session:
        status = record_attempt(
            session,
            outgoing.id,
            worker=worker,
            now=at,
            error=error,
            duration_ms=duration_ms,
            retry_at=at + backoff(alerts, outgoing.attempts + 1),
            max_attempts=alerts.max_attempts,
        )
    if status == "sent":
        report.sent += 1
        return
    message = f"{outgoing.rule} → {outgoing.channel}: {error}"
    report.errors.append(message)
    if status == "failed":
        report.failed += 1
        log.error("alert given up after %d attempts: %s", outgoing.attempts + 1, message)
    else:
        report.retrying += 1
        log.warning("alert not delivered, will retry: %s", message)
