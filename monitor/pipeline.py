"""One fetch cycle: claim due feeds → fetch → parse → normalise → dedupe → store.

Fetches run concurrently on an event loop; bodies are parsed, and the entries
new to their feed tagged, in a pool of processes; each feed's result is then
stored whole in one transaction (items, tags, feed state, fetch event and lease
release together), so a worker killed mid-cycle leaves no half-written feed
behind, and its leases simply expire. Feeds ready to store at the same moment
share a transaction (one commit for several); if it fails, each is stored again
alone, so one bad feed fails alone. Asked to stop, a cycle finishes and stores
the feeds it is fetching and hands back the leases of those it has not started.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor import pool
from monitor.alerts.cycle import alert_new_items
from monitor.config import Settings
from monitor.errors import ParseError
from monitor.feeds.decide import (
    FeedState,
    FeedUpdate,
    clamp_interval,
    decide_failure,
    decide_success,
    publisher_interval,
)
from monitor.feeds.fetch import FetchRequest, FetchResult, HostLimiter, fetch, make_client
from monitor.feeds.fulltext import fetch_full_texts
from monitor.feeds.parse import ParsedEntry, ParsedFeed
from monitor.store.feeds import claim_due_feeds, record_fetch, release_leases
from monitor.store.items import StoreCounts, feeds_with_entries, known_entry_keys, store_entries
from monitor.store.models import Feed
from monitor.store.session import in_transaction, transaction
from monitor.store.tags import tag_items
from monitor.tagging.tagger import Tagger, TagInput, TagResult
from monitor.tagging.train import load_tagger

log = logging.getLogger(__name__)


#: seconds the writer waits at most for more unread feeds to record with the first
_UNREAD_LINGER = 0.05
#: and for more feeds to store with one read and tagged. A first cycle of the benchmark's
#: 500 feeds at 100 ms latency stored in about 265 transactions with a fixed 10 ms wait,
#: in about 93 with this one, and its worker spent 3.4 s of CPU instead of 4.0 s
_READ_LINGER = 0.1
#: feeds enough to share a transaction: the writer waits for no more
_COMPANY = 10
#: how often the waiting writer looks again
_LINGER_STEP = 0.01


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class CycleReport:
    feeds_ok: int = 0
    feeds_unchanged: int = 0
    feeds_failed: int = 0
    items: StoreCounts = field(default_factory=StoreCounts)
    failures: list[str] = field(default_factory=list)
    #: wall time the writer spent on the feeds it was handed (reading what storing needs,
    #: storing): near the cycle's own time, the store is what bounds the cycle
    writer_seconds: float = 0.0

    @property
    def feeds_checked(self) -> int:
        return self.feeds_ok + self.feeds_unchanged + self.feeds_failed

    def summary(self) -> str:
        return (
            f"{self.feeds_checked} feeds checked: {self.feeds_ok} ok, "
            f"{self.feeds_unchanged} unchanged, {self.feeds_failed} failed; "
            f"items: {self.items.new} new, {self.items.updated} updated, "
            f"{self.items.linked} already stored from another feed"
        )


@dataclass
class _Claimed:
    feed_id: int
    source_id: int
    url: str
    language: str
    full_text: bool
    state: FeedState
    etag: str | None
    last_modified: str | None
    #: an entry of the feed was stored when it was claimed: else none is looked up
    has_entries: bool


def run_cycle(
    settings: Settings,
    engine: Engine,
    *,
    worker: str | None = None,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    include_not_due: bool = False,
    tagger: Tagger | None = None,
) -> CycleReport:
    """Fetch every due feed once (in batches), store what changed and tag it.

    With `include_not_due`, every enabled feed is fetched now, whatever its schedule.
    A long-running worker passes its `tagger` so the model is loaded once.
    """
    tagger = tagger or load_tagger(settings.tagging)
    cycle = _Cycle(settings, engine, worker or worker_name(), stop, now, tagger)
    cycle.include_not_due = include_not_due
    pool.parse_pool(tagger)  # started (once per process) before the cycle's event loop
    try:
        return asyncio.run(cycle.run())
    finally:
        _release_freed_memory()


def _release_freed_memory() -> None:
    """Hand the heap a cycle freed back to the system (glibc's malloc_trim; elsewhere nothing).

    A cycle's threads (the event loop's executor, new each cycle) allocate from
    malloc arenas of their own, where freed memory stays: between cycles of 500
    feeds the worker held 105–117 MiB without this, 85–89 MiB with it.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:  # the symbols the process has loaded: the C library's among them
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError, TypeError):  # not glibc, or no such loading
        return None


