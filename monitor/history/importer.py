"""Historical items from CSV or JSONL files, stored all or nothing.

The file is read twice, streaming: the first pass validates every row (so every
rejected row can be reported before anything is written), the second builds
each accepted row into a ParsedEntry — the same normalisation a fetched entry
gets — and stores all of them in one transaction. Nothing is held in memory but
the current row and the list of rejected rows.

A file written by `monitor export` imports too: its extra columns (fetch time,
tag scores and labels, evidence, tagger version, analyst labels) are restored
for each new item; its id, canonical_url, feed_url and content_hash columns are
accepted and left to the store to recompute.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.config import SOURCE_TYPES, Settings, is_http_url
from monitor.errors import ImportFailed, InputError
from monitor.feeds.normalize import (
    canonical_url,
    html_to_text,
    normalize_language,
    sha256_hex,
    title_key,
    to_utc,
)
from monitor.feeds.parse import ParsedEntry, detect_language, entry_content_hash
from monitor.store.feeds import get_or_create_source
from monitor.store.items import store_entries
from monitor.store.models import AnalystLabel, Item
from monitor.store.session import transaction
from monitor.store.tags import replace_tags, tag_items
from monitor.tagging.tagger import Tagger, TagResult
from monitor.tagging.train import load_tagger

FORMATS = ("csv", "jsonl")
_TAG_BATCH = 500
FIELDS = (
    "title", "url", "summary", "content", "published", "publisher",
    "source_type", "country", "language", "guid",
)  # fmt: skip
REQUIRED = ("title", "published", "publisher")
#: columns of a `monitor export` file beyond FIELDS; label columns come in pairs
#: `<label>_score` and `<label>`, accepted when the file has a tagger_version column
EXPORT_FIELDS = (
    "id", "canonical_url", "fetched", "feed_url", "evidence", "analyst_labels",
    "tagger_version", "content_hash",
)  # fmt: skip
#: recomputed by the store rather than trusted from the file
_EXPORT_IGNORED = ("id", "canonical_url", "feed_url", "content_hash")
_LABEL_ID = re.compile(r"[a-z][a-z0-9_]*")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: column widths of the store, checked here so SQLite and PostgreSQL agree
_MAX_LENGTH = {"url": 2000, "guid": 2000, "publisher": 200}
_COUNTRY = re.compile(r"[A-Za-z]{2,3}")
#: what PostgreSQL text refuses (JSON can spell both; strict UTF-8 CSV cannot)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: entry keys longer than this are hashed, as for fetched entries
_MAX_KEY = 500
#: a quoted CSV field may hold a whole article
_CSV_FIELD_LIMIT = 64 * 1024 * 1024

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    path: str
    file_format: str
    #: rows that passed validation
    accepted: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    #: accepted rows stored as new items (set once stored)
    new: int = 0
    #: accepted rows whose story was already in the store (or earlier in the file)
    already_stored: int = 0
    stored: bool = False

    @property
    def rows(self) -> int:
        return self.accepted + len(self.rejected)

    def summary(self) -> str:
        if not self.stored:
            return (
                f"{self.path}: {self.rows} rows: {self.accepted} valid, "
                f"{len(self.rejected)} rejected; nothing stored"
            )
        return (
            f"{self.path}: {self.rows} rows: {self.new} new, "
            f"{self.already_stored} already stored, {len(self.rejected)} rejected"
        )


@dataclass(frozen=True)
class ImportRow:
    """One validated row, its values cleaned but not yet normalised into an entry."""

    line: int
    title: str
    url: str | None
    summary: str
    content: str
    published_at: datetime
    publisher: str
    source_type: str
    country: str
    language: str | None
    guid: str | None
    #: restored from an export: when the item was first stored
    fetched_at: datetime | None = None
    tags: tuple[ImportedTag, ...] = ()
    analyst_labels: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ImportedTag:
    """A tag column pair of an export: `<label>_score` and `<label>`."""

    label: str
    score: float
    is_positive: bool
    evidence: tuple[dict[str, Any], ...]
    tagger_version: str


class RowError(ValueError):
    """Why one row cannot be imported."""


def import_file(
    settings: Settings,
    engine: Engine,
    path: Path,
    *,
    file_format: str | None = None,
    strict: bool = False,
) -> ImportReport:
    """Validate every row, then store the accepted ones (none with `strict` if any failed)."""
    report = check_file(path, file_format=file_format)
    if strict and report.rejected:
        return report
    store_file(settings, engine, path, report)
    return report


def check_file(
    path: Path, *, file_format: str | None = None, on_progress: Progress | None = None
) -> ImportReport:
    """First pass: validate every row; store nothing."""
    chosen = file_format or format_of(path)
    report = ImportReport(path=str(path), file_format=chosen)
    for line, row in _validated_rows(path, chosen, on_progress):
        if isinstance(row, RowError):
            report.rejected.append(RejectedRow(line, str(row)))
        else:
            report.accepted += 1
    return report


def store_file(
    settings: Settings,
    engine: Engine,
    path: Path,
    report: ImportReport,
    *,
    on_progress: Progress | None = None,
) -> None:
    """Second pass: store the rows `check_file` accepted, in one transaction.

    Any storage failure rolls everything back and raises ImportFailed.
    """
    title_window = timedelta(days=settings.dedupe.title_window_days)
    now = datetime.now(UTC)
    new = already = accepted = 0
    tagger: Tagger | None = None

    def tag(session: Session, item_ids: list[int]) -> None:
        # the model loads for the first item that needs it: a re-import of known rows never pays
        nonlocal tagger
        if item_ids:
            tagger = tagger or load_tagger(settings.tagging)
            tag_items(session, tagger, item_ids)

    try:
        with transaction(engine) as session:
            untagged: list[int] = []
            sources: dict[str, int] = {}
            for _line, row in _validated_rows(path, report.file_format, on_progress):
                if isinstance(row, RowError):
                    continue
                accepted += 1
                source_id = sources.get(row.publisher)
                if source_id is None:
                    source = get_or_create_source(
                        session, row.publisher, row.source_type, row.country
                    )
                    source_id = sources[row.publisher] = source.id
                entry = row_to_entry(row)
                if _imported_before(session, entry, source_id):
                    already += 1
                    continue
                counts = store_entries(
                    session,
                    source_id=source_id,
                    feed_id=None,
                    entries=[entry],
                    now=now,
                    title_window=title_window,
                    origin="import",
                )
                new += counts.new
                already += counts.linked + counts.unchanged + counts.updated
                if counts.new:
                    _restore_exported(settings, session, counts.changed_item_ids[0], row)
                    if not row.tags:
                        untagged.append(counts.changed_item_ids[0])
                if len(untagged) >= _TAG_BATCH:
                    tag(session, untagged)
                    untagged.clear()
            # imported items are tagged in the transaction that stores them, like fetched ones
            tag(session, untagged)
            if accepted != report.accepted:
                raise ImportFailed(
                    f"{path}: the file changed while importing; nothing stored, try again"
                )
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ImportFailed(f"{path}: storing failed, nothing imported: {reason}") from None
    report.new, report.already_stored, report.stored = new, already, True


def _restore_exported(settings: Settings, session: Session, item_id: int, row: ImportRow) -> None:
    """Put back what an export carried beyond the item's words: fetch time, tags, corrections."""
    if row.fetched_at is not None:
        session.get_one(Item, item_id).fetched_at = row.fetched_at
    kinds = {t.id: "topic" for t in settings.tagging.topics}
    kinds.update({f.id: "frame" for f in settings.tagging.frames})
    scores: dict[str, dict[str, float]] = {"topic": {}, "frame": {}}
    for tag in row.tags:
        if tag.label not in kinds:
            raise ImportFailed(
                f"line {row.line}: column {tag.label!r} is not a topic or frame of the codebook; "
                "nothing stored"
            )
        scores[kinds[tag.label]][tag.label] = tag.score
    if row.tags:
        applying = {tag.label for tag in row.tags if tag.is_positive}
        exported = TagResult(
            topics=scores["topic"],
            topic_labels=[label for label in scores["topic"] if label in applying],
            frames=scores["frame"],
            frame_labels=[label for label in scores["frame"] if label in applying],
            evidence=[found for tag in row.tags for found in tag.evidence],
            language=row.language or "",
            tagger_version=row.tags[0].tagger_version,
        )
        replace_tags(session, [(item_id, exported)], untagged={item_id})
    for label in row.analyst_labels:
        session.add(AnalystLabel(item_id=item_id, **label))
    session.flush()


