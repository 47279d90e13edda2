"""Fetch → parse → store on both databases, against a real loopback server."""

import asyncio
import gc
import os
import platform
import signal
import time
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import psutil
import pytest
from sqlalchemy import event, func, select

from monitor import pool
from monitor.config import FeedSettings
from monitor.feeds.fetch import FetchRequest, FetchResult
from monitor.feeds.parse import parse_feed
from monitor.pipeline import _COMPANY, _READ_LINGER, _Cycle, _Read, _snapshot, _Unstored, run_cycle
from monitor.store.feeds import add_feed
from monitor.store.items import store_entries
from monitor.store.models import Entry, Feed, FetchEvent, Item, ItemScores, Tag
from monitor.store.session import transaction
from monitor.store.tags import item_input
from monitor.tagging.tagger import Tagger
from monitor.tagging.train import load_tagger
from tests.conftest import make_settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def rss(*items: tuple[str, str, str], extra: str = "") -> bytes:
    """items: (guid, title, link)"""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>{link}</link>"
        f"<description>&lt;p&gt;About {t}&lt;/p&gt;</description>"
        f"<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>"
        for g, t, link in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Test feed</title><link>https://example.org/</link>{extra}{body}"
        "</channel></rss>"
    ).encode()


def add(engine, url, publisher="Test Publisher", **kw):
    spec = FeedSettings(
        url=url, publisher=publisher, source_type="think_tank", country="US", language="en", **kw
    )
    with transaction(engine) as session:
        return add_feed(session, spec, interval_seconds=3600).id


def count(engine, model):
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def cycle(engine, now=NOW, **kw):
    return run_cycle(make_settings(), engine, now=now, include_not_due=True, **kw)


def test_items_are_stored_once_and_second_cycle_gets_304(engine, feed_server):
    url = feed_server.add(
        "/feed.xml",
        rss(
            ("a1", "NATO door", "https://example.org/a1"),
            ("a2", "Neutral status", "https://example.org/a2"),
        ),
    )
    add(engine, url)

    started = time.perf_counter()
    first = cycle(engine)
    assert (first.items.new, first.feeds_ok) == (2, 1)
    # the writer's time is counted, and within the cycle's
    assert 0 < first.writer_seconds < time.perf_counter() - started
    second = cycle(engine, now=NOW + timedelta(hours=2))
    assert (second.items.new, second.items.updated, second.feeds_unchanged) == (0, 0, 1)
    assert count(engine, Item) == 2
    # the second request carried the validators and was answered 304
    assert "If-None-Match" in feed_server.requests[-1][1]
    with transaction(engine) as session:
        outcomes = session.scalars(select(FetchEvent.outcome).order_by(FetchEvent.id)).all()
        feed = session.scalars(select(Feed)).one()
    assert outcomes == ["ok", "not_modified"]
    assert feed.verified and feed.status == "ok" and "304" in feed.status_line


def test_a_body_that_is_no_feed_stays_a_failure_unread_until_it_changes(engine, feed_server):
    page = b"<html><head><title>Moved</title></head><body><p>Gone</p></body></html>"
    with_etag = add(engine, feed_server.add("/page.html", page, content_type="text/html"))
    without = add(engine, feed_server.add("/other.html", page, conditional=False))
    first = cycle(engine)
    assert first.feeds_failed == 2
    with transaction(engine) as session:
        assert session.get_one(Feed, with_etag).etag is not None

    second = cycle(engine, now=NOW + timedelta(hours=3))
    assert (second.feeds_failed, second.feeds_ok, second.feeds_unchanged) == (2, 0, 0)
    # the request for the page that failed carried its validators
    assert "If-None-Match" in [h for path, h in feed_server.requests if path == "/page.html"][-1]
    with transaction(engine) as session:
        feeds = {f.id: f for f in session.scalars(select(Feed))}
        outcomes = session.scalars(select(FetchEvent.outcome).order_by(FetchEvent.id)).all()
    assert outcomes == ["error"] * 4
    for feed_id, again in ((with_etag, "not modified since"), (without, "the same body again")):
        feed = feeds[feed_id]
        assert feed.status_line.startswith(
            f"parse error: an HTML page, not a feed ({again}) · 2 failures in a row · "
        )
        assert (feed.status, feed.consecutive_failures, feed.failure_score) == ("error", 2, 4.0)

    # the publisher mends both: read again at once, and the failure is forgotten
    feed_server.routes["/page.html"].body = rss(("p1", "Fixed", "https://e.org/p1"))
    feed_server.routes["/other.html"].body = rss(("o1", "Fixed too", "https://e.org/o1"))
    third = cycle(engine, now=NOW + timedelta(hours=9))
    assert (third.feeds_ok, third.feeds_failed, third.items.new) == (2, 0, 2)
    with transaction(engine) as session:
        for feed in session.scalars(select(Feed)):
            assert (feed.status, feed.body_error, feed.consecutive_failures) == ("ok", None, 0)


