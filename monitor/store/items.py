"""Store parsed entries exactly once: per feed by entry key, across feeds by URL or title.

A feed's entries are stored as one batch with a fixed number of queries: the
feed's known entries, the stored items with the batch's canonical URLs, the
stored items with its titles, then one bulk insert of new items and one of new
entries. The dedupe rules of `find_duplicate` run in memory, in entry order, so
entries of one batch are matched against each other as they would be one by one.

Functions take a Session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import bindparam, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from monitor.feeds.parse import ParsedEntry
from monitor.store.models import Entry, Feed, Item

#: a title this short ("Statement", "Press briefing") says nothing about identity
_MIN_TITLE_KEY_WORDS = 4
_SUMMARY_PREFIX = 200
#: values per IN list, well below every backend's limit on bound parameters
_CHUNK = 500
#: what a new item's INSERT carries: every column but the generated id
_ITEM_FIELDS = tuple(column.key for column in Item.__table__.columns if column.key != "id")

_T = TypeVar("_T")

# The batch's lookups, built once: built and keyed at each call, a lookup took 0.2 ms
# instead of 0.08 ms, and a feed makes three or four.
_OF_FEED = (
    Entry.feed_id == bindparam("feed_id"),
    Entry.entry_key.in_(bindparam("keys", expanding=True)),
)
_KNOWN_ENTRIES = select(Entry).where(*_OF_FEED)
_KNOWN_KEYS = select(Entry.entry_key).where(*_OF_FEED)
_FEEDS_WITH_ENTRIES = select(Feed.id).where(
    Feed.id.in_(bindparam("ids", expanding=True)), exists().where(Entry.feed_id == Feed.id)
)
_ITEMS_BY_ID = select(Item).where(Item.id.in_(bindparam("ids", expanding=True)))
#: what matching reads of an item another entry may repeat: not the large texts
_MATCHED = load_only(
    Item.canonical_url, Item.source_id, Item.title_key, Item.published_at, Item.summary_text
)
_ITEMS_BY_URL = (
    select(Item).options(_MATCHED).where(Item.canonical_url.in_(bindparam("urls", expanding=True)))
)
_ITEMS_BY_TITLE = (
    select(Item)
    .options(_MATCHED)
    .where(
        Item.source_id == bindparam("source_id"),
        Item.title_key.in_(bindparam("title_keys", expanding=True)),
        Item.published_at >= bindparam("earliest"),
        Item.published_at <= bindparam("latest"),
    )
)
_LAST_ITEM_ID = select(func.max(Item.id))


@dataclass
class StoreCounts:
    new: int = 0
    updated: int = 0
    #: entries that turned out to be a story already stored from another feed
    linked: int = 0
    unchanged: int = 0
    #: items created or updated (not merely linked or seen again): the ones to tag
    changed_item_ids: list[int] = field(default_factory=list)
    #: the items this call inserted, texts in hand, to tag without reading them back;
    #: not carried into sums, which would hold every item's texts
    created: list[NewItem] = field(default_factory=list, repr=False, compare=False)

    def __iadd__(self, other: StoreCounts) -> StoreCounts:
        self.new += other.new
        self.updated += other.updated
        self.linked += other.linked
        self.unchanged += other.unchanged
        self.changed_item_ids.extend(other.changed_item_ids)
        return self


@dataclass(frozen=True)
class _Batch:
    """Where a call's entries come from and what to stamp on them."""

    source_id: int
    feed_id: int | None
    now: datetime
    title_window: timedelta
    origin: str


@dataclass
class _Planned:
    """A new entry of the batch and the item it is to point at."""

    entry: ParsedEntry
    item: Item | NewItem
    #: 'new' (the batch creates the item), 'url' or 'title'
    matched_by: str


@dataclass(eq=False)
class NewItem:
    """An item a batch inserts: its row, and its id once inserted. _Matches and tagging
    read it as they read a stored Item; an ORM Item built for each new item cost more
    than inserting it (2,964 items: 0.20 s)."""

    row: dict[str, Any]
    #: 0 until inserted
    id: int = 0

    @property
    def canonical_url(self) -> str | None:
        return cast(str | None, self.row["canonical_url"])

    @property
    def source_id(self) -> int:
        return cast(int, self.row["source_id"])

    @property
    def published_at(self) -> datetime:
        return cast(datetime, self.row["published_at"])

    @property
    def title(self) -> str:
        return cast(str, self.row["title"])

    @property
    def title_key(self) -> str:
        return cast(str, self.row["title_key"])

    @property
    def summary_text(self) -> str:
        return cast(str, self.row["summary_text"])

    @property
    def content_text(self) -> str:
        return cast(str, self.row["content_text"])

    @property
    def language(self) -> str:
        return cast(str, self.row["language"])