def format_of(path: Path) -> str:
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise InputError(f"{path}: cannot tell the format from the name; use --format csv|jsonl")
    return found


def row_to_entry(row: ImportRow) -> ParsedEntry:
    """The entry a feed carrying this row would have produced."""
    title = html_to_text(row.title)
    summary_text = html_to_text(row.summary)
    content_text = html_to_text(row.content)
    url = canonical_url(row.url)
    language, language_source = row.language, "item"
    if language is None:
        detected = detect_language(f"{title}\n{summary_text}")
        language, language_source = (detected, "detected") if detected else ("", "")
    key = row.guid or row.url or "hash:" + sha256_hex(title, row.published_at.isoformat())
    if len(key) > _MAX_KEY:
        key = "sha256:" + sha256_hex(key)
    return ParsedEntry(
        entry_key=key,
        guid=row.guid,
        url=row.url,
        canonical_url=url,
        title=title,
        title_key=title_key(title),
        summary_html=row.summary,
        summary_text=summary_text,
        content_html=row.content,
        content_text=content_text,
        author="",
        language=language,
        language_source=language_source,
        published_at=row.published_at,
        published_is_fallback=False,
        content_hash=entry_content_hash(title, url or "", summary_text, content_text),
        content_method="feed" if content_text else "",
    )


