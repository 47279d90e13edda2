"""Tagging speed: items per second for `monitor tag` (rules alone and combined) and retag cost.

    .venv/bin/python bench/tagging.py [--items 20000] [--retag 100000]

Items are the shipped labeled items (title + summary), repeated to the count.
Runs on one core (OMP/BLAS threads pinned to 1). Reports wall-clock items/s and
items per CPU-second of the process: on a shared machine the second is the one-core
figure, the first also counts time lost to other jobs. Writes results/tagging.md.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import io
import json
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from monitor.config import load_settings
from monitor.store.feeds import get_or_create_source
from monitor.store.models import Item
from monitor.store.session import make_engine, transaction, upgrade
from monitor.store.tags import item_ids_to_retag, tag_items
from monitor.tagging.contract import tag_stream
from monitor.tagging.dataset import load_labeled
from monitor.tagging.tagger import Tagger
from monitor.tagging.train import load_tagger

RESULTS = Path(__file__).resolve().parent / "results" / "tagging.md"


def jsonl(count: int) -> str:
    labeled = load_labeled()
    lines = []
    for n in range(count):
        item = labeled[n % len(labeled)]
        lines.append(
            json.dumps(
                {"id": n, "title": item.title, "summary": item.summary, "language": item.language},
                ensure_ascii=False,
            )
        )
    return "\n".join(lines) + "\n"


def items_per_second(tagger: Tagger, text: str, count: int) -> tuple[float, float]:
    """(items per wall-clock second, items per CPU-second of this process)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    tag_stream(tagger, io.StringIO(text), io.StringIO())
    return count / (time.perf_counter() - started), count / (time.process_time() - cpu_started)


def retag_seconds(tagger: Tagger, count: int) -> float:
    labeled = load_labeled()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        with transaction(engine) as session:
            source_id = get_or_create_source(session, "Bench", "media", "US").id
        start = datetime(2024, 1, 1, tzinfo=UTC)
        rows = [
            {
                "source_id": source_id,
                "title": labeled[n % len(labeled)].title,
                "summary_text": labeled[n % len(labeled)].summary,
                "language": labeled[n % len(labeled)].language,
                "published_at": start + timedelta(minutes=n),
                "content_hash": str(n),
            }
            for n in range(count)
        ]
        with transaction(engine) as session:
            session.execute(insert(Item), rows)
        started = time.perf_counter()
        with transaction(engine) as session:
            batches = list(item_ids_to_retag(session, since=None, batch=1000))
        for ids in batches:
            with transaction(engine) as session:
                tag_items(session, tagger, ids)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--retag", type=int, default=100_000)
    args = parser.parse_args()
    settings = load_settings(Path(__file__).resolve().parents[1] / "config.toml")
    combined = load_tagger(settings.tagging)
    rules_only = Tagger(settings.tagging)
    text = jsonl(args.items)
    load_before = os.getloadavg()[0]
    rates = {
        "rules alone": items_per_second(rules_only, text, args.items),
        "rules + model": items_per_second(combined, text, args.items),
    }
    load_after = os.getloadavg()[0]
    retag = retag_seconds(combined, args.retag) if args.retag else 0.0
    report = "\n".join(
        [
            "# Tagging benchmark",
            "",
            f"- run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()},"
            f" one core; tagger {combined.version}",
            f"- `monitor tag` path, {args.items} title+summary items in six languages;"
            f" load average {load_before:.1f} before, {load_after:.1f} after (2 cores)",
            "",
            "| tagger | items per CPU-second | vs. 2,000/s target | items per wall-second |",
            "|---|---|---|---|",
            *(
                f"| {name} | {cpu:,.0f} | {cpu / 2000:.2f}× | {wall:,.0f} |"
                for name, (wall, cpu) in rates.items()
            ),
            "",
            f"- retag of {args.retag:,} stored items (SQLite, 1,000 per transaction, every topic "
            f"and frame score written): {retag:.1f} s, {args.retag / retag if retag else 0:,.0f} "
            "items/s",
        ]
    )
    print(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