def test_same_story_in_two_feeds_is_stored_once(engine, feed_server):
    story = ("x", "Security guarantees for Ukraine", "https://example.org/story?utm_source=rss")
    other = ("y", "Other", "https://example.org/other")
    add(engine, feed_server.add("/one.xml", rss(story)), publisher="One")
    add(
        engine,
        feed_server.add(
            "/two.xml",
            rss(("z", "Security guarantees for Ukraine", "https://www.example.org/story"), other),
        ),
        publisher="Two",
    )

    report = cycle(engine)
    assert report.items.new == 2 and report.items.linked == 1
    assert count(engine, Item) == 2
    assert count(engine, Entry) == 3


def test_changed_entry_updates_item_and_churning_body_does_not(engine, feed_server):
    url = feed_server.add("/f.xml", rss(("g", "Old title", "https://example.org/g")))
    add(engine, url)
    cycle(engine)
    # same entries, a new build date in the body: nothing to update
    feed_server.add(
        "/f.xml",
        rss(
            ("g", "Old title", "https://example.org/g"),
            extra="<lastBuildDate>Thu, 26 Nov 2026 11:00:00 GMT</lastBuildDate>",
        ),
    )
    report = cycle(engine, now=NOW + timedelta(hours=1))
    assert (report.items.new, report.items.updated) == (0, 0)
    feed_server.add("/f.xml", rss(("g", "New title", "https://example.org/g")))
    report = cycle(engine, now=NOW + timedelta(hours=2))
    assert report.items.updated == 1
    with transaction(engine) as session:
        assert session.scalars(select(Item.title)).all() == ["New title"]


def test_timestamps_come_back_utc_aware(engine, feed_server):
    add(engine, feed_server.add("/f.xml", rss(("g", "T", "https://example.org/g"))))
    cycle(engine)
    with transaction(engine) as session:
        item = session.scalars(select(Item)).one()
    assert item.published_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert item.fetched_at.tzinfo is not None and not item.published_is_fallback


class CountingTagger(Tagger):
    """Counts the items this process tags (the parse processes hold their own copies)."""

    tagged_here = 0

    def tag_many(self, items):
        CountingTagger.tagged_here += len(items)
        return super().tag_many(items)


def test_new_entries_are_tagged_ahead_in_the_pool_as_the_writer_would_tag_them(engine, feed_server):
    base = load_tagger(make_settings().tagging)
    tagger = CountingTagger(**{f.name: getattr(base, f.name) for f in fields(Tagger)})
    add(engine, feed_server.add("/f.xml", rss(
        ("n1", "Will Ukraine join NATO after the summit", "https://example.org/n1"),
        ("n2", "Neutral status talks resume in Istanbul", "https://example.org/n2"),
    )))  # fmt: skip
    CountingTagger.tagged_here = 0
    report = cycle(engine, tagger=tagger)
    assert report.items.new == 2
    assert CountingTagger.tagged_here == 0  # every new item was tagged in the pool

    with transaction(engine) as session:
        items = session.scalars(select(Item).order_by(Item.id)).all()
        applying = {(tag.item_id, tag.label) for tag in session.scalars(select(Tag))}
        stored = {
            (row.item_id, kind, label): (score, (row.item_id, label) in applying,
                                         row.tagger_version)
            for row in session.scalars(select(ItemScores))
            for kind, scores in (("topic", row.topics), ("frame", row.frames))
            for label, score in scores.items()
        }  # fmt: skip
        expected = {}
        for item, result in zip(items, base.tag_many([item_input(i) for i in items]), strict=True):
            for kind, scores, labels in (
                ("topic", result.topics, result.topic_labels),
                ("frame", result.frames, result.frame_labels),
            ):
                for label, score in scores.items():
                    expected[(item.id, kind, label)] = (
                        score, label in labels, result.tagger_version,
                    )  # fmt: skip
    assert stored == expected