def _imported_before(session: Session, entry: ParsedEntry, source_id: int) -> bool:
    """Same publisher and same GUID, or same title at the same moment.

    Catches re-imports that URL and title dedupe cannot see: rows without a URL
    whose title is too short to identify a story. A row with a URL is left to
    URL dedupe, which sees it already.
    """
    if entry.canonical_url:
        return False
    same = and_(Item.title_key == entry.title_key, Item.published_at == entry.published_at)
    if entry.guid:
        same = or_(same, Item.guid == entry.guid)
    found = session.scalars(select(Item.id).where(Item.source_id == source_id, same).limit(1))
    return found.first() is not None


def validate_row(line: int, raw: dict[str, Any]) -> ImportRow:
    """Check one row's fields; raise RowError naming the first bad field."""
    unknown = sorted(name for name in raw if not is_known_field(name, raw))
    if unknown:
        raise RowError(f"unknown field {unknown[0]!r}")
    exported = _exported_values(raw)
    values: dict[str, str] = {}
    for name, value in raw.items():
        if name not in FIELDS:
            continue
        if value is None:
            continue
        if not isinstance(value, str):
            raise RowError(f"{name}: must be text, not {type(value).__name__}")
        if _UNSTORABLE.search(value):
            raise RowError(f"{name}: contains a NUL character or a lone surrogate")
        values[name] = value.strip()
    for name in REQUIRED:
        if not values.get(name):
            raise RowError(f"{name}: missing")
    if not html_to_text(values["title"]):
        raise RowError("title: no text")
    for name, limit in _MAX_LENGTH.items():
        if len(values.get(name, "")) > limit:
            raise RowError(f"{name}: longer than {limit} characters")
    url = values.get("url") or None
    if url is not None and not is_http_url(url):
        raise RowError(f"url: not an http(s) URL {url!r}")
    source_type = values.get("source_type") or "media"
    if source_type not in SOURCE_TYPES:
        raise RowError(
            f"source_type: must be one of {', '.join(SOURCE_TYPES)}, not {source_type!r}"
        )
    country = values.get("country", "")
    if country and not _COUNTRY.fullmatch(country):
        raise RowError(f"country: not an ISO 3166-1 alpha-2 code (or INT, EU) {country!r}")
    language: str | None = None
    if values.get("language"):
        language = normalize_language(values["language"])
        if language is None:
            raise RowError(f"language: not an ISO 639-1 code {values['language']!r}")
    return ImportRow(
        line=line,
        title=values["title"],
        url=url,
        summary=values.get("summary", ""),
        content=values.get("content", ""),
        published_at=parse_published(values["published"]),
        publisher=values["publisher"],
        source_type=source_type,
        country=country.upper(),
        language=language,
        guid=values.get("guid") or None,
        **exported,
    )


