"""`monitor backfill`: older pages of a feed, resumable, against a real loopback server."""

import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.cli import cli
from monitor.config import FeedSettings
from monitor.errors import InputError
from monitor.history.backfill import ARCHIVE, PAGED, backfill_feed, page_number, paged_url
from monitor.pipeline import run_cycle
from monitor.store.feeds import add_feed
from monitor.store.models import Entry, Feed, Item
from monitor.store.session import transaction
from tests.conftest import make_settings

FAST = {"delay_seconds": 0.01}


def atom(*numbers: int, prev: str | None = None, archive: bool = False) -> bytes:
    """An Atom document with one entry per number, linking to an older archive."""
    links = f'<link rel="prev-archive" href="{prev}"/>' if prev else ""
    entries = "".join(
        f"<entry><id>urn:story:{n}</id><title>Archived story number {n}</title>"
        f'<link href="https://example.org/story/{n}"/>'
        f"<updated>2025-01-{n:02d}T10:00:00Z</updated><summary>About story {n}.</summary></entry>"
        for n in numbers
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:fh="http://purl.org/syndication/history/1.0">'
        f"<title>Archive test</title><id>urn:feed</id><updated>2025-02-01T00:00:00Z</updated>"
        f"{'<fh:archive/>' if archive else ''}{links}{entries}</feed>"
    ).encode()


def rss(*numbers: int) -> bytes:
    items = "".join(
        f"<item><guid>urn:post:{n}</guid><title>Blog post number {n}</title>"
        f"<link>https://blog.example.org/{n}</link>"
        f"<pubDate>Mon, {n:02d} Dec 2024 10:00:00 GMT</pubDate></item>"
        for n in numbers
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Blog</title><link>https://blog.example.org/</link>{items}</channel></rss>"
    ).encode()


def archive_chain(server) -> str:
    """A subscription document and two archive documents (RFC 5005), newest first."""
    oldest = server.add("/archive/1.xml", atom(1, 2, archive=True))
    middle = server.add("/archive/2.xml", atom(3, 4, prev=oldest, archive=True))
    return server.add("/feed.xml", atom(5, 6, prev=middle))


def add(engine, url, publisher="Archive Publisher"):
    spec = FeedSettings(
        url=url, publisher=publisher, source_type="think_tank", country="US", language="en"
    )
    with transaction(engine) as session:
        return add_feed(session, spec, interval_seconds=3600).id


def count(engine, model=Item, *where):
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def feed_state(engine, feed_id):
    with transaction(engine) as session:
        feed = session.get_one(Feed, feed_id)
        return feed.backfill_next_url, feed.backfill_done


def backfill(engine, feed_ref, **backfill_settings):
    settings = make_settings(backfill={**FAST, **backfill_settings})
    return backfill_feed(settings, engine, str(feed_ref))


def test_archive_chain_is_followed_to_the_oldest_page(engine, feed_server):
    feed_id = add(engine, archive_chain(feed_server))
    report = backfill(engine, feed_id)

    assert (report.pages, report.items.new, report.already_stored) == (3, 6, 0)
    assert (report.method, report.done, report.error) == (ARCHIVE, True, None)
    assert feed_state(engine, feed_id) == (None, True)
    assert count(engine, Item, Item.origin == "backfill", Item.feed_id == feed_id) == 6
    assert count(engine, Entry, Entry.feed_id == feed_id) == 6


def test_wordpress_paged_feed_is_read_until_the_site_has_no_such_page(engine, feed_server):
    url = feed_server.add("/wp/feed", rss(9, 8))
    feed_server.add("/wp/feed?paged=2", rss(7, 6))
    feed_server.add("/wp/feed?paged=3", rss(5))
    feed_server.add("/wp/feed?paged=4", b"no such page", status=404)
    feed_id = add(engine, url)

    report = backfill(engine, url)

    assert (report.pages, report.items.new, report.method, report.done) == (3, 5, PAGED, True)
    assert feed_server.hits("/wp/feed?paged=4") == 1
    assert feed_state(engine, feed_id) == (None, True)


@pytest.mark.parametrize(
    "last_page",
    [
        {"body": b"gone", "status": 410},
        {"body": rss()},  # a page with no entries
        {"body": rss(7, 6)},  # the page before, again: nothing new
    ],
    ids=["gone", "empty", "repeat"],
)
def test_paged_feed_ends_at_a_gone_empty_or_repeated_page(sqlite_engine, feed_server, last_page):
    url = feed_server.add("/wp/feed", rss(9, 8))
    feed_server.add("/wp/feed?paged=2", rss(7, 6))
    feed_server.add("/wp/feed?paged=3", **last_page)
    feed_id = add(sqlite_engine, url)

    report = backfill(sqlite_engine, feed_id)

    assert (report.pages, report.items.new, report.done) == (2, 4, True)
    assert feed_server.hits("/wp/feed?paged=4") == 0
    assert feed_state(sqlite_engine, feed_id) == (None, True)


def test_site_that_ignores_paged_is_read_once(sqlite_engine, feed_server):
    url = feed_server.add("/blog/feed", rss(2, 1))  # every ?paged=N answers with this page
    feed_id = add(sqlite_engine, url)
    report = backfill(sqlite_engine, feed_id)
    assert (report.pages, report.items.new, report.done) == (1, 2, True)
    assert feed_server.hits("/blog/feed?paged=3") == 0