_malloc_trim = _find_malloc_trim()


class _Cycle:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        worker: str,
        stop: threading.Event | None,
        now: datetime | None,
        tagger: Tagger,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.worker = worker
        self.stop = stop or threading.Event()
        self.fixed_now = now
        self.started_at = self.now()
        self.include_not_due = False
        self.background: set[asyncio.Task[None]] = set()
        self.tagger = tagger
        #: tags computed ahead in the pool, by a digest of what was tagged; kept for the
        #: cycle, so a story carried by several feeds is tagged once
        self.tagged_ahead: dict[bytes, TagResult] = {}
        #: entries being tagged in the pool, by digest: a copy in another feed waits for them
        self.tagging: dict[bytes, asyncio.Future[list[TagResult]]] = {}
        self.tagging_ahead = 0
        self.report = CycleReport()

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)

    async def run(self) -> CycleReport:
        """Claim, fetch and store until nothing is due or a stop is asked for.

        Fetches flow without a pause between batches: the next batch is claimed
        as soon as fewer feeds wait for a slot than there are slots, so the
        connection slots stay busy. One writer stores results in arrival order.
        """
        fetch_settings = self.settings.fetch
        limiter = HostLimiter(fetch_settings.concurrency, fetch_settings.per_host_concurrency)
        # a feed holds a slot from the moment it starts to the end of its fetch
        slots = asyncio.Semaphore(fetch_settings.concurrency)
        self.unstored = _Unstored(2 * fetch_settings.concurrency + pool.pool_size())
        results: asyncio.Queue[tuple[_Claimed, FetchResult, _Read] | None] = asyncio.Queue()
        waiting = _Waiting(low_water=fetch_settings.concurrency)
        async with make_client(fetch_settings) as client:
            writer = asyncio.create_task(self._store_all(client, results))
            fetches: list[asyncio.Task[None]] = []
            try:
                while not self.stop.is_set():
                    batch = await asyncio.to_thread(self._claim)
                    if not batch:
                        break
                    waiting.add(len(batch))
                    fetches += [
                        asyncio.create_task(
                            self._fetch_one(client, limiter, slots, waiting, results, claimed)
                        )
                        for claimed in batch
                    ]
                    await waiting.low()
                await asyncio.gather(*fetches)
            except BaseException:
                # the claim failed or the loop was cancelled: unstored feeds' leases expire
                for task in fetches:
                    task.cancel()
                raise
            finally:
                await results.put(None)
                await writer
        return self.report

    async def _fetch_one(
        self,
        client: aiohttp.ClientSession,
        limiter: HostLimiter,
        slots: asyncio.Semaphore,
        waiting: _Waiting,
        results: asyncio.Queue[tuple[_Claimed, FetchResult, _Read] | None],
        claimed: _Claimed,
    ) -> None:
        await self.unstored.enter()  # the writer lets the feed leave once it is stored
        try:
            async with slots:
                waiting.started()
                if self.stop.is_set():
                    # stopping: a feed not yet started is handed back, not fetched
                    await asyncio.to_thread(self._release, claimed)
                    self.unstored.leave()
                    return
                request = FetchRequest(
                    claimed.feed_id, claimed.url, claimed.etag, claimed.last_modified
                )
                result = await fetch(client, request, self.settings.fetch, limiter)
            read = await self._read(claimed, result)
        except BaseException:
            self.unstored.leave()
            raise
        await results.put((claimed, result, read))

    async def _read(self, claimed: _Claimed, result: FetchResult) -> _Read:
        """Parse and normalise a new body in the process pool; the event loop never waits on it."""
        if result.error is not None or result.not_modified:
            return _Read()
        body = result.body or b""
        body_hash = hashlib.sha256(body).hexdigest()
        if body_hash == claimed.state.body_hash:
            return _Read(body_hash=body_hash)
        args = (body, result.final_url, result.started_at, result.content_type, claimed.language)
        loop = asyncio.get_running_loop()
        try:
            parsed = await loop.run_in_executor(pool.parse_pool(self.tagger), pool.parse, *args)
        except BrokenProcessPool:
            # a worker died (killed, out of memory): start a new pool, read this body here
            log.warning("parse pool broken; restarting it")
            pool.drop_pool()
            parsed = await asyncio.to_thread(pool.parse, *args)
        if isinstance(parsed, ParseError):
            return _Read(body_hash=body_hash, error=parsed)
        return _Read(body_hash=body_hash, parsed=parsed.feed, digests=parsed.digests)

    async def _store_all(
        self,
        client: aiohttp.ClientSession,
        results: asyncio.Queue[tuple[_Claimed, FetchResult, _Read] | None],
    ) -> None:
        # one writer: results are stored in the order they arrive, those that arrived
        # together in one transaction
        fetching = True
        while fetching or self.tagging_ahead or not results.empty():
            arrived = [await results.get()]
            await self._wait_for_company(arrived[0], results)
            while not results.empty():
                arrived.append(results.get_nowait())
            if None in arrived:
                fetching = False
            ready = [got for got in arrived if got is not None]
            started = time.perf_counter()
            untagged = [got for got in ready if _to_tag(got)]
            if untagged:
                try:
                    await self._tag_ahead(untagged, results)
                    ready = [got for got in ready if not _to_tag(got)]
                except Exception:  # stored all the same, tagged by the writer
                    log.warning("tagging ahead failed", exc_info=True)
            together = [got for got in ready if _stored_together(got)]
            if len(together) > 1:
                await self._store_together(together)
                ready = [got for got in ready if not _stored_together(got)]
            for got in ready:
                await self._store_one(client, got)
            self.report.writer_seconds += time.perf_counter() - started

    async def _wait_for_company(
        self,
        first: tuple[_Claimed, FetchResult, _Read] | None,
        results: asyncio.Queue[tuple[_Claimed, FetchResult, _Read] | None],
    ) -> None:
        """A moment for feeds arriving just after `first` to share its transaction, each
        commit costing what it does (pages written, a full-text segment flushed).

        The wait ends once a transaction's worth has arrived, or at once when every
        feed still unstored has arrived: at the end of a cycle nothing is kept waiting
        for feeds that are not coming.
        """
        if first is None:
            return
        if _nothing_read(first[2]):
            longest = _UNREAD_LINGER
        elif _stored_together(first):
            longest = _READ_LINGER
        else:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + longest
        while loop.time() < until:
            in_hand = results.qsize() + 1  # the first and those queued after it
            if in_hand >= _COMPANY or self.unstored.count <= in_hand:
                return
            await asyncio.sleep(_LINGER_STEP)

    async def _store_together(self, batch: list[tuple[_Claimed, FetchResult, _Read]]) -> None:
        """Feeds that arrived together, stored in one transaction: one commit, not one each."""
        try:
            await asyncio.to_thread(self._store_many, batch)
        except Exception:  # stored again one by one, so one bad feed fails alone
            log.warning("storing %d feeds together failed", len(batch), exc_info=True)
            for claimed, result, read in batch:
                try:
                    await asyncio.to_thread(self._store, claimed, result, read)
                except Exception:
                    self._failed_internally(claimed)
        finally:
            for _ in batch:
                self.unstored.leave()

    async def _store_one(
        self, client: aiohttp.ClientSession, got: tuple[_Claimed, FetchResult, _Read]
    ) -> None:
        claimed, result, read = got
        try:
            await self._process(client, claimed, result, read)
        except Exception:  # a bug in one feed must not stop the others
            self._failed_internally(claimed)
        finally:
            self.unstored.leave()

    def _failed_internally(self, claimed: _Claimed) -> None:
        log.exception("storing feed %s failed", claimed.url)
        self.report.feeds_failed += 1
        self.report.failures.append(f"{claimed.url}: internal error (see log)")

    async def _tag_ahead(
        self,
        batch: list[tuple[_Claimed, FetchResult, _Read]],
        results: asyncio.Queue[tuple[_Claimed, FetchResult, _Read] | None],
    ) -> None:
        """Tag the entries new to these feeds in the pool, then queue each feed again to store.

        The writer stays free to store other feeds meanwhile; whatever is not
        tagged ahead (an entry that changed, a tagger error) is tagged when stored.
        """
        entries = [read.parsed.entries if read.parsed else [] for _, _, read in batch]
        known = await self._known_keys(
            [(claimed, e) for (claimed, _, _), e in zip(batch, entries, strict=True)]
        )
        for got, feed_entries, seen in zip(batch, entries, known, strict=True):
            self._tag_feed_ahead(got, feed_entries, seen, results)

    def _tag_feed_ahead(
        self,
        got: tuple[_Claimed, FetchResult, _Read],
        entries: list[ParsedEntry],
        known: set[str],
        results: asyncio.Queue[tuple[_Claimed, FetchResult, _Read] | None],
    ) -> None:
        claimed, result, read = got
        # the digests came with the entries, computed in the parse process
        fresh = {
            digest: pool.tag_input(entry)
            for entry, digest in zip(entries, read.digests, strict=True)
            if entry.entry_key not in known
        }
        wanted = {
            k: i for k, i in fresh.items() if k not in self.tagged_ahead and k not in self.tagging
        }
        elsewhere = {self.tagging[k] for k in fresh if k in self.tagging}
        if wanted:
            batch = asyncio.get_running_loop().run_in_executor(
                pool.parse_pool(self.tagger), pool.tag, list(wanted.values())
            )
            self.tagging.update(dict.fromkeys(wanted, batch))
        self.tagging_ahead += 1

        async def tag() -> None:
            try:
                if wanted:
                    tags = await batch
                    self.tagged_ahead.update(zip(wanted, tags, strict=True))
                # copies of these entries in feeds read a moment earlier, tagged there
                await asyncio.gather(*elsewhere, return_exceptions=True)
            except Exception:  # stored all the same, tagged by the writer
                log.warning("tagging ahead for %s failed", claimed.url, exc_info=True)
            finally:
                for key in wanted:
                    self.tagging.pop(key, None)
                self.tagging_ahead -= 1
                results.put_nowait((claimed, result, replace(read, tagged=True)))

        self.background.add(task := asyncio.create_task(tag()))
        task.add_done_callback(self.background.discard)

    async def _known_keys(self, feeds: list[tuple[_Claimed, list[ParsedEntry]]]) -> list[set[str]]:
        """Each feed's entries that are stored already.

        A feed that had none when claimed is not looked up; when no feed of the call
        had any, neither a thread nor a transaction is used: the writer waits for
        this, and a first cycle makes hundreds of such calls.
        """
        if not any(claimed.has_entries for claimed, _ in feeds):
            return [set() for _ in feeds]
        return await asyncio.to_thread(self._read_known_keys, feeds)

    def _read_known_keys(self, feeds: list[tuple[_Claimed, list[ParsedEntry]]]) -> list[set[str]]:
        with transaction(self.engine) as session:
            return [
                known_entry_keys(session, claimed.feed_id, [e.entry_key for e in entries])
                if claimed.has_entries
                else set()
                for claimed, entries in feeds
            ]

    def _claim(self) -> list[_Claimed]:
        with transaction(self.engine) as session:
            feeds = claim_due_feeds(
                session,
                worker=self.worker,
                now=self.now(),
                limit=self.settings.fetch.batch_size,
                lease_seconds=self.settings.fetch.lease_seconds,
                cycle_started_at=self.started_at,
                include_not_due=self.include_not_due,
            )
            stored = feeds_with_entries(session, [feed.id for feed in feeds])
            return [_snapshot(feed, feed.id in stored) for feed in feeds]

    def _release(self, claimed: _Claimed) -> None:
        with transaction(self.engine) as session:
            release_leases(session, [claimed.feed_id], self.worker)

    async def _process(
        self, client: aiohttp.ClientSession, claimed: _Claimed, result: FetchResult, read: _Read
    ) -> None:
        if claimed.full_text and read.parsed and read.parsed.entries:
            read = replace(read, parsed=await self._with_full_text(client, claimed, read.parsed))
        await asyncio.to_thread(self._store, claimed, result, read)

    async def _with_full_text(
        self, client: aiohttp.ClientSession, claimed: _Claimed, parsed: ParsedFeed
    ) -> ParsedFeed:
        [known] = await self._known_keys([(claimed, parsed.entries)])
        wanted = [e for e in parsed.entries if e.entry_key not in known and e.url]
        texts = await fetch_full_texts(client, wanted, self.settings.full_text)
        entries = [texts.get(e.entry_key, e) for e in parsed.entries]
        return replace(parsed, entries=entries)

    def _store(self, claimed: _Claimed, result: FetchResult, read: _Read) -> None:
        decision, counts = in_transaction(
            self.engine, lambda session: self._record(session, claimed, result, read)
        )
        self._count(claimed, decision, counts)

    def _store_many(self, batch: list[tuple[_Claimed, FetchResult, _Read]]) -> None:
        """Feeds with nothing to read (not modified, same body) or parsed and tagged: one
        transaction."""

        def record_all(session: Session) -> list[tuple[_Claimed, FeedUpdate, StoreCounts]]:
            # one query loads the feeds the records below update
            ids = [claimed.feed_id for claimed, _, _ in batch]
            feeds = {f.id: f for f in session.scalars(select(Feed).where(Feed.id.in_(ids)))}
            return [
                (feed, *self._record(session, feed, result, read, feeds))
                for feed, result, read in batch
            ]

        for claimed, decision, counts in in_transaction(self.engine, record_all):
            self._count(claimed, decision, counts)

    def _record(
        self,
        session: Session,
        claimed: _Claimed,
        result: FetchResult,
        read: _Read,
        loaded: dict[int, Feed] | None = None,
    ) -> tuple[FeedUpdate, StoreCounts]:
        """`loaded` holds feeds read already, by id."""
        now = self.now()
        fetch_settings = self.settings.fetch
        counts = StoreCounts()
        feed = (loaded or {}).get(claimed.feed_id) or session.get_one(Feed, claimed.feed_id)
        parsed = read.parsed
        body_error = _body_error(claimed.state, result, read)
        if result.error is not None:
            decision = decide_failure(
                claimed.state, result, message=str(result.error),
                weight=result.error.weight, now=now, settings=fetch_settings,
            )  # fmt: skip
        elif body_error is not None:
            again = (
                "" if read.error is not None
                else " (not modified since)" if result.not_modified
                else " (the same body again)"
            )  # fmt: skip
            decision = decide_failure(
                claimed.state, result, message=f"parse error: {body_error}{again}",
                weight=ParseError.weight, now=now, settings=fetch_settings,
            )  # fmt: skip
        else:
            interval = (
                publisher_interval(parsed.interval_hint, result.max_age, fetch_settings)
                if parsed is not None
                # nothing read: the interval set by the last body read stands
                else clamp_interval(claimed.state.interval_seconds, fetch_settings)
            )
            if parsed is not None:
                counts = store_entries(
                    session,
                    source_id=claimed.source_id,
                    feed_id=claimed.feed_id,
                    entries=parsed.entries,
                    now=now,
                    title_window=timedelta(days=self.settings.dedupe.title_window_days),
                    none_stored=not claimed.has_entries,
                )
                # new and changed items are tagged in the transaction that stores them
                tagger = _TaggedAhead(self.tagger, self.tagged_ahead)
                tag_items(session, tagger, counts.changed_item_ids, created=counts.created)
                alert_new_items(session, self.settings, counts.changed_item_ids, now=now)
                if parsed.title and not feed.title:
                    feed.title = parsed.title[:500]
            unread = "not_modified" if result.not_modified else "unchanged"
            decision = decide_success(
                claimed.state,
                outcome="ok" if parsed is not None else unread,
                status_line=_success_line(result, parsed, counts),
                interval=interval,
                now=now,
            )
        record_fetch(
            session, feed, result, decision, now=now, worker=self.worker,
            entries_seen=len(parsed.entries) if parsed else 0,
            items_new=counts.new, items_updated=counts.updated,
            body_hash=read.body_hash, body_error=body_error,
        )  # fmt: skip
        return decision, counts

    def _count(self, claimed: _Claimed, decision: FeedUpdate, counts: StoreCounts) -> None:
        report = self.report
        report.items += counts
        if not decision.succeeded:
            report.feeds_failed += 1
            report.failures.append(f"{claimed.url}: {decision.status_line}")
        elif counts.new or counts.updated or counts.linked:
            report.feeds_ok += 1
        else:
            report.feeds_unchanged += 1