def is_known_field(name: str, names: Any) -> bool:
    """A field of FIELDS, of an export, or one of an export's label column pairs."""
    if name in FIELDS or name in EXPORT_FIELDS:
        return True
    if "tagger_version" not in names:
        return False
    label = name.removesuffix("_score")
    pair = label if label != name else f"{name}_score"
    return bool(_LABEL_ID.fullmatch(label)) and pair in names


def _exported_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The ImportRow fields an export's extra columns give (JSON values or CSV text)."""
    found: dict[str, Any] = {}
    fetched = _text_or_none("fetched", raw.get("fetched"))
    if fetched:
        try:
            found["fetched_at"] = to_utc(datetime.fromisoformat(fetched))
        except ValueError:
            raise RowError(f"fetched: not an ISO 8601 time {fetched!r}") from None
    for name in _EXPORT_IGNORED:
        _text_or_none(name, raw.get(name), allow_int=name == "id")
    version = _text_or_none("tagger_version", raw.get("tagger_version")) or ""
    evidence = _json_list("evidence", raw.get("evidence"))
    tags = []
    for name in raw:
        if name in FIELDS or name in EXPORT_FIELDS or name.endswith("_score"):
            continue
        score = _score(f"{name}_score", raw[f"{name}_score"])
        positive = _flag(name, raw[name])
        if score is None and positive is None:
            continue
        if score is None or positive is None:
            raise RowError(f"{name}: its score and its label must both be given or both empty")
        if not version:
            raise RowError("tagger_version: missing for a tagged row")
        tags.append(
            ImportedTag(
                label=name,
                score=score,
                is_positive=positive,
                evidence=tuple(e for e in evidence if e.get("label") == name),
                tagger_version=version,
            )
        )
    if any(not isinstance(e.get("label"), str) for e in evidence):
        raise RowError("evidence: every element needs a label")
    if tags:
        found["tags"] = tuple(tags)
    labels = _json_list("analyst_labels", raw.get("analyst_labels"))
    if labels:
        found["analyst_labels"] = tuple(_analyst_label(label) for label in labels)
    return found


def _text_or_none(name: str, value: Any, *, allow_int: bool = False) -> str | None:
    if value is None or (allow_int and isinstance(value, int) and not isinstance(value, bool)):
        return None
    if not isinstance(value, str):
        raise RowError(f"{name}: must be text, not {type(value).__name__}")
    return value.strip()


def _score(name: str, value: Any) -> float | None:
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            raise RowError(f"{name}: not a number {value!r}") from None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RowError(f"{name}: must be a number from 0 to 1, not {value!r}")
    return float(value)


def _flag(name: str, value: Any) -> bool | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "true", "false"):
            return None if not text else text == "true"
        raise RowError(f"{name}: must be true or false, not {value!r}")
    if value is None or isinstance(value, bool):
        return value
    raise RowError(f"{name}: must be true or false, not {value!r}")


def _json_list(name: str, value: Any) -> list[dict[str, Any]]:
    text = _text_or_none(name, value)
    if not text:
        return []
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        raise RowError(f"{name}: not a JSON list") from None
    if not isinstance(parsed, list) or not all(isinstance(x, dict) for x in parsed):
        raise RowError(f"{name}: not a JSON list of objects")
    return parsed


