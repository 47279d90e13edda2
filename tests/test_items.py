"""Storing a feed's entries as one batch: exactly once, with the same dedupe rules as one by one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, event, func, insert, select
from sqlalchemy.exc import OperationalError

from monitor.config import FeedSettings
from monitor.feeds.parse import ParsedEntry
from monitor.store import items as items_module
from monitor.store.feeds import add_feed
from monitor.store.items import StoreCounts, store_entries
from monitor.store.models import Entry, Item, Source
from monitor.store.session import make_engine, transaction, upgrade

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=3)
LONG_TITLE = "Security guarantees for Ukraine discussed"


@dataclass(frozen=True)
class FeedRef:
    feed_id: int
    source_id: int


def add(engine: Engine, name: str, publisher: str) -> FeedRef:
    spec = FeedSettings(
        url=f"https://{name}.example.org/feed.xml",
        publisher=publisher,
        source_type="think_tank",
        country="US",
        language="en",
    )
    with transaction(engine) as session:
        feed = add_feed(session, spec, interval_seconds=3600)
        return FeedRef(feed.id, feed.source_id)


def entry(
    key: str,
    title: str = LONG_TITLE,
    url: str | None = None,
    *,
    summary: str = "",
    published: datetime = NOW - timedelta(hours=2),
    content_hash: str = "h1",
    content_text: str = "",
    content_method: str = "",
) -> ParsedEntry:
    return ParsedEntry(
        entry_key=key,
        guid=key,
        url=url,
        canonical_url=url,
        title=title,
        title_key=title.casefold(),
        summary_html=f"<p>{summary}</p>" if summary else "",
        summary_text=summary,
        content_html=f"<p>{content_text}</p>" if content_text else "",
        content_text=content_text,
        author="",
        language="en",
        language_source="feed",
        published_at=published,
        published_is_fallback=False,
        content_hash=content_hash,
        content_method=content_method,
    )


def store(
    engine: Engine,
    feed: FeedRef,
    entries: list[ParsedEntry],
    *,
    now: datetime = NOW,
    imported: bool = False,
    origin: str = "feed",
) -> StoreCounts:
    with transaction(engine) as session:
        return store_entries(
            session,
            source_id=feed.source_id,
            feed_id=None if imported else feed.feed_id,
            entries=entries,
            now=now,
            title_window=WINDOW,
            origin=origin,
        )


def counted(counts: StoreCounts) -> tuple[int, int, int, int]:
    return counts.new, counts.updated, counts.linked, counts.unchanged


def items(engine: Engine) -> list[Item]:
    with transaction(engine) as session:
        return list(session.scalars(select(Item).order_by(Item.id)))


def matched(engine: Engine) -> dict[str, tuple[str, int]]:
    with transaction(engine) as session:
        rows = session.execute(select(Entry.entry_key, Entry.matched_by, Entry.item_id))
        return {key: (how, item_id) for key, how, item_id in rows}


# ---- within one batch --------------------------------------------------------


def test_two_entries_of_a_batch_with_one_canonical_url_are_one_item(engine):
    feed = add(engine, "a", "A")
    counts = store(
        engine,
        feed,
        [
            entry("1", "First copy", "https://a.example.org/s"),
            entry("2", "Second copy", "https://a.example.org/s"),
        ],
    )
    assert counted(counts) == (1, 0, 1, 0)
    [item] = items(engine)
    assert item.title == "First copy"
    assert matched(engine) == {"1": ("new", item.id), "2": ("url", item.id)}


def test_two_entries_of_a_batch_with_one_long_title_are_one_item(engine):
    feed = add(engine, "a", "A")
    counts = store(
        engine,
        feed,
        [
            entry("1", url="https://a.example.org/1", summary="Talks in Geneva"),
            entry("2", url="https://a.example.org/2", summary="talks in geneva"),
            entry("3", url="https://a.example.org/3", summary="Something else entirely"),
        ],
    )
    assert counted(counts) == (2, 0, 1, 0)
    first, third = items(engine)
    assert matched(engine) == {
        "1": ("new", first.id),
        "2": ("title", first.id),
        "3": ("new", third.id),
    }


def test_a_stored_story_is_matched_by_title_before_one_made_earlier_in_the_batch(engine):
    feed = add(engine, "a", "A")
    store(engine, feed, [entry("old", url="https://a.example.org/old", summary="Talks in Geneva")])
    store(
        engine,
        feed,
        [
            entry("new", url="https://a.example.org/new", summary="Something else entirely"),
            # no summary: the title alone could match either, and find_duplicate takes the
            # stored one, oldest first
            entry("again", url="https://a.example.org/again"),
        ],
    )
    stored, made = items(engine)
    assert matched(engine) == {
        "old": ("new", stored.id),
        "new": ("new", made.id),
        "again": ("title", stored.id),
    }


def test_copies_within_a_batch_are_linked_by_the_batch_itself(engine, monkeypatch):
    # one entry at a time is the way out of a conflict with another worker, not of this
    def refused(*args: object) -> None:
        raise AssertionError("stored one entry at a time")

    monkeypatch.setattr(items_module, "_store_one_by_one", refused)
    feed = add(engine, "a", "A")
    counts = store(
        engine,
        feed,
        [
            entry("1", url="https://a.example.org/1", summary="Talks in Geneva"),
            entry("2", url="https://a.example.org/2"),
            entry("3", "Another story", "https://a.example.org/1"),
        ],
    )
    assert counted(counts) == (1, 0, 2, 0)


def test_a_repeated_entry_key_in_one_batch_counts_once_and_the_first_copy_wins(engine):
    feed = add(engine, "a", "A")
    counts = store(engine, feed, [entry("1", "First"), entry("1", "Later copy")])
    assert counted(counts) == (1, 0, 0, 0)
    assert [item.title for item in items(engine)] == ["First"]


def test_a_batch_larger_than_one_lookup_chunk_is_stored_once(engine):
    feed = add(engine, "a", "A")
    batch = [
        entry(f"k{n}", f"Story number {n} about the summit", f"https://a.example.org/{n % 700}")
        for n in range(1200)
    ]
    counts = store(engine, feed, batch)
    assert counted(counts) == (700, 0, 500, 0)
    again = store(engine, feed, batch, now=NOW + timedelta(hours=1))
    assert counted(again) == (0, 0, 0, 1200)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 700
        assert session.scalar(select(func.count()).select_from(Entry)) == 1200


def test_lookups_per_batch_do_not_grow_with_the_batch(engine):
    feed = add(engine, "a", "A")
    selects: list[int] = []

    def count_selects(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            selects[-1] += 1

    event.listen(engine, "before_cursor_execute", count_selects)
    try:
        for size in (2, 60):
            selects.append(0)
            store(
                engine,
                feed,
                [
                    entry(f"{size}-{n}", f"Story {size} number {n} today", f"https://x/{size}/{n}")
                    for n in range(size)
                ],
            )
    finally:
        event.remove(engine, "before_cursor_execute", count_selects)
    # the feed's known entries, items by canonical URL, items by title; on SQLite also
    # the last item id (the new items' ids follow it)
    expected = 4 if engine.dialect.name == "sqlite" else 3
    assert selects == [expected, expected]


# ---- across feeds and calls --------------------------------------------------


def test_a_story_from_another_feed_is_linked_by_canonical_url_and_left_alone(engine):
    one, two = add(engine, "one", "One"), add(engine, "two", "Two")
    store(engine, one, [entry("x", "Original headline", "https://news.example.org/s")])
    counts = store(engine, two, [entry("y", "Syndicated headline", "https://news.example.org/s")])
    assert counted(counts) == (0, 0, 1, 0) and counts.changed_item_ids == []
    [item] = items(engine)
    assert (item.title, item.feed_id) == ("Original headline", one.feed_id)
    assert matched(engine)["y"] == ("url", item.id)


def test_matching_reads_no_stored_story_s_long_texts(engine):
    """A story carried by many feeds is looked up by each: by URL and by title, the
    lookups fetch what matching compares, not the story's markup and full text."""
    one, two = add(engine, "one", "One"), add(engine, "two", "One")  # one source
    story = entry("x", url="https://news.example.org/s", summary="Talks", content_text="Long")
    store(engine, one, [story])
    statements: list[str] = []

    def lookups(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM items" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", lookups)
    try:
        counts = store(engine, two, [replace(story, entry_key="y"), entry("z", summary="Talks")])
    finally:
        event.remove(engine, "before_cursor_execute", lookups)
    assert counted(counts) == (0, 0, 2, 0)  # one by URL, one by title
    assert len(statements) == 2
    assert not [s for s in statements if "content_text" in s or "_html" in s]


