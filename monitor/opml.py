"""OPML subscription lists in and out: plain functions over FeedSettings.

Reading is split in two pure steps so each can be tested alone: `parse_opml`
turns bytes into the outlines as written, `plan_import` applies the command's
defaults and decides, per outline, whether it becomes a feed or is skipped and
why. `render_opml` writes feeds back out with our metadata as attributes, so an
export imported into an empty database gives the same feeds.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Literal

from monitor.config import SOURCE_TYPES, FeedSettings, is_http_url
from monitor.errors import InputError

PublisherFrom = Literal["text", "title", "folder"]
PUBLISHER_FROM: tuple[PublisherFrom, ...] = ("text", "title", "folder")

#: folder names in exports; imports read the type from each outline's attribute
FOLDER_LABELS = {
    "government": "Governments",
    "think_tank": "Think tanks",
    "intergovernmental": "Intergovernmental bodies",
    "media": "Media",
}

# column widths in monitor/store/models.py; longer values would fail on PostgreSQL
_MAX_URL = 2000
_MAX_PUBLISHER = 200
_MAX_TITLE = 500


@dataclass(frozen=True)
class Outline:
    """One feed outline as the file states it (empty string: not stated)."""

    position: int
    url: str
    text: str = ""
    title: str = ""
    html_url: str = ""
    #: the text of the innermost enclosing folder outline
    folder: str = ""
    publisher: str = ""
    source_type: str = ""
    country: str = ""
    language: str = ""
    full_text: str = ""

    @property
    def label(self) -> str:
        return _label(self.position, self.text or self.title or self.url)


@dataclass(frozen=True)
class Skipped:
    """An outline that was not imported, and why."""

    position: int
    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


@dataclass(frozen=True)
class OpmlDocument:
    title: str
    outlines: tuple[Outline, ...]
    #: outlines rejected while reading (no xmlUrl)
    invalid: tuple[Skipped, ...]


@dataclass(frozen=True)
class ImportDefaults:
    """What the command line says for outlines that do not say it themselves."""

    publisher_from: PublisherFrom = "text"
    source_type: str = "media"
    country: str = ""
    language: str = ""


@dataclass(frozen=True)
class ImportPlan:
    to_add: tuple[FeedSettings, ...]
    already_present: tuple[Skipped, ...]
    invalid: tuple[Skipped, ...]


# --- reading ---------------------------------------------------------------------


def parse_opml(data: bytes) -> OpmlDocument:
    """Read an OPML 1.0 or 2.0 document; anything else is an InputError.

    DOCTYPE declarations are refused before the tree is built, so neither
    external entities (local files, URLs) nor entity expansion bombs are read.
    """
    _refuse_doctype(data)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "opml":
        raise InputError(f"not an OPML document: the root element is <{_local(root.tag)}>")
    body = _child(root, "body")
    if body is None:
        raise InputError("not an OPML document: it has no <body>")
    head = _child(root, "head")
    title_el = _child(head, "title") if head is not None else None
    title = (title_el.text or "").strip() if title_el is not None else ""
    outlines: list[Outline] = []
    invalid: list[Skipped] = []
    for outline in _walk(body, folder="", counter=itertools.count(1)):
        if isinstance(outline, Skipped):
            invalid.append(outline)
        else:
            outlines.append(outline)
    return OpmlDocument(title=title, outlines=tuple(outlines), invalid=tuple(invalid))


def _refuse_doctype(data: bytes) -> None:
    def refuse(*_args: object) -> None:
        raise InputError("OPML files with a DOCTYPE declaration are not accepted")

    checker = xml.parsers.expat.ParserCreate()
    checker.StartDoctypeDeclHandler = refuse
    checker.EntityDeclHandler = refuse
    try:
        checker.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise InputError(f"not well-formed XML: {exc}") from None


def _walk(
    parent: ET.Element, *, folder: str, counter: Iterator[int]
) -> Iterator[Outline | Skipped]:
    """Feed outlines in document order (numbered, so a report can point at one)."""
    for element in parent:
        if _local(element.tag) != "outline":
            continue
        position = next(counter)
        attrs = {key.lower(): value.strip() for key, value in element.attrib.items()}
        text, title = attrs.get("text", ""), attrs.get("title", "")
        url = attrs.get("xmlurl", "")
        has_children = any(_local(child.tag) == "outline" for child in element)
        if url:
            yield Outline(
                position=position,
                url=url,
                text=text,
                title=title,
                html_url=attrs.get("htmlurl", ""),
                folder=folder,
                publisher=attrs.get("publisher", ""),
                source_type=attrs.get("sourcetype", "") or attrs.get("source_type", ""),
                country=attrs.get("country", ""),
                language=attrs.get("language", ""),
                full_text=attrs.get("fulltext", "") or attrs.get("full_text", ""),
            )
        elif not has_children:
            yield Skipped(position, _label(position, text or title), "no xmlUrl")
        if has_children:
            inner = folder if url else (text or title)
            yield from _walk(element, folder=inner, counter=counter)


def _label(position: int, name: str) -> str:
    return f"outline {position}" + (f" ({name!r})" if name else "")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in parent if _local(c.tag) == name), None)


# --- deciding ----------------------------------------------------------------------


def plan_import(
    document: OpmlDocument,
    defaults: ImportDefaults,
    *,
    present_urls: Collection[str] = (),
) -> ImportPlan:
    """Which outlines become feeds: valid, not in the store, not listed earlier."""
    to_add: list[FeedSettings] = []
    present: list[Skipped] = []
    invalid: list[Skipped] = list(document.invalid)
    seen: set[str] = set()
    for outline in document.outlines:
        try:
            spec = feed_settings(outline, defaults)
        except InputError as exc:
            invalid.append(_skip(outline, str(exc)))
            continue
        if spec.url in present_urls:
            present.append(_skip(outline, f"already present: {spec.url}"))
        elif spec.url in seen:
            present.append(_skip(outline, f"already present: {spec.url} (listed earlier)"))
        else:
            seen.add(spec.url)
            to_add.append(spec)
    invalid.sort(key=lambda skipped: skipped.position)
    return ImportPlan(tuple(to_add), tuple(present), tuple(invalid))


def _skip(outline: Outline, reason: str) -> Skipped:
    return Skipped(outline.position, outline.label, reason)


def feed_settings(outline: Outline, defaults: ImportDefaults) -> FeedSettings:
    """One outline as a feed; the outline's own attributes win over the defaults."""
    if not is_http_url(outline.url):
        raise InputError(f"not an http(s) URL: {outline.url!r}")
    if len(outline.url) > _MAX_URL:
        raise InputError(f"URL longer than {_MAX_URL} characters")
    publisher = outline.publisher or _publisher_from(outline, defaults.publisher_from)
    if not publisher:
        raise InputError("no publisher: the outline has no text, title or publisher")
    if len(publisher) > _MAX_PUBLISHER:
        raise InputError(f"publisher longer than {_MAX_PUBLISHER} characters")
    source_type = outline.source_type or defaults.source_type
    if source_type not in SOURCE_TYPES:
        raise InputError(
            f"source type must be one of {', '.join(SOURCE_TYPES)}, not {source_type!r}"
        )
    return FeedSettings(
        url=outline.url,
        publisher=publisher,
        source_type=source_type,
        country=normalise_country(outline.country or defaults.country),
        language=normalise_language(outline.language or defaults.language),
        full_text=outline.full_text.lower() in ("true", "1", "yes"),
        title=outline.title[:_MAX_TITLE],
    )


