"""Query parameters of the read API: one table drives both parsing and the OpenAPI document."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config import SOURCE_TYPES, Settings
from monitor.errors import InputError
from monitor.export import FORMATS
from monitor.export.query import ItemFilter, make_filter

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
PERIODS = ("week", "month")
EXPORT_PARTS = ("data", "datasheet.json", "datasheet.md")


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any]
    repeatable: bool = False
    required: bool = False
    #: the keyword of `make_filter` this parameter feeds, if any
    filter_key: str = ""


def filter_params(settings: Settings, *, with_topic: bool = True) -> list[Param]:
    topic_ids = [t.id for t in settings.tagging.topics]
    frame_ids = [f.id for f in settings.tagging.frames]
    date = {"type": "string", "format": "date"}
    params = [
        Param("since", "first UTC day of publication (YYYY-MM-DD), included", date,
              filter_key="since"),
        Param("until", "last UTC day of publication (YYYY-MM-DD), included", date,
              filter_key="until"),
        Param("frame", "a frame id; repeat for any of several", {"enum": frame_ids},
              repeatable=True, filter_key="frames"),
        Param("min_score", "0..1: the topic/frame score must reach it instead of being "
              "positive; alone, some topic's score must reach it",
              {"type": "number", "minimum": 0, "maximum": 1}, filter_key="min_score"),
        Param("publisher", "publisher name; repeat for several", {"type": "string"},
              repeatable=True, filter_key="publishers"),
        Param("source_type", "source type; repeat for several", {"enum": list(SOURCE_TYPES)},
              repeatable=True, filter_key="source_types"),
        Param("country", "publisher country code; repeat for several", {"type": "string"},
              repeatable=True, filter_key="countries"),
        Param("language", "item language (ISO 639-1); repeat for several", {"type": "string"},
              repeatable=True, filter_key="languages"),
        Param("query", "full-text search of title, summary and content: every word must "
              "occur as a whole word, case-insensitive; word* also matches longer words it "
              "begins", {"type": "string", "minLength": 1, "maxLength": 500},
              filter_key="query"),
    ]  # fmt: skip
    if with_topic:
        params.insert(
            2,
            Param("topic", "a topic id; repeat for any of several", {"enum": topic_ids},
                  repeatable=True, filter_key="topics"),
        )  # fmt: skip
    return params


_BOOL = {"type": "boolean"}


def items_params(settings: Settings) -> list[Param]:
    return [
        *filter_params(settings),
        Param("cursor", "next_cursor of the previous page (opaque)", {"type": "string"}),
        Param("limit", f"items per page, at most {MAX_LIMIT}",
              {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        Param("with_content", "include the full text", _BOOL),
    ]  # fmt: skip


def series_params(settings: Settings) -> list[Param]:
    topic_ids = [t.id for t in settings.tagging.topics]
    return [
        Param("topic", "the topic whose items are counted", {"enum": topic_ids}, required=True),
        Param("period", "bucket: ISO week (starting Monday) or calendar month, UTC",
              {"enum": list(PERIODS), "default": "week"}),
        *filter_params(settings, with_topic=False),
    ]  # fmt: skip


def export_params(settings: Settings) -> list[Param]:
    return [
        Param("format", "file format", {"enum": list(FORMATS)}, required=True),
        *filter_params(settings),
        Param("with_content", "include the full text", _BOOL),
        Param("raw", "CSV: do not neutralise cells that look like formulas", _BOOL),
        Param("part", "the data file, or its datasheet as JSON or Markdown",
              {"enum": list(EXPORT_PARTS), "default": "data"}),
    ]  # fmt: skip


@dataclass
class Parsed:
    selection: ItemFilter
    values: dict[str, Any] = field(default_factory=dict)


def parse(settings: Settings, args: Mapping[str, Sequence[str]], params: list[Param]) -> Parsed:
    """Check every parameter against its table entry; InputError names the first bad one."""
    known = {p.name: p for p in params}
    for name in args:
        if name not in known:
            raise InputError(f"{name}: unknown parameter; known: {', '.join(known)}")
    filter_args: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for param in params:
        given = list(args.get(param.name, []))
        if not given:
            if param.required:
                raise InputError(f"{param.name}: required")
            values[param.name] = param.schema.get("default")
            continue
        if not param.repeatable and len(given) > 1:
            raise InputError(f"{param.name}: given {len(given)} times; give it once")
        value: Any = given if param.repeatable else _scalar(param, given[0])
        if param.filter_key:
            filter_args[param.filter_key] = value
        else:
            values[param.name] = value
    return Parsed(make_filter(settings, **filter_args), values)


def _scalar(param: Param, text: str) -> Any:
    schema = param.schema
    if schema.get("type") == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
        raise InputError(f"{param.name}: not true or false: {text!r}")
    if schema.get("type") == "integer":
        try:
            number = int(text.strip())
        except ValueError:
            raise InputError(f"{param.name}: not an integer: {text!r}") from None
        if not schema["minimum"] <= number <= schema["maximum"]:
            raise InputError(
                f"{param.name}: must be between {schema['minimum']} and {schema['maximum']}"
            )
        return number
    if "enum" in schema and not param.filter_key and text not in schema["enum"]:
        raise InputError(f"{param.name}: one of {', '.join(schema['enum'])}, not {text!r}")
    return text


# ---- cursors ---------------------------------------------------------------


def _bound_to(selection: ItemFilter) -> str:
    return hashlib.sha256(selection.fingerprint().encode()).hexdigest()[:16]


def encode_cursor(last_id: int, selection: ItemFilter) -> str:
    payload = json.dumps({"after": last_id, "filter": _bound_to(selection)}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str | None, selection: ItemFilter) -> int:
    """The last id of the previous page; 0 for the first page."""
    if cursor is None:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after, bound = payload["after"], payload["filter"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise InputError("cursor: not a cursor issued by this API") from None
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InputError("cursor: not a cursor issued by this API")
    if bound != _bound_to(selection):
        raise InputError("cursor: issued for other filters; start again without a cursor")
    return after