#: (case, title, summary of the second copy, its date, same source?, linked?)
TITLE_CASES = [
    ("same title", LONG_TITLE, "Talks in Geneva", NOW - timedelta(days=1), True, True),
    ("empty summary", LONG_TITLE, "", NOW - timedelta(days=1), True, True),
    ("four words", "Press briefing on Tuesday", "talks in geneva", NOW, True, True),
    ("three words", "Press briefing today", "Talks in Geneva", NOW, True, False),
    ("other summary", LONG_TITLE, "Another story", NOW - timedelta(days=1), True, False),
    ("outside window", LONG_TITLE, "Talks in Geneva", NOW + timedelta(days=4), True, False),
    ("other source", LONG_TITLE, "Talks in Geneva", NOW - timedelta(days=1), False, False),
]


def test_title_link_needs_same_source_four_words_compatible_summary_and_the_window(engine):
    # the first copy is dated NOW - 2h; the window is three days either side
    for case, title, summary, published, same_source, linked in TITLE_CASES:
        slug = case.replace(" ", "-")
        first = add(engine, f"{slug}-1", f"Publisher {case}")
        second = add(engine, f"{slug}-2", f"{'Publisher' if same_source else 'Other'} {case}")
        store(
            engine,
            first,
            [entry(f"{slug}-a", title, f"https://x.org/{slug}/a", summary="Talks in Geneva")],
        )
        later = entry(
            f"{slug}-b", title, f"https://x.org/{slug}/b", summary=summary, published=published
        )
        counts = store(engine, second, [later])
        assert (counts.linked, counts.new) == ((1, 0) if linked else (0, 1)), case
        assert matched(engine)[f"{slug}-b"][0] == ("title" if linked else "new"), case