class LoggingTagger(Tagger):
    """Appends the number of items of each call to `log`, from whichever process tags."""

    log = ""

    def tag_many(self, items):
        with open(self.log, "a", encoding="utf-8") as out:
            out.write(f"{len(items)}\n")
        return super().tag_many(items)


def test_a_story_carried_by_feeds_read_together_is_tagged_once(engine, feed_server, tmp_path):
    base = load_tagger(make_settings().tagging)
    tagger = LoggingTagger(**{f.name: getattr(base, f.name) for f in fields(Tagger)})
    tagger.log = str(tmp_path / "tagged.log")
    stories = rss(
        ("s1", "Will Ukraine join NATO after the summit", "https://example.org/s1"),
        ("s2", "Neutral status talks resume in Istanbul", "https://example.org/s2"),
    )
    for n in range(6):
        add(engine, feed_server.add(f"/wire{n}.xml", stories))
    # the pool is kept per tagger version: start one holding this tagger, drop it after
    pool.drop_pool()
    try:
        report = cycle(engine, tagger=tagger)
    finally:
        pool.drop_pool()
    assert (report.items.new, report.items.linked) == (2, 10)
    tagged = [int(line) for line in (tmp_path / "tagged.log").read_text().split()]
    assert sum(tagged) == 2, f"tagged in batches of {tagged}"
    assert count(engine, ItemScores) == 2


def test_a_feed_read_before_has_only_its_new_entries_tagged_ahead(engine, feed_server, tmp_path):
    base = load_tagger(make_settings().tagging)
    tagger = LoggingTagger(**{f.name: getattr(base, f.name) for f in fields(Tagger)})
    tagger.log = str(tmp_path / "tagged.log")
    known = [
        ("k1", "Will Ukraine join NATO after the summit", "https://example.org/k1"),
        ("k2", "Neutral status talks resume in Istanbul", "https://example.org/k2"),
    ]
    url = feed_server.add("/f.xml", rss(*known))
    add(engine, url)
    pool.drop_pool()
    try:
        cycle(engine, tagger=tagger)  # never read before: nothing is looked up, both tagged
        feed_server.add("/f.xml", rss(*known, ("k3", "Guarantees for Kyiv", "https://e.org/3")))
        report = cycle(engine, tagger=tagger, now=NOW + timedelta(hours=2))
    finally:
        pool.drop_pool()
    assert (report.items.new, report.items.unchanged) == (1, 2)
    tagged = [int(line) for line in (tmp_path / "tagged.log").read_text().split()]
    assert tagged == [2, 1]


def test_entries_stored_before_any_fetch_are_known_to_the_first_cycle(engine, feed_server):
    # a backfill stores a feed's entries before the cycle ever reads its body
    entries = [("b1", "Neutral status talks resume", "https://e.org/b1")]
    url = feed_server.add("/f.xml", rss(*entries))
    feed_id = add(engine, url)
    with transaction(engine) as session:
        feed = session.get_one(Feed, feed_id)
        store_entries(
            session, source_id=feed.source_id, feed_id=feed_id, now=NOW, origin="backfill",
            entries=parse_feed(rss(*entries), url=url, fetched_at=NOW).entries,
            title_window=timedelta(days=3),
        )  # fmt: skip
    feed_server.add("/f.xml", rss(("b1", "Neutral status talks resume in Vienna", entries[0][2])))
    report = cycle(engine)
    assert (report.items.new, report.items.updated) == (0, 1)
    with transaction(engine) as session:
        titles = session.scalars(select(Item.title)).all()
        assert titles == ["Neutral status talks resume in Vienna"]
        assert session.scalar(select(func.count()).select_from(Entry)) == 1