@dataclass(frozen=True)
class _Read:
    """What parsing a fetched body gave: nothing to read, a parsed feed, or a parse error."""

    body_hash: str | None = None
    parsed: ParsedFeed | None = None
    error: ParseError | None = None
    #: its new entries went through the pool's tagger (see _Cycle._tag_ahead)
    tagged: bool = False
    #: TagInput.digest of each parsed entry, in order
    digests: list[bytes] = field(default_factory=list)


class _TaggedAhead:
    """The cycle's tagger, answering from the tags computed ahead where it can."""

    def __init__(self, tagger: Tagger, ready: dict[bytes, TagResult]) -> None:
        self.tagger = tagger
        self.ready = ready

    def tag_many(self, items: Sequence[TagInput]) -> list[TagResult]:
        keys = [item.digest() for item in items]
        missing = {
            key: item for key, item in zip(keys, items, strict=True) if key not in self.ready
        }
        if missing:
            tags = self.tagger.tag_many(list(missing.values()))
            self.ready.update(zip(missing, tags, strict=True))
        return [self.ready[key] for key in keys]


def _body_error(state: FeedState, result: FetchResult, read: _Read) -> str | None:
    """Why the body answered is no feed: just found, or found before for this same body."""
    if result.error is not None:
        return None
    if read.error is not None:
        return str(read.error)
    if read.parsed is None:  # a 304, or the body read last time
        return state.body_error
    return None


