"""This project's fetch cycles against `reader` (lemon24), on the same loopback feeds.

One run: a loopback server in its own process serves `--feeds` URLs whose bodies
are the real feeds in ../shared/realfeeds/feedjira__feedjira, adds `--latency`
seconds to every response and answers If-None-Match with 304. At the same
concurrency it times a first cycle (every feed new) and a second cycle (every
answer a 304) of this project and of reader (`update_feeds(workers=N,
scheduled=False)`, in its own process), `--rounds` times, the two sides one
after the other, and prints the medians beside the latency bound and every
round's ratio. Then it measures entries per second of the full ingest path
(fetch on a zero-latency server, parse, normalise, dedupe, tag, store) against
feedparser alone parsing the same bytes, and the peak memory of each side.

    .venv/bin/python bench/peer.py [--feeds 500 --latency 0.1 --concurrency 20 --rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import feedparser
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fetch_cycle import (
    REPO,
    above_zero,
    add_cycle_arguments,
    add_feeds,
    bench_settings,
    corpus_bodies,
    feed_server_process,
    timed_cycle,
)
from sqlalchemy import func, select

from monitor import pool
from monitor.errors import ParseError
from monitor.feeds.parse import parse_feed
from monitor.scheduler import start_worker
from monitor.store.models import FetchEvent
from monitor.store.session import make_engine, transaction
from monitor.tagging.tagger import Tagger

RESULTS = REPO / "bench" / "results" / "peer.md"
FETCHED_AT = datetime(2026, 11, 26, tzinfo=UTC)


@dataclass
class Side:
    first: float
    second: float
    peak_mib: float
    detail: str


@contextmanager
def peak_pss() -> Iterator[list[float]]:
    """Samples the memory (PSS) of this process, its parse workers and the fork server
    they come from; yields [peak MiB], filled in on exit.

    The sampling runs in a process of its own: reading a process's page maps costs
    the reader kernel time, which would otherwise be charged to the worker measured.
    The loopback server is a child process too, and is left out.
    """
    peak = [0.0]
    here, there = multiprocessing.get_context("spawn").Pipe()
    # the fork server is the last of these; the parse processes it starts later are its children
    fork_server = pool.process_ids()[-1]
    sampler = multiprocessing.get_context("spawn").Process(
        target=_sample_pss, args=(os.getpid(), fork_server, there)
    )
    sampler.start()
    try:
        yield peak
    finally:
        here.send("stop")
        peak[0] = here.recv()
        sampler.join()


def _sample_pss(worker: int, fork_server: int, control: Connection) -> None:
    # measuring must not take the CPU from what it measures, the parse processes included
    os.nice(19)
    peak = 0.0
    while not control.poll(0.1):
        total = 0
        with suppress(psutil.Error):
            server = psutil.Process(fork_server)
            for process in [psutil.Process(worker), server, *server.children()]:
                with suppress(psutil.Error):
                    # PSS: pages the workers share with the fork server count once
                    total += process.memory_full_info().pss
        peak = max(peak, total / 2**20)
    control.recv()
    control.send(peak)


def run_ours(urls: list[str], args: argparse.Namespace, db_path: Path, tagger: Tagger) -> Side:
    database_url = f"sqlite:///{db_path}"
    settings = bench_settings(database_url, args.concurrency, args.batch_size)
    add_feeds(settings, urls)
    with peak_pss() as peak:
        first = timed_cycle("first", settings, tagger)
        second = timed_cycle("second", settings, tagger)
    r = first.report
    detail = (
        f"{r.feeds_ok} ok / {r.feeds_failed} failed, {r.items.new} items new; second cycle "
        f"{second.report.feeds_unchanged} unchanged"
    )
    return Side(first.seconds, second.seconds, peak[0], detail)


def reader_cycles(urls: list[str], db_path: str, workers: int, out: Connection) -> None:
    """reader's two cycles, in their own process so its memory is its own."""
    from reader import make_reader

    reader = make_reader(db_path)
    for url in urls:
        reader.add_feed(url)
    times = []
    for _ in range(2):
        clock = time.perf_counter()
        reader.update_feeds(workers=workers, scheduled=False)
        times.append(time.perf_counter() - clock)
    counts = reader.get_entry_counts()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out.send((times, counts.total, peak))
    reader.close()


