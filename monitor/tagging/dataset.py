"""Labeled items: the shipped dataset, analyst corrections, and the fixed splits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from monitor.errors import InputError

LABELED_DIR = Path(__file__).resolve().parent / "data" / "labeled"
Split = Literal["train", "validation", "test"]
#: percentages of the hash space: 70 train, 15 validation, 15 test
_TRAIN_BELOW, _VALIDATION_BELOW = 70, 85


@dataclass(frozen=True)
class LabeledItem:
    id: str
    title: str
    summary: str = ""
    content: str = ""
    language: str = ""
    published: str = ""
    topic_labels: tuple[str, ...] = ()
    frame_labels: tuple[str, ...] = ()


def split_of(item_id: str) -> Split:
    """A stable split by hash of the id: adding items never moves existing ones."""
    bucket = int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % 100
    if bucket < _TRAIN_BELOW:
        return "train"
    return "validation" if bucket < _VALIDATION_BELOW else "test"


def load_labeled(paths: Iterable[Path] | None = None) -> list[LabeledItem]:
    """The shipped labeled items (every *.jsonl under data/labeled), sorted by id."""
    chosen = sorted(paths) if paths is not None else sorted(LABELED_DIR.glob("*.jsonl"))
    items = [item for path in chosen for item in read_labeled_jsonl(path)]
    return sorted(items, key=lambda item: item.id)


def read_labeled_jsonl(path: Path) -> Iterator[LabeledItem]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield labeled_from_record(_json_line(line, path, number), f"{path}:{number}")


def labeled_from_record(record: dict[str, Any], where: str) -> LabeledItem:
    try:
        return LabeledItem(
            id=str(record["id"]),
            title=str(record.get("title") or ""),
            summary=str(record.get("summary") or ""),
            content=str(record.get("content") or ""),
            language=str(record.get("language") or ""),
            published=str(record.get("published") or ""),
            topic_labels=tuple(sorted(record.get("topic_labels") or ())),
            frame_labels=tuple(sorted(record.get("frame_labels") or ())),
        )
    except KeyError as exc:
        raise InputError(f"{where}: missing field {exc}") from None


def _json_line(line: str, path: Path, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
    if not isinstance(record, dict):
        raise InputError(f"{path}:{number}: expected a JSON object")
    return record


def data_hash(items: Iterable[LabeledItem]) -> str:
    """Identifies the training data: any change to any item changes it."""
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda i: i.id):
        digest.update(json.dumps(item.__dict__, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()
