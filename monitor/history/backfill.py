"""Older items of one feed: RFC 5005 archive links, else WordPress-style pages.

A feed document that links to older documents (``prev-archive``, or ``next`` in
an RFC 5005 paged feed) is followed link by link; a feed without such links is
asked for ``?paged=2``, ``?paged=3``, … until the site says there is no such
page. Each page is stored in its own transaction together with the address of
the page after it (``Feed.backfill_next_url``), so a run that fails or stops at
``backfill.max_pages`` loses nothing and the next run starts where it stopped.
Entries go through the same per-feed ``entries`` table as a normal fetch, so a
backfilled story is never stored twice.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from sqlalchemy import Engine

from monitor.config import Settings
from monitor.errors import InputError, ParseError
from monitor.feeds.fetch import FetchRequest, HostLimiter, fetch, make_client
from monitor.feeds.parse import ParsedFeed, parse_feed
from monitor.store.feeds import find_feed
from monitor.store.items import StoreCounts, store_entries
from monitor.store.models import Feed
from monitor.store.session import transaction
from monitor.store.tags import tag_items
from monitor.tagging.tagger import Tagger
from monitor.tagging.train import load_tagger

ARCHIVE = "archive"
PAGED = "paged"
#: what a WordPress site answers for a page past the last one
_NO_SUCH_PAGE = frozenset({404, 410})


@dataclass(frozen=True)
class PageResult:
    """One stored page, for progress displays."""

    number: int
    url: str
    entries: int
    counts: StoreCounts


@dataclass
class BackfillReport:
    feed_id: int
    feed_url: str
    pages: int = 0
    items: StoreCounts = field(default_factory=StoreCounts)
    #: ARCHIVE (links between documents) or PAGED (?paged=N); "" before the first page
    method: str = ""
    #: every older page has been stored (Feed.backfill_done)
    done: bool = False
    #: the run stopped at backfill.max_pages; the next run continues from next_url
    next_url: str | None = None
    #: why a page could not be fetched or read; pages before it are kept
    error: str | None = None

    @property
    def already_stored(self) -> int:
        items = self.items
        return items.linked + items.unchanged + items.updated

    def summary(self) -> str:
        how = {ARCHIVE: "archive links", PAGED: "paged feed"}.get(self.method, "")
        line = (
            f"feed {self.feed_id}: {self.pages} page{'s' if self.pages != 1 else ''}"
            f"{f' ({how})' if how else ''}, {self.items.new} new items, "
            f"{self.already_stored} already stored"
        )
        if self.error:
            return f"{line}; stopped by an error, run again to resume"
        if self.done:
            return f"{line}; backfill complete"
        return f"{line}; stopped at backfill.max_pages, run again to continue"


@dataclass(frozen=True)
class _Start:
    feed_id: int
    source_id: int
    feed_url: str
    language: str
    url: str
    done: bool


def backfill_feed(
    settings: Settings,
    engine: Engine,
    feed_ref: str,
    *,
    restart: bool = False,
    on_page: Callable[[PageResult], None] | None = None,
) -> BackfillReport:
    """Store a feed's older pages, resuming where the last run stopped (unless `restart`)."""
    start = _load_start(engine, feed_ref, restart)
    report = BackfillReport(feed_id=start.feed_id, feed_url=start.feed_url, done=start.done)
    if start.done:
        return report
    run = _Backfill(settings, engine, start, report, on_page or (lambda _page: None))
    asyncio.run(run.run())
    return report


def _load_start(engine: Engine, feed_ref: str, restart: bool) -> _Start:
    with transaction(engine) as session:
        feed = find_feed(session, feed_ref)
        if feed is None:
            raise InputError(f"no feed with id or URL {feed_ref!r}")
        if restart:
            feed.backfill_next_url, feed.backfill_done = None, False
        return _Start(
            feed_id=feed.id,
            source_id=feed.source_id,
            feed_url=feed.url,
            language=feed.language,
            url=feed.backfill_next_url or feed.url,
            done=feed.backfill_done,
        )


