"""The `monitor tag` JSONL contract (see the codebook): items in, the same items tagged out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from monitor.errors import InputError
from monitor.tagging.tagger import Tagger, TagInput

#: items tagged per model call: large enough to vectorise efficiently, small enough to stream
BATCH = 256


def read_items(stream: IO[str], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a bad line is an InputError."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}:{number}: not valid JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise InputError(f"{name}:{number}: expected a JSON object")
        if "id" not in record or not isinstance(record.get("title"), str):
            raise InputError(f"{name}:{number}: an item needs 'id' and a string 'title'")
        yield number, record


def to_input(record: dict[str, Any]) -> TagInput:
    return TagInput(
        title=record["title"],
        summary=str(record.get("summary") or ""),
        content=str(record.get("content") or ""),
        language=str(record.get("language") or ""),
    )


def tag_stream(tagger: Tagger, source: IO[str], sink: IO[str], name: str = "<input>") -> int:
    """Tag every item of `source` into `sink`, in input order; returns the count."""
    count = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        for record, result in zip(
            batch, tagger.tag_many([to_input(r) for r in batch]), strict=True
        ):
            sink.write(json.dumps({**record, **result.as_dict()}, ensure_ascii=False) + "\n")
        batch.clear()

    for _number, record in read_items(source, name):
        batch.append(record)
        count += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return count