def test_a_story_updated_earlier_in_the_batch_is_matched_by_its_new_title(engine):
    feed = add(engine, "a", "A")
    store(engine, feed, [entry("old", "Draft headline", "https://a.example.org/old")])
    counts = store(
        engine,
        feed,
        [
            entry("old", LONG_TITLE, "https://a.example.org/old", content_hash="h2"),
            entry("new", LONG_TITLE, "https://a.example.org/new"),
        ],
    )
    assert counted(counts) == (0, 1, 1, 0)
    [item] = items(engine)
    assert matched(engine)["new"] == ("title", item.id)


# ---- updates -------------------------------------------------------------------


def test_only_the_feed_that_brought_a_story_updates_it(engine):
    owner, other = add(engine, "owner", "Owner"), add(engine, "other", "Other")
    url = "https://news.example.org/s"
    store(engine, owner, [entry("o", "Original", url)])
    store(engine, other, [entry("c", "Copy", url)])

    counts = store(engine, other, [entry("c", "Copy, edited", url, content_hash="h2")])
    assert counted(counts) == (0, 0, 0, 1) and counts.changed_item_ids == []
    assert items(engine)[0].title == "Original"

    later = NOW + timedelta(hours=1)
    counts = store(
        engine, owner, [entry("o", "Original, edited", url, content_hash="h2")], now=later
    )
    [item] = items(engine)
    assert counted(counts) == (0, 1, 0, 0) and counts.changed_item_ids == [item.id]
    assert (item.title, item.updated_at) == ("Original, edited", later)


def test_an_unchanged_entry_only_moves_last_seen(engine):
    feed = add(engine, "a", "A")
    store(engine, feed, [entry("1", "Title", "https://a.example.org/1")])
    later = NOW + timedelta(hours=5)
    counts = store(engine, feed, [entry("1", "Title", "https://a.example.org/1")], now=later)
    assert counted(counts) == (0, 0, 0, 1) and counts.changed_item_ids == []
    [item] = items(engine)
    with transaction(engine) as session:
        seen = session.scalars(select(Entry)).one()
    assert (item.updated_at, seen.first_seen_at, seen.last_seen_at) == (NOW, NOW, later)


def test_full_text_is_kept_when_a_later_copy_is_a_teaser(engine):
    feed = add(engine, "a", "A")
    url = "https://a.example.org/1"
    full = entry("1", "Title", url, content_text="The whole article.", content_method="trafilatura")
    store(engine, feed, [full])
    teaser = entry("1", "Title", url, summary="Teaser", content_hash="h2")
    assert store(engine, feed, [teaser]).updated == 1
    [item] = items(engine)
    assert (item.summary_text, item.content_text, item.content_method) == (
        "Teaser",
        "The whole article.",
        "trafilatura",
    )


def test_changed_item_ids_hold_created_and_updated_items_but_not_linked_or_unchanged(engine):
    feed, other = add(engine, "a", "A"), add(engine, "b", "B")
    store(engine, other, [entry("o", "Elsewhere first", "https://b.example.org/o")])
    store(
        engine,
        feed,
        [
            entry("edit", "To be edited", "https://a.example.org/e"),
            entry("same", "Same", "https://a.example.org/s"),
        ],
    )
    counts = store(
        engine,
        feed,
        [
            entry("edit", "Edited", "https://a.example.org/e", content_hash="h2"),
            entry("same", "Same", "https://a.example.org/s"),
            entry("link", "Copy", "https://b.example.org/o"),
            entry("fresh", "Fresh", "https://a.example.org/f"),
        ],
    )
    assert counted(counts) == (1, 1, 1, 1)
    by_title = {item.title: item.id for item in items(engine)}
    assert counts.changed_item_ids == [by_title["Edited"], by_title["Fresh"]]

    total = StoreCounts(new=1, changed_item_ids=[99])
    total += counts
    assert (total.new, total.changed_item_ids) == (2, [99, by_title["Edited"], by_title["Fresh"]])