def _nothing_read(read: _Read) -> bool:
    return read.parsed is None and read.error is None


def _to_tag(got: tuple[_Claimed, FetchResult, _Read]) -> bool:
    """Parsed, not tagged yet, with no article to fetch first (tagged with it, when stored)."""
    claimed, _, read = got
    return read.parsed is not None and not read.tagged and not claimed.full_text


def _stored_together(got: tuple[_Claimed, FetchResult, _Read]) -> bool:
    """Nothing to read, no feed, or parsed and tagged with no article to fetch first: ready
    to share a transaction with the other feeds that arrived with it."""
    claimed, _, read = got
    return read.parsed is None or (read.tagged and not claimed.full_text)


class _Unstored:
    """Feeds from the start of their fetch to the end of their storing, their bodies held
    in memory: at most `limit` at once, and how many now."""

    def __init__(self, limit: int) -> None:
        self._places = asyncio.Semaphore(limit)
        self.count = 0

    async def enter(self) -> None:
        await self._places.acquire()
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        self._places.release()


class _Waiting:
    """Counts claimed feeds still waiting for a fetch slot; wakes the claimer when few are left."""

    def __init__(self, low_water: int) -> None:
        self.count = 0
        self.low_water = low_water
        self._low = asyncio.Event()
        self._low.set()

    def add(self, n: int) -> None:
        self.count += n
        if self.count >= self.low_water:
            self._low.clear()

    def started(self) -> None:
        self.count -= 1
        if self.count < self.low_water:
            self._low.set()

    async def low(self) -> None:
        await self._low.wait()


def _snapshot(feed: Feed, has_entries: bool) -> _Claimed:
    return _Claimed(
        has_entries=has_entries,
        feed_id=feed.id,
        source_id=feed.source_id,
        url=feed.url,
        language=feed.language,
        full_text=feed.full_text,
        state=FeedState(
            interval_seconds=feed.interval_seconds,
            failure_score=feed.failure_score,
            consecutive_failures=feed.consecutive_failures,
            body_hash=feed.body_hash,
            body_error=feed.body_error,
        ),
        etag=feed.etag,
        last_modified=feed.last_modified,
    )


def _success_line(result: FetchResult, parsed: ParsedFeed | None, counts: StoreCounts) -> str:
    took = f"{result.duration:.2f} s"
    if result.not_modified:
        return f"ok · not modified (HTTP 304) · {took}"
    if parsed is None:
        return f"ok · HTTP {result.status}, body unchanged since last fetch · {took}"
    line = (
        f"ok · HTTP {result.status} · {len(parsed.entries)} entries: {counts.new} new, "
        f"{counts.updated} updated, {counts.linked} seen in other feeds · {took}"
    )
    if parsed.warnings:
        line += f" · {len(parsed.warnings)} warning(s): {parsed.warnings[0][:200]}"
    return line
