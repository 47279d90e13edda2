"""The schema. Alembic migrations in ``alembic/versions`` create exactly this, plus what
the models cannot state: the triggers that keep ItemCount and the full-text index
(migration 0004, docs/dashboard-data.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    """A publisher: the unit analysts compare (one source can have many feeds)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_type: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feed(Base):
    """One RSS/Atom URL and everything the fetcher remembers about it."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    #: the URL first configured, so a permanent redirect does not re-add it on sync
    original_url: Mapped[str] = mapped_column(String(2000), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    language: Mapped[str] = mapped_column(String(8))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    full_text: Mapped[bool] = mapped_column(Boolean, default=False)

    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    #: why the body of `body_hash` is no feed; None when it was read. The same body
    #: again, or a 304 for it, repeats this failure without reading it again
    body_error: Mapped[str | None] = mapped_column(Text)
    #: the publisher's hint (ttl, sy:updatePeriod, Cache-Control) clamped to bounds
    interval_seconds: Mapped[float] = mapped_column(Float, default=3600.0)
    next_check_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_checked_at: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_new_item_at: Mapped[datetime | None] = mapped_column()
    #: weighted failures since the last success (hard errors count more)
    failure_score: Mapped[float] = mapped_column(Float, default=0.0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default="new")
    status_line: Mapped[str] = mapped_column(Text, default="not fetched yet")
    http_status: Mapped[int | None] = mapped_column(Integer)

    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    #: where `monitor backfill` resumes (next archive or page URL)
    backfill_next_url: Mapped[str | None] = mapped_column(String(2000))
    backfill_done: Mapped[bool] = mapped_column(Boolean, default=False)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Item(Base):
    """One story, however many feeds carried it."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_source_title", "source_id", "title_key"),
        # newest-first pages check the source and language filters without reading rows
        Index("ix_items_published_source", "published_at", "source_id", "language"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    #: the feed that first carried the story (None for imported items)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id"), index=True)
    origin: Mapped[str] = mapped_column(String(16), default="feed")
    guid: Mapped[str | None] = mapped_column(String(2000))
    url: Mapped[str | None] = mapped_column(String(2000))
    canonical_url: Mapped[str | None] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    #: normalised title for dedupe within a source
    title_key: Mapped[str] = mapped_column(String(500), default="")
    summary_html: Mapped[str] = mapped_column(Text, default="")
    summary_text: Mapped[str] = mapped_column(Text, default="")
    content_html: Mapped[str] = mapped_column(Text, default="")
    content_text: Mapped[str] = mapped_column(Text, default="")
    #: how content_text was obtained: 'feed', 'trafilatura' or '' when absent
    content_method: Mapped[str] = mapped_column(String(32), default="")
    author: Mapped[str] = mapped_column(String(500), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    #: where the language came from: 'item', 'feed', 'config' or 'detected'
    language_source: Mapped[str] = mapped_column(String(16), default="")
    published_at: Mapped[datetime] = mapped_column()
    #: True when the entry had no date and published_at is the fetch time
    published_is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))


class Entry(Base):
    """A feed's entry pointing at a stored item: the per-feed dedupe key."""

    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("feed_id", "entry_key", name="uq_entries_feed_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"))
    #: guid, else link, else a hash of title and date
    entry_key: Mapped[str] = mapped_column(String(500))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    #: how this entry was matched to the item: 'new', 'url' or 'title'
    matched_by: Mapped[str] = mapped_column(String(16), default="new")
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class FetchEvent(Base):
    """One fetch attempt, kept as a log."""

    __tablename__ = "fetch_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    #: ok, not_modified, unchanged, error, gone, rate_limited
    outcome: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    message: Mapped[str] = mapped_column(Text, default="")
    bytes_received: Mapped[int] = mapped_column(Integer, default=0)
    entries_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str] = mapped_column(String(200), default="")