def test_imported_entries_get_their_origin_and_no_entry_rows(engine):
    feed = add(engine, "a", "A")
    counts = store(
        engine,
        feed,
        [entry("r1", "Imported", "https://a.example.org/i")],
        imported=True,
        origin="import",
    )
    [item] = items(engine)
    assert counted(counts) == (1, 0, 0, 0) and counts.changed_item_ids == [item.id]
    assert (item.origin, item.feed_id) == ("import", None)
    assert matched(engine) == {}


# ---- another worker storing the same story at the same moment ------------------


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@contextmanager
def another_worker_stores_first(
    engine: Engine, feed: FeedRef, url: str, *, with_entry: str | None = None
) -> Iterator[None]:
    """Just before our batch inserts its items, a second connection stores a story with
    `url` (and, given `with_entry`, the feed's entry with that key for it) and commits."""
    fired = False

    def competing_rows(conn, cursor, statement, *args):
        nonlocal fired
        if fired or not statement.lstrip().upper().startswith("INSERT INTO ITEMS"):
            return
        fired = True
        other = create_engine(engine.url)
        with other.begin() as writer:
            item_id = writer.scalar(
                insert(Item)
                .values(
                    source_id=feed.source_id,
                    feed_id=feed.feed_id,
                    canonical_url=url,
                    url=url,
                    title="Stored by another worker",
                    published_at=NOW,
                    content_hash="other",
                )
                .returning(Item.id)
            )
            if with_entry is not None:
                writer.execute(
                    insert(Entry).values(
                        feed_id=feed.feed_id,
                        entry_key=with_entry,
                        item_id=item_id,
                        matched_by="new",
                        content_hash="other",
                        first_seen_at=NOW,
                        last_seen_at=NOW,
                    )
                )
        other.dispose()

    event.listen(engine, "before_cursor_execute", competing_rows)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", competing_rows)
    assert fired, "the batch never inserted an item"


def test_a_story_another_worker_stored_meanwhile_is_linked_not_stored_twice(pg_engine):
    engine = pg_engine
    feed = add(engine, "a", "A")
    store(engine, feed, [entry("k0", "Earlier", "https://a.example.org/0")])
    batch = [
        entry("k0", "Earlier, edited", "https://a.example.org/0", content_hash="h2"),
        entry("k1", "Mine", "https://a.example.org/1"),
        entry("k2", "Theirs too", "https://a.example.org/2"),
        entry("k3", "Theirs again", "https://a.example.org/2"),
    ]
    with another_worker_stores_first(engine, feed, "https://a.example.org/2"):
        counts = store(engine, feed, batch)

    assert counted(counts) == (1, 1, 2, 0)
    by_title = {item.title: item.id for item in items(engine)}
    assert set(by_title) == {"Earlier, edited", "Mine", "Stored by another worker"}
    assert counts.changed_item_ids == [by_title["Earlier, edited"], by_title["Mine"]]
    theirs = by_title["Stored by another worker"]
    assert matched(engine) == {
        "k0": ("new", by_title["Earlier, edited"]),
        "k1": ("new", by_title["Mine"]),
        "k2": ("url", theirs),
        "k3": ("url", theirs),
    }


def test_an_entry_another_worker_stored_meanwhile_is_not_stored_twice(pg_engine):
    engine = pg_engine
    feed = add(engine, "a", "A")
    batch = [
        entry("k1", "Mine", "https://a.example.org/1"),
        entry("k2", "Theirs", "https://a.example.org/2"),
    ]
    with another_worker_stores_first(engine, feed, "https://a.example.org/2", with_entry="k2"):
        counts = store(engine, feed, batch)

    assert counted(counts) == (1, 0, 0, 1)
    by_title = {item.title: item.id for item in items(engine)}
    assert set(by_title) == {"Mine", "Stored by another worker"}
    assert matched(engine) == {
        "k1": ("new", by_title["Mine"]),
        "k2": ("new", by_title["Stored by another worker"]),
    }


def test_on_sqlite_no_other_writer_gets_between_the_lookups_and_the_insert(tmp_path):
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = make_engine(url)
    upgrade(engine)
    feed = add(engine, "a", "A")
    other = make_engine(url, busy_timeout=0.2)
    refused: list[str] = []

    def try_to_write(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO ITEMS") and not refused:
            try:
                with transaction(other) as session:
                    session.add(Source(name="Other writer", source_type="media", country=""))
            except OperationalError as exc:
                refused.append(str(exc.orig))

    event.listen(engine, "before_cursor_execute", try_to_write)
    try:
        counts = store(engine, feed, [entry("k1", "Mine", "https://a.example.org/1")])
    finally:
        event.remove(engine, "before_cursor_execute", try_to_write)
        other.dispose()
        engine.dispose()
    assert counts.new == 1
    assert refused and "locked" in refused[0]