def _publisher_from(outline: Outline, source: PublisherFrom) -> str:
    preferred = {"text": outline.text, "title": outline.title, "folder": outline.folder}[source]
    return preferred or outline.text or outline.title


def normalise_language(value: str) -> str:
    """An ISO 639-1 code ('en-US' and 'EN' both give 'en'), or '' to detect per item."""
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary and not (len(primary) == 2 and primary.isascii() and primary.isalpha()):
        raise InputError(f"language must be an ISO 639-1 code such as 'en', not {value!r}")
    return primary


def normalise_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 code, INT or EU, upper-cased; '' when unknown."""
    code = value.strip().upper()
    if code and not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
        raise InputError(f"country must be an ISO 3166-1 code such as 'DE', not {value!r}")
    return code


# --- writing -----------------------------------------------------------------------


def render_opml(feeds: Sequence[FeedSettings], *, title: str, created_at: datetime) -> str:
    """OPML 2.0, one folder per source type, our metadata as outline attributes."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(created_at)
    body = ET.SubElement(root, "body")
    for source_type in SOURCE_TYPES:
        members = sorted(
            (f for f in feeds if f.source_type == source_type),
            key=lambda f: (f.publisher.casefold(), f.url),
        )
        if not members:
            continue
        label = FOLDER_LABELS[source_type]
        folder = ET.SubElement(body, "outline", text=label, title=label)
        for feed in members:
            ET.SubElement(folder, "outline", _feed_attributes(feed))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _feed_attributes(feed: FeedSettings) -> dict[str, str]:
    attrs = {"type": "rss", "text": feed.title or feed.publisher}
    if feed.title:
        attrs["title"] = feed.title
    attrs.update(
        xmlUrl=feed.url,
        publisher=feed.publisher,
        sourceType=feed.source_type,
    )
    if feed.country:
        attrs["country"] = feed.country
    if feed.language:
        attrs["language"] = feed.language
    if feed.full_text:
        attrs["fullText"] = "true"
    return attrs
