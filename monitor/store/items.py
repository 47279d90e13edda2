"""Store parsed entries exactly once: per feed by entry key, across feeds by URL or title.

Functions take a Session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.feeds.parse import ParsedEntry
from monitor.store.models import Entry, Item

#: a title this short ("Statement", "Press briefing") says nothing about identity
_MIN_TITLE_KEY_WORDS = 4
_SUMMARY_PREFIX = 200


@dataclass
class StoreCounts:
    new: int = 0
    updated: int = 0
    #: entries that turned out to be a story already stored from another feed
    linked: int = 0
    unchanged: int = 0
    #: items created or updated by this call: the ones to tag
    changed_item_ids: list[int] = field(default_factory=list)

    def __iadd__(self, other: StoreCounts) -> StoreCounts:
        self.new += other.new
        self.updated += other.updated
        self.linked += other.linked
        self.unchanged += other.unchanged
        self.changed_item_ids.extend(other.changed_item_ids)
        return self


def store_entries(
    session: Session,
    *,
    source_id: int,
    feed_id: int | None,
    entries: Sequence[ParsedEntry],
    now: datetime,
    title_window: timedelta,
    origin: str = "feed",
) -> StoreCounts:
    """Insert new entries, update changed ones, link syndicated copies."""
    counts = StoreCounts()
    unique: dict[str, ParsedEntry] = {}
    for entry in entries:
        unique.setdefault(entry.entry_key, entry)
    known = _known_entries(session, feed_id, list(unique)) if feed_id is not None else {}

    for entry in unique.values():
        row = known.get(entry.entry_key)
        if row is not None:
            row.last_seen_at = now
            if row.content_hash == entry.content_hash:
                counts.unchanged += 1
                continue
            row.content_hash = entry.content_hash
            if row.matched_by == "new":
                _update_item(session.get_one(Item, row.item_id), entry, now)
                counts.updated += 1
                counts.changed_item_ids.append(row.item_id)
            else:
                counts.unchanged += 1
            continue
        _store_new(session, entry, source_id, feed_id, now, title_window, origin, counts)
    return counts


def _store_new(
    session: Session,
    entry: ParsedEntry,
    source_id: int,
    feed_id: int | None,
    now: datetime,
    title_window: timedelta,
    origin: str,
    counts: StoreCounts,
) -> None:
    for _attempt in range(2):
        savepoint = session.begin_nested()
        try:
            item, matched_by = find_duplicate(session, entry, source_id, title_window)
            if item is None:
                item = _new_item(entry, source_id, feed_id, now, origin)
                session.add(item)
                session.flush()
            if feed_id is not None:
                session.add(
                    Entry(
                        feed_id=feed_id,
                        entry_key=entry.entry_key,
                        item_id=item.id,
                        matched_by=matched_by,
                        content_hash=entry.content_hash,
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                )
                session.flush()
            savepoint.commit()
        except IntegrityError:
            # another worker stored the same story or entry a moment ago: look again
            savepoint.rollback()
            continue
        if matched_by == "new":
            counts.new += 1
            counts.changed_item_ids.append(item.id)
        else:
            counts.linked += 1
        return
    counts.unchanged += 1


def find_duplicate(
    session: Session, entry: ParsedEntry, source_id: int, title_window: timedelta
) -> tuple[Item | None, str]:
    """The stored story this entry repeats, and how it was recognised."""
    if entry.canonical_url:
        item = session.scalars(
            select(Item).where(Item.canonical_url == entry.canonical_url)
        ).first()
        if item is not None:
            return item, "url"
    if len(entry.title_key.split()) >= _MIN_TITLE_KEY_WORDS:
        candidates = session.scalars(
            select(Item).where(
                Item.source_id == source_id,
                Item.title_key == entry.title_key,
                Item.published_at >= entry.published_at - title_window,
                Item.published_at <= entry.published_at + title_window,
            )
        )
        for item in candidates:
            if _same_summary(item.summary_text, entry.summary_text):
                return item, "title"
    return None, "new"


def _same_summary(stored: str, new: str) -> bool:
    a, b = stored[:_SUMMARY_PREFIX].casefold(), new[:_SUMMARY_PREFIX].casefold()
    return not a or not b or a == b


def _known_entries(session: Session, feed_id: int, keys: list[str]) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for chunk in _chunks(keys, 500):
        rows = session.scalars(
            select(Entry).where(Entry.feed_id == feed_id, Entry.entry_key.in_(chunk))
        )
        found.update((row.entry_key, row) for row in rows)
    return found


def known_entry_keys(session: Session, feed_id: int, keys: list[str]) -> set[str]:
    return set(_known_entries(session, feed_id, keys))


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _new_item(
    entry: ParsedEntry, source_id: int, feed_id: int | None, now: datetime, origin: str
) -> Item:
    item = Item(
        source_id=source_id,
        feed_id=feed_id,
        origin=origin,
        guid=entry.guid,
        canonical_url=entry.canonical_url,
        fetched_at=now,
        published_at=entry.published_at,
        published_is_fallback=entry.published_is_fallback,
    )
    _update_item(item, entry, now)
    return item


def _update_item(item: Item, entry: ParsedEntry, now: datetime) -> None:
    item.url = entry.url
    item.title = entry.title
    item.title_key = entry.title_key
    item.summary_html = entry.summary_html
    item.summary_text = entry.summary_text
    # an article fetched in full is kept when a later copy of the entry is only a teaser
    if entry.content_text or item.content_method != "trafilatura":
        item.content_html = entry.content_html
        item.content_text = entry.content_text
        item.content_method = entry.content_method
    item.author = entry.author
    item.language = entry.language
    item.language_source = entry.language_source
    if not entry.published_is_fallback:
        item.published_at = entry.published_at
        item.published_is_fallback = False
    item.content_hash = entry.content_hash
    item.updated_at = now
