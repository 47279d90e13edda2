"""Fetch → parse → store on both databases, against a real loopback server."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from monitor.config import FeedSettings
from monitor.pipeline import run_cycle
from monitor.store.feeds import add_feed
from monitor.store.models import Entry, Feed, FetchEvent, Item
from monitor.store.session import transaction
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

    first = cycle(engine)
    assert (first.items.new, first.feeds_ok) == (2, 1)
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
