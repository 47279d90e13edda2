"""Optional article text: fetched for new items of feeds that ask for it, within limits."""

from datetime import UTC, datetime

from sqlalchemy import select

from monitor.config import FeedSettings
from monitor.pipeline import run_cycle
from monitor.store.feeds import add_feed
from monitor.store.models import Item
from monitor.store.session import transaction
from tests.conftest import make_settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ARTICLE = """<!doctype html><html><head><title>Security guarantees</title></head><body>
<nav>Home | Research | Events | Contact</nav>
<article><h1>What security guarantees could Ukraine get?</h1>
<p>Western capitals are debating what kind of security guarantees could be offered to Ukraine
after a ceasefire, ranging from bilateral agreements to a multinational reassurance force.</p>
<p>Analysts caution that guarantees without troops on the ground would repeat the experience of
the Budapest Memorandum, which Kyiv regards as a lesson in the limits of paper assurances.</p>
<p>The coalition of the willing has met several times to discuss the mandate and size of such a
force, and the role of a possible United States backstop remains the central open question.</p>
</article><footer>Copyright Example Institute</footer></body></html>"""


def feed_with_teaser(article_url: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Teasers</title>'
        "<item><guid>t1</guid><title>What security guarantees could Ukraine get?</title>"
        f"<link>{article_url}</link><description>A short teaser.</description>"
        "<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def _ingest(engine, feed_server, *, full_text, article_route=None, **full_text_settings):
    article_url = feed_server.url("/article")
    if article_route is not None:
        feed_server.add("/article", **article_route)
    url = feed_server.add("/teasers.xml", feed_with_teaser(article_url))
    spec = FeedSettings(
        url=url,
        publisher="Example Institute",
        source_type="think_tank",
        country="US",
        language="en",
        full_text=full_text,
    )
    with transaction(engine) as session:
        add_feed(session, spec, interval_seconds=3600)
    settings = (
        make_settings(full_text=full_text_settings) if full_text_settings else make_settings()
    )
    run_cycle(settings, engine, now=NOW, include_not_due=True)
    with transaction(engine) as session:
        return session.scalars(select(Item)).one()


def test_full_text_feed_stores_the_extracted_article_and_the_method(sqlite_engine, feed_server):
    item = _ingest(
        sqlite_engine,
        feed_server,
        full_text=True,
        article_route={"body": ARTICLE.encode(), "content_type": "text/html; charset=utf-8"},
    )
    assert item.content_method == "trafilatura"
    assert "coalition of the willing" in item.content_text
    assert "Home | Research" not in item.content_text
    assert item.summary_text == "A short teaser."


def test_feeds_without_full_text_never_request_the_article(sqlite_engine, feed_server):
    item = _ingest(
        sqlite_engine,
        feed_server,
        full_text=False,
        article_route={"body": ARTICLE.encode(), "content_type": "text/html"},
    )
    assert item.content_method == "" and item.content_text == ""
    assert feed_server.hits("/article") == 0


def test_article_over_the_size_limit_keeps_the_feed_text(sqlite_engine, feed_server):
    item = _ingest(
        sqlite_engine,
        feed_server,
        full_text=True,
        max_bytes=100,
        article_route={"body": ARTICLE.encode(), "content_type": "text/html"},
    )
    assert item.content_method == "" and item.summary_text == "A short teaser."


def test_missing_article_keeps_the_item(sqlite_engine, feed_server):
    item = _ingest(sqlite_engine, feed_server, full_text=True)  # /article answers 404
    assert item.title.startswith("What security guarantees") and item.content_method == ""


def test_an_article_in_a_charset_python_does_not_know_is_read_as_utf8(sqlite_engine, feed_server):
    item = _ingest(
        sqlite_engine,
        feed_server,
        full_text=True,
        article_route={"body": ARTICLE.encode(), "content_type": "text/html; charset=x-no-such"},
    )
    assert item.content_method == "trafilatura"
    assert "coalition of the willing" in item.content_text