class Tag(Base):
    """A topic or frame that applies to an item, by one tagger version: what filters,
    counts, themes and alerts read. Every label's score is in ItemScores.

    Rows written before migration 0006 may also be of labels that do not apply
    (`is_positive` false); the migration moved their scores to ItemScores.
    """

    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("item_id", "label", "tagger_version", name="uq_tags_item_label_version"),
        # the items of one label, without reading tag rows
        Index("ix_tags_label_positive_item", "label", "is_positive", "item_id"),
        # an item's positive labels (drill-downs, the item_counts triggers)
        Index("ix_tags_item_kind_positive", "item_id", "kind", "is_positive", "label"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    #: 'topic' or 'frame'
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    is_positive: Mapped[bool] = mapped_column(Boolean)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    tagger_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemScores(Base):
    """One item's tagging: every topic's and frame's score and all the evidence.

    One row per item rather than a tag row per label: the benchmark's first fetch
    wrote 35,520 tag rows, each through three indexes and the count triggers, for
    six labels that applied (docs/dashboard-data.md). Exports, the item page and
    the score filters read this; the labels that apply are also in Tag.
    """

    __tablename__ = "item_scores"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    tagger_version: Mapped[str] = mapped_column(String(64))
    #: label -> score 0..1
    topics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    frames: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the highest of `topics`: "some topic's score reaches x" without reading the JSON
    top_topic_score: Mapped[float] = mapped_column(Float, default=0.0)
    #: the rule and model evidence of every label, each element naming its label
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: `ItemCount.source_id` of the rows that count every source together
ALL_SOURCES = 0


class ItemCount(Base):
    """Items per topic and frame, source, UTC day and language.

    The dashboard's time series read these few rows instead of joining items with
    tags. `topic` and `frame` empty: all items; `frame` empty: the items positive for
    the topic; both set: the items positive for both. Every count is also kept
    with `source_id` ALL_SOURCES, so a view that filters no source reads one row
    per day and language instead of one per source.

    Triggers on items and tags (migration 0004) keep the counts exact in the
    transaction that writes, so no retag, import or edit can leave them behind;
    decrements may leave rows at 0 until `monitor.store.counts.rebuild_counts`.
    """

    __tablename__ = "item_counts"
    # SQLite: stored in key order, so one topic's days of one source are one range
    __table_args__ = {"sqlite_with_rowid": False}

    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    frame: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    items: Mapped[int] = mapped_column(Integer)


class AnalystLabel(Base):
    """An analyst's correction: who said which label does or does not apply."""

    __tablename__ = "analyst_labels"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))
    applies: Mapped[bool] = mapped_column(Boolean)
    analyst: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Theme(Base):
    """A sub-theme discovered among on-topic items by `monitor themes`."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: which fit produced it; only the latest fit is kept
    fit_id: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: the top terms joined, a readable name until an analyst names it
    label: Mapped[str] = mapped_column(String(500))
    top_terms: Mapped[list[Any]] = mapped_column(default=list)
    items: Mapped[int] = mapped_column(Integer, default=0)
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThemeCount(Base):
    """Items per theme per week, for trend charts."""

    __tablename__ = "theme_counts"
    __table_args__ = (UniqueConstraint("theme_id", "period_start", name="uq_theme_counts_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    #: Monday 00:00 UTC of the ISO week
    period_start: Mapped[datetime] = mapped_column()
    items: Mapped[int] = mapped_column(Integer)


class ItemTheme(Base):
    """An item's dominant theme in the latest fit (the items behind a theme's numbers)."""

    __tablename__ = "item_themes"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    weight: Mapped[float] = mapped_column(Float)


class AlertEvent(Base):
    """Something a rule fired on: one item (match) or one window (spike, shift).

    The dedupe key is unique per rule, so an item or a window alerts at most once
    per rule whatever the number of workers or restarts.
    """

    __tablename__ = "alert_events"
    __table_args__ = (
        UniqueConstraint("rule", "dedupe_key", name="uq_alert_events_rule_key"),
        Index("ix_alert_events_rule_queued", "rule", "queued_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200), index=True)
    #: 'match', 'spike' or 'shift'
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="SET NULL"), index=True
    )
    #: 'item:<id>' or '<label>:<window start>'
    dedupe_key: Mapped[str] = mapped_column(String(300))
    #: what the message shows, frozen when the rule fired
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: when its messages entered the outbox: at once, or with the rule's next digest
    queued_at: Mapped[datetime | None] = mapped_column()


class AlertOutbox(Base):
    """One message for one channel, sent by whichever worker leases it first."""

    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: unique: a message is enqueued once even if two workers build it
    message_key: Mapped[str] = mapped_column(String(400), unique=True)
    rule: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_events.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: 'pending', 'sent' or 'failed'
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class AlertAttempt(Base):
    """Every delivery attempt, successful or not: the Alerts page's failure log."""

    __tablename__ = "alert_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("alert_outbox.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(index=True)
    worker: Mapped[str] = mapped_column(String(200), default="")
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class AlertDigest(Base):
    """A digest rule's cursor: when the next digest is due and what the last one held."""

    __tablename__ = "alert_digests"

    rule: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    next_due_at: Mapped[datetime] = mapped_column()
    last_sent_at: Mapped[datetime | None] = mapped_column()
