"""Feeds and sources: configuration sync, due-feed leases, fetch bookkeeping.

Functions take a Session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from monitor.config import SOURCE_TYPES, FeedSettings, is_http_url
from monitor.errors import InputError
from monitor.feeds.decide import FeedUpdate
from monitor.feeds.fetch import FetchResult
from monitor.store.leases import claim
from monitor.store.models import Entry, Feed, FetchEvent, Item, Source


def get_or_create_source(
    session: Session, name: str, source_type: str = "media", country: str = ""
) -> Source:
    source = session.scalars(select(Source).where(Source.name == name)).first()
    if source is None:
        source = Source(name=name, source_type=source_type, country=country)
        session.add(source)
        session.flush()
    return source


def add_feed(session: Session, spec: FeedSettings, *, interval_seconds: float) -> Feed:
    """Add one feed; an URL already present is an InputError."""
    if not is_http_url(spec.url):
        raise InputError(f"not an http(s) URL: {spec.url!r}")
    if spec.source_type not in SOURCE_TYPES:
        raise InputError(f"source type must be one of {', '.join(SOURCE_TYPES)}")
    if find_feed(session, spec.url) is not None:
        raise InputError(f"feed already present: {spec.url}")
    source = get_or_create_source(session, spec.publisher, spec.source_type, spec.country)
    feed = Feed(
        url=spec.url,
        original_url=spec.url,
        source_id=source.id,
        title=spec.title,
        language=spec.language,
        verified=False,
        enabled=spec.enabled,
        full_text=spec.full_text,
        interval_seconds=interval_seconds,
    )
    session.add(feed)
    session.flush()
    return feed


def find_feed(session: Session, ref: str) -> Feed | None:
    """A feed by id, current URL or originally configured URL."""
    if ref.isdigit():
        return session.get(Feed, int(ref))
    return session.scalars(
        select(Feed).where(or_(Feed.url == ref, Feed.original_url == ref))
    ).first()


@dataclass(frozen=True)
class SyncReport:
    added: int
    updated: int


def sync_configured_feeds(
    session: Session, specs: Sequence[FeedSettings], *, interval_seconds: float
) -> SyncReport:
    """Make the store hold every configured feed; feeds added by hand are left alone."""
    added = updated = 0
    for spec in specs:
        feed = find_feed(session, spec.url)
        if feed is None:
            add_feed(session, spec, interval_seconds=interval_seconds)
            added += 1
            continue
        source = get_or_create_source(session, spec.publisher, spec.source_type, spec.country)
        changed = False
        for attr, value in (
            ("source_id", source.id),
            ("language", spec.language),
            ("full_text", spec.full_text),
            ("title", spec.title or feed.title),
        ):
            if getattr(feed, attr) != value:
                setattr(feed, attr, value)
                changed = True
        if source.source_type != spec.source_type or source.country != spec.country:
            source.source_type, source.country = spec.source_type, spec.country
            changed = True
        updated += changed
    return SyncReport(added=added, updated=updated)


def claim_due_feeds(
    session: Session,
    *,
    worker: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    cycle_started_at: datetime | None = None,
    include_not_due: bool = False,
) -> list[Feed]:
    """Lease up to `limit` due feeds to this worker (see `leases.claim`).

    A feed checked since `cycle_started_at` is never claimed twice in one cycle.
    """
    conditions: list[ColumnElement[bool]] = [Feed.enabled.is_(True)]
    if not include_not_due:
        conditions.append(Feed.next_check_at <= now)
    if cycle_started_at is not None:
        conditions.append(
            or_(Feed.last_checked_at.is_(None), Feed.last_checked_at < cycle_started_at)
        )
    return claim(
        session,
        Feed,
        due=conditions,
        order_by=(Feed.next_check_at, Feed.id),
        limit=limit,
        worker=worker,
        now=now,
        lease_seconds=lease_seconds,
    )


def release_leases(session: Session, feed_ids: Sequence[int], worker: str) -> None:
    """Hand back feeds this worker claimed but will not fetch (it is stopping)."""
    session.execute(
        update(Feed)
        .where(Feed.id.in_(feed_ids), Feed.lease_owner == worker)
        .values(lease_owner=None, lease_expires_at=None)
    )


def release_lease(session: Session, feed: Feed, worker: str) -> None:
    if feed.lease_owner == worker:
        feed.lease_owner = None
        feed.lease_expires_at = None


def record_fetch(
    session: Session,
    feed: Feed,
    result: FetchResult | None,
    decision: FeedUpdate,
    *,
    now: datetime,
    worker: str,
    entries_seen: int = 0,
    items_new: int = 0,
    items_updated: int = 0,
    body_hash: str | None = None,
    body_error: str | None = None,
) -> None:
    """Write the decision back to the feed and log the attempt.

    `body_hash` names the body read, `body_error` why it is no feed (None: it is one).
    """
    if result is not None and result.moved_to and result.moved_to != feed.url:
        taken = session.scalars(select(Feed.id).where(Feed.url == result.moved_to)).first()
        if taken is None:
            feed.url = result.moved_to
    if result is not None:
        feed.http_status = result.status
        # the validators name the body stored, whether it was a feed or not
        if result.error is None:
            feed.etag = result.etag or feed.etag if result.not_modified else result.etag
            feed.last_modified = (
                result.last_modified or feed.last_modified
                if result.not_modified
                else result.last_modified
            )
    if body_hash is not None:
        feed.body_hash = body_hash
        feed.body_error = body_error
    feed.status = decision.status
    feed.status_line = decision.status_line
    feed.next_check_at = decision.next_check_at
    feed.interval_seconds = decision.interval_seconds
    feed.failure_score = decision.failure_score
    feed.consecutive_failures = decision.consecutive_failures
    feed.last_checked_at = now
    if decision.succeeded:
        feed.last_success_at = now
        feed.verified = True
    if items_new:
        feed.last_new_item_at = now
    if decision.disable_reason:
        feed.enabled = False
        feed.disabled_reason = decision.disable_reason
    release_lease(session, feed, worker)
    session.add(
        FetchEvent(
            feed_id=feed.id,
            started_at=result.started_at if result else now,
            duration_ms=int((result.duration if result else 0) * 1000),
            outcome=decision.outcome,
            http_status=result.status if result else None,
            url=result.final_url if result else feed.url,
            message=decision.status_line,
            bytes_received=len(result.body or b"") if result else 0,
            entries_seen=entries_seen,
            items_new=items_new,
            items_updated=items_updated,
            worker=worker,
        )
    )


def set_enabled(session: Session, feed: Feed, enabled: bool, *, now: datetime) -> None:
    feed.enabled = enabled
    if enabled:
        feed.disabled_reason = None
        feed.next_check_at = now
        feed.status, feed.status_line = "new", "enabled by hand; due now"
    else:
        feed.disabled_reason = "disabled by hand"
        feed.status, feed.status_line = "disabled", "disabled by hand"


@dataclass(frozen=True)
class FeedRow:
    feed: Feed
    source: Source
    items: int


def feed_rows(session: Session) -> list[FeedRow]:
    """Every feed with its source and the number of stories it carried."""
    counts: dict[int, int] = {
        feed_id: n
        for feed_id, n in session.execute(
            select(Entry.feed_id, func.count()).group_by(Entry.feed_id)
        )
    }
    rows = session.execute(
        select(Feed, Source).join(Source, Feed.source_id == Source.id).order_by(Feed.id)
    )
    return [FeedRow(feed, source, counts.get(feed.id, 0)) for feed, source in rows]


def item_total(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Item)) or 0