def test_interrupted_backfill_resumes_at_the_failed_page(engine, feed_server):
    url = archive_chain(feed_server)
    middle = feed_server.url("/archive/2.xml")
    healthy = feed_server.routes["/archive/2.xml"]
    feed_server.add("/archive/2.xml", b"down", status=500)
    feed_id = add(engine, url)

    first = backfill(engine, feed_id)
    assert first.pages == 1
    assert first.error is not None and "HTTP 500" in first.error
    assert first.done is False
    assert feed_state(engine, feed_id) == (middle, False)
    assert count(engine) == 2

    feed_server.routes["/archive/2.xml"] = healthy
    second = backfill(engine, feed_id)
    assert (second.pages, second.items.new, second.done, second.error) == (2, 4, True, None)
    assert feed_server.hits("/feed.xml") == 1  # resumed, not restarted
    assert count(engine) == 6


def test_max_pages_stops_a_run_and_the_next_run_continues(engine, feed_server):
    feed_id = add(engine, archive_chain(feed_server))
    oldest = feed_server.url("/archive/1.xml")

    first = backfill(engine, feed_id, max_pages=2)
    assert (first.pages, first.done, first.next_url) == (2, False, oldest)
    assert "run again to continue" in first.summary()
    assert feed_state(engine, feed_id) == (oldest, False)

    second = backfill(engine, feed_id, max_pages=2)
    assert (second.pages, second.items.new, second.done) == (1, 2, True)
    assert feed_server.hits("/feed.xml") == 1


def test_paged_backfill_resumes_at_the_stored_page_number(sqlite_engine, feed_server):
    url = feed_server.add("/wp/feed", rss(9, 8))
    feed_server.add("/wp/feed?paged=2", rss(7, 6))
    feed_server.add("/wp/feed?paged=3", rss(5))
    feed_server.add("/wp/feed?paged=4", b"", status=404)
    feed_id = add(sqlite_engine, url)

    first = backfill(sqlite_engine, feed_id, max_pages=2)
    assert feed_state(sqlite_engine, feed_id) == (url + "?paged=3", False)
    second = backfill(sqlite_engine, feed_id, max_pages=2)
    assert (first.pages, second.pages, second.method, second.done) == (2, 1, PAGED, True)
    assert first.items.new + second.items.new == 5


def test_items_already_fetched_are_not_stored_again(engine, feed_server):
    url = archive_chain(feed_server)
    feed_id = add(engine, url)
    # another feed carried story 1 before; the backfill links it instead of copying it
    other = feed_server.add("/other.xml", atom(1))
    add(engine, other, publisher="Another Publisher")
    cycle = run_cycle(make_settings(), engine, include_not_due=True)
    assert cycle.items.new == 3  # stories 5 and 6 from the feed, story 1 from the other

    report = backfill(engine, feed_id)

    assert (report.items.new, report.already_stored) == (3, 3)
    assert count(engine) == 6
    assert count(engine, Entry, Entry.feed_id == feed_id) == 6


def test_finished_backfill_fetches_nothing_until_restarted(engine, feed_server):
    feed_id = add(engine, archive_chain(feed_server))
    backfill(engine, feed_id)
    requests = len(feed_server.requests)

    again = backfill(engine, feed_id)
    assert (again.pages, again.done) == (0, True)
    assert len(feed_server.requests) == requests

    settings = make_settings(backfill=FAST)
    restarted = backfill_feed(settings, engine, str(feed_id), restart=True)
    assert (restarted.pages, restarted.items.new, restarted.already_stored) == (3, 0, 6)
    assert count(engine) == 6


def test_pages_are_spaced_by_the_configured_delay(sqlite_engine, feed_server):
    feed_id = add(sqlite_engine, archive_chain(feed_server))
    started = time.monotonic()
    backfill(sqlite_engine, feed_id, delay_seconds=0.25)
    assert time.monotonic() - started >= 0.5  # two pauses between three pages


def test_unknown_feed_is_an_input_error(sqlite_engine):
    with pytest.raises(InputError, match="no feed with id or URL '42'"):
        backfill(sqlite_engine, 42)


def test_paged_urls_keep_the_feed_query():
    assert paged_url("https://blog.example.org/?feed=rss2", 2) == (
        "https://blog.example.org/?feed=rss2&paged=2"
    )
    feed = "https://blog.example.org/feed/"
    assert page_number(feed, feed) == 1
    assert page_number(paged_url(feed, 7), feed) == 7
    assert page_number("https://blog.example.org/archive/2024.xml", feed) is None


# ---- the command -------------------------------------------------------------


def invoke(engine, tmp_path, *args):
    url = engine.url.render_as_string(hide_password=False)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n\n[backfill]\ndelay_seconds = 0.01\n')
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_cli_backfill_prints_a_summary_and_exits_0(engine, feed_server, tmp_path):
    feed_id = add(engine, archive_chain(feed_server))
    result = invoke(engine, tmp_path, "backfill", str(feed_id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"feed {feed_id}: 3 pages (archive links), 6 new items, 0 already stored; backfill complete"
    )
    again = invoke(engine, tmp_path, "backfill", str(feed_id))
    assert "already complete" in again.stdout


def test_cli_backfill_fetch_failure_is_one_line_exit_1_and_progress_kept(
    engine, feed_server, tmp_path
):
    url = archive_chain(feed_server)
    feed_server.add("/archive/2.xml", b"down", status=500)
    feed_id = add(engine, url)

    result = invoke(engine, tmp_path, "backfill", url)

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"monitor: error: backfill of feed {feed_id} stopped at page 2")
    assert "HTTP 500" in result.stderr
    assert "Traceback" not in result.output
    assert "1 page (archive links), 2 new items" in result.stdout
    assert feed_state(engine, feed_id) == (feed_server.url("/archive/2.xml"), False)


def test_cli_backfill_of_an_unknown_feed_exits_2(sqlite_engine, tmp_path):
    result = invoke(sqlite_engine, tmp_path, "backfill", "https://nowhere.example.org/feed")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "monitor: error: no feed with id or URL 'https://nowhere.example.org/feed'"
    )
