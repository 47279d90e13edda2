"""How close one fetch cycle comes to the network-latency bound.

Serves `--feeds` distinct feed URLs from a loopback server that adds
`--latency` seconds to every response. Bodies are the real feeds saved in
../shared/realfeeds/feedjira__feedjira (read at run time, cycled so that every
URL has its own path). With every feed on one host, `per_host_concurrency` is
set to `--concurrency`, so the global cap is the binding limit and the best a
cycle can do is feeds × latency ÷ concurrency.

Measures the first cycle (every feed new: fetch, parse, normalise, dedupe,
store) and a second cycle over the same feeds (every answer a 304), prints both
beside the bound, and writes the same text to bench/results/fetch_cycle.md. The
store is a new SQLite file, or with `--database` an empty database of your own
(PostgreSQL, as in production: results/fetch_cycle-postgresql.md), which the run
leaves filled.

    .venv/bin/python bench/fetch_cycle.py [--feeds 500 --latency 0.1 --concurrency 20]
        [--database postgresql://user@host/empty_db]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, inspect, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import SQLAlchemyError  # noqa: E402

from monitor.config import FeedSettings, Settings, settings_from_dict  # noqa: E402
from monitor.errors import ConfigError, ParseError  # noqa: E402
from monitor.feeds.parse import parse_feed  # noqa: E402
from monitor.pipeline import CycleReport, run_cycle  # noqa: E402
from monitor.scheduler import start_worker  # noqa: E402
from monitor.store.feeds import add_feed  # noqa: E402
from monitor.store.models import Entry, FetchEvent, Item  # noqa: E402
from monitor.store.session import make_engine, transaction, upgrade  # noqa: E402
from monitor.tagging.tagger import Tagger  # noqa: E402
from tests.feedserver import FeedServer  # noqa: E402

SHARED = Path(os.environ.get("MONITOR_SHARED_DIR", REPO.parent / "shared"))
CORPUS = SHARED / "realfeeds" / "feedjira__feedjira"
#: where a run writes its report, by the store it measured
RESULTS = {
    "SQLite": REPO / "bench" / "results" / "fetch_cycle.md",
    "PostgreSQL": REPO / "bench" / "results" / "fetch_cycle-postgresql.md",
}


@dataclass
class Run:
    name: str
    seconds: float
    report: CycleReport


def corpus_bodies() -> list[tuple[str, bytes]]:
    """Every saved feed document, by file name, in a stable order."""
    if not CORPUS.is_dir():
        sys.exit(f"feed corpus not found at {CORPUS} (set MONITOR_SHARED_DIR)")
    files = sorted(p for p in CORPUS.rglob("*.xml") if p.is_file())
    return [(p.stem, p.read_bytes()) for p in files]


def serve_feeds(count: int, latency: float, port_out: Connection) -> None:
    """The loopback "internet", in its own process so it takes no CPU from the worker."""
    bodies = corpus_bodies()
    with FeedServer(latency=latency) as server:
        for i in range(count):
            stem, body = bodies[i % len(bodies)]
            server.add(f"/{i:04d}/{stem}.xml", body)
        port_out.send((server.port, sorted(server.routes)))
        port_out.recv()  # until the benchmark says stop


@contextmanager
def feed_server_process(count: int, latency: float) -> Iterator[list[str]]:
    """Start the server process; yields the feed URLs."""
    here, there = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve_feeds, args=(count, latency, there))
    process.start()
    try:
        port, paths = here.recv()
        yield [f"http://127.0.0.1:{port}{path}" for path in paths]
    finally:
        here.send("stop")
        process.join(10)


def bench_settings(database_url: str, concurrency: int, batch_size: int) -> Settings:
    return settings_from_dict(
        {
            "database": {"url": database_url},
            "fetch": {
                "concurrency": concurrency,
                "per_host_concurrency": concurrency,
                "batch_size": batch_size,
                "connect_timeout": 10.0,
                "read_timeout": 30.0,
                "total_timeout": 60.0,
            },
        }
    )


def add_feeds(settings: Settings, urls: list[str]) -> None:
    """Create the database and its feeds in a process of its own, as `monitor init` does
    before `monitor run` starts: the worker measured here never loads the migration code."""
    process = multiprocessing.get_context("spawn").Process(
        target=_create_feeds, args=(settings, urls)
    )
    process.start()
    process.join()
    if process.exitcode:
        sys.exit("creating the benchmark database failed")


def _create_feeds(settings: Settings, urls: list[str]) -> None:
    engine = make_engine(settings.database.url)
    upgrade(engine)
    with transaction(engine) as session:
        for i, url in enumerate(urls):
            spec = FeedSettings(
                url=url,
                publisher=f"Publisher {i % 50}",
                source_type="media",
                country="US",
                language="en",
            )
            add_feed(session, spec, interval_seconds=3600)
    engine.dispose()


def timed_cycle(name: str, settings: Settings, tagger: Tagger) -> Run:
    engine = make_engine(settings.database.url)
    try:
        clock = time.perf_counter()
        report = run_cycle(settings, engine, worker="bench", include_not_due=True, tagger=tagger)
        seconds = time.perf_counter() - clock
    finally:
        engine.dispose()
    return Run(name, seconds, report)


def stored_counts(database_url: str) -> tuple[int, int, int]:
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            return (
                session.scalar(select(func.count()).select_from(Item)) or 0,
                session.scalar(select(func.count()).select_from(Entry)) or 0,
                session.scalar(select(func.count()).select_from(FetchEvent)) or 0,
            )
    finally:
        engine.dispose()


def store_name(database: str | None) -> str:
    """The store a run measures, by the backend SQLAlchemy reads from the URL."""
    backend = make_url(database).get_backend_name() if database else "sqlite"
    return "PostgreSQL" if backend == "postgresql" else "SQLite"


def require_empty(url: str) -> None:
    """Refuse, in one line, a database that holds tables: the run creates its own."""
    try:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                tables = inspect(conn).get_table_names()
        finally:
            engine.dispose()
    except (ConfigError, SQLAlchemyError) as exc:
        sys.exit(f"cannot use --database {url}: {str(exc).splitlines()[0]}")
    if tables:
        held = f"{len(tables)} table" + ("s" if len(tables) > 1 else "")
        sys.exit(f"--database {url} holds {held}: the benchmark needs an empty database")


def parse_cpu_seconds(count: int) -> float:
    """CPU time to parse and normalise the bodies of `count` served feeds once, in one thread.

    The first cycle cannot beat this on one core however the network behaves.
    """
    bodies = corpus_bodies()
    uses = Counter(i % len(bodies) for i in range(count))
    fetched_at = datetime.now(UTC)
    total = 0.0
    for index, times in uses.items():
        started = time.process_time()
        with suppress(ParseError):
            # as the cycle reads them: the bench feeds are configured as English
            parse_feed(
                bodies[index][1], url="http://127.0.0.1/", fetched_at=fetched_at, feed_language="en"
            )
        total += (time.process_time() - started) * times
    return total


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report_lines(
    args: argparse.Namespace,
    runs: list[Run],
    counts: tuple[int, int, int],
    parse_cpu: float,
    worker_rss: float,
) -> list[str]:
    bound = args.feeds * args.latency / args.concurrency
    items, entries, events = counts
    store = store_name(args.database)
    lines = [
        "# Fetch cycle benchmark",
        "",
        f"- run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}, {store})",
        f"- {args.feeds} feeds on one loopback host, {args.latency * 1000:g} ms added per "
        f"response, concurrency {args.concurrency} (per host {args.concurrency}), "
        f"batch size {args.batch_size}",
        f"- latency bound: {args.feeds} × {args.latency:g} s ÷ {args.concurrency} = {bound:.2f} s",
        "",
        "| cycle | wall time | ratio to bound | feeds ok / unchanged / failed | items new |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        r = run.report
        lines.append(
            f"| {run.name} | {run.seconds:.2f} s | {run.seconds / bound:.2f}× | "
            f"{r.feeds_ok} / {r.feeds_unchanged} / {r.feeds_failed} | {r.items.new} |"
        )
    lines += [
        "",
        f"- stored: {items} items, {entries} entries (feed → item links), {events} fetch events",
        f"- the writer was busy {runs[0].report.writer_seconds:.2f} s of the first cycle's "
        f"{runs[0].seconds:.2f} s (storing, and reading what storing needs)",
        f"- parse and normalise alone: {parse_cpu:.2f} s of CPU for the {args.feeds} bodies "
        f"({parse_cpu / bound:.2f}× the latency bound, one thread)",
        f"- peak RSS of the worker process (its parse processes apart): {worker_rss:.0f} MiB",
        f"- load average when done: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}",
    ]
    return lines


def add_cycle_arguments(parser: argparse.ArgumentParser) -> None:
    """The served feeds and the worker's settings, as both cycle benchmarks take them.

    Each must be above zero: the latency bound, feeds × latency ÷ concurrency, is
    what the cycles are measured against.
    """
    parser.add_argument("--feeds", type=above_zero(int), default=500)
    parser.add_argument(
        "--latency", type=above_zero(float), default=0.1, help="seconds added per response"
    )
    parser.add_argument("--concurrency", type=above_zero(int), default=20)
    parser.add_argument(
        "--batch-size", type=above_zero(int), default=100, help="feeds claimed at a time"
    )


def above_zero(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: `kind` of the text, refused in one line unless above zero."""

    def parse(text: str) -> float:
        value = kind(text)  # a ValueError here reads "invalid int value: 'x'"
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above zero, not {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_cycle_arguments(parser)
    parser.add_argument(
        "--database", help="an empty database to store into (default: a new SQLite file)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results")
    args = parser.parse_args()
    if args.database:
        require_empty(args.database)

    with (
        tempfile.TemporaryDirectory() as tmp,
        feed_server_process(args.feeds, args.latency) as urls,
    ):
        database_url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = bench_settings(database_url, args.concurrency, args.batch_size)
        add_feeds(settings, urls)
        tagger = start_worker(settings)
        runs = [
            timed_cycle("first (all new)", settings, tagger),
            timed_cycle("second (all 304)", settings, tagger),
        ]
        worker_rss = peak_rss_mib()  # before parse_cpu_seconds parses in this process
        counts = stored_counts(database_url)
        lines = report_lines(args, runs, counts, parse_cpu_seconds(args.feeds), worker_rss)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if not args.no_write:
        path = RESULTS[store_name(args.database)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