def store_entries(
    session: Session,
    *,
    source_id: int,
    feed_id: int | None,
    entries: Sequence[ParsedEntry],
    now: datetime,
    title_window: timedelta,
    origin: str = "feed",
    none_stored: bool = False,
) -> StoreCounts:
    """Insert new entries, update changed ones, link syndicated copies.

    The batch runs in one savepoint. On PostgreSQL another worker may store one
    of its stories or entries between our lookups and our insert; the unique
    constraints then refuse the batch, and it is stored again one entry at a
    time, each entry looking again at what is stored by then. `none_stored`: the
    caller knows the feed had no entry stored, so none is looked up (had another
    worker stored some since, the constraints refuse the batch the same way).
    """
    batch = _Batch(source_id, feed_id, now, title_window, origin)
    unique: dict[str, ParsedEntry] = {}
    for entry in entries:
        unique.setdefault(entry.entry_key, entry)
    known = {} if none_stored else _known_entries(session, feed_id, list(unique))
    if all(key in known for key in unique):
        # nothing to insert, so nothing another worker can have inserted first
        return _store_batch(session, batch, list(unique.values()), known)
    savepoint = session.begin_nested()
    try:
        counts = _store_batch(session, batch, list(unique.values()), known)
        savepoint.commit()
    except IntegrityError:
        # the rollback also expires the known entries and items the batch had changed
        savepoint.rollback()
        counts = _store_one_by_one(session, batch, list(unique.values()), known)
    return counts


def _store_batch(
    session: Session, batch: _Batch, entries: list[ParsedEntry], known: dict[str, Entry]
) -> StoreCounts:
    counts = StoreCounts()
    fresh = [entry for entry in entries if entry.entry_key not in known]
    hashes = {entry.entry_key: entry.content_hash for entry in entries}
    owned = _items_by_id(
        session,
        [
            row.item_id
            for key, row in known.items()
            if row.matched_by == "new" and row.content_hash != hashes[key]
        ],
    )
    # every stored item an entry may repeat, loaded before the batch changes any
    matches = _Matches(batch.source_id, batch.title_window)
    for item in [
        *owned.values(),
        *_items_by_url(session, fresh),
        *_title_candidates(session, batch.source_id, fresh, batch.title_window),
    ]:
        matches.add(item)

    planned: list[_Planned] = []
    for entry in entries:
        row = known.get(entry.entry_key)
        if row is None:
            planned.append(_plan_new(matches, entry, batch))
        else:
            _seen_again(session, row, entry, owned, matches, batch.now, counts)
    if planned:
        _insert_planned(session, planned, batch, counts)
    return counts


def _plan_new(matches: _Matches, entry: ParsedEntry, batch: _Batch) -> _Planned:
    """The item a new entry repeats, or a new one that later entries can repeat."""
    item, matched_by = matches.find(entry)
    if item is None:
        columns = _new_item_columns(entry, batch.source_id, batch.feed_id, batch.now, batch.origin)
        # every row of one insert names the same columns
        item = NewItem(dict.fromkeys(_ITEM_FIELDS) | columns)
        matches.add(item)
    return _Planned(entry, item, matched_by)


def _seen_again(
    session: Session,
    row: Entry,
    entry: ParsedEntry,
    owned: dict[int, Item],
    matches: _Matches,
    now: datetime,
    counts: StoreCounts,
) -> None:
    """A known entry; only the entry that brought the story (matched_by 'new') updates it."""
    row.last_seen_at = now
    if row.content_hash == entry.content_hash:
        counts.unchanged += 1
        return
    row.content_hash = entry.content_hash
    if row.matched_by != "new":
        counts.unchanged += 1
        return
    item = owned.get(row.item_id) or session.get_one(Item, row.item_id)
    old_title_key = item.title_key
    _update_item(item, entry, now)
    matches.retitle(item, old_title_key)
    counts.updated += 1
    counts.changed_item_ids.append(item.id)


