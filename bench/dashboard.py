"""Dashboard callbacks against a million items: median seconds per callback on SQLite.

    .venv/bin/python bench/dashboard.py [--items 1000000] [--db PATH] [--no-write]
                                        [--only TEXT]

A generator fills a temporary SQLite database (schema from the migrations)
with `--items` items over 2008–2026 (denser in recent years) from 60
publishers, each item with one tag row per topic and per frame like the
tagger writes (about 20% of items on a topic), 12 themes with weekly counts
and item assignments. Rows go in with executemany in chunks; the indexes and
triggers of `items` and `tags` are dropped during the load and put back after
it, then item_counts and the full-text index are built in one pass each.

Then each page's callback runs as Dash would call it (inside a Flask request,
query + statistics + figure), 5 times; the table shows the median and slowest
wall-clock time and the median CPU time of the process (the machine may be
shared: the load average is sampled during the run). Writes
results/dashboard.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config import load_settings
from monitor.store.counts import rebuild_counts
from monitor.store.session import make_engine, upgrade

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.md"
CHUNK = 50_000
FIRST = datetime(2008, 1, 1, tzinfo=UTC)
LAST = datetime(2026, 11, 1, tzinfo=UTC)
TYPES = ("government", "think_tank", "intergovernmental", "media")
COUNTRIES = ("US", "RU", "UA", "DE", "FR", "PL", "GB", "EU")
LANGUAGES = ("en", "ru", "uk", "de", "fr", "pl")
WORDS = (
    "nato membership accession ukraine neutrality guarantees security alliance summit enlargement "
    "russia kyiv moscow brussels washington treaty ceasefire negotiations sovereignty defence "
    "weapons deterrence europe coalition peace talks istanbul budapest memorandum article border "
    "army reform energy sanctions economy election parliament minister president statement "
    "dialogue partnership strategy aid reconstruction grain shipping drones missiles air "
    "finland sweden georgia moldova austria switzerland ireland compromise settlement"
).split()


def sqlite_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(path: Path, count: int, seed: int = 7) -> dict[str, float]:
    """Fill the database at `path`; returns seconds per phase."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    settings = load_settings(Path(__file__).resolve().parents[1] / "config.toml")
    topics = [t.id for t in settings.tagging.topics]
    frames = [f.id for f in settings.tagging.frames]
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    # a throw-away database: no journal while loading, WAL again for the readers
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    # indexes and triggers (item_counts, full text) go during the load, back after it
    dropped = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL AND tbl_name IN ('items', 'tags', 'item_themes')"
    ).fetchall()
    for kind, name, _sql in dropped:
        conn.execute(f"DROP {kind.upper()} {name}")
    now = sqlite_time(datetime.now(UTC))
    for sid in range(1, 61):
        conn.execute(
            "INSERT INTO sources (id, name, source_type, country, created_at) VALUES (?,?,?,?,?)",
            (sid, f"Publisher {sid:02d}", TYPES[sid % 4], COUNTRIES[sid % 8], now),
        )
        conn.execute(
            "INSERT INTO feeds (id, url, original_url, source_id, title, language, verified, "
            "enabled, full_text, interval_seconds, next_check_at, last_success_at, "
            "failure_score, consecutive_failures, status, status_line, backfill_done, "
            "created_at, updated_at) VALUES (?,?,?,?,?,?,1,?,0,3600,?,?,?,?,?,?,0,?,?)",
            (
                sid,
                f"https://feeds.example.org/{sid}.xml",
                f"https://feeds.example.org/{sid}.xml",
                sid,
                f"Feed {sid}",
                LANGUAGES[sid % 6],
                int(sid % 13 != 0),
                now,
                now,
                float(sid % 5 == 0) * 3,
                int(sid % 5 == 0),
                "error" if sid % 5 == 0 else "ok",
                "HTTP 503" if sid % 5 == 0 else "fetched 4 new items",
                now,
                now,
            ),
        )
    summaries = [" ".join(rng.choices(WORDS, k=35)) for _ in range(3000)]
    span = (LAST - FIRST).total_seconds()
    item_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[Any, ...]] = []
    score_rows: list[tuple[Any, ...]] = []
    insert_seconds = 0.0

    def flush() -> None:
        nonlocal insert_seconds
        t0 = time.perf_counter()
        conn.executemany(
            "INSERT INTO items (id, source_id, feed_id, origin, url, canonical_url, title, "
            "title_key, summary_html, summary_text, content_html, content_text, content_method, "
            "author, language, language_source, published_at, published_is_fallback, fetched_at, "
            "updated_at, content_hash) VALUES (?,?,?,'feed',?,?,?,?,'',?,'','','','',?,'feed',?,0,"
            "?,?,?)",
            item_rows,
        )
        conn.executemany(
            "INSERT INTO tags (item_id, kind, label, score, is_positive, evidence, tagger_version,"
            " created_at) VALUES (?,?,?,?,?,?,'bench-1',?)",
            tag_rows,
        )
        conn.executemany(
            "INSERT INTO item_scores (item_id, topics, frames, top_topic_score, evidence,"
            " tagger_version, created_at) VALUES (?,?,?,?,?,'bench-1',?)",
            score_rows,
        )
        conn.commit()
        item_rows.clear()
        tag_rows.clear()
        score_rows.clear()
        insert_seconds += time.perf_counter() - t0

    t_gen = time.perf_counter()
    for item_id in range(1, count + 1):
        # density grows towards the present: sqrt of a uniform leans late
        moment = FIRST + timedelta(seconds=span * rng.random() ** 0.5)
        sid = rng.randint(1, 60)
        title = " ".join(rng.choices(WORDS, k=8)) + f" {item_id}"
        published = sqlite_time(moment)
        url = f"https://example.org/{item_id}"
        item_rows.append(
            (
                item_id,
                sid,
                sid,
                url,
                url,
                title,
                title,
                summaries[item_id % 3000],
                LANGUAGES[sid % 6],
                published,
                published,
                published,
                f"{item_id:064x}",
            )
        )
        r = rng.random()
        chosen_topics = set()
        if r < 0.2:
            chosen_topics.add(topics[int(r * 15) % 3])
            if r < 0.04:
                chosen_topics.add(topics[(int(r * 15) + 1) % 3])
        chosen_frames = set()
        if chosen_topics:
            # frame mix drifts with time so that shifts exist to be found
            late = moment.year >= 2022
            chosen_frames.add(frames[(rng.randint(0, 5) + (3 if late else 0)) % len(frames)])
            if rng.random() < 0.2:
                chosen_frames.add(frames[rng.randint(0, len(frames) - 1)])
        scores: dict[str, dict[str, float]] = {"topic": {}, "frame": {}}
        evidence = []
        for kind, labels, chosen in (
            ("topic", topics, chosen_topics),
            ("frame", frames, chosen_frames),
        ):
            for label in labels:
                positive = label in chosen
                scores[kind][label] = 0.9 if positive else 0.05
                if not positive:
                    continue
                found = {"label": label, "kind": "rule", "rule": "bench", "text": "nato",
                         "field": "title", "start": 0, "end": 4}  # fmt: skip
                evidence.append(found)
                tag_rows.append((item_id, kind, label, 0.9, 1, json.dumps([found]), published))
        score_rows.append(
            (
                item_id,
                json.dumps(scores["topic"]),
                json.dumps(scores["frame"]),
                max(scores["topic"].values()),
                json.dumps(evidence),
                published,
            )
        )
        if len(item_rows) >= CHUNK:
            flush()
    flush()
    conn.commit()
    timings["generate and insert items and tags"] = time.perf_counter() - t_gen
    timings["of which executemany"] = insert_seconds

    t0 = time.perf_counter()
    weeks = int((LAST - FIRST).days / 7)
    for theme in range(1, 13):
        conn.execute(
            "INSERT INTO themes (id, fit_id, position, label, top_terms, items, fitted_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                theme,
                "bench",
                theme,
                f"theme {theme}",
                json.dumps([[w, 0.1] for w in rng.sample(WORDS, 10)]),
                1000,
                now,
            ),
        )
        conn.executemany(
            "INSERT INTO theme_counts (theme_id, period_start, items) VALUES (?,?,?)",
            [
                (
                    theme,
                    sqlite_time(FIRST + timedelta(weeks=w) - timedelta(days=FIRST.weekday())),
                    rng.randint(0, 40),
                )
                for w in range(weeks)
            ],
        )
    conn.executemany(
        "INSERT INTO item_themes (item_id, theme_id, weight) VALUES (?,?,?)",
        [(i, i % 12 + 1, 0.5) for i in range(1, count + 1, 5)],
    )
    conn.commit()
    timings["themes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _kind, _name, sql in dropped:
        conn.execute(sql)
    conn.commit()
    timings["rebuild schema indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("INSERT INTO items_fts (items_fts) VALUES ('rebuild')")
    conn.commit()
    timings["full-text index"] = time.perf_counter() - t0
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    t0 = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        rebuild_counts(connection)
    engine.dispose()
    timings["item_counts"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    return timings


def callbacks() -> list[tuple[str, Callable[[], Any]]]:
    """(name, call) for every page callback, with the arguments a first visit sends."""
    pages = {
        name: sys.modules[f"dashboards.pages.{name}"]
        for name in ("overview", "framing", "changed", "compare", "themes", "items", "sources")
    }
    none = (None, None, [], [], [], [])
    gov = ("2022-01-01", "2024-12-31", ["government"], [], [], [])
    click = lambda x, data: {"x": x, "customdata": data}  # noqa: E731  (a clicked point)
    p = pages
    return [
        (
            "overview: topics, latest, health (all time, week)",
            lambda: p["overview"].update(*none, "week", "count"),
        ),
        (
            "overview: same, government 2022–2024, share",
            lambda: p["overview"].update(*gov, "week", "share"),
        ),
        (
            "overview: click a point → items",
            lambda: p["overview"].items_at(click("2022-02-21", ["nato_membership"]), *none, "week"),
        ),
        (
            "framing: frame shares + shifts (all time, month)",
            lambda: p["framing"].update(*none, "nato_membership", "month"),
        ),
        ("framing: same, per week", lambda: p["framing"].update(*none, "nato_membership", "week")),
        (
            "framing: government 2022–2024, per week",
            lambda: p["framing"].update(*gov, "security_guarantees", "week"),
        ),
        (
            "framing: click a point → items",
            lambda: p["framing"].items_at(
                click("2022-02-01", ["sovereign_choice"]), *none, "nato_membership", "month"
            ),
        ),
        (
            "what changed: two 90-day periods, all items",
            lambda: p["changed"].update(
                *none,
                "periods",
                "",
                "2026-05-05",
                "2026-08-02",
                "2026-08-03",
                "2026-10-31",
                "source_type",
                [],
                [],
            ),
        ),
        (
            "what changed: two periods, one topic",
            lambda: p["changed"].update(
                *none,
                "periods",
                "nato_membership",
                "2025-11-04",
                "2026-05-03",
                "2026-05-04",
                "2026-10-31",
                "source_type",
                [],
                [],
            ),
        ),
        (
            "what changed: government vs media, 2026",
            lambda: p["changed"].update(
                "2026-01-01",
                "2026-10-31",
                [],
                [],
                [],
                [],
                "groups",
                "",
                None,
                None,
                None,
                None,
                "source_type",
                ["government"],
                ["media"],
            ),
        ),
        (
            "compare: heatmap + small multiples (source type, month)",
            lambda: p["compare"].update(*none, "nato_membership", "source_type", "month"),
        ),
        (
            "compare: by publisher (60 groups, 6 panels)",
            lambda: p["compare"].update(*none, "neutrality", "publisher", "month"),
        ),
        (
            "compare: click a cell → items",
            lambda: p["compare"].items_in_cell(
                click(None, ["media", "factual_report"]), *none, "nato_membership", "source_type"
            ),
        ),
        ("themes: table + trends (week)", lambda: p["themes"].update(None, None, "week")),
        (
            "themes: click a point → items",
            lambda: p["themes"].items_at(click("2024-01-01", [3, "theme 3"]), "week"),
        ),
        ("items: first page, no search", lambda: p["items"].search("", [], 0, *none)),
        ("items: search one word", lambda: p["items"].search("ceasefire", [], 0, *none)),
        (
            "items: search two words + a label",
            lambda: p["items"].search("ceasefire grain", ["neutrality"], 0, *none),
        ),
        (
            "items: search a rare word (full scan)",
            lambda: p["items"].search("zzzunseen", [], 0, *none),
        ),
        ("items: open an item", lambda: p["items"].detail(123_456)),
        ("sources: feed table", lambda: p["sources"].update([])),
    ]


Timing = tuple[str, float, float, float]  # name, median wall, slowest wall, median CPU


def time_callbacks(
    path: Path, repeats: int = 5, only: str = ""
) -> tuple[list[Timing], list[float]]:
    """Each callback's timings, and the 1-minute load average sampled after each."""
    from dashboards.app import create_app

    settings = load_settings(Path(__file__).resolve().parents[1] / "config.toml")
    engine = make_engine(f"sqlite:///{path}")
    app = create_app(settings, engine)
    results = []
    loads = [os.getloadavg()[0]]
    with app.server.test_request_context("/"):
        for name, call in callbacks():
            if only not in name:
                continue
            wall, cpu = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                call()
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            timing = (name, statistics.median(wall), max(wall), statistics.median(cpu))
            results.append(timing)
            loads.append(os.getloadavg()[0])
            print(
                f"{timing[1]:7.3f} s  {timing[2]:7.3f} s  cpu {timing[3]:6.3f} s  {name}",
                flush=True,
            )
    engine.dispose()
    return results, loads


def report(
    count: int,
    timings: dict[str, float],
    results: list[Timing],
    loads: list[float],
    size_mb: float,
) -> str:
    lines = [
        "# Dashboard callbacks on SQLite",
        "",
        f"`bench/dashboard.py --items {count}` on {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; database {size_mb:,.0f} MB, {count:,} items, "
        f"{count:,} scores rows. Load average (1 min) during the run: "
        f"{min(loads):.1f}–{max(loads):.1f}.",
        "",
    ]
    if timings:
        lines += ["Load: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ".", ""]
    lines += [
        "| callback | median of 5 | slowest | median CPU |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {median:.3f} s | {worst:.3f} s | {cpu:.3f} s |"
        for name, median, worst, cpu in results
    ]
    over = [name for name, median, _, _ in results if median >= 0.5]
    lines += [
        "",
        f"Target: median < 0.5 s per callback. Over the target: {len(over)}"
        + (" (" + "; ".join(over) + ")." if over else "."),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="reuse (or create) this database file")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", default="", help="time only callbacks whose name has this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        timings: dict[str, float] = {}
        if not path.exists():
            timings = generate(path, args.items)
            print("load:", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()), flush=True)
        results, loads = time_callbacks(path, only=args.only)
        size_mb = path.stat().st_size / 1e6
        text = report(args.items, timings, results, loads, size_mb)
        print(text)
        if not args.no_write:
            RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
