"""Benchmark: export N tagged items to Parquet, CSV and JSONL; items per second, peak memory.

    .venv/bin/python bench/export.py [--items 1000000] [--keep DIR] [--formats parquet,csv,jsonl]

Builds a temporary SQLite database at the current schema, fills it with bulk
inserts (items spread over 60 feeds and three years, every item tagged for
every topic and frame, one in fifty with an analyst correction), or reuses the
one in --keep DIR, then runs each export in a child process and reads that
child's peak resident memory (ru_maxrss from wait4), so the figure is the
export's own, not the generator's.
Writes bench/results/export.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config import settings_from_dict  # noqa: E402
from monitor.store.session import make_engine, upgrade  # noqa: E402

RESULTS = REPO / "bench" / "results" / "export.md"
TARGET_MB = 300
WORDS = (
    "nato membership neutrality security guarantees ukraine alliance accession summit "
    "treaty article reassurance coalition negotiations ceasefire sovereignty enlargement "
    "policy minister statement analysis report europe defence brussels kyiv moscow"
).split()


def _sqlite_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(db_path: Path, items: int, seed: int = 7) -> float:
    """Fill the database; returns seconds taken."""
    started = time.perf_counter()
    settings = settings_from_dict({"database": {"url": f"sqlite:///{db_path}"}})
    engine = make_engine(settings.database.url)
    upgrade(engine)
    engine.dispose()
    labels = [("topic", t.id) for t in settings.tagging.topics]
    labels += [("frame", f.id) for f in settings.tagging.frames]
    rng = random.Random(seed)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    now = _sqlite_time(datetime(2026, 1, 1, tzinfo=UTC))
    kinds = ("government", "think_tank", "intergovernmental", "media")
    for n in range(60):
        conn.execute(
            "INSERT INTO sources (id, name, source_type, country, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (n + 1, f"Publisher {n}", kinds[n % 4], ("US", "DE", "UA", "FR", "PL")[n % 5], now),
        )
        conn.execute(
            "INSERT INTO feeds (id, url, original_url, source_id, title, language, verified, "
            "enabled, full_text, interval_seconds, next_check_at, failure_score, "
            "consecutive_failures, status, status_line, backfill_done, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, '', 'en', 1, 1, 0, 3600, ?, 0, 0, 'ok', 'ok', 0, ?, ?)",
            (n + 1, f"https://feeds{n}.example/rss", f"https://feeds{n}.example/rss", n + 1,
             now, now, now),
        )  # fmt: skip
    start = datetime(2023, 1, 1, tzinfo=UTC)
    version = "2026.01-bench00"
    batch = 10_000
    for first in range(1, items + 1, batch):
        item_rows, tag_rows, score_rows, corrections = [], [], [], []
        for item_id in range(first, min(first + batch, items + 1)):
            words = rng.choices(WORDS, k=12)
            title = " ".join(words[:7]).capitalize()
            summary = " ".join(words) + ". " + " ".join(rng.choices(WORDS, k=30)) + "."
            published = start + timedelta(minutes=item_id * 1.5)
            feed = item_id % 60 + 1
            item_rows.append(
                (item_id, feed, feed, "feed", f"https://site{feed}.example/{item_id}",
                 f"site{feed}.example/{item_id}", title, title.lower(), summary, summary, "",
                 "", "", "", "en", "feed", _sqlite_time(published), 0, now, now,
                 f"{item_id:064x}")
            )  # fmt: skip
            scores: dict[str, dict[str, float]] = {"topic": {}, "frame": {}}
            evidence = []
            for kind, label in labels:
                score = scores[kind][label] = round(rng.random(), 4)
                found = [{"label": label, "kind": "rule", "rule": f"{label}_1"}] * (score > 0.8)
                evidence += found
                if score > 0.5:
                    tag_rows.append(
                        (item_id, kind, label, score, True, json.dumps(found), version, now)
                    )
            score_rows.append(
                (item_id, json.dumps(scores["topic"]), json.dumps(scores["frame"]),
                 max(scores["topic"].values()), json.dumps(evidence), version, now)
            )  # fmt: skip
            if item_id % 50 == 0:
                corrections.append((item_id, "frame", labels[-1][1], 1, "analyst", "checked", now))
        conn.executemany(
            "INSERT INTO items (id, source_id, feed_id, origin, url, canonical_url, title, "
            "title_key, summary_html, summary_text, content_html, content_text, "
            "content_method, author, language, language_source, published_at, "
            "published_is_fallback, fetched_at, updated_at, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            item_rows,
        )
        conn.executemany(
            "INSERT INTO tags (item_id, kind, label, score, is_positive, evidence, "
            "tagger_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            tag_rows,
        )
        conn.executemany(
            "INSERT INTO item_scores (item_id, topics, frames, top_topic_score, evidence, "
            "tagger_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            score_rows,
        )
        conn.executemany(
            "INSERT INTO analyst_labels (item_id, kind, label, applies, analyst, note, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            corrections,
        )
        conn.commit()
    conn.close()
    return time.perf_counter() - started


def child(db_path: Path, file_format: str, output: Path) -> None:
    """The measured process: one export, nothing else."""
    from monitor.export.dataset import export_dataset
    from monitor.export.query import make_filter

    settings = settings_from_dict({"database": {"url": f"sqlite:///{db_path}"}})
    engine = make_engine(settings.database.url)
    result = export_dataset(
        settings, engine, make_filter(settings), output, file_format=file_format
    )
    print(json.dumps({"rows": result.rows}))


def rss_mb(pid: int) -> float | None:
    """The process's resident memory now (VmRSS), None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def measure(db_path: Path, file_format: str, output: Path) -> dict[str, Any]:
    """Run one export in a child: its peak RSS from wait4, its RSS twice a second meanwhile."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(db_path), file_format, str(output)],
        stdout=subprocess.PIPE,
    )
    samples = []
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if (rss := rss_mb(process.pid)) is not None:
            samples.append(rss)
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    assert process.stdout is not None
    out = process.stdout.read()
    if status != 0:
        raise SystemExit(f"export to {file_format} failed")
    rows = json.loads(out)["rows"]
    # RSS at the end of each tenth of the run: the rows go by at a steady rate,
    # so flat figures mean memory does not grow with the number of rows
    n = len(samples)
    tenths = [samples[min(n - 1, n * k // 10)] for k in range(1, 11)] if samples else []
    return {
        "rows": rows,
        "seconds": elapsed,
        "items_per_second": rows / elapsed,
        # CPU time says more than wall time on a shared machine
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "rss_by_tenth_mb": tenths,
        "file_mb": output.stat().st_size / 1e6,
        "load": (load_before, os.getloadavg()[0]),
    }


def stored_items(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the database and files in this directory; a database there with "
        "--items items is reused instead of generated again",
    )
    parser.add_argument("--formats", default="parquet,csv,jsonl", help="comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        db_path = folder / "bench.db"
        generated = None
        if stored_items(db_path) != args.items:
            db_path.unlink(missing_ok=True)
            generated = generate(db_path, args.items)
        print(f"{args.items:,} items, {db_path.stat().st_size / 1e6:,.0f} MB database "
              + (f"generated in {generated:.0f} s" if generated else "reused"))  # fmt: skip
        results = {}
        for file_format in args.formats.split(","):
            results[file_format] = measure(db_path, file_format, folder / f"items.{file_format}")
            r = results[file_format]
            print(f"{file_format}: {r['rows']:,} rows in {r['seconds']:.1f} s = "
                  f"{r['items_per_second']:,.0f} items/s, {r['cpu_seconds']:.0f} CPU s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB, "
                  f"file {r['file_mb']:.0f} MB, "
                  f"load {r['load'][0]:.1f} → {r['load'][1]:.1f}")  # fmt: skip
    write_results(args.items, generated, results)


def write_results(items: int, generated: float | None, results: dict[str, dict[str, Any]]) -> None:
    lines = [
        "# Export benchmark",
        "",
        "`.venv/bin/python bench/export.py --items N [--keep DIR]`: a SQLite database with",
        "N items, each scored for every topic and frame (one scores row, a tag row per label",
        "that applies), one in fifty with an analyst correction; each export runs in its own",
        "child process, whose peak resident memory is read with wait4 (ru_maxrss) and whose",
        "RSS is sampled twice a second. Times include the child's start-up (imports, about",
        "1 s); CPU s is the child's user + system time, which other jobs on the machine do",
        "not inflate as they do the wall time. No --with-content.",
        "",
        f"- items: {items:,}"
        + (f" (database generated in {generated:.0f} s)" if generated else " (database reused)"),
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.system()}",
        f"- date: {datetime.now(UTC).date().isoformat()}",
        "",
        f"| format | rows | seconds | items/s | CPU s | items per CPU s | peak RSS (MB) "
        f"| file (MB) | under {TARGET_MB} MB | load average (start → end) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ok = "yes" if r["peak_rss_mb"] < TARGET_MB else "NO"
        lines.append(
            f"| {name} | {r['rows']:,.0f} | {r['seconds']:.1f} | {r['items_per_second']:,.0f} "
            f"| {r['cpu_seconds']:.0f} | {r['rows'] / r['cpu_seconds']:,.0f} "
            f"| {r['peak_rss_mb']:.0f} | {r['file_mb']:.0f} | {ok} "
            f"| {r['load'][0]:.1f} → {r['load'][1]:.1f} |"
        )
    lines += [
        "",
        "RSS (MB) at the end of each tenth of the run:",
        "",
        "| format | " + " | ".join(f"{k}0%" for k in range(1, 11)) + " |",
        "|---|" + "---|" * 10,
    ]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.0f}" for v in r["rss_by_tenth_mb"]) + " |")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