def test_feeds_with_nothing_to_read_are_recorded_together(engine, feed_server):
    urls = [
        feed_server.add(f"/{n}.xml", rss((f"g{n}", f"T{n}", f"https://e.org/{n}")))
        for n in range(6)
    ]
    urls.append(feed_server.add("/missing.xml", status=500))
    ids = [add(engine, url) for url in urls]
    cycle(engine)
    report = cycle(engine, now=NOW + timedelta(hours=2))
    assert (report.feeds_unchanged, report.feeds_failed) == (6, 1)
    with transaction(engine) as session:
        feeds = {f.id: f for f in session.scalars(select(Feed))}
        outcomes = session.scalars(select(FetchEvent.outcome).order_by(FetchEvent.id)).all()
    assert outcomes[-7:].count("not_modified") == 6 and outcomes[-7:].count("error") == 1
    assert all("304" in feeds[i].status_line and feeds[i].lease_owner is None for i in ids[:6])
    assert feeds[ids[6]].consecutive_failures == 2


def test_feeds_with_nothing_to_read_share_transactions_and_their_feed_query(engine, feed_server):
    for n in range(6):
        add(engine, feed_server.add(f"/{n}.xml", rss((f"g{n}", f"T{n}", f"https://e.org/{n}"))))
    add(engine, feed_server.add("/missing.xml", status=500))
    cycle(engine)
    commits, feed_lookups = [], []

    def on_commit(_conn):
        commits.append(1)

    def on_statement(_conn, _cursor, statement, _params, _context, _many):
        # the one-feed primary-key read a record makes when its feed is not loaded yet
        if statement.startswith("SELECT") and "FROM feeds \nWHERE feeds.id = " in statement:
            feed_lookups.append(statement)

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        report = cycle(engine, now=NOW + timedelta(hours=2))
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_statement)
    assert (report.feeds_unchanged, report.feeds_failed) == (6, 1)
    # one transaction per feed would be seven, besides the claims
    assert len(commits) < 7, f"{len(commits)} transactions"
    assert len(feed_lookups) < 7, f"{len(feed_lookups)} feeds read one at a time"


def _writer_with_ready_feeds(engine, feeds):
    """A cycle's writer, and `feeds` new feeds read and tagged, ready for it to store."""
    ids = [add(engine, f"https://e.org/{n}.xml") for n in range(feeds)]
    settings = make_settings()
    cycle = _Cycle(settings, engine, "test", None, NOW, load_tagger(settings.tagging))
    cycle.unstored = _Unstored(feeds)
    cycle.unstored.count = feeds  # all of them fetched: the writer lets each one leave
    with transaction(engine) as session:
        claimed = [_snapshot(session.get_one(Feed, feed_id), False) for feed_id in ids]
    ready = []
    for n, feed in enumerate(claimed):
        body = rss((f"g{n}", f"Story {n}", f"https://e.org/s{n}"))
        request = FetchRequest(feed.feed_id, feed.url, None, None)
        result = FetchResult(request, NOW, 0.1, feed.url, status=200, body=body)
        parsed = parse_feed(body, url=feed.url, fetched_at=NOW)
        ready.append((feed, result, _Read(body_hash=f"h{n}", parsed=parsed, tagged=True)))
    return cycle, ids, ready


def test_a_feed_ready_alone_waits_a_moment_for_another_to_share_its_transaction(engine):
    cycle, _ids, ready = _writer_with_ready_feeds(engine, 2)
    commits = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))

    async def arrive_apart():
        results = asyncio.Queue()

        def second_and_last():  # while the first one waits
            results.put_nowait(ready[1])
            results.put_nowait(None)  # the end of fetching

        results.put_nowait(ready[0])
        asyncio.get_running_loop().call_later(_READ_LINGER / 4, second_and_last)
        await cycle._store_all(None, results)

    asyncio.run(arrive_apart())
    assert (len(commits), count(engine, Item), cycle.report.feeds_ok) == (1, 2, 2)


def _store_all_within(cycle, ready, seconds):
    """Queue `ready` for the writer, and fail if it has not stored them all after `seconds`
    (it waited when it should not have); then end fetching."""

    async def store():
        results = asyncio.Queue()
        for got in ready:
            results.put_nowait(got)
        writer = asyncio.create_task(cycle._store_all(None, results))

        async def stored():
            while cycle.report.feeds_ok < len(ready):
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(stored(), seconds)
        except TimeoutError:
            writer.cancel()
            raise
        results.put_nowait(None)
        await writer

    asyncio.run(store())


