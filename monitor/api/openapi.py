"""The OpenAPI 3.1 document of /api/v1, built from the same parameter tables the handlers parse."""

from __future__ import annotations

from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from monitor.api import params as p
from monitor.config import Settings
from monitor.export import FORMATS
from monitor.export.dataset import monitor_version
from monitor.export.writers import columns_for

_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}


def _column_schema(name: str, arrow_type: pa.DataType) -> dict[str, Any]:
    if name in ("evidence", "analyst_labels"):
        return {"type": "array", "items": {"type": "object"}}
    if pa.types.is_timestamp(arrow_type):
        return _TIME
    if pa.types.is_integer(arrow_type):
        return {"type": "integer"}
    if pa.types.is_floating(arrow_type):
        return {"type": ["number", "null"]}
    if pa.types.is_boolean(arrow_type):
        return {"type": ["boolean", "null"]}
    return _NULLABLE_STRING


def item_schema(settings: Settings) -> dict[str, Any]:
    columns = columns_for(settings.tagging, with_content=True)
    properties = {c.name: {**_column_schema(c.name, c.arrow_type), "description": c.meaning}
                  for c in columns}  # fmt: skip
    return {
        "type": "object",
        "properties": properties,
        "required": [c.name for c in columns if c.name != "content"],
        "additionalProperties": False,
    }


def _parameter(param: p.Param) -> dict[str, Any]:
    schema = {"type": "array", "items": param.schema} if param.repeatable else param.schema
    spec: dict[str, Any] = {
        "name": param.name,
        "in": "query",
        "description": param.description,
        "required": param.required,
        "schema": schema,
    }
    if param.repeatable:
        spec["style"], spec["explode"] = "form", True
    return spec


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_BAD = _json_response("a parameter is invalid; the message names it", "Error")


def _operation(summary: str, params: list[p.Param], responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [_parameter(x) for x in params],
            "responses": {**responses, "400": _BAD},
        }
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    frame_ids = [f.id for f in settings.tagging.frames]
    number01 = {"type": "number", "minimum": 0, "maximum": 1}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {"error": {"type": "string", "minLength": 1}},
            "required": ["error"],
            "additionalProperties": False,
        },
        "Item": item_schema(settings),
        "ItemPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("Item")},
                "limit": {"type": "integer", "minimum": 1, "maximum": p.MAX_LIMIT},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["items", "limit", "next_cursor"],
            "additionalProperties": False,
        },
        "FrameShare": {
            "type": "object",
            "properties": {
                "frame": {"enum": frame_ids},
                "count": {"type": "integer", "minimum": 0},
                "share": number01,
                "low": number01,
                "high": number01,
            },
            "required": ["frame", "count", "share", "low", "high"],
            "additionalProperties": False,
        },
        "Series": {
            "type": "object",
            "properties": {
                "topic": {"type": "string"},
                "period": {"enum": list(p.PERIODS)},
                "filters": {"type": "object"},
                "confidence": {"const": 0.95},
                "interval": {"const": "wilson"},
                "series": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "period_start": {"type": "string", "format": "date"},
                            "items": {"type": "integer", "minimum": 1},
                            "frames": {"type": "array", "items": _ref("FrameShare")},
                        },
                        "required": ["period_start", "items", "frames"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["topic", "period", "filters", "confidence", "interval", "series"],
            "additionalProperties": False,
        },
        "Source": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "url": {"type": "string"},
                "title": {"type": "string"},
                "publisher": {"type": "string"},
                "source_type": {"type": "string"},
                "country": {"type": "string"},
                "language": {"type": "string"},
                "enabled": {"type": "boolean"},
                "status": {"type": "string"},
                "status_line": {"type": "string"},
                "last_checked_at": {"type": ["string", "null"], "format": "date-time"},
                "last_success_at": {"type": ["string", "null"], "format": "date-time"},
                "failure_score": {"type": "number", "minimum": 0},
                "consecutive_failures": {"type": "integer", "minimum": 0},
                "items": {"type": "integer", "minimum": 0},
            },
            "required": [
                "id",
                "url",
                "publisher",
                "status",
                "status_line",
                "last_success_at",
                "failure_score",
                "items",
            ],
            "additionalProperties": False,
        },
        "SourceList": {
            "type": "object",
            "properties": {"sources": {"type": "array", "items": _ref("Source")}},
            "required": ["sources"],
            "additionalProperties": False,
        },
    }
    download = {
        "description": "the data file (or its datasheet, with part=datasheet.json|datasheet.md)",
        "headers": {
            "X-Export-Rows": {"schema": {"type": "integer"}},
            "X-Export-SHA256": {"schema": {"type": "string"}},
        },
        "content": {
            media: {"schema": {"type": "string", "contentMediaType": media}}
            for media in (
                "text/csv",
                "application/x-ndjson",
                "application/vnd.apache.parquet",
                "application/json",
                "text/markdown",
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Discourse Monitor read API",
            "version": monitor_version(),
            "description": (
                "Tagged items, topic series with frame shares, feed health and dataset "
                'downloads. Errors are JSON {"error": message naming the parameter}. '
                f"Export formats: {', '.join(FORMATS)}."
            ),
        },
        "paths": {
            "/api/v1/items": _operation(
                "Items in id order, a page at a time (cursor pagination)",
                p.items_params(settings),
                {"200": _json_response("a page of items", "ItemPage")},
            ),
            "/api/v1/series": _operation(
                "Items of a topic per week or month, with each frame's share and 95% "
                "Wilson interval",
                p.series_params(settings),
                {"200": _json_response("the series", "Series")},
            ),
            "/api/v1/sources": _operation(
                "Every feed with its publisher and health",
                [],
                {"200": _json_response("the feeds", "SourceList")},
            ),
            "/api/v1/export": _operation(
                "Download an export for the given filters",
                p.export_params(settings),
                {"200": download},
            ),
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "the OpenAPI 3.1 document"}},
                }
            },
        },
        "components": {"schemas": schemas},
    }
