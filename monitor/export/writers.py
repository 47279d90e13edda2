"""The columns of an export and the three streaming writers (CSV, JSONL, Parquet).

Every writer takes rows one at a time and keeps at most one Parquet row group
in memory. Nothing in a data file depends on when or where it was written —
no timestamps, fixed writer settings, rows in id order — so the same rows give
the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from monitor.config import TaggingSettings
from monitor.export.query import ItemRow, iso_utc

FORMATS = ("csv", "jsonl", "parquet")
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


def row_values(row: ItemRow, columns: list[Column], label_ids: list[str]) -> dict[str, Any]:
    """An item as typed Python values keyed by column name (None for missing)."""
    values: dict[str, Any] = {
        "id": row.id,
        "canonical_url": row.canonical_url,
        "url": row.url,
        "title": row.title,
        "summary": row.summary,
        "content": row.content,
        "published": row.published_at,
        "fetched": row.fetched_at,
        "publisher": row.publisher,
        "feed_url": row.feed_url,
        "source_type": row.source_type,
        "country": row.country,
        "language": row.language,
        "content_hash": row.content_hash,
    }
    evidence: list[Any] = []
    for label in label_ids:
        tag = row.tags.get(label)
        values[f"{label}_score"] = tag.score if tag else None
        values[label] = tag.is_positive if tag else None
        if tag:
            evidence.extend(tag.evidence)
    versions = sorted({tag.tagger_version for tag in row.tags.values()})
    values["evidence"] = _json(evidence)
    values["analyst_labels"] = _json(row.analyst_labels)
    values["tagger_version"] = " ".join(versions) or None
    return {c.name: values[c.name] for c in columns}


class RowWriter(Protocol):
    def write(self, values: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def _text(value: Any) -> Any:
    """JSON and CSV spell timestamps as UTC ISO 8601 text."""
    return iso_utc(value) if isinstance(value, datetime) else value


class JsonlWriter:
    """One JSON object per line, keys in column order, UTF-8, \\n line ends."""

    def __init__(self, out: IO[bytes], columns: list[Column]) -> None:
        self._out = out

    def write(self, values: dict[str, Any]) -> None:
        line = json.dumps(
            {name: _text(value) for name, value in values.items()},
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )
        self._out.write(line.encode("utf-8") + b"\n")

    def close(self) -> None:
        self._out.flush()


def neutralise(cell: str) -> str:
    """Prefix a quote to a cell a spreadsheet would run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


class CsvWriter:
    """RFC 4180: a header row, QUOTE_MINIMAL, CRLF, UTF-8 without a BOM."""

    def __init__(self, out: IO[bytes], columns: list[Column], *, raw: bool = False) -> None:
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self._raw = raw
        self._csv.writerow([c.name for c in columns])

    def write(self, values: dict[str, Any]) -> None:
        self._csv.writerow([self._cell(v) for v in values.values()])

    def _cell(self, value: Any) -> str:
        kind = type(value)
        if kind is str:  # the common case first: this runs for every cell
            text: str = value
            return text if self._raw or not text.startswith(FORMULA_STARTS) else "'" + text
        if value is None:
            return ""
        if kind is bool:
            return "true" if value else "false"
        if kind is float or kind is int:
            return repr(value)
        if isinstance(value, datetime):
            return iso_utc(value)
        text = str(value)
        return text if self._raw else neutralise(text)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()


class ParquetWriter:
    """A typed Parquet file written one row group at a time (zstd, no variable metadata)."""

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
        self._names = [c.name for c in columns]
        self._buffer: dict[str, list[Any]] = {name: [] for name in self._names}
        self._rows = 0

    def write(self, values: dict[str, Any]) -> None:
        for name in self._names:
            self._buffer[name].append(values[name])
        self._rows += 1
        if self._rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            table = pa.Table.from_pydict(self._buffer, schema=self._schema)
            self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self._buffer = {name: [] for name in self._names}
        self._rows = 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


def open_writer(
    file_format: str, out: IO[bytes], columns: list[Column], *, raw: bool = False
) -> RowWriter:
    if file_format == "csv":
        return CsvWriter(out, columns, raw=raw)
    if file_format == "jsonl":
        return JsonlWriter(out, columns)
    if file_format == "parquet":
        return ParquetWriter(out, columns)
    raise ValueError(f"unknown format {file_format!r}")


def write_rows(writer: RowWriter, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    for values in rows:
        writer.write(values)
        count += 1
    writer.close()
    return count


def sniff_path(path: Path) -> str | None:
    """The format a file name asks for (.csv, .jsonl/.ndjson, .parquet/.pq)."""
    return {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
            ".pq": "parquet"}.get(path.suffix.lower())  # fmt: skip
