"""Alert events, the outbox, delivery attempts and digest cursors in the store.

Functions take a Session and never commit; the caller owns the transaction.
Inserts that could race between workers (an event for a rule, a message for a
channel) use INSERT … ON CONFLICT DO NOTHING on a unique key, so the loser of
a race simply inserts nothing. The last section holds the read queries of the
dashboard's Alerts page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.alerts.render import Message
from monitor.config import AlertRuleSettings
from monitor.store.leases import claim
from monitor.store.models import (
    AlertAttempt,
    AlertDigest,
    AlertEvent,
    AlertOutbox,
    Base,
)


def _insert_ignoring_conflict(
    session: Session, model: type[Base], values: dict[str, Any], conflict: list[str]
) -> Any:
    """Insert one row unless its unique key exists; returns the new primary key or None."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    key = next(iter(table.primary_key.columns))  # type: ignore[attr-defined]
    statement = (
        insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)  # type: ignore[arg-type]
    ).returning(key)
    return session.execute(statement).scalar()


def insert_event(
    session: Session,
    *,
    rule: str,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
    item_id: int | None = None,
    queued: bool = False,
) -> int | None:
    """The new event's id, or None when the rule already fired on this key."""
    event_id = _insert_ignoring_conflict(
        session,
        AlertEvent,
        {
            "rule": rule,
            "kind": kind,
            "dedupe_key": dedupe_key,
            "item_id": item_id,
            "payload": payload,
            "created_at": now,
            "queued_at": now if queued else None,
        },
        ["rule", "dedupe_key"],
    )
    return int(event_id) if event_id is not None else None


def enqueue(
    session: Session,
    *,
    message_key: str,
    rule: str,
    channel: str,
    message: Message,
    now: datetime,
    event_id: int | None = None,
) -> bool:
    """Put one message for one channel in the outbox (once per message key)."""
    outbox_id = _insert_ignoring_conflict(
        session,
        AlertOutbox,
        {
            "message_key": message_key,
            "rule": rule,
            "channel": channel,
            "event_id": event_id,
            "subject": message.subject,
            "body_text": message.text,
            "body_html": message.html,
            "payload": message.data,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
        },
        ["message_key"],
    )
    return outbox_id is not None


@dataclass(frozen=True)
class Outgoing:
    """A leased message, detached from the session so it can be sent outside a transaction."""

    id: int
    rule: str
    channel: str
    attempts: int
    message: Message


def claim_due_messages(
    session: Session, *, worker: str, now: datetime, limit: int, lease_seconds: float
) -> list[Outgoing]:
    """Lease up to `limit` due messages to this worker (see `leases.claim`)."""
    rows = claim(
        session,
        AlertOutbox,
        due=(AlertOutbox.status == "pending", AlertOutbox.next_attempt_at <= now),
        order_by=(AlertOutbox.next_attempt_at, AlertOutbox.id),
        limit=limit,
        worker=worker,
        now=now,
        lease_seconds=lease_seconds,
    )
    return [
        Outgoing(
            id=row.id,
            rule=row.rule,
            channel=row.channel,
            attempts=row.attempts,
            message=Message(row.subject, row.body_text, row.body_html, dict(row.payload)),
        )
        for row in rows
    ]


def record_attempt(
    session: Session,
    outbox_id: int,
    *,
    worker: str,
    now: datetime,
    error: str | None,
    duration_ms: int,
    retry_at: datetime,
    max_attempts: int,
) -> str:
    """Log the attempt and settle the message: sent, retried at `retry_at`, or failed."""
    row = session.get_one(AlertOutbox, outbox_id)
    session.add(
        AlertAttempt(
            outbox_id=outbox_id,
            attempted_at=now,
            worker=worker,
            ok=error is None,
            error=error or "",
            duration_ms=duration_ms,
        )
    )
    row.attempts += 1
    row.lease_owner = None
    row.lease_expires_at = None
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", now, ""
    else:
        row.last_error = error[:2000]
        row.status = "failed" if row.attempts >= max_attempts else "pending"
        row.next_attempt_at = retry_at
    return row.status


