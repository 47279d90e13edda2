"""Write an export: the data file (streamed, then moved into place) and its datasheet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.errors import InputError
from monitor.export import FORMATS
from monitor.export.datasheet import build_datasheet, write_datasheet
from monitor.export.query import ItemFilter, iso_utc, item_rows
from monitor.export.writers import column_values, columns_for, open_writer
from monitor.store.session import current_revision

#: items converted and written at a time: enough to amortise the per-batch work, little memory
BATCH_ROWS = 1_000


@dataclass(frozen=True)
class ExportResult:
    path: Path
    datasheet_json: Path
    datasheet_md: Path
    rows: int
    sha256: str
    sheet: dict[str, Any]


@cache
def _sqlite_reader(url: str) -> Engine:
    """SQLite without BEGIN IMMEDIATE: a long read must not hold the write lock."""
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")  # deferred: a WAL read snapshot, writers go on

    return engine


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """One read-only snapshot for a whole export, without blocking writers.

    PostgreSQL: REPEATABLE READ, so every chunk sees the same data. SQLite (WAL):
    a deferred transaction, which holds its snapshot from the first read.
    """
    bind: Engine
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        bind = _sqlite_reader(engine.url.render_as_string(hide_password=False))
    elif engine.dialect.name == "postgresql":
        bind = engine.execution_options(isolation_level="REPEATABLE READ")
    else:
        bind = engine
    with Session(bind) as session, session.begin():
        yield session
        session.rollback()


def monitor_version() -> str:
    try:
        return version("discourse-monitor")
    except PackageNotFoundError:
        return "unknown"


def export_dataset(
    settings: Settings,
    engine: Engine,
    selection: ItemFilter,
    path: Path,
    *,
    file_format: str,
    with_content: bool = False,
    raw: bool = False,
    now: datetime | None = None,
) -> ExportResult:
    """Stream the matching items into `path` and write its datasheet beside it.

    The data goes to PATH.partial first and replaces PATH only when complete.
    """
    if file_format not in FORMATS:
        raise InputError(f"format: one of {', '.join(FORMATS)}, not {file_format!r}")
    path = path.expanduser()
    if not path.parent.is_dir():
        raise InputError(f"output: the directory {path.parent} does not exist")
    columns = columns_for(settings.tagging, with_content=with_content)
    label_ids = [t.id for t in settings.tagging.topics] + [f.id for f in settings.tagging.frames]
    versions: set[str] = set()
    partial = path.with_name(path.name + ".partial")
    exported_at = iso_utc((now or datetime.now(UTC)).replace(microsecond=0))
    rows = 0
    try:
        with read_session(engine) as session, partial.open("wb") as out:
            writer = open_writer(file_format, out, columns, raw=raw)
            matching = item_rows(session, selection, with_content=with_content)
            while batch := list(islice(matching, BATCH_ROWS)):
                versions.update({tag.tagger_version for row in batch for tag in row.tags.values()})
                writer.write(column_values(batch, columns, label_ids))
                rows += len(batch)
            writer.close()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    query = {
        "filters": selection.as_dict(),
        "format": file_format,
        "with_content": with_content,
        "raw": raw,
        "order": "id ascending",
    }
    sheet = build_datasheet(
        settings=settings,
        data_path=path,
        file_format=file_format,
        query=query,
        rows=rows,
        exported_at=exported_at,
        schema_revision=current_revision(engine),
        tagger_versions=sorted(versions),
        columns=columns,
        monitor_version=monitor_version(),
    )
    json_path, md_path = write_datasheet(path, sheet)
    return ExportResult(path, json_path, md_path, rows, sheet["sha256"], sheet)