def run_reader(urls: list[str], args: argparse.Namespace, db_path: Path) -> Side:
    # spawned, not forked: its peak memory is reader's alone
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(
        target=reader_cycles, args=(urls, str(db_path), args.concurrency, there)
    )
    process.start()
    times, entries, peak = here.recv()
    process.join()
    return Side(times[0], times[1], peak, f"{entries} entries stored")


@dataclass
class Ingest:
    entries: int
    seconds: float
    #: CPU seconds of the cycle: the worker process (fetching, storing), the parse processes
    worker_cpu: float
    parse_cpu: float

    @property
    def rate(self) -> float:
        return self.entries / self.seconds


def ingest_rate(args: argparse.Namespace, tmp: Path, tagger: Tagger) -> Ingest:
    """Entries per second through the whole pipeline, the network taken out (no latency),
    and the CPU each side of it spent."""
    with feed_server_process(args.feeds, 0.0) as urls:
        database_url = f"sqlite:///{tmp / 'ingest.db'}"
        settings = bench_settings(database_url, args.concurrency, args.batch_size)
        add_feeds(settings, urls)
        worker, parsers = psutil.Process(), [psutil.Process(p) for p in pool.process_ids()]
        before = _cpu_seconds([worker]), _cpu_seconds(parsers)
        run = timed_cycle("ingest", settings, tagger)
        after = _cpu_seconds([worker]), _cpu_seconds(parsers)
    engine = make_engine(database_url)
    with transaction(engine) as session:
        entries = session.scalar(select(func.sum(FetchEvent.entries_seen))) or 0
    engine.dispose()
    return Ingest(entries, run.seconds, after[0] - before[0], after[1] - before[1])


def _ratios(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}×" for value in values)


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def feedparser_rate(count: int) -> tuple[float, int, float]:
    """Entries per second of feedparser.parse alone, one process, on the same served bodies."""
    bodies = corpus_bodies()
    entries = 0
    clock = time.perf_counter()
    for i in range(count):
        result = feedparser.parse(bodies[i % len(bodies)][1], sanitize_html=True)
        entries += len(result.entries)
    seconds = time.perf_counter() - clock
    return entries / seconds, entries, seconds


def fast_path_share(count: int) -> tuple[int, int, int, int]:
    """Of the served feeds and their entries, how many the fast parse path reads."""
    bodies = corpus_bodies()
    uses = Counter(i % len(bodies) for i in range(count))
    feeds = fast_feeds = entries = fast_entries = 0
    for index, times in uses.items():
        try:
            parsed = parse_feed(bodies[index][1], url="http://127.0.0.1/", fetched_at=FETCHED_AT)
        except ParseError:
            continue
        feeds += times
        entries += times * len(parsed.entries)
        if parsed.parser == "fast":
            fast_feeds += times
            fast_entries += times * len(parsed.entries)
    return feeds, fast_feeds, entries, fast_entries


