"""The columns of an export and the three streaming writers (CSV, JSONL, Parquet).

Every writer takes a batch of rows at a time, column by column, and keeps no
more than that batch in memory (for Parquet, one row group). Nothing in a data
file depends on when or where it was written — no timestamps, fixed writer
settings, rows in id order — so the same rows give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from monitor.config import TaggingSettings
from monitor.export.query import ItemRow, iso_utc

#: rows per Parquet row group: bounds the writer's memory, fixed so files are reproducible
ROW_GROUP_ROWS = 10_000
#: a CSV cell starting with one of these is a formula to a spreadsheet
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    name: str
    #: the Parquet type; CSV and JSONL spell it as text, number, boolean or null
    arrow_type: pa.DataType
    meaning: str

    @property
    def type_name(self) -> str:
        return str(self.arrow_type)


def columns_for(tagging: TaggingSettings, *, with_content: bool) -> list[Column]:
    """Every column of an export, in file order."""
    s, ts = pa.string(), _TIMESTAMP
    columns = [
        Column("id", pa.int64(), "stable item id in the source database"),
        Column("canonical_url", s, "the link without tracking parameters, www., fragment, scheme"),
        Column("url", s, "the link as the publisher gave it"),
        Column("title", s, "title as plain text"),
        Column("summary", s, "summary as plain text"),
    ]
    if with_content:
        columns.append(Column("content", s, "full text as plain text, empty when not fetched"))
    columns += [
        Column("published", ts, "publication time, UTC (ISO 8601 with Z in CSV and JSONL)"),
        Column("fetched", ts, "when the monitor first stored the item, UTC"),
        Column("publisher", s, "the source (publisher) name"),
        Column("feed_url", s, "the feed that first carried the item; empty for imported items"),
        Column("source_type", s, "government, think_tank, intergovernmental or media"),
        Column("country", s, "the publisher's country (ISO 3166-1 alpha-2, or INT, EU)"),
        Column("language", s, "the item's language (ISO 639-1)"),
    ]
    for kind, labels in (("topic", tagging.topics), ("frame", tagging.frames)):
        for label in labels:
            columns.append(
                Column(
                    f"{label.id}_score",
                    pa.float64(),
                    f"{kind} '{label.name}': tagger score 0..1; empty when not tagged",
                )
            )
            columns.append(
                Column(
                    label.id,
                    pa.bool_(),
                    f"{kind} '{label.name}': true when the tagger assigns it; empty if not tagged",
                )
            )
    columns += [
        Column("evidence", s, "JSON list of the rule and model evidence behind the labels"),
        Column(
            "analyst_labels",
            s,
            "JSON list of analyst corrections {kind, label, applies, analyst, note, created_at}",
        ),
        Column("tagger_version", s, "the tagger version that made the scores; empty if untagged"),
        Column("content_hash", s, "SHA-256 of title, canonical URL, summary and content"),
    ]
    return columns


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def column_values(
    rows: Sequence[ItemRow], columns: list[Column], label_ids: list[str]
) -> dict[str, list[Any]]:
    """A batch of items as typed Python values, one list per column (None for missing).

    Column by column rather than row by row: the per-item work is then list
    comprehensions, which is most of the time an export spends outside SQL.
    """
    values: dict[str, list[Any]] = {
        "id": [r.id for r in rows],
        "canonical_url": [r.canonical_url for r in rows],
        "url": [r.url for r in rows],
        "title": [r.title for r in rows],
        "summary": [r.summary for r in rows],
        "content": [r.content for r in rows],
        "published": [r.published_at for r in rows],
        "fetched": [r.fetched_at for r in rows],
        "publisher": [r.publisher for r in rows],
        "feed_url": [r.feed_url for r in rows],
        "source_type": [r.source_type for r in rows],
        "country": [r.country for r in rows],
        "language": [r.language for r in rows],
        "content_hash": [r.content_hash for r in rows],
    }
    tags_by_label = [[r.tags.get(label) for r in rows] for label in label_ids]
    for label, tags in zip(label_ids, tags_by_label, strict=True):
        values[f"{label}_score"] = [t.score if t else None for t in tags]
        values[label] = [t.is_positive if t else None for t in tags]
    # evidence in codebook order; most tags have none, so skip the encoder then
    evidence: list[list[Any]] = [[] for _ in rows]
    for tags in tags_by_label:
        for found, t in zip(evidence, tags, strict=True):
            if t and t.evidence:
                found.extend(t.evidence)
    values["evidence"] = [_json(e) if e else "[]" for e in evidence]
    values["analyst_labels"] = [_json(r.analyst_labels) if r.analyst_labels else "[]" for r in rows]
    values["tagger_version"] = [
        " ".join(sorted({t.tagger_version for t in r.tags.values()})) or None for r in rows
    ]
    return {c.name: values[c.name] for c in columns}


class BatchWriter(Protocol):
    def write(self, batch: dict[str, list[Any]]) -> None: ...

    def close(self) -> None: ...


def iso_texts(moments: list[datetime | None]) -> list[str | None]:
    """UTC ISO 8601 with a Z, as iso_utc spells it, for a column of timestamps.

    The store hands out UTC times, whose isoformat() only needs its +00:00
    swapped for a Z; anything else goes through iso_utc.
    """
    return [
        None if m is None
        else text[:-6] + "Z" if (text := m.isoformat()).endswith("+00:00")
        else iso_utc(m)
        for m in moments
    ]  # fmt: skip


class JsonlWriter:
    """One JSON object per line, keys in column order, UTF-8, \\n line ends."""

    def __init__(self, out: IO[bytes], columns: list[Column]) -> None:
        self._out = out
        self._names = [c.name for c in columns]
        self._times = {c.name for c in columns if c.arrow_type == _TIMESTAMP}
        self._encode = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode

    def write(self, batch: dict[str, list[Any]]) -> None:
        cells = [iso_texts(batch[n]) if n in self._times else batch[n] for n in self._names]
        names, encode = self._names, self._encode
        lines = [encode(dict(zip(names, row, strict=True))) for row in zip(*cells, strict=True)]
        if lines:
            self._out.write(("\n".join(lines) + "\n").encode("utf-8"))

    def close(self) -> None:
        self._out.flush()


def neutralise(cell: str) -> str:
    """Prefix a quote to a cell a spreadsheet would run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


