"""Several workers, a worker killed mid-cycle, a worker asked to stop.

Workers are real OS processes (`python -c` calling run_cycle, or the `monitor`
command) against a real loopback feed server and real databases.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError

from monitor.config import FeedSettings, load_settings
from monitor.pipeline import run_cycle
from monitor.store.feeds import add_feed, claim_due_feeds
from monitor.store.models import Entry, Feed, FetchEvent, Item
from monitor.store.session import in_transaction, make_engine, transaction, upgrade
from tests.conftest import REPO
from tests.feedserver import FeedServer

MONITOR = str(Path(sys.executable).with_name("monitor"))

# A worker process that loads everything, says "ready", waits for "go" on stdin,
# then runs one cycle: both workers start fetching at the same moment.
WORKER = """
import sys
from monitor.config import settings_from_dict
from monitor.pipeline import run_cycle
from monitor.store.session import make_engine

url, name = sys.argv[1], sys.argv[2]
fetch = {"concurrency": 4, "per_host_concurrency": 4, "batch_size": 4, "total_timeout": 10.0}
settings = settings_from_dict({"database": {"url": url}, "fetch": fetch})
engine = make_engine(url)
print("ready", flush=True)
sys.stdin.readline()
report = run_cycle(settings, engine, worker=name)
print(report.feeds_checked, flush=True)
"""


def rss(feed: str, guids: list[str]) -> bytes:
    items = "".join(
        f"<item><guid>{g}</guid><title>Story {g} on security guarantees</title>"
        f"<link>{g}.html</link><description>About {g}</description>"
        f"<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>"
        for g in guids
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://example.org/{feed}</link>{items}"
        "</channel></rss>"
    ).encode()


def serve_feeds(
    server: FeedServer, engine: Engine, count: int, delay: float
) -> dict[str, set[str]]:
    """Add `count` slow feeds of three items each; returns the GUIDs served per path."""
    served: dict[str, set[str]] = {}
    with transaction(engine) as session:
        for i in range(count):
            path = f"/feed{i}.xml"
            guids = [f"https://example.org/id/f{i}-{n}" for n in range(3)]
            served[path] = set(guids)
            url = server.add(path, rss(f"f{i}", guids), delay=delay)
            spec = FeedSettings(
                url=url,
                publisher=f"Publisher {i}",
                source_type="media",
                country="US",
                language="en",
            )
            add_feed(session, spec, interval_seconds=3600)
    return served


def worker_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def write_config(tmp_path: Path, database_url: str, **fetch: object) -> Path:
    values = {
        "concurrency": 4,
        "per_host_concurrency": 4,
        "batch_size": 4,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "total_timeout": 10.0,
        **fetch,
    }
    lines = ["[database]", f'url = "{database_url}"', "", "[fetch]"]
    lines += [f"{key} = {value}" for key, value in values.items()]
    lines += ["", "[scheduler]", "tick_seconds = 1.0"]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def count(engine: Engine, model: type) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def assert_stored_exactly_once(engine: Engine, served: dict[str, set[str]]) -> None:
    """Every served GUID is one item with one entry; nothing else is stored."""
    with transaction(engine) as session:
        guids = Counter(session.scalars(select(Item.guid)).all())
        entries = session.scalar(select(func.count()).select_from(Entry))
        items_without_entry = session.scalar(
            select(func.count()).select_from(Item).where(~Item.id.in_(select(Entry.item_id)))
        )
    expected = set().union(*served.values())
    assert set(guids) == expected
    assert max(guids.values()) == 1
    assert entries == len(expected)
    assert items_without_entry == 0


def leased(engine: Engine) -> int:
    with transaction(engine) as session:
        return (
            session.scalar(
                select(func.count()).select_from(Feed).where(Feed.lease_owner.is_not(None))
            )
            or 0
        )


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[tuple[str, Engine]]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield postgres_url, engine
    engine.dispose()


def test_two_worker_processes_on_postgres_share_the_feeds_and_fetch_each_once(
    pg_engine: tuple[str, Engine], feed_server: FeedServer
) -> None:
    url, engine = pg_engine
    served = serve_feeds(feed_server, engine, 40, delay=0.2)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=worker_env(),
        )
        for name in ("worker-a", "worker-b")
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    checked = [int(worker.communicate(timeout=30)[0].strip()) for worker in workers]

    assert all(worker.returncode == 0 for worker in workers)
    assert sum(checked) == 40
    with transaction(engine) as session:
        per_feed = Counter(session.scalars(select(FetchEvent.feed_id)).all())
        by_worker = Counter(session.scalars(select(FetchEvent.worker)).all())
    assert len(per_feed) == 40 and set(per_feed.values()) == {1}
    assert all(feed_server.hits(path) == 1 for path in served)
    assert set(by_worker) == {"worker-a", "worker-b"}
    assert_stored_exactly_once(engine, served)
    assert leased(engine) == 0


def test_an_expired_lease_is_claimed_by_another_worker_but_a_live_one_is_not(
    engine: Engine,
) -> None:
    now = datetime.now(UTC)
    ids = []
    with transaction(engine) as session:
        for i in range(3):
            spec = FeedSettings(
                url=f"https://example.org/{i}.xml",
                publisher="P",
                source_type="media",
                country="US",
                language="en",
            )
            ids.append(add_feed(session, spec, interval_seconds=3600).id)
    dead, alive, free = ids
    with transaction(engine) as session:
        session.execute(update(Feed).values(next_check_at=now - timedelta(minutes=1)))
        session.execute(
            update(Feed)
            .where(Feed.id == dead)
            .values(lease_owner="died", lease_expires_at=now - timedelta(seconds=1))
        )
        session.execute(
            update(Feed)
            .where(Feed.id == alive)
            .values(lease_owner="busy", lease_expires_at=now + timedelta(seconds=300))
        )

    with transaction(engine) as session:
        claimed = claim_due_feeds(session, worker="me", now=now, limit=10, lease_seconds=600)
        assert sorted(f.id for f in claimed) == sorted([dead, free])
    with transaction(engine) as session:
        owners = dict(session.execute(select(Feed.id, Feed.lease_owner)).all())
    assert owners == {dead: "me", alive: "busy", free: "me"}
    # once the live lease runs out, it too can be taken over
    with transaction(engine) as session:
        later = now + timedelta(seconds=301)
        claimed = claim_due_feeds(session, worker="other", now=later, limit=10, lease_seconds=60)
        assert [f.id for f in claimed] == [alive]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_cycle_loses_no_item_and_stores_none_twice(
    database: str, tmp_path: Path, feed_server: FeedServer, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'monitor.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = make_engine(url)
    upgrade(engine)
    served = serve_feeds(feed_server, engine, 24, delay=0.3)
    config = write_config(tmp_path, url, lease_seconds=2.0)

    worker = subprocess.Popen([MONITOR, "--config", str(config), "run"], env=worker_env())
    try:
        wait_for(lambda: count(engine, FetchEvent) >= 4, 20, "the worker to store a few feeds")
        helpers = psutil.Process(worker.pid).children(recursive=True)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert helpers, "the worker had no parse processes"
    _gone, left = psutil.wait_procs(helpers, timeout=15)
    assert not left, f"parse processes outlived their worker: {left}"
    stored_before_restart = count(engine, FetchEvent)
    assert stored_before_restart < 24, "the worker finished before it could be killed"
    assert leased(engine) > 0, "no feed was in flight when the worker died"

    time.sleep(2.1)  # the dead worker's leases expire
    # a fresh worker (in this process) takes over the feeds the dead one left
    restart = run_cycle(load_settings(config), engine, worker="restarted")
    assert restart.feeds_checked == 24 - stored_before_restart

    with transaction(engine) as session:
        per_feed = Counter(session.scalars(select(FetchEvent.feed_id)).all())
    assert len(per_feed) == 24 and set(per_feed.values()) == {1}
    assert_stored_exactly_once(engine, served)
    assert leased(engine) == 0
    engine.dispose()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_monitor_run_stops_on_a_signal_after_storing_its_in_flight_feeds(
    signum: int, tmp_path: Path, feed_server: FeedServer
) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = make_engine(url)
    upgrade(engine)
    # 12 feeds, 4 at a time, 1.5 s each: the signal comes while the first 4 are in flight
    served = serve_feeds(feed_server, engine, 12, delay=1.5)
    config = write_config(tmp_path, url, batch_size=8)

    worker = subprocess.Popen(
        [MONITOR, "--config", str(config), "run"],
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(feed_server.requests) >= 4, 20, "four feeds in flight")
        in_flight = {path for path, _headers in feed_server.requests}
        worker.send_signal(signum)
        signalled = time.monotonic()
        out, err = worker.communicate(timeout=10)
    finally:
        worker.kill()
    took = time.monotonic() - signalled

    assert worker.returncode == 0, err
    assert took < 5, f"took {took:.1f} s to stop"
    assert "worker stopped" in out
    requested = {path for path, _headers in feed_server.requests}
    assert requested == in_flight and len(in_flight) == 4
    assert_stored_exactly_once(engine, {path: served[path] for path in in_flight})
    with transaction(engine) as session:
        checked = session.scalar(
            select(func.count()).select_from(Feed).where(Feed.last_checked_at.is_not(None))
        )
    assert checked == 4
    assert leased(engine) == 0
    engine.dispose()


# ---- transactions that lose a race run again (PostgreSQL) ----------------------


def _race_table(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE race (id integer PRIMARY KEY, n integer NOT NULL)"))
        conn.execute(text("INSERT INTO race VALUES (1, 0), (2, 0)"))
    return engine


def test_a_transaction_that_loses_a_deadlock_runs_again(postgres_url):
    # two workers update the same two rows in opposite orders: PostgreSQL aborts one
    engine = _race_table(postgres_url)
    both_hold_a_row = threading.Barrier(2)
    runs: Counter[str] = Counter()
    errors: list[BaseException] = []

    def worker(name: str, first: int, second: int) -> None:
        def work(session):
            runs[name] += 1
            session.execute(text("UPDATE race SET n = n + 1 WHERE id = :id"), {"id": first})
            if runs[name] == 1:
                both_hold_a_row.wait(timeout=10)
            session.execute(text("UPDATE race SET n = n + 1 WHERE id = :id"), {"id": second})

        try:
            in_transaction(engine, work)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=("a", 1, 2)),
        threading.Thread(target=worker, args=("b", 2, 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(runs.values()) == [1, 2]  # the loser ran once more, the winner once
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM race ORDER BY id")).scalars().all() == [2, 2]
    engine.dispose()


def test_any_other_database_error_is_raised_at_once(postgres_url):
    engine = _race_table(postgres_url)
    runs = 0

    def work(session):
        nonlocal runs
        runs += 1
        session.execute(text("INSERT INTO race VALUES (1, 0)"))

    with pytest.raises(IntegrityError):
        in_transaction(engine, work)
    assert runs == 1
    engine.dispose()