def report(
    args: argparse.Namespace,
    rounds: list[tuple[Side, Side]],
    ingest: Ingest,
    feedparser_alone: tuple[float, int, float],
    share: tuple[int, int, int, int],
    load_at_start: tuple[float, float, float],
) -> list[str]:
    bound = args.feeds * args.latency / args.concurrency
    fp_rate, fp_entries, fp_s = feedparser_alone
    ours, peer = rounds[-1]
    first = statistics.median([o.first for o, _ in rounds])
    second = statistics.median([o.second for o, _ in rounds])
    peer_first = statistics.median([p.first for _, p in rounds])
    peer_second = statistics.median([p.second for _, p in rounds])
    first_ratios = [p.first / o.first for o, p in rounds]
    second_ratios = [p.second / o.second for o, p in rounds]
    cpu = ingest.worker_cpu + ingest.parse_cpu
    cores = os.cpu_count() or 1
    feeds, fast_feeds, entries, fast_entries = share
    return [
        "# Peer benchmark: this project against reader",
        "",
        f"- run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite both sides)",
        f"- {args.feeds} feeds on one loopback host, {args.latency * 1000:g} ms added per "
        f"response, concurrency {args.concurrency} (reader: workers={args.concurrency})",
        f"- latency bound: {args.feeds} × {args.latency:g} s ÷ {args.concurrency} = {bound:.2f} s",
        "",
        f"- {len(rounds)} round(s), the two sides one after the other in each; medians:",
        "",
        "| cycle | this project | reader | reader ÷ ours | ours ÷ bound |",
        "|---|---|---|---|---|",
        f"| first (all new) | {first:.2f} s | {peer_first:.2f} s | "
        f"{statistics.median(first_ratios):.2f}× | {first / bound:.2f}× |",
        f"| second (all 304) | {second:.2f} s | {peer_second:.2f} s | "
        f"{statistics.median(second_ratios):.2f}× | {second / bound:.2f}× |",
        "",
        f"- reader ÷ ours by round, first cycle: {_ratios(first_ratios)}; "
        f"second cycle: {_ratios(second_ratios)}",
        f"- this project (last round): {ours.detail}; peak memory (PSS, worker + parse "
        f"processes) by round: {', '.join(f'{o.peak_mib:.0f}' for o, _ in rounds)} MiB "
        f"(highest {max(o.peak_mib for o, _ in rounds) * 2**20 / 1e6:.0f} MB)",
        f"- reader (last round): {peer.detail}; peak RSS by round: "
        f"{', '.join(f'{p.peak_mib:.0f}' for _, p in rounds)} MiB",
        f"- full ingest path (fetch at zero latency, parse, normalise, dedupe, tag, store): "
        f"{ingest.entries} entries in {ingest.seconds:.2f} s = {ingest.rate:.0f} entries/s",
        f"- feedparser.parse alone on the same bodies: {fp_entries} entries in {fp_s:.2f} s = "
        f"{fp_rate:.0f} entries/s",
        f"- full ingest path ÷ feedparser alone: {ingest.rate / fp_rate:.2f}×",
        f"- CPU of the full ingest cycle: worker {ingest.worker_cpu:.2f} s, parse processes "
        f"{ingest.parse_cpu:.2f} s; {cpu / ingest.entries * 1000:.2f} ms per entry, where 5× "
        f"feedparser's rate on {cores} cores leaves {cores / (5 * fp_rate) * 1000:.2f} ms",
        f"- fast parse path: {fast_feeds} of {feeds} feeds ({fast_feeds / feeds:.0%}) and "
        f"{fast_entries} of {entries} entries ({fast_entries / entries:.0%}) of the served bodies; "
        "feedparser reads the rest",
        f"- load average (1 / 5 / 15 min) at the start: "
        f"{' / '.join(f'{x:.1f}' for x in load_at_start)}; when done: "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_cycle_arguments(parser)
    parser.add_argument(
        "--rounds", type=above_zero(int), default=3,
        help="times the two sides run, one after the other (reader's time varies by a quarter "
        "between runs here; medians and every round's ratio are reported)",
    )  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results")
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        # as a worker does once when it starts, before any cycle: one tagger, one pool, as
        # the cycles of a long-running worker share them
        tagger = start_worker(bench_settings("sqlite://", args.concurrency, args.batch_size))
        rounds = []
        with feed_server_process(args.feeds, args.latency) as urls:
            for number in range(args.rounds):
                ours = run_ours(urls, args, tmp / f"ours-{number}.db", tagger)
                peer = run_reader(urls, args, tmp / f"reader-{number}.sqlite")
                rounds.append((ours, peer))
        ingest = ingest_rate(args, tmp, tagger)
    alone = feedparser_rate(args.feeds)
    lines = report(args, rounds, ingest, alone, fast_path_share(args.feeds), load_at_start)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
