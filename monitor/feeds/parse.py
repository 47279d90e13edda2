"""Bytes in, normalised entries out. feedparser never sees a URL to open."""

from __future__ import annotations

import calendar
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import feedparser

from monitor.errors import ParseError
from monitor.feeds.normalize import (
    canonical_url,
    clean_whitespace,
    html_to_text,
    normalize_language,
    sha256_hex,
    title_key,
)

log = logging.getLogger(__name__)

#: seconds per sy:updatePeriod unit (RSS 1.0 syndication module)
_UPDATE_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
                   "yearly": 31536000}  # fmt: skip
#: shortest text worth asking the language detector about
_MIN_DETECT_CHARS = 20


@dataclass(frozen=True)
class ParsedEntry:
    entry_key: str
    guid: str | None
    url: str | None
    canonical_url: str | None
    title: str
    title_key: str
    summary_html: str
    summary_text: str
    content_html: str
    content_text: str
    author: str
    language: str
    language_source: str
    published_at: datetime
    published_is_fallback: bool
    content_hash: str
    #: 'feed' when the feed carried the article text, 'trafilatura' when fetched
    content_method: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    language: str | None
    #: the publisher's own refresh hint in seconds (ttl or sy:updatePeriod)
    interval_hint: float | None
    prev_archive_url: str | None
    next_page_url: str | None
    entries: list[ParsedEntry]
    warnings: list[str] = field(default_factory=list)


def parse_feed(
    body: bytes,
    *,
    url: str,
    fetched_at: datetime,
    content_type: str | None = None,
    feed_language: str = "",
) -> ParsedFeed:
    """Parse and normalise one feed document; raise ParseError if it is no feed."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    result = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    if not result.get("version") and not result.entries:
        reason = result.get("bozo_exception")
        looks_html = body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html"))
        detail = "an HTML page, not a feed" if looks_html else f"not a feed ({reason or 'empty'})"
        raise ParseError(detail)

    meta = result.feed
    xml_language = normalize_language(meta.get("language"))
    entries: list[ParsedEntry] = []
    warnings: list[str] = []
    for position, raw in enumerate(result.entries):
        try:
            entry = _normalise_entry(
                raw,
                position=position,
                fetched_at=fetched_at,
                xml_language=xml_language,
                feed_language=feed_language,
            )
        except _SkipEntry as skip:
            warnings.append(f"entry {position}: {skip}")
            continue
        entries.append(entry)
    if result.get("bozo") and result.get("bozo_exception") is not None:
        warnings.append(f"feed is not well-formed: {result['bozo_exception']}")

    links = meta.get("links", [])
    return ParsedFeed(
        title=clean_whitespace(meta.get("title", "")),
        link=meta.get("link"),
        language=xml_language,
        interval_hint=_interval_hint(meta),
        prev_archive_url=_link(links, "prev-archive"),
        next_page_url=_link(links, "next"),
        entries=entries,
        warnings=warnings,
    )


class _SkipEntry(Exception):
    pass


def _normalise_entry(
    raw: Any, *, position: int, fetched_at: datetime, xml_language: str | None, feed_language: str
) -> ParsedEntry:
    title = html_to_text(raw.get("title", ""))
    link = (raw.get("link") or "").strip() or None
    guid = (raw.get("id") or "").strip() or None
    summary_html = raw.get("summary", "") or ""
    contents = raw.get("content") or []
    content_html = "\n".join(c.get("value", "") for c in contents if c.get("value"))
    summary_text = html_to_text(summary_html)
    content_text = html_to_text(content_html)
    if not (title or link or summary_text or content_text):
        raise _SkipEntry("no title, link or text")

    published_struct = (
        raw.get("published_parsed") or raw.get("updated_parsed") or raw.get("created_parsed")
    )
    published_at = _struct_to_utc(published_struct)
    fallback = published_at is None
    if published_at is None:
        published_at = fetched_at

    language, language_source = _language(raw, xml_language, feed_language, title, summary_text)
    url = canonical_url(link)
    key = (
        guid
        or link
        or "hash:" + sha256_hex(title, published_at.isoformat() if not fallback else "")
    )
    if not title:
        title = (summary_text or content_text)[:160]
    return ParsedEntry(
        entry_key=key[:500],
        guid=guid,
        url=link,
        canonical_url=url,
        title=title,
        title_key=title_key(title),
        summary_html=summary_html,
        summary_text=summary_text,
        content_html=content_html,
        content_text=content_text,
        author=clean_whitespace(raw.get("author", "") or "")[:500],
        language=language,
        language_source=language_source,
        published_at=published_at,
        published_is_fallback=fallback,
        content_hash=entry_content_hash(title, url or "", summary_text, content_text),
        content_method="feed" if content_text else "",
    )


def entry_content_hash(title: str, url: str, summary_text: str, content_text: str) -> str:
    """What counts as a change to an item: its words and its link, not its timestamps."""
    return sha256_hex(title, url, summary_text, content_text)


def _struct_to_utc(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _language(
    raw: Any, xml_language: str | None, feed_language: str, title: str, summary: str
) -> tuple[str, str]:
    for detail in ("title_detail", "summary_detail"):
        found = normalize_language((raw.get(detail) or {}).get("language"))
        if found:
            return found, "item"
    for content in raw.get("content") or []:
        found = normalize_language(content.get("language"))
        if found:
            return found, "item"
    if xml_language:
        return xml_language, "feed"
    if feed_language:
        return feed_language, "config"
    detected = detect_language(f"{title}\n{summary}")
    return (detected, "detected") if detected else ("", "")


def detect_language(text: str) -> str | None:
    text = text.strip()
    if len(text) < _MIN_DETECT_CHARS:
        return None
    code, _score = _identifier().classify(text)
    return str(code)


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _interval_hint(meta: Any) -> float | None:
    hints: list[float] = []
    ttl = meta.get("ttl")
    if ttl and str(ttl).strip().isdigit():
        hints.append(int(str(ttl).strip()) * 60.0)
    period = str(meta.get("sy_updateperiod", "")).strip().lower()
    if period in _UPDATE_PERIODS:
        try:
            frequency = max(1, int(str(meta.get("sy_updatefrequency", "1")).strip()))
        except ValueError:
            frequency = 1
        hints.append(_UPDATE_PERIODS[period] / frequency)
    return max(hints) if hints else None


def _link(links: list[Any], rel: str) -> str | None:
    for link in links:
        if link.get("rel") == rel and link.get("href"):
            return str(link["href"])
    return None