def _analyst_label(raw: dict[str, Any]) -> dict[str, Any]:
    kind, label, applies = raw.get("kind"), raw.get("label"), raw.get("applies")
    analyst, note, created = raw.get("analyst"), raw.get("note", ""), raw.get("created_at")
    if kind not in ("topic", "frame") or not isinstance(label, str) or not label:
        raise RowError("analyst_labels: each needs kind 'topic' or 'frame' and a label")
    if not isinstance(applies, bool) or not isinstance(analyst, str) or not analyst:
        raise RowError("analyst_labels: each needs applies (true/false) and an analyst")
    if not isinstance(note, str) or not isinstance(created, str):
        raise RowError("analyst_labels: note and created_at must be text")
    try:
        created_at = to_utc(datetime.fromisoformat(created))
    except ValueError:
        raise RowError(f"analyst_labels: created_at is not ISO 8601 {created!r}") from None
    return {"kind": kind, "label": label, "applies": applies, "analyst": analyst,
            "note": note, "created_at": created_at}  # fmt: skip


def parse_published(value: str) -> datetime:
    """ISO 8601 to UTC; a time without an offset is taken as UTC."""
    try:
        return to_utc(datetime.fromisoformat(value))
    except ValueError:
        raise RowError(f"published: not an ISO 8601 date {value!r}") from None


def _validated_rows(
    path: Path, file_format: str, on_progress: Progress | None
) -> Iterator[tuple[int, ImportRow | RowError]]:
    raw_rows = _csv_rows if file_format == "csv" else _jsonl_rows
    for line, raw in raw_rows(path, on_progress):
        if isinstance(raw, RowError):
            yield line, raw
            continue
        try:
            yield line, validate_row(line, raw)
        except RowError as exc:
            yield line, exc


def _csv_rows(
    path: Path, on_progress: Progress | None
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """RFC 4180 records as dicts, numbered by the line each record starts on."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    with _open_text(path, on_progress) as text:
        reader = csv.reader(text, strict=True)
        header = _csv_header(path, reader)
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, RowError(f"malformed CSV{_span(start, reader.line_num)}: {exc}")
                continue
            if not record:  # a blank line
                continue
            if len(record) != len(header):
                yield (
                    start,
                    RowError(
                        f"expected {len(header)} fields, found {len(record)}"
                        f"{_span(start, reader.line_num)}"
                    ),
                )
                continue
            yield start, dict(zip(header, record, strict=True))


def _csv_header(path: Path, reader: Any) -> list[str]:
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise InputError(f"{path}: empty file; a CSV import needs a header row") from None
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: malformed CSV header: {exc}") from None
    unknown = [name for name in header if not is_known_field(name, header)]
    if unknown:
        raise InputError(f"{path}: unknown column {unknown[0]!r}; columns are {', '.join(FIELDS)}")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InputError(f"{path}: the header lacks the required column {missing[0]!r}")
    if len(set(header)) != len(header):
        raise InputError(f"{path}: a column is named twice in the header")
    return header


def _span(start: int, end: int) -> str:
    """Where a record spans lines, most often because of an unbalanced quote."""
    return f" (record runs to line {end}: unbalanced quote?)" if end > start else ""


def _jsonl_rows(
    path: Path, on_progress: Progress | None
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with _open_text(path, on_progress) as text:
        for line, content in enumerate(text, start=1):
            if not content.strip():
                continue
            try:
                value = json.loads(content)
            except json.JSONDecodeError as exc:
                yield line, RowError(f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(value, dict):
                yield line, RowError(f"not a JSON object but {type(value).__name__}")
                continue
            yield line, value


class _CountingReader(io.RawIOBase):
    """Reports bytes as they are read, so a progress bar can follow a stream."""

    def __init__(self, raw: io.BufferedReader, on_progress: Progress) -> None:
        super().__init__()
        self._raw = raw
        self._on_progress = on_progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        if count:
            self._on_progress(count)
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def _open_text(path: Path, on_progress: Progress | None) -> Iterator[Iterator[str]]:
    """The file as UTF-8 text (a BOM is skipped), line endings left to the reader."""
    raw = path.open("rb")
    binary = io.BufferedReader(_CountingReader(raw, on_progress)) if on_progress else raw
    with io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as text:
        yield _decoded(path, text)


def _decoded(path: Path, text: io.TextIOWrapper) -> Iterator[str]:
    lines = 0
    try:
        for line in text:
            lines += 1
            yield line
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (near line {lines + 1})") from None
