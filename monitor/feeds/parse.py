"""Bytes in, normalised entries out. feedparser never sees a URL to open."""

from __future__ import annotations

import calendar
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import feedparser

from monitor.errors import ParseError
from monitor.feeds.fastparse import FEED_MARKERS, Declined, read_feed
from monitor.feeds.normalize import (
    canonical_url,
    clean_text,
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
#: below this probability the detector is guessing; no language beats a wrong one
_MIN_DETECT_CONFIDENCE = 0.4
#: the store keeps URLs and GUIDs up to this length, entry keys up to _MAX_KEY
_MAX_URL = 2000
_MAX_KEY = 500
#: a title made from the summary is cut here
_FALLBACK_TITLE_CHARS = 160
#: feedparser's SAX errors start with "<unknown>:line:column: "
_SAX_POSITION = re.compile(r"^<unknown>:(\d+):(\d+): ")
_ROOT_ELEMENT = re.compile(rb"<([A-Za-z][\w.:-]*)")
_HTML_PAGE = "an HTML page, not a feed"


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
    #: which reader produced it: 'fast' (lxml, fastparse.py) or 'feedparser'
    parser: str = "feedparser"


def parse_feed(
    body: bytes,
    *,
    url: str,
    fetched_at: datetime,
    content_type: str | None = None,
    feed_language: str = "",
) -> ParsedFeed:
    """Parse and normalise one feed document; raise ParseError if it is no feed.

    The fast reader (fastparse.py) is tried first; a document it declines, or
    one it fails on, is read by feedparser. Both give the same normalised items.
    A feed that parses despite XML errors is kept, with a warning; an entry that
    cannot be used is skipped, with a warning; neither stops the rest.
    """
    if _is_html_page(_head(body)) and not FEED_MARKERS.search(body):
        # what feedparser would conclude after reading the whole page with its loose parser
        raise ParseError(_HTML_PAGE)
    try:
        result = read_feed(body, url=url, content_type=content_type)
        parsed = _build_feed(result, body, fetched_at=fetched_at, feed_language=feed_language)
        if _passes_checks(parsed):
            return replace(parsed, parser="fast")
    except Declined:
        pass
    except ParseError:
        raise  # no feed, and the fast path has shown that feedparser would find none
    except Exception:  # a fast-path bug must cost speed, never a feed
        log.warning("fast parse of %s failed; reading it with feedparser", url, exc_info=True)
    return parse_with_feedparser(
        body, url=url, fetched_at=fetched_at, content_type=content_type,
        feed_language=feed_language,
    )  # fmt: skip


def parse_with_feedparser(
    body: bytes,
    *,
    url: str,
    fetched_at: datetime,
    content_type: str | None = None,
    feed_language: str = "",
) -> ParsedFeed:
    """parse_feed without the fast path: feedparser reads every document."""
    # Without a Content-Type feedparser would assume ISO-8859-1 and flag the feed;
    # a body with no header is read like application/xml (XML declaration, else UTF-8).
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    result = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    return _build_feed(result, body, fetched_at=fetched_at, feed_language=feed_language)


def parse_fast(
    body: bytes,
    *,
    url: str,
    fetched_at: datetime,
    content_type: str | None = None,
    feed_language: str = "",
) -> ParsedFeed:
    """parse_feed through the fast path only; raises Declined where parse_feed would fall back."""
    result = read_feed(body, url=url, content_type=content_type)
    parsed = _build_feed(result, body, fetched_at=fetched_at, feed_language=feed_language)
    if not _passes_checks(parsed):
        raise Declined("result checks")
    return replace(parsed, parser="fast")


def _passes_checks(parsed: ParsedFeed) -> bool:
    """What the fast path hands on must be whole: every entry kept and known by GUID or link."""
    if any(warning.startswith("entry ") for warning in parsed.warnings):
        return False
    return all(entry.guid or entry.url for entry in parsed.entries)


def _build_feed(
    result: Any, body: bytes, *, fetched_at: datetime, feed_language: str
) -> ParsedFeed:
    if not result.get("version") and not result["entries"]:
        raise ParseError(_not_a_feed(body, result.get("bozo_exception")))

    meta = result["feed"]
    xml_language = normalize_language(meta.get("language"))
    entries: list[ParsedEntry] = []
    warnings: list[str] = []
    for position, raw in enumerate(result["entries"]):
        try:
            entry = _normalise_entry(
                raw, fetched_at=fetched_at, xml_language=xml_language, feed_language=feed_language
            )
        except _SkipEntry as skip:
            warnings.append(f"entry {position} skipped: {skip}")
            continue
        entries.append(entry)
    if result.get("bozo") and result.get("bozo_exception") is not None:
        warnings.append(f"feed is not well-formed: {_describe(result['bozo_exception'])}")

    links = meta.get("links", [])
    return ParsedFeed(
        title=clean_whitespace(clean_text(meta.get("title"))),
        link=_usable_url(meta.get("link")),
        language=xml_language,
        interval_hint=_interval_hint(meta),
        prev_archive_url=_link(links, "prev-archive"),
        next_page_url=_link(links, "next"),
        entries=entries,
        warnings=warnings,
    )


def _not_a_feed(body: bytes, error: object) -> str:
    """One line that tells a user what the URL returned instead of a feed."""
    head = _head(body)
    if not head:
        return "the document is empty"
    if _is_html_page(head):
        return _HTML_PAGE
    if head[:1] in (b"{", b"["):
        return "a JSON document, not an RSS or Atom feed"
    if error is not None and not isinstance(error, feedparser.CharacterEncodingOverride):
        return f"not an RSS or Atom feed: {_describe(error)}"
    root = _ROOT_ELEMENT.search(re.sub(rb"<[?!][^>]*>", b"", head))
    name = root.group(1).decode("ascii", "replace") if root else "none"
    return f"not an RSS or Atom feed (root element <{name}>)"


def _head(body: bytes) -> bytes:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1024]


