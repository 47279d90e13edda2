"""The parse processes: new bodies are parsed and normalised, and new entries tagged,
in a pool of processes beside the worker, never on its event loop.

This module holds what those processes run and the pool that runs it; the
worker's side (fetching, storing) stays in pipeline.py.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from monitor.errors import ParseError
from monitor.feeds.parse import ParsedEntry, ParsedFeed, parse_feed
from monitor.tagging.tagger import Tagger, TagInput, TagResult

#: the pool and the version of the tagger its processes hold
_pool: tuple[str, ProcessPoolExecutor] | None = None
#: in a pool process: the tagger it was started with
_tagger: Tagger | None = None
#: how much lower than the worker's the parse processes' scheduling priority is
_NICENESS = 10


def pool_size() -> int:
    return os.cpu_count() or 1


def parse_pool(tagger: Tagger) -> ProcessPoolExecutor:
    """One pool of parse processes per worker process, kept across cycles while the
    tagger stays the same (each process holds a copy, to tag new entries).

    The processes come from a fork server, not from a fork of the worker: there
    other threads (the scheduler's, the web server's) may hold a lock at the moment
    of a fork, and a child that inherits it held hangs the cycle for good. The fork
    server loads this module and freezes it for the garbage collector first
    (monitor/forkserver_preload.py), so its children share those pages.
    """
    global _pool
    if _pool is None or _pool[0] != tagger.version:
        drop_pool()
        start_fork_server()
        context = multiprocessing.get_context("forkserver")
        executor = ProcessPoolExecutor(
            max_workers=pool_size(),
            mp_context=context,
            initializer=_start_parse_process,
            initargs=(tagger,),
        )
        # start every process now rather than one at a time as bodies come (on the event
        # loop): each task submitted while none is idle starts one more process
        for started in [executor.submit(int) for _ in range(pool_size())]:
            started.result()
        _pool = (tagger.version, executor)
    return _pool[1]


def start_fork_server() -> None:
    """Start the fork server the parse processes come from, with its preload, deaf to Ctrl-C.

    Ctrl-C reaches the whole process group, and the worker stops its parse
    processes itself. The fork server ignores SIGINT once running (and from the
    first line of its preload module), but hit while Python starts it died with a
    traceback, and the worker's next parse process with it. Started from the main
    thread, it inherits SIGINT ignored, which Python then leaves as it is.
    """
    multiprocessing.forkserver.set_forkserver_preload(["monitor.forkserver_preload"])
    if threading.current_thread() is not threading.main_thread():
        multiprocessing.forkserver.ensure_running()
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, handler)


def drop_pool() -> None:
    global _pool
    if _pool is not None:
        _pool[1].shutdown(wait=False, cancel_futures=True)
        _pool = None


def process_ids() -> list[int]:
    """The pool's processes and the fork server they come from (for measuring memory)."""
    if _pool is None:
        return []
    ids = list(_pool[1]._processes or {})
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None):
        ids.append(server._forkserver_pid)
    return ids


def _start_parse_process(tagger: Tagger) -> None:
    """Each pool process, once: its tagger, its priority, its signals, its end with the worker."""
    global _tagger
    _tagger = tagger
    # the worker's one writer is the cycle's serial stage: it comes first for the CPU,
    # and the dashboard served beside it stays quick while bodies are parsed
    os.nice(_NICENESS)
    # Ctrl-C reaches the whole process group: the worker stops the cycle and then its
    # pool; a parse process that stopped on its own would only print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    """End this parse process when the worker that owns it dies (killed, out of memory):
    it would otherwise wait for work forever, and keep the fork server alive with it."""
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)


def tag(inputs: list[TagInput]) -> list[TagResult]:
    """Run in a pool process: tag with the tagger the pool was started with."""
    assert _tagger is not None, "pool started without a tagger"
    return _tagger.tag_many(inputs)


@dataclass(frozen=True)
class Parsed:
    feed: ParsedFeed
    #: TagInput.digest of each entry, in order: the worker looks up tags computed ahead by
    #: them, and hashing the texts here spares its event loop
    digests: list[bytes]


def parse(
    body: bytes, url: str, fetched_at: datetime, content_type: str | None, language: str
) -> Parsed | ParseError:
    """Run in a pool process (or in the worker when the pool broke)."""
    # a ParseError is returned, not raised: the worker's traceback would be pickled with it
    try:
        feed = parse_feed(
            body, url=url, fetched_at=fetched_at, content_type=content_type,
            feed_language=language,
        )  # fmt: skip
    except ParseError as exc:
        return exc
    return Parsed(feed, [tag_input(entry).digest() for entry in feed.entries])


def tag_input(entry: ParsedEntry) -> TagInput:
    # what store/tags.item_input reads back from the item this entry stores
    return TagInput(entry.title, entry.summary_text, entry.content_text, entry.language)