class _Matches:
    """The stored and just-planned items a batch's entries may repeat, looked up in memory.

    Holds the same answers `find_duplicate` would query for, including items
    created or retitled by earlier entries of the same batch.
    """

    def __init__(self, source_id: int, title_window: timedelta) -> None:
        self.source_id = source_id
        self.title_window = title_window
        self.by_url: dict[str, Item | NewItem] = {}
        self.by_title: dict[str, list[Item | NewItem]] = {}

    def add(self, item: Item | NewItem) -> None:
        if item.canonical_url:
            self.by_url.setdefault(item.canonical_url, item)
        if item.source_id == self.source_id:
            same_title = self.by_title.setdefault(item.title_key, [])
            if item not in same_title:
                same_title.append(item)

    def retitle(self, item: Item, old_title_key: str) -> None:
        """Follow an update of a stored item to its new title."""
        if item.source_id != self.source_id or item.title_key == old_title_key:
            return
        same_title = self.by_title.get(old_title_key, [])
        if item in same_title:
            same_title.remove(item)
        self.by_title.setdefault(item.title_key, []).append(item)

    def find(self, entry: ParsedEntry) -> tuple[Item | NewItem | None, str]:
        if entry.canonical_url and entry.canonical_url in self.by_url:
            return self.by_url[entry.canonical_url], "url"
        if _long_title(entry.title_key):
            earliest = entry.published_at - self.title_window
            latest = entry.published_at + self.title_window
            # stored items oldest first, as find_duplicate orders them; then this batch's
            candidates = sorted(
                self.by_title.get(entry.title_key, []),
                key=lambda item: (not item.id, item.id),
            )
            for item in candidates:
                if earliest <= item.published_at <= latest and _same_summary(
                    item.summary_text, entry.summary_text
                ):
                    return item, "title"
        return None, "new"


def _insert_planned(
    session: Session, planned: list[_Planned], batch: _Batch, counts: StoreCounts
) -> None:
    """New items, then every new entry, each in one statement where the backend allows."""
    created = [
        plan.item for plan in planned if plan.matched_by == "new" and isinstance(plan.item, NewItem)
    ]
    if created:
        ids = _insert_items(session, [item.row for item in created])
        for item, item_id in zip(created, ids, strict=True):
            item.id = item_id
    if batch.feed_id is not None:
        session.connection().execute(
            insert(Entry),
            [_entry_row(batch.feed_id, plan, batch.now) for plan in planned],
        )
    counts.new += len(created)
    counts.linked += len(planned) - len(created)
    counts.changed_item_ids.extend(item.id for item in created)
    counts.created.extend(created)


