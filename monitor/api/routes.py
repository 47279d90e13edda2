"""The /api/v1 endpoints: thin handlers over the export query, the series and the feeds."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from sqlalchemy import Engine

from monitor.api import params as p
from monitor.api.openapi import openapi_document
from monitor.api.series import topic_series
from monitor.config import Settings
from monitor.errors import InputError, StoreError
from monitor.export.dataset import export_dataset, read_session
from monitor.export.query import iso_utc, item_rows
from monitor.export.writers import column_values, columns_for
from monitor.store.feeds import feed_rows

blueprint = Blueprint("monitor_api", __name__, url_prefix="/api/v1")

EXTENSION = "monitor_api"
_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    engine: Engine


def _context() -> ApiContext:
    context: ApiContext = current_app.extensions[EXTENSION]
    return context


def _args() -> dict[str, list[str]]:
    return {name: request.args.getlist(name) for name in request.args}


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


@blueprint.errorhandler(InputError)
def _bad_parameter(exc: InputError) -> tuple[Response, int]:
    return _error(str(exc), 400)


@blueprint.errorhandler(StoreError)
def _store_unavailable(exc: StoreError) -> tuple[Response, int]:
    return _error(str(exc), 503)


def item_json(values: dict[str, Any]) -> dict[str, Any]:
    """An export row as the API gives it: timestamps as text, JSON columns as JSON."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("evidence", "analyst_labels"):
            out[name] = json.loads(value)
        elif name in ("published", "fetched"):
            out[name] = iso_utc(value)
        else:
            out[name] = value
    return out


@blueprint.get("/items")
def items() -> Response:
    """A page of items in id order; next_cursor continues after its last item."""
    context = _context()
    settings = context.settings
    parsed = p.parse(settings, _args(), p.items_params(settings))
    after = p.decode_cursor(parsed.values["cursor"], parsed.selection)
    limit = parsed.values["limit"]
    with_content = bool(parsed.values["with_content"])
    columns = columns_for(settings.tagging, with_content=with_content)
    label_ids = [t.id for t in settings.tagging.topics] + [f.id for f in settings.tagging.frames]
    with read_session(context.engine) as session:
        rows = list(
            item_rows(session, parsed.selection, after=after, limit=limit + 1,
                      with_content=with_content)
        )  # fmt: skip
    page = rows[:limit]
    more = len(rows) > limit
    values = column_values(page, columns, label_ids)  # one list per column
    rows_out = zip(*values.values(), strict=True)
    return jsonify(
        {
            "items": [item_json(dict(zip(values, cells, strict=True))) for cells in rows_out],
            "limit": limit,
            "next_cursor": p.encode_cursor(page[-1].id, parsed.selection) if more else None,
        }
    )


@blueprint.get("/series")
def series() -> Response:
    context = _context()
    settings = context.settings
    parsed = p.parse(settings, _args(), p.series_params(settings))
    topic, period = parsed.values["topic"], parsed.values["period"]
    with read_session(context.engine) as session:
        entries = topic_series(
            session,
            parsed.selection,
            topic=topic,
            period=period,
            frame_ids=[f.id for f in settings.tagging.frames],
        )
    return jsonify(
        {
            "topic": topic,
            "period": period,
            "filters": parsed.selection.as_dict(),
            "confidence": 0.95,
            "interval": "wilson",
            "series": entries,
        }
    )


@blueprint.get("/sources")
def sources() -> Response:
    context = _context()
    p.parse(context.settings, _args(), [])
    with read_session(context.engine) as session:
        rows = feed_rows(session)
        feeds = [
            {
                "id": row.feed.id,
                "url": row.feed.url,
                "title": row.feed.title,
                "publisher": row.source.name,
                "source_type": row.source.source_type,
                "country": row.source.country,
                "language": row.feed.language,
                "enabled": row.feed.enabled,
                "status": row.feed.status,
                "status_line": row.feed.status_line,
                "last_checked_at": _maybe_iso(row.feed.last_checked_at),
                "last_success_at": _maybe_iso(row.feed.last_success_at),
                "failure_score": row.feed.failure_score,
                "consecutive_failures": row.feed.consecutive_failures,
                "items": row.items,
            }
            for row in rows
        ]
    return jsonify({"sources": feeds})


def _maybe_iso(value: Any) -> str | None:
    return iso_utc(value) if value is not None else None


@blueprint.get("/export")
def export() -> Response:
    """The same file `monitor export` writes (or its datasheet), built in a temporary directory."""
    context = _context()
    settings = context.settings
    parsed = p.parse(settings, _args(), p.export_params(settings))
    file_format, part = parsed.values["format"], parsed.values["part"]
    scratch = tempfile.TemporaryDirectory(prefix="monitor-export-")
    try:
        data_path = Path(scratch.name) / f"items.{file_format}"
        result = export_dataset(
            settings,
            context.engine,
            parsed.selection,
            data_path,
            file_format=file_format,
            with_content=bool(parsed.values["with_content"]),
            raw=bool(parsed.values["raw"]),
        )
        if part == "datasheet.json":
            path, media_type = result.datasheet_json, "application/json"
        elif part == "datasheet.md":
            path, media_type = result.datasheet_md, "text/markdown; charset=utf-8"
        else:
            path, media_type = result.path, _MEDIA_TYPES[file_format]
        response = send_file(path, mimetype=media_type, as_attachment=True,
                             download_name=path.name)  # fmt: skip
    except BaseException:
        scratch.cleanup()
        raise
    response.headers["X-Export-Rows"] = str(result.rows)
    response.headers["X-Export-SHA256"] = result.sha256
    response.call_on_close(scratch.cleanup)
    return response


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(_context().settings))