def requeue_failed(session: Session, *, now: datetime) -> int:
    """Give failed messages a fresh round of attempts (after fixing a channel)."""
    result = session.execute(
        update(AlertOutbox)
        .where(AlertOutbox.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def unqueued_events(session: Session, rule: str) -> list[AlertEvent]:
    """A digest rule's events not yet in any digest, locked against a concurrent digest."""
    return list(
        session.scalars(
            select(AlertEvent)
            .where(AlertEvent.rule == rule, AlertEvent.queued_at.is_(None))
            .order_by(AlertEvent.id)
            .with_for_update()
        ).all()
    )


def lock_digest_cursor(
    session: Session, rule: AlertRuleSettings, *, first_due_at: datetime
) -> AlertDigest | None:
    """The rule's digest cursor, created on first use; None while another worker holds it."""
    _insert_ignoring_conflict(
        session,
        AlertDigest,
        {"rule": rule.name, "last_event_id": 0, "next_due_at": first_due_at},
        ["rule"],
    )
    return session.scalars(
        select(AlertDigest).where(AlertDigest.rule == rule.name).with_for_update(skip_locked=True)
    ).first()


# --- what the dashboard's Alerts page shows ----------------------------------------------


@dataclass(frozen=True)
class RuleStatus:
    name: str
    kind: str
    delivery: str
    channels: tuple[str, ...]
    enabled: bool
    events: int
    last_event_at: datetime | None
    pending: int
    failed: int
    next_digest_at: datetime | None


def rule_statuses(session: Session, rules: Sequence[AlertRuleSettings]) -> list[RuleStatus]:
    """Every configured rule with its alert count, last alert and outbox backlog."""
    events = {
        rule: (count, last)
        for rule, count, last in session.execute(
            select(AlertEvent.rule, func.count(), func.max(AlertEvent.created_at)).group_by(
                AlertEvent.rule
            )
        )
    }
    backlog: dict[tuple[str, str], int] = {
        (rule, status): count
        for rule, status, count in session.execute(
            select(AlertOutbox.rule, AlertOutbox.status, func.count()).group_by(
                AlertOutbox.rule, AlertOutbox.status
            )
        )
    }
    digests = {d.rule: d.next_due_at for d in session.scalars(select(AlertDigest))}
    return [
        RuleStatus(
            name=rule.name,
            kind=rule.kind,
            delivery=rule.delivery,
            channels=rule.channels,
            enabled=rule.enabled,
            events=events.get(rule.name, (0, None))[0],
            last_event_at=events.get(rule.name, (0, None))[1],
            pending=backlog.get((rule.name, "pending"), 0),
            failed=backlog.get((rule.name, "failed"), 0),
            next_digest_at=digests.get(rule.name),
        )
        for rule in rules
    ]


@dataclass(frozen=True)
class RecentAlert:
    event_id: int
    rule: str
    kind: str
    created_at: datetime
    headline: str
    url: str
    #: per channel: 'sent', 'pending', 'failed' ('digest' while waiting for one);
    #: an event that went out in a digest shows the digest's
    deliveries: dict[str, str]


def recent_alerts(session: Session, *, limit: int = 100) -> list[RecentAlert]:
    """The latest alerts, newest first, with how each channel fared."""
    events = session.scalars(
        select(AlertEvent).order_by(AlertEvent.created_at.desc(), AlertEvent.id.desc()).limit(limit)
    ).all()
    ids = [e.id for e in events]
    deliveries: dict[int, dict[str, str]] = {}
    for event_id, channel, status in session.execute(
        select(AlertOutbox.event_id, AlertOutbox.channel, AlertOutbox.status).where(
            AlertOutbox.event_id.in_(ids)
        )
    ):
        if event_id is not None:
            deliveries.setdefault(event_id, {})[channel] = status
    # a digest's messages carry no event id: they are the rule's messages queued
    # in the transaction that marked its events queued, at that same moment
    digested: dict[tuple[str, datetime | None], dict[str, str]] = {}
    waiting = [e for e in events if e.queued_at and e.id not in deliveries]
    if waiting:
        for rule, created_at, channel, status in session.execute(
            select(
                AlertOutbox.rule, AlertOutbox.created_at, AlertOutbox.channel, AlertOutbox.status
            ).where(
                AlertOutbox.event_id.is_(None),
                AlertOutbox.rule.in_({e.rule for e in waiting}),
                AlertOutbox.created_at.in_({e.queued_at for e in waiting}),
            )
        ):
            digested.setdefault((rule, created_at), {})[channel] = status
    return [
        RecentAlert(
            event_id=e.id,
            rule=e.rule,
            kind=e.kind,
            created_at=e.created_at,
            headline=str(e.payload.get("title") or e.payload.get("headline") or ""),
            url=str(e.payload.get("url") or ""),
            deliveries=deliveries.get(e.id)
            or digested.get((e.rule, e.queued_at))
            or ({} if e.queued_at else {"*": "digest"}),
        )
        for e in events
    ]


@dataclass(frozen=True)
class FailedAttempt:
    attempted_at: datetime
    rule: str
    channel: str
    subject: str
    error: str
    attempts: int
    status: str


def recent_failures(session: Session, *, limit: int = 100) -> list[FailedAttempt]:
    """Failed delivery attempts, newest first, with the message's current status."""
    rows = session.execute(
        select(AlertAttempt, AlertOutbox)
        .join(AlertOutbox, AlertOutbox.id == AlertAttempt.outbox_id)
        .where(AlertAttempt.ok.is_(False))
        .order_by(AlertAttempt.attempted_at.desc(), AlertAttempt.id.desc())
        .limit(limit)
    )
    return [
        FailedAttempt(
            attempted_at=attempt.attempted_at,
            rule=message.rule,
            channel=message.channel,
            subject=message.subject,
            error=attempt.error,
            attempts=message.attempts,
            status=message.status,
        )
        for attempt, message in rows
    ]