def test_the_writer_waits_for_no_feed_when_every_unstored_one_has_arrived(engine, monkeypatch):
    monkeypatch.setattr("monitor.pipeline._READ_LINGER", 60.0)
    cycle, _ids, ready = _writer_with_ready_feeds(engine, 2)
    _store_all_within(cycle, ready, seconds=10)
    assert (cycle.report.feeds_ok, cycle.unstored.count) == (2, 0)


def test_the_writer_waits_for_no_more_once_a_transaction_s_worth_has_arrived(engine, monkeypatch):
    monkeypatch.setattr("monitor.pipeline._READ_LINGER", 60.0)
    cycle, _ids, ready = _writer_with_ready_feeds(engine, _COMPANY)
    cycle.unstored.count += 1  # one more on its way, not coming before the test ends
    commits = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    _store_all_within(cycle, ready, seconds=10)
    assert (len(commits), cycle.report.feeds_ok, cycle.unstored.count) == (1, _COMPANY, 1)


def test_feeds_ready_together_share_a_transaction_and_a_bad_one_fails_alone(engine):
    cycle, ids, ready = _writer_with_ready_feeds(engine, 4)
    commits = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    asyncio.run(cycle._store_together(ready[:2]))
    assert (len(commits), count(engine, Item), cycle.report.feeds_ok) == (1, 2, 2)

    # a feed removed while its body was being read: the shared transaction fails, and
    # each feed is stored again alone
    with transaction(engine) as session:
        session.delete(session.get_one(Feed, ids[3]))
    asyncio.run(cycle._store_together(ready[2:]))
    assert count(engine, Item) == 3
    assert (cycle.report.feeds_ok, cycle.report.feeds_failed) == (3, 1)
    assert cycle.report.failures == ["https://e.org/3.xml: internal error (see log)"]
    assert cycle.unstored.count == 0


def test_parse_processes_share_the_fork_servers_objects_without_collecting_them():
    # frozen in the fork server: a child's garbage collections leave those pages
    # shared instead of writing to (and so copying) every one of them
    processes = pool.parse_pool(load_tagger(make_settings().tagging))
    assert processes.submit(gc.get_freeze_count).result() > 10_000
    # eval, a builtin, so that running the check imports nothing into the child
    loaded = set(processes.submit(eval, "list(__import__('sys').modules)").result())
    assert {"monitor.pool", "monitor.cli"} <= loaded  # what each child runs, and imports again


def test_every_parse_process_is_up_before_the_first_body():
    # started one by one as bodies came, the later ones would be forked from the event loop
    pool.drop_pool()
    pool.parse_pool(load_tagger(make_settings().tagging))
    children = pool.process_ids()[:-1]  # the last is the fork server
    assert len(children) == pool.pool_size()
    assert all(psutil.Process(c).is_running() for c in children)


def test_the_worker_comes_before_its_parse_processes_for_the_cpu():
    pool.parse_pool(load_tagger(make_settings().tagging))
    children = pool.process_ids()[:-1]  # the last is the fork server
    assert all(psutil.Process(c).nice() > psutil.Process().nice() for c in children)


def test_a_parse_process_leaves_ctrl_c_to_the_worker():
    # Ctrl-C in a terminal signals the whole process group, parse processes included
    processes = pool.parse_pool(load_tagger(make_settings().tagging))
    children = pool.process_ids()[:-1]  # the last is the fork server
    for child in children:
        os.kill(child, signal.SIGINT)
    time.sleep(0.3)
    assert all(psutil.Process(c).status() != psutil.STATUS_ZOMBIE for c in children)
    assert processes.submit(int).result() == 0  # and the pool still works


def test_the_heap_a_cycle_freed_is_handed_back_after_it_even_when_it_fails(
    engine, feed_server, monkeypatch
):
    from monitor import pipeline

    if platform.libc_ver()[0] == "glibc":
        assert pipeline._malloc_trim is not None
    trims: list[int] = []
    monkeypatch.setattr(pipeline, "_malloc_trim", trims.append)
    add(engine, feed_server.add("/feed.xml", rss(("a1", "NATO door", "https://example.org/a1"))))
    cycle(engine)
    assert trims == [0]

    async def broken(self):
        raise RuntimeError("the cycle broke")

    monkeypatch.setattr(_Cycle, "run", broken)
    with pytest.raises(RuntimeError, match="the cycle broke"):
        cycle(engine, now=NOW + timedelta(hours=2))
    assert trims == [0, 0]