class _Backfill:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        start: _Start,
        report: BackfillReport,
        on_page: Callable[[PageResult], None],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.start = start
        self.report = report
        self.on_page = on_page
        #: entry keys met in this run: a page repeating them is not a new page
        self.seen_keys: set[str] = set()
        self.visited: set[str] = set()

    @functools.cached_property
    def tagger(self) -> Tagger:
        """Loaded for the first new item: a resumed backfill with nothing new never pays for it."""
        return load_tagger(self.settings.tagging)

    async def run(self) -> None:
        fetch_settings = self.settings.fetch
        limiter = HostLimiter(fetch_settings.concurrency, fetch_settings.per_host_concurrency)
        report, start = self.report, self.start
        url = start.url
        number = page_number(url, start.feed_url)
        # a resumed run knows its method from the URL; a fresh one learns it from page 1
        report.method = "" if number == 1 else (PAGED if number else ARCHIVE)
        async with make_client(fetch_settings) as client:
            while True:
                if report.pages >= self.settings.backfill.max_pages:
                    report.next_url = url
                    return
                if report.pages:
                    await asyncio.sleep(self.settings.backfill.delay_seconds)
                parsed = await self._fetch_page(client, limiter, url)
                if parsed is None:
                    return
                if report.method == PAGED and not self._adds_something(parsed):
                    self._finish()
                    return
                if not report.method:
                    has_links = parsed.prev_archive_url or parsed.next_page_url
                    report.method = ARCHIVE if has_links else PAGED
                next_url = self._next_url(url, parsed)
                self._store_page(url, parsed, next_url)
                if next_url is None:
                    report.done = True
                    return
                url = next_url

    async def _fetch_page(
        self, client: aiohttp.ClientSession, limiter: HostLimiter, url: str
    ) -> ParsedFeed | None:
        """The parsed page, or None when the run ends here (last page or an error)."""
        self.visited.add(url)
        request = FetchRequest(self.start.feed_id, url)
        result = await fetch(client, request, self.settings.fetch, limiter)
        where = f"page {self.report.pages + 1} ({url})"
        if result.error is not None:
            if self.report.method == PAGED and result.status in _NO_SUCH_PAGE:
                self._finish()
            else:
                self.report.error = f"{where}: {result.error}"
            return None
        try:
            return parse_feed(
                result.body or b"",
                url=result.final_url,
                fetched_at=result.started_at,
                content_type=result.content_type,
                feed_language=self.start.language,
            )
        except ParseError as exc:
            self.report.error = f"{where}: {exc}"
            return None

    def _adds_something(self, parsed: ParsedFeed) -> bool:
        """False for an empty page, or one that repeats pages already seen in this run
        (a site that ignores ``paged`` serves its first page again)."""
        keys = {entry.entry_key for entry in parsed.entries}
        return bool(keys - self.seen_keys)

    def _next_url(self, url: str, parsed: ParsedFeed) -> str | None:
        if self.report.method == PAGED:
            number = page_number(url, self.start.feed_url) or 1
            return paged_url(self.start.feed_url, number + 1)
        older = parsed.prev_archive_url or parsed.next_page_url
        return None if older is None or older in self.visited else older

    def _store_page(self, url: str, parsed: ParsedFeed, next_url: str | None) -> None:
        """The page's entries and where to go next, in one transaction."""
        start = self.start
        with transaction(self.engine) as session:
            counts = store_entries(
                session,
                source_id=start.source_id,
                feed_id=start.feed_id,
                entries=parsed.entries,
                now=datetime.now(UTC),
                title_window=timedelta(days=self.settings.dedupe.title_window_days),
                origin="backfill",
            )
            if counts.changed_item_ids:
                tag_items(session, self.tagger, counts.changed_item_ids, created=counts.created)
            feed = session.get_one(Feed, start.feed_id)
            feed.backfill_next_url = next_url
            feed.backfill_done = next_url is None
        self.seen_keys.update(entry.entry_key for entry in parsed.entries)
        self.report.pages += 1
        self.report.items += counts
        self.on_page(PageResult(self.report.pages, url, len(parsed.entries), counts))

    def _finish(self) -> None:
        with transaction(self.engine) as session:
            feed = session.get_one(Feed, self.start.feed_id)
            feed.backfill_next_url, feed.backfill_done = None, True
        self.report.done = True


def paged_url(feed_url: str, number: int) -> str:
    """The feed URL asking for page `number`, WordPress style (``?paged=N``)."""
    parts = urlsplit(feed_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "paged"]
    query.append(("paged", str(number)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def page_number(url: str, feed_url: str) -> int | None:
    """1 for the feed itself, N for its ``?paged=N`` page, None for any other URL."""
    if url == feed_url:
        return 1
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    pages = [v for k, v in query if k == "paged"]
    if len(pages) != 1 or not pages[0].isdigit():
        return None
    number = int(pages[0])
    return number if paged_url(feed_url, number) == url else None