def _insert_items(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert item rows, in one statement per backend batch (Core: the objects they come
    from stay out of the session); their new ids, in order."""
    if session.get_bind().dialect.name != "sqlite":
        inserted = session.connection().execute(
            insert(Item).returning(Item.id, sort_by_parameter_order=True), rows
        )
        return list(inserted.scalars())
    # SQLite cannot tell which new id went to which row of a multi-row insert, and would
    # insert one row per statement; but the writer holds the write lock from BEGIN
    # IMMEDIATE on, so the next ids are known, the very ones SQLite would choose
    first = (session.scalar(_LAST_ITEM_ID) or 0) + 1
    ids = list(range(first, first + len(rows)))
    session.connection().execute(
        insert(Item), [{"id": item_id, **row} for item_id, row in zip(ids, rows, strict=True)]
    )
    return ids


def _entry_row(feed_id: int, plan: _Planned, now: datetime) -> dict[str, Any]:
    return {
        "feed_id": feed_id,
        "entry_key": plan.entry.entry_key,
        "item_id": plan.item.id,
        "matched_by": plan.matched_by,
        "content_hash": plan.entry.content_hash,
        "first_seen_at": now,
        "last_seen_at": now,
    }


def _store_one_by_one(
    session: Session, batch: _Batch, entries: list[ParsedEntry], known: dict[str, Entry]
) -> StoreCounts:
    """The careful path: every new entry looks for its story again, in its own savepoint."""
    counts = StoreCounts()
    for entry in entries:
        row = known.get(entry.entry_key)
        if row is None:
            _store_new(session, entry, batch, counts)
            continue
        row.last_seen_at = batch.now
        if row.content_hash == entry.content_hash:
            counts.unchanged += 1
            continue
        row.content_hash = entry.content_hash
        if row.matched_by == "new":
            item = session.get_one(Item, row.item_id)
            _update_item(item, entry, batch.now)
            counts.updated += 1
            counts.changed_item_ids.append(item.id)
        else:
            counts.unchanged += 1
    return counts


def _store_new(session: Session, entry: ParsedEntry, batch: _Batch, counts: StoreCounts) -> None:
    for _attempt in range(2):
        savepoint = session.begin_nested()
        try:
            item, matched_by = find_duplicate(session, entry, batch.source_id, batch.title_window)
            if item is None:
                item = _new_item(entry, batch.source_id, batch.feed_id, batch.now, batch.origin)
                session.add(item)
                session.flush()
            if batch.feed_id is not None:
                session.add(
                    Entry(
                        feed_id=batch.feed_id,
                        entry_key=entry.entry_key,
                        item_id=item.id,
                        matched_by=matched_by,
                        content_hash=entry.content_hash,
                        first_seen_at=batch.now,
                        last_seen_at=batch.now,
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
    if _long_title(entry.title_key):
        candidates = session.scalars(
            select(Item)
            .where(
                Item.source_id == source_id,
                Item.title_key == entry.title_key,
                Item.published_at >= entry.published_at - title_window,
                Item.published_at <= entry.published_at + title_window,
            )
            .order_by(Item.id)
        )
        for item in candidates:
            if _same_summary(item.summary_text, entry.summary_text):
                return item, "title"
    return None, "new"


def _long_title(title_key: str) -> bool:
    return len(title_key.split()) >= _MIN_TITLE_KEY_WORDS


def _same_summary(stored: str, new: str) -> bool:
    a, b = stored[:_SUMMARY_PREFIX].casefold(), new[:_SUMMARY_PREFIX].casefold()
    return not a or not b or a == b


def feeds_with_entries(session: Session, feed_ids: list[int]) -> set[int]:
    """Which of these feeds have an entry stored (each answered by one index probe)."""
    found: set[int] = set()
    for chunk in _chunks(feed_ids, _CHUNK):
        found.update(session.scalars(_FEEDS_WITH_ENTRIES, {"ids": chunk}))
    return found


def known_entry_keys(session: Session, feed_id: int, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(keys, _CHUNK):
        found.update(session.scalars(_KNOWN_KEYS, {"feed_id": feed_id, "keys": chunk}))
    return found


def _known_entries(session: Session, feed_id: int | None, keys: list[str]) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    if feed_id is None:  # imported rows have no feed and so no entries
        return found
    for chunk in _chunks(keys, _CHUNK):
        rows = session.scalars(_KNOWN_ENTRIES, {"feed_id": feed_id, "keys": chunk})
        found.update((row.entry_key, row) for row in rows)
    return found


def _items_by_id(session: Session, ids: list[int]) -> dict[int, Item]:
    found: dict[int, Item] = {}
    for chunk in _chunks(ids, _CHUNK):
        items = session.scalars(_ITEMS_BY_ID, {"ids": chunk})
        found.update((item.id, item) for item in items)
    return found


def _items_by_url(session: Session, entries: list[ParsedEntry]) -> list[Item]:
    urls = sorted({entry.canonical_url for entry in entries if entry.canonical_url})
    found: list[Item] = []
    for chunk in _chunks(urls, _CHUNK):
        found.extend(session.scalars(_ITEMS_BY_URL, {"urls": chunk}))
    return found


def _title_candidates(
    session: Session, source_id: int, entries: list[ParsedEntry], title_window: timedelta
) -> list[Item]:
    """The source's items with a title of the batch, published within the window of any entry."""
    titled = [entry for entry in entries if _long_title(entry.title_key)]
    if not titled:
        return []
    earliest = min(entry.published_at for entry in titled) - title_window
    latest = max(entry.published_at for entry in titled) + title_window
    found: list[Item] = []
    for chunk in _chunks(sorted({entry.title_key for entry in titled}), _CHUNK):
        found.extend(
            session.scalars(
                _ITEMS_BY_TITLE,
                {
                    "source_id": source_id,
                    "title_keys": chunk,
                    "earliest": earliest,
                    "latest": latest,
                },
            )
        )
    return found


def _chunks(values: list[_T], size: int) -> Iterable[list[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _new_item(
    entry: ParsedEntry, source_id: int, feed_id: int | None, now: datetime, origin: str
) -> Item:
    return Item(**_new_item_columns(entry, source_id, feed_id, now, origin))


def _new_item_columns(
    entry: ParsedEntry, source_id: int, feed_id: int | None, now: datetime, origin: str
) -> dict[str, Any]:
    """The columns a new item takes from its first entry."""
    return {
        "source_id": source_id,
        "feed_id": feed_id,
        "origin": origin,
        "guid": entry.guid,
        "canonical_url": entry.canonical_url,
        "fetched_at": now,
        "published_at": entry.published_at,
        "published_is_fallback": entry.published_is_fallback,
        **_entry_columns(entry, now),
    }


def _update_item(item: Item, entry: ParsedEntry, now: datetime) -> None:
    columns = _entry_columns(entry, now)
    if not entry.content_text and item.content_method == "trafilatura":
        # an article fetched in full is kept when a later copy of the entry is only a teaser
        del columns["content_html"], columns["content_text"], columns["content_method"]
    if not entry.published_is_fallback:
        columns |= {"published_at": entry.published_at, "published_is_fallback": False}
    for key, value in columns.items():
        setattr(item, key, value)


def _entry_columns(entry: ParsedEntry, now: datetime) -> dict[str, Any]:
    """The columns an entry sets on its item, new or updated."""
    return {
        "url": entry.url,
        "title": entry.title,
        "title_key": entry.title_key,
        "summary_html": entry.summary_html,
        "summary_text": entry.summary_text,
        "content_html": entry.content_html,
        "content_text": entry.content_text,
        "content_method": entry.content_method,
        "author": entry.author,
        "language": entry.language,
        "language_source": entry.language_source,
        "content_hash": entry.content_hash,
        "updated_at": now,
    }
