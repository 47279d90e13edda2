"""The real-item gold set: labels kept in the repository, texts read from the shared corpus.

The team-written labeled items are short; real feed items are often long
speeches and readouts, where the tagger over-tags. This set measures that. It
stores only a reference to each item (a corpus file and the item's link) and
its labels, and is never used for training or calibration.

    python -m monitor.tagging.real_gold [GOLD.jsonl] [REALFEEDS_DIR]
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from monitor.config import load_settings
from monitor.errors import InputError
from monitor.feeds.normalize import html_to_text
from monitor.tagging.dataset import LabeledItem
from monitor.tagging.evaluate import markdown_comparison
from monitor.tagging.tagger import Tagger
from monitor.tagging.train import load_tagger, score

REPO = Path(__file__).resolve().parents[2]
GOLD_FILE = REPO / "tests" / "data" / "real_gold.jsonl"


def default_realfeeds() -> Path:
    shared = os.environ.get("MONITOR_SHARED_DIR")
    return (Path(shared) if shared else REPO.parent / "shared") / "realfeeds"


def load_real_gold(gold_file: Path, realfeeds: Path) -> list[LabeledItem]:
    """The gold items with their text resolved from the corpus, in file order."""
    references = [json.loads(line) for line in gold_file.read_text("utf-8").splitlines() if line]
    sources: dict[str, dict[str, dict[str, str]]] = {}
    items = []
    for reference in references:
        path = reference["source"]
        if path not in sources:
            sources[path] = _items_by_link(realfeeds / path)
        found = sources[path].get(reference["key"])
        if found is None:
            raise InputError(f"{gold_file}: {reference['key']} is not in {path}")
        items.append(
            LabeledItem(
                id=reference["key"],
                title=found["title"],
                summary=found["summary"],
                content=found["content"],
                language="en",
                topic_labels=tuple(reference["topic_labels"]),
                frame_labels=tuple(reference["frame_labels"]),
            )
        )
    return items


def _items_by_link(path: Path) -> dict[str, dict[str, str]]:
    """link -> title, summary, content of a press-release CSV or a feed-entries JSON file."""
    if path.suffix == ".csv":
        csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
        with path.open(encoding="utf-8", newline="") as handle:
            return {
                row["link"]: {
                    "title": row["headline"],
                    "summary": row.get("summary") or "",
                    "content": row["body"],
                }
                for row in csv.DictReader(handle)
            }
    data: Any = json.loads(path.read_text("utf-8"))
    entries = data["entries"] if isinstance(data, dict) else data
    return {
        entry["link"]: {
            "title": entry.get("title") or "",
            "summary": html_to_text(entry.get("description") or ""),
            "content": "",
        }
        for entry in entries
        if entry.get("link")
    }


def main(argv: list[str]) -> None:
    gold_file = Path(argv[0]) if argv else GOLD_FILE
    realfeeds = Path(argv[1]) if len(argv) > 1 else default_realfeeds()
    items = load_real_gold(gold_file, realfeeds)
    tagging = load_settings().tagging
    tagger = load_tagger(tagging)
    print(f"{len(items)} real items, tagger {tagger.version}\n")
    print(markdown_comparison(score(Tagger(tagging), items), score(tagger, items)))


if __name__ == "__main__":
    main(sys.argv[1:])
