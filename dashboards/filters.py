"""The filter state every page shares, and its round trip through the URL query string."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

PERIODS = ("week", "month")
LIST_KEYS = ("source_types", "countries", "languages", "publishers")


@dataclass(frozen=True)
class ViewFilter:
    """Which items a chart counts. Empty tuples mean 'all'."""

    start: date | None = None
    end: date | None = None
    source_types: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    #: publisher (source) names
    publishers: tuple[str, ...] = ()

    def with_(self, **changes: Any) -> ViewFilter:
        return replace(self, **changes)


def parse_day(value: Any) -> date | None:
    """An ISO day from a URL or a date picker ('2022-02-24' or '2022-02-24T00:00:00')."""
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def as_tuple(value: Any) -> tuple[str, ...]:
    """Dropdown values, or a URL key given once (a string) or repeated (a list), as a tuple."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    return tuple(str(v) for v in value if str(v).strip())


def filter_from_values(
    start: Any = None,
    end: Any = None,
    source_types: Any = None,
    countries: Any = None,
    languages: Any = None,
    publishers: Any = None,
) -> ViewFilter:
    return ViewFilter(
        start=parse_day(start),
        end=parse_day(end),
        source_types=as_tuple(source_types),
        countries=as_tuple(countries),
        languages=as_tuple(languages),
        publishers=as_tuple(publishers),
    )


def filter_from_query(query: Mapping[str, Any]) -> ViewFilter:
    return filter_from_values(**{f.name: query.get(f.name) for f in fields(ViewFilter)})


def query_string(view: ViewFilter | None = None, **extra: Any) -> str:
    """'?key=value&…' for the non-default parts of the state; a list repeats its key.

    Repeating the key (not joining with commas) keeps names that contain commas whole.
    """
    pairs: list[tuple[str, str]] = []
    if view is not None:
        if view.start:
            pairs.append(("start", view.start.isoformat()))
        if view.end:
            pairs.append(("end", view.end.isoformat()))
        for key in LIST_KEYS:
            values = getattr(view, key)
            pairs += [(key, v) for v in values]
    for key, value in extra.items():
        if value is None or value == "" or value == [] or value == ():
            continue
        if isinstance(value, (list, tuple)):
            pairs += [(key, str(v)) for v in value]
        else:
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def choice(value: Any, allowed: tuple[str, ...] | list[str], default: str) -> str:
    """A URL value only if it is one of the allowed ones (a shared link may be stale)."""
    return value if isinstance(value, str) and value in allowed else default


EXPORT_FORMATS = (("csv", "CSV"), ("jsonl", "JSONL"), ("parquet", "Parquet"))
EXPORT_PATH = "/api/v1/export"


@dataclass(frozen=True)
class ExportLink:
    """Where the Items page's "Download dataset" points, and what it could not carry over."""

    href: str
    #: page filters the export API cannot express exactly, so the file ignores them
    dropped: tuple[str, ...] = ()


def export_link(
    view: ViewFilter,
    *,
    file_format: str = "csv",
    text: str = "",
    labels: tuple[str, ...] = (),
    topics: tuple[str, ...] = (),
) -> ExportLink:
    """The /api/v1/export URL for the items the Items page shows, in the API's parameter names.

    The page and the API search alike (every word, whole words). The page wants every
    label, the API any of several topics (and any of several frames), so labels go
    along only as at most one topic plus one frame; otherwise they are left out and
    named in `dropped`, rather than exporting other items.
    """
    formats = [f for f, _ in EXPORT_FORMATS]
    pairs: list[tuple[str, str]] = [("format", choice(file_format, formats, "csv"))]
    if view.start:
        pairs.append(("since", view.start.isoformat()))
    if view.end:
        pairs.append(("until", view.end.isoformat()))
    for api_name, values in (
        ("publisher", view.publishers),
        ("source_type", view.source_types),
        ("country", view.countries),
        ("language", view.languages),
    ):
        pairs += [(api_name, v) for v in values]
    dropped: list[str] = []
    if text.strip():
        pairs.append(("query", text.strip()))
    chosen_topics = [label for label in labels if label in topics]
    chosen_frames = [label for label in labels if label not in topics]
    if len(chosen_topics) <= 1 and len(chosen_frames) <= 1:
        pairs += [("topic", t) for t in chosen_topics] + [("frame", f) for f in chosen_frames]
    else:
        dropped.append("labels (the export matches any of several, not all)")
    return ExportLink(f"{EXPORT_PATH}?{urlencode(pairs)}", tuple(dropped))