def _is_html_page(head: bytes) -> bool:
    lowered = head.lower()
    return lowered.startswith(b"<!doctype html") or b"<html" in lowered


def _describe(error: object) -> str:
    message = str(error).strip() or type(error).__name__
    return _SAX_POSITION.sub(r"XML error at line \1, column \2: ", message)


class _SkipEntry(Exception):
    pass


def _normalise_entry(
    raw: Any, *, fetched_at: datetime, xml_language: str | None, feed_language: str
) -> ParsedEntry:
    title = html_to_text(clean_text(raw.get("title")))
    link = _usable_url(raw.get("link"))
    guid = clean_text(raw.get("id")).strip()[:_MAX_URL] or None
    summary_html = clean_text(raw.get("summary"))
    content_html = "\n".join(
        clean_text(c.get("value")) for c in raw.get("content") or [] if c.get("value")
    )
    summary_text = html_to_text(summary_html)
    # a feed without a summary has its content copied there: read it once
    content_text = summary_text if content_html == summary_html else html_to_text(content_html)
    # the fast path reads markup unsanitised and hands over cleaned copies to store
    if "summary_html" in raw:
        summary_html = clean_text(raw["summary_html"])
    if "content_html" in raw:
        content_html = clean_text(raw["content_html"]) if content_html else ""
    if not (title or link or summary_text or content_text):
        raise _SkipEntry("no title, link or text")

    # dict.get: FeedParserDict.get maps a missing updated_parsed to published_parsed, with a
    # deprecation warning; the order here is explicit
    published_struct = (
        dict.get(raw, "published_parsed")
        or dict.get(raw, "updated_parsed")
        or dict.get(raw, "created_parsed")
    )
    published_at = _struct_to_utc(published_struct)
    fallback = published_at is None
    if published_at is None:
        published_at = fetched_at

    language, language_source = _language(raw, xml_language, feed_language, title, summary_text)
    if not title:
        title = (summary_text or content_text)[:_FALLBACK_TITLE_CHARS]
    url = canonical_url(link)
    key = guid or link or "hash:" + sha256_hex(title, "" if fallback else published_at.isoformat())
    if len(key) > _MAX_KEY:
        # a prefix of a long key could collide with another entry's
        key = "sha256:" + sha256_hex(key)
    return ParsedEntry(
        entry_key=key,
        guid=guid,
        url=link,
        canonical_url=url if url and len(url) <= _MAX_URL else None,
        title=title,
        title_key=title_key(title),
        summary_html=summary_html,
        summary_text=summary_text,
        content_html=content_html,
        content_text=content_text,
        author=clean_whitespace(clean_text(raw.get("author")))[:500],
        language=language,
        language_source=language_source,
        published_at=published_at,
        published_is_fallback=fallback,
        content_hash=entry_content_hash(title, url or "", summary_text, content_text),
        content_method="feed" if content_text else "",
    )


def _usable_url(value: object) -> str | None:
    """A link worth storing: present and short enough for the store."""
    link = clean_text(value).strip()
    return link if link and len(link) <= _MAX_URL else None


def entry_content_hash(title: str, url: str, summary_text: str, content_text: str) -> str:
    """What counts as a change to an item: its words and its link, not its timestamps."""
    return sha256_hex(title, url, summary_text, content_text)


def _struct_to_utc(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _language(
    raw: Any, xml_language: str | None, feed_language: str, title: str, summary: str
) -> tuple[str, str]:
    """The item's own language, else the feed's, else the configured one, else detected.

    feedparser copies the feed's xml:lang or <language> onto every entry, so an
    entry language equal to the feed's counts as the feed's.
    """
    details = [raw.get("title_detail"), raw.get("summary_detail"), *(raw.get("content") or [])]
    for detail in details:
        found = normalize_language((detail or {}).get("language"))
        if found and found != xml_language:
            return found, "item"
    if xml_language:
        return xml_language, "feed"
    if feed_language:
        return feed_language, "config"
    detected = detect_language(f"{title}\n{summary}")
    return (detected, "detected") if detected else ("", "")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when the text is too short or unclear."""
    text = text.strip()
    if len(text) < _MIN_DETECT_CHARS:
        return None
    code, score = _identifier().classify(text)
    return str(code) if score >= _MIN_DETECT_CONFIDENCE else None


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _interval_hint(meta: Any) -> float | None:
    hints: list[float] = []
    ttl = str(meta.get("ttl", "")).strip()
    if ttl.isdigit() and int(ttl) > 0:
        hints.append(int(ttl) * 60.0)
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
            return _usable_url(link["href"])
    return None