_BOOL_CELLS = {True: "true", False: "false"}


class CsvWriter:
    """RFC 4180: a header row, QUOTE_MINIMAL, CRLF, UTF-8 without a BOM.

    The csv module spells None as an empty cell and floats with repr(), as
    wanted; booleans, timestamps and formula-like text are converted first.
    """

    def __init__(self, out: IO[bytes], columns: list[Column], *, raw: bool = False) -> None:
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self._columns = columns
        self._raw = raw
        self._csv.writerow([c.name for c in columns])

    def write(self, batch: dict[str, list[Any]]) -> None:
        cells = [self._cells(c, batch[c.name]) for c in self._columns]
        self._csv.writerows(zip(*cells, strict=True))

    def _cells(self, column: Column, values: list[Any]) -> list[Any]:
        kind = column.arrow_type
        if kind == pa.bool_():
            return [_BOOL_CELLS.get(v) for v in values]
        if kind == _TIMESTAMP:
            return iso_texts(values)
        if kind == pa.string() and not self._raw:
            return ["'" + v if v and v.startswith(FORMULA_STARTS) else v for v in values]
        return values

    def close(self) -> None:
        self._text.flush()
        self._text.detach()


class ParquetWriter:
    """A typed Parquet file in row groups of ROW_GROUP_ROWS (zstd, no variable metadata).

    Batches are kept as Arrow arrays, far smaller than the Python rows, until
    a row group is full; a group is then written in one contiguous piece, so
    the bytes do not depend on how the rows were batched.
    """

    def __init__(self, out: IO[bytes], columns: list[Column]) -> None:
        self._schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
        self._writer = pq.ParquetWriter(
            out,
            self._schema,
            compression="zstd",
            compression_level=3,
            use_dictionary=True,
            write_statistics=True,
            version="2.6",
            data_page_version="1.0",
            store_schema=True,
        )
        self._times = {c.name for c in columns if c.arrow_type == _TIMESTAMP}
        self._group_rows = ROW_GROUP_ROWS  # read here, not at import: tests make groups small
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, batch: dict[str, list[Any]]) -> None:
        arrays = [
            _timestamps(batch[f.name]) if f.name in self._times else pa.array(batch[f.name], f.type)
            for f in self._schema
        ]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self._group_rows:
            self._flush(self._pending_rows - self._pending_rows % self._group_rows)

    def _flush(self, rows: int) -> None:
        pending = pa.concat_tables(self._pending)
        if rows:
            whole = pending.slice(0, rows).combine_chunks()
            self._writer.write_table(whole, row_group_size=self._group_rows)
        rest = pending.slice(rows)
        self._pending, self._pending_rows = [rest], rest.num_rows

    def close(self) -> None:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()


def _timestamps(moments: list[datetime | None]) -> pa.Array:
    """Arrow converts naive datetimes some twenty times faster than aware ones."""
    naive = [
        None if m is None
        else m.replace(tzinfo=None) if m.tzinfo is UTC
        else m.astimezone(UTC).replace(tzinfo=None)
        for m in moments
    ]  # fmt: skip
    return pa.array(naive, pa.timestamp("us")).cast(_TIMESTAMP)


def open_writer(
    file_format: str, out: IO[bytes], columns: list[Column], *, raw: bool = False
) -> BatchWriter:
    if file_format == "csv":
        return CsvWriter(out, columns, raw=raw)
    if file_format == "jsonl":
        return JsonlWriter(out, columns)
    if file_format == "parquet":
        return ParquetWriter(out, columns)
    raise ValueError(f"unknown format {file_format!r}")


def sniff_path(path: Path) -> str | None:
    """The format a file name asks for (.csv, .jsonl/.ndjson, .parquet/.pq)."""
    return {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
            ".pq": "parquet"}.get(path.suffix.lower())  # fmt: skip
