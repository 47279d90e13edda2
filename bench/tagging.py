"""Tagging speed: items per second for `monitor tag` (rules alone and combined), the model
alone against the scikit-learn objects it comes from, and retag cost.

    .venv/bin/python bench/tagging.py [--items 20000] [--retag 100000]

Items are the shipped labeled items (title + summary), repeated to the count.
The model comparison fits the shipped model's vectorisers and classifiers on the
labeled items, then times scikit-learn's transform + predict_proba against the
NumPy form the tagger runs (`monitor/tagging/linear.py`) on the labeled items and
on the entries of the real feeds in ../shared/realfeeds/feedjira__feedjira (long
texts). Runs on one core (OMP/BLAS threads pinned to 1). Reports wall-clock items/s and
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
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fetch_cycle import corpus_bodies

from monitor.config import Settings, load_settings
from monitor.errors import ParseError
from monitor.feeds.parse import parse_feed
from monitor.store.feeds import get_or_create_source
from monitor.store.models import Item
from monitor.store.session import make_engine, transaction, upgrade
from monitor.store.tags import item_ids_to_retag, tag_items
from monitor.tagging.contract import tag_stream
from monitor.tagging.dataset import load_labeled
from monitor.tagging.linear import LinearModel, model_text
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


def model_rates(settings: Settings) -> list[str]:
    """Table rows: items per CPU-second of scikit-learn and of the NumPy form, same texts."""
    from scipy import sparse

    from monitor.tagging.model import fit_text_model

    labeled = load_labeled()
    fitted = fit_text_model(
        [model_text(i.title, i.summary, i.content) for i in labeled],
        [set(i.topic_labels) for i in labeled],
        [set(i.frame_labels) for i in labeled],
        topics=[t.id for t in settings.tagging.topics],
        frames=[f.id for f in settings.tagging.frames],
        seed=13,
    )
    linear = LinearModel.from_text_model(fitted)

    def scikit_learn(texts: list[str]) -> Any:
        features = sparse.csr_matrix(fitted.vectorizer.transform(texts))
        topics = fitted.topic_classifier.predict_proba(features)
        return np.hstack([topics, fitted.frame_classifier.predict_proba(features)])

    def numpy_form(texts: list[str]) -> Any:
        return linear.label_probabilities(linear.features(texts), linear.labels)

    rows = []
    for name, texts in (
        ("labeled items (title + summary)", [model_text(i.title, i.summary) for i in labeled]),
        ("real feed entries", real_feed_texts()),
    ):
        chars = sum(map(len, texts)) / len(texts)
        rates, results = [], []
        for predict in (scikit_learn, numpy_form):
            started = time.process_time()
            results.append(
                np.vstack([predict(texts[k : k + 200]) for k in range(0, len(texts), 200)])
            )
            rates.append(len(texts) / (time.process_time() - started))
        gap = float(np.abs(results[0] - results[1]).max())
        rows.append(
            f"| {name}: {len(texts):,}, {chars:,.0f} characters on average | {rates[0]:,.0f} | "
            f"{rates[1]:,.0f} | {rates[1] / rates[0]:.2f}× | {gap:.1e} |"
        )
    return rows


def real_feed_texts() -> list[str]:
    texts = []
    for _name, body in corpus_bodies():
        try:
            parsed = parse_feed(body, url="http://127.0.0.1/", fetched_at=datetime.now(UTC))
        except ParseError:
            continue
        texts += [model_text(e.title, e.summary_text, e.content_text) for e in parsed.entries]
    return texts


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
    model_rows = model_rates(settings)
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
            "| model alone on | scikit-learn items/CPU-s | NumPy form items/CPU-s | speed-up "
            "| largest probability gap |",
            "|---|---|---|---|---|",
            *model_rows,
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
