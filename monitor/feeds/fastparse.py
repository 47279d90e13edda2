"""The fast read of a feed: lxml instead of feedparser, for the feeds both read alike.

feedparser spends most of its time in a SAX walk and an sgmllib sanitiser. This
module reads plain RSS 2.0 and Atom 1.0 documents with lxml and hands back the
same raw shape feedparser would (title, link, id, summary, content, dates as
struct_time, author, xml:lang per field), so parse.py normalises both alike.
It uses feedparser's own pieces wherever they are cheap (byte decoding, date
parsing, URI joining, its text fix-ups) and declines — raises `Declined` — on
anything it does not reproduce exactly: other encodings feedparser would
override, DTDs and entities, RSS 0.9x/1.0 and CDF, xml:base and nested
xml:lang, elements feedparser would map onto an entry field that this module
does not read, repeated fields, markup feedparser's sanitiser would rewrite,
missing required fields and an entry count that differs from a byte count of
<item>/<entry> tags. parse.py then uses feedparser.
"""

from __future__ import annotations

import contextlib
import re
import time
from functools import cache
from typing import Any

from feedparser.api import StrictFeedParser, convert_to_utf8, replace_doctype
from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree
from lxml.html import fragment_fromstring, tostring

ATOM = "http://www.w3.org/2005/Atom"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC = "http://purl.org/dc/elements/1.1/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

#: feedparser handlers that touch no entry field we keep
_HARMLESS = frozenset(
    {"category", "comments", "enclosure", "media_content", "media_thumbnail", "media_credit",
     "media_keywords", "media_rating", "media_restriction", "media_player", "media_license",
     "itunes_duration", "itunes_explicit", "itunes_image", "itunes_keywords", "itunes_block",
     "itunes_subtitle", "georss_point", "cc_license", "creativecommons_license", "psc_chapters",
     "psc_chapter", "url", "width", "height"}
)  # fmt: skip
#: and those that touch no feed field we keep
_HARMLESS_FEED = _HARMLESS | frozenset(
    {"generator", "rights", "copyright", "cloud", "textinput", "image", "docs", "webmaster",
     "managingeditor", "lastbuilddate", "pubdate", "published", "updated", "modified",
     "dc_date", "description", "subtitle", "tagline", "itunes_owner", "itunes_name",
     "itunes_email", "itunes_summary", "itunes_author", "itunes_type", "itunes_new_feed_url",
     "itunes_category", "icon", "logo", "contributor", "author", "name", "email", "uri", "id",
     "dc_publisher", "dc_rights", "dc_subject", "dc_creator", "expirationdate",
     "feedburner_info", "info", "feedburner_browserfriendly", "admin_generatoragent",
     "admin_errorreportsto"}
)  # fmt: skip
#: feed-level elements whose children belong to them, not to the feed
_CONTAINERS = frozenset({"image", "textinput", "itunes_owner", "itunes_category", "cloud",
                         "author", "contributor", "skiphours", "skipdays"})  # fmt: skip
#: markup feedparser's sanitiser rewrites in ways that change the text
_RISKY_MARKUP = re.compile(
    r"<\s*/?\s*(applet|svg|math|noscript|template|iframe|frame|frameset|noframes|xmp|"
    r"plaintext|listing|textarea|select|option|title|head|base|meta|link|body|html|[a-z]+:)|"
    r"<!(?!--)|<\?|<[^a-z/!?]|\]\]>|</?\s*[a-z][\w-]*[^>]*$|<script[^>]*>[^<]*<(?!/script)|"
    r"<!--(?:(?!-->).)*$",
    re.I | re.S,
)
#: an entity without its semicolon, in text (not inside a tag)
_LOOSE_ENTITY = re.compile(r"&#?\w+(?![\w;])")
_TAG = re.compile(r"<[^>]*>")
#: removed with their content / unwrapped (content kept), as feedparser's sanitiser does
_DROPPED = ("script", "style")
_UNWRAPPED = ("object", "embed", "param")
_DATE_FIELDS = {"published": "published_parsed", "updated": "updated_parsed"}
#: cheap independent count of entries in the bytes
_ITEM_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_UNSAFE_ATTRIBUTES = frozenset({"style", "formaction", "srcdoc", "xmlns"})
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "background", "cite", "poster"})
_SCRIPT_URL = re.compile(r"\s*(javascript|vbscript|data|livescript):", re.I)
_VOID_ELEMENT = re.compile(
    r"<(area|br|col|hr|img|input|param|source|track|wbr)\b([^>]*?)\s*/?>", re.I
)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=False, load_dtd=False
)


class Declined(Exception):
    """The fast path will not read this document; feedparser must."""


def read_feed(body: bytes, *, url: str, content_type: str | None) -> dict[str, Any]:
    """The feed as feedparser's result shape, or Declined.

    Entry dicts carry `summary_html` / `content_html`: the markup cleaned for
    storage, since this path does not run feedparser's sanitiser.
    """
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    result: dict[str, Any] = {"bozo": False, "entries": [], "feed": {}, "headers": {}}
    result["headers"].update(headers)
    data = convert_to_utf8(result["headers"], body, result)
    if str(result.get("encoding", "")).lower() not in ("utf-8", "us-ascii"):
        raise Declined(f"encoding {result.get('encoding')!r}, not UTF-8")
    version, data, entities = replace_doctype(data)
    if entities or b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise Declined("DTD or entities")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Declined(f"not well-formed for lxml: {exc}") from None
    base = _base(root, data, make_safe_absolute_uri("", url) or make_safe_absolute_uri(url) or "")
    own = root.get(_XML_BASE, root.get("base"))
    nested = data.count(b"base=") > (1 if own is not None else 0)
    bases = _Bases(root, base, nested)
    lang = _root_language(root, data)
    if root.tag == "rss" and root.get("version") == "2.0" and not version:
        feed, entries = _read_rss(root, bases, lang)
        result["version"] = "rss20"
    elif root.tag == f"{{{ATOM}}}feed" and not version:
        feed, entries = _read_atom(root, bases, lang)
        result["version"] = "atom10"
    else:
        raise Declined(f"root element {root.tag!r} version {root.get('version')!r}")
    if len(_ITEM_TAG.findall(data)) != len(entries):
        raise Declined("entry count differs from the <item>/<entry> tags in the bytes")
    result["feed"] = feed
    result["entries"] = entries
    return result


def _base(root: Any, data: bytes, base: str) -> str:
    """The document's base URI after the root's xml:base."""
    return _apply_base(base, root)


def _apply_base(base: str, element: Any) -> str:
    # feedparser's rule, applied at every start tag
    own = element.get(_XML_BASE, element.get("base")) or base
    return (make_safe_absolute_uri(base, own) or base) if base else _urljoin(base, own)


class _Bases:
    """The base URI in force at an element; ancestors are walked only for nested xml:base."""

    def __init__(self, root: Any, base: str, nested: bool) -> None:
        self.root, self.base, self.nested = root, base, nested

    def at(self, element: Any) -> str:
        return _element_base(element, self.base, self.root) if self.nested else self.base


def _element_base(element: Any, doc_base: str, stop: Any) -> str:
    """The base URI in force inside `element`: xml:base from below `stop` down to it."""
    chain = []
    node = element
    while node is not None and node is not stop:
        chain.append(node)
        node = node.getparent()
    base = doc_base
    for node in reversed(chain):
        base = _apply_base(base, node)
    return base


def _root_language(root: Any, data: bytes) -> str | None:
    """xml:lang on the root only; a language set anywhere else is feedparser's to track."""
    seen = data.count(b"lang=")
    own = root.get(_XML_LANG, root.get("lang"))
    if seen > (1 if own is not None else 0):
        raise Declined("xml:lang below the root")
    return own.replace("_", "-") if own else None


# ---------------------------------------------------------------- text as feedparser pops it


def _text(element: Any) -> str:
    """Element text the way feedparser's pop() leaves it (before sanitising)."""
    if len(element):
        raise Declined(f"markup inside <{element.tag}>")
    return _fixup((element.text or "").strip())


def _fixup(output: str) -> str:
    # feedparser repairs UTF-8 read as ISO-8859-1, then maps C1 controls to cp1252
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    return output.translate(_cp1252)


def _markup(value: str) -> str:
    """HTML feedparser would sanitise: accepted only when sanitising keeps its text."""
    if _RISKY_MARKUP.search(value):
        raise Declined("markup the sanitiser would rewrite")
    if "&" in value and _LOOSE_ENTITY.search(_TAG.sub(" ", value)):
        raise Declined("entity without a semicolon")
    return value


def safe_html(markup: str, base: str) -> str:
    """Markup fit to store and show: event handlers, styles and script URLs gone, links absolute.

    Scripts, styles, frames, objects and forms never get here: _markup declines them.
    """
    if "<" not in markup:
        return markup
    try:
        fragment = fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        raise Declined("markup lxml cannot read") from None
    changed = False
    if fragment.find(".//script") is not None or fragment.find(".//style") is not None:
        etree.strip_elements(fragment, *_DROPPED, with_tail=False)
        changed = True
    if next(fragment.iter(*_UNWRAPPED), None) is not None:
        etree.strip_tags(fragment, *_UNWRAPPED)
        changed = True
    for element in fragment.iter():
        attrib = element.attrib
        for name in list(attrib):
            lowered = name.lower()
            if lowered.startswith("on") or lowered in _UNSAFE_ATTRIBUTES:
                del attrib[name]
                changed = True
            elif lowered in _URL_ATTRIBUTES:
                url = _urljoin(base, attrib[name].strip()) if base else attrib[name].strip()
                if _SCRIPT_URL.match(url):
                    del attrib[name]
                    changed = True
                elif url != attrib[name]:
                    attrib[name] = url
                    changed = True
    if changed:
        # lxml writes entities as characters; a no-break space stays visible in the markup
        html = str(tostring(fragment, encoding="unicode")).replace("\xa0", "&nbsp;")
        markup = html[5:-6] if html.startswith("<div>") and html.endswith("</div>") else html
    # void elements written the way feedparser's sanitiser writes them: <br />
    return _VOID_ELEMENT.sub(r"<\1\2 />", markup)


# ---------------------------------------------------------------- which elements feedparser maps


@cache
def _handled_names() -> frozenset[str]:
    """Every element name feedparser has a handler for (e.g. 'dc_date', 'title')."""
    names = set()
    for attr in dir(StrictFeedParser):
        if attr.startswith("_start_"):
            names.add(attr[len("_start_") :])
        elif attr.startswith("_end_"):
            names.add(attr[len("_end_") :])
    return frozenset(names)


def _prefixes() -> dict[str, str]:
    return {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}


_PREFIXES = _prefixes()


def _handler_name(element: Any) -> str:
    """The name feedparser dispatches this element on."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""  # comment or processing instruction
    if tag.startswith("{"):
        uri, local = tag[1:].split("}", 1)
        lowered = uri.lower()
        if "backend.userland.com/rss" in lowered:
            lowered = "http://backend.userland.com/rss"
        prefix = _PREFIXES.get(lowered, element.prefix or "")
    else:
        prefix, local = "", tag
    local = local.lower()
    return f"{prefix}_{local}" if prefix else local


def _check_unread(element: Any, harmless: frozenset[str] = _HARMLESS) -> None:
    """An element this module skips must be one feedparser also keeps out of our fields."""
    name = _handler_name(element)
    if name and name in _handled_names() and name not in harmless:
        raise Declined(f"element <{element.tag}> maps onto a field")


# ---------------------------------------------------------------- RSS 2.0


def _read_rss(root: Any, bases: _Bases, lang: str | None) -> tuple[dict[str, Any], list[Any]]:
    channels = [child for child in root if isinstance(child.tag, str)]
    if len(channels) != 1 or channels[0].tag != "channel":
        raise Declined("rss without exactly one channel")
    channel = channels[0]
    feed: dict[str, Any] = {"links": []}
    if lang:
        feed["language"] = lang
    entries: list[dict[str, Any]] = []
    seen_title = False
    for child in channel:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == "item":
            entries.append(_rss_item(child, bases, lang))
        elif tag == "title":
            if seen_title:
                raise Declined("two channel titles")
            seen_title = True
            feed["title"] = _plain_title(_text(child))
        elif tag == "link":
            _text_link(feed, child, bases.at(child))
        elif tag == f"{{{ATOM}}}link":
            _href_link(feed, child, bases.at(child))
        elif tag in ("language", f"{{{_DC}}}language"):
            feed["language"] = _text(child)
        elif tag == "ttl":
            feed["ttl"] = _text(child)
        elif tag == "{http://purl.org/rss/1.0/modules/syndication/}updatePeriod":
            feed["sy_updateperiod"] = _text(child)
        elif tag == "{http://purl.org/rss/1.0/modules/syndication/}updateFrequency":
            feed["sy_updatefrequency"] = _text(child)
        else:
            _check_feed_child(child)
    return feed, entries


def _check_feed_child(child: Any) -> None:
    _check_unread(child, _HARMLESS_FEED)
    name = _handler_name(child)
    for inner in child.iterdescendants():
        if name in _CONTAINERS:
            if inner.getparent() is not child:
                _check_unread(inner, _HARMLESS_FEED)
        else:
            _check_unread(inner, _HARMLESS_FEED)


def _plain_title(title: str) -> str:
    # the feed title is kept as text, not through html_to_text: anything markup-like declines
    if "<" in title or "&" in title:
        raise Declined("feed title with markup")
    return title


def _text_link(context: dict[str, Any], element: Any, base: str) -> None:
    value = _text(element)
    if element.attrib:
        raise Declined("link element with attributes")
    if value:
        value = _urljoin(base, value)
    value = value.replace("&amp;", "&")
    value = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", value)
    context["link"] = value
    context.setdefault("links", []).append({"rel": "alternate", "href": value})


def _href_link(context: dict[str, Any], element: Any, base: str) -> None:
    href = element.get("href")
    if href is None or len(element):
        raise Declined("atom:link without href")
    rel = element.get("rel", "alternate")
    kind = element.get("type", "application/atom+xml" if rel == "self" else "text/html")
    href = _urljoin(base, href)
    context.setdefault("links", []).append({"rel": rel, "href": href})
    mapped = _FeedParserMixin.map_content_type(kind)
    if rel == "alternate" and mapped in _FeedParserMixin.html_types:
        context["link"] = href


def _rss_item(item: Any, bases: _Bases, lang: str | None) -> dict[str, Any]:
    if set(item.attrib) - {_XML_BASE}:
        raise Declined("item with attributes (CDF or RDF)")
    entry: dict[str, Any] = {}
    link: str | None = None
    guid_link: str | None = None
    html_bases: dict[str, str] = {}
    seen: set[str] = set()
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag in seen and tag != "category":
            raise Declined(f"repeated <{tag}> in an item")
        seen.add(tag)
        base = bases.at(child)
        if tag == "title":
            entry["title"] = _markup(_text(child))
            entry["title_detail"] = {"language": lang}
        elif tag == "link":
            if child.attrib:
                raise Declined("link element with attributes")
            link = _text(child)
            if link:
                link = _urljoin(base, link)
            link = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", link.replace("&amp;", "&"))
        elif tag == "guid":
            permalink = {k.lower(): v for k, v in child.attrib.items()}.get("ispermalink", "true")
            value = _text(child)
            if permalink == "true":
                value = _urljoin(base, value) if value else value
                guid_link = value
            entry["id"] = value
        elif tag == "description":
            html_bases["summary"] = base
            entry["summary"] = _markup(_text(child))
            entry["summary_detail"] = {"language": lang}
        elif tag == _CONTENT:
            html_bases["content"] = base
            entry["content"] = [{"value": _markup(_text(child)), "language": lang}]
        elif tag == "pubDate":
            entry["published_parsed"] = _date(child)
        elif tag == f"{{{_DC}}}date":
            entry["updated_parsed"] = _date(child)
        elif tag in ("author", f"{{{_DC}}}creator"):
            if "author" in entry:
                raise Declined("two authors")
            entry["author"] = _text(child)
        else:
            _check_unread(child)
            for inner in child.iterdescendants():
                _check_unread(inner)
            continue
        if tag not in ("guid", "link"):
            _no_attributes_but(child, ())
    if link is not None:
        entry["link"] = link
    elif guid_link is not None:
        entry["link"] = guid_link
    if "summary" not in entry and "content" in entry:
        entry["summary"] = entry["content"][0]["value"]
        html_bases["summary"] = html_bases["content"]
    return _with_safe_html(entry, html_bases, {"summary", "content"})


def _no_attributes_but(element: Any, allowed: tuple[str, ...]) -> None:
    for name in element.attrib:
        if name not in allowed:
            raise Declined(f"attribute {name} on <{element.tag}>")


def _date(element: Any) -> time.struct_time | None:
    value = _text(element)
    parsed: time.struct_time | None = _parse_date(value)
    return parsed


def _with_safe_html(entry: dict[str, Any], bases: dict[str, str], html: set[str]) -> dict[str, Any]:
    """Cleaned copies of the fields feedparser would have sanitised (`html` names them)."""
    if "summary" in html and "summary" in entry:
        entry["summary_html"] = safe_html(entry["summary"], bases.get("summary", ""))
    if "content" in html and "content" in entry:
        entry["content_html"] = safe_html(entry["content"][0]["value"], bases["content"])
    return entry


# ---------------------------------------------------------------- Atom 1.0


def _read_atom(root: Any, bases: _Bases, lang: str | None) -> tuple[dict[str, Any], list[Any]]:
    feed: dict[str, Any] = {"links": []}
    if lang:
        feed["language"] = lang
    entries: list[dict[str, Any]] = []
    seen_title = False
    feed_id: str | None = None
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == f"{{{ATOM}}}entry":
            entries.append(_atom_entry(child, bases, lang))
        elif tag == f"{{{ATOM}}}title":
            if seen_title or child.get("type", "text") != "text":
                raise Declined("feed title not plain text")
            seen_title = True
            feed["title"] = _plain_title(_text(child))
        elif tag == f"{{{ATOM}}}link":
            _href_link(feed, child, bases.at(child))
        elif tag == f"{{{ATOM}}}id":
            feed_id = _text(child)
            feed_id = _urljoin(bases.at(child), feed_id) if feed_id else feed_id
        else:
            _check_feed_child(child)
    if "link" not in feed and feed_id is not None:
        feed["link"] = feed_id
    return feed, entries


def _atom_entry(element: Any, bases: _Bases, lang: str | None) -> dict[str, Any]:
    if set(element.attrib) - {_XML_BASE}:
        raise Declined("entry with attributes")
    entry: dict[str, Any] = {}
    link: str | None = None
    id_value: str | None = None
    kinds: dict[str, str] = {}
    html_bases: dict[str, str] = {}
    seen: set[str] = set()
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = tag[len(ATOM) + 2 :] if tag.startswith(f"{{{ATOM}}}") else ""
        if local in seen and local not in ("link", "category"):
            raise Declined(f"repeated <{local}> in an entry")
        seen.add(local)
        base = bases.at(child)
        if local == "title":
            entry["title"] = _atom_text(child)
            entry["title_detail"] = {"language": lang}
        elif local == "link":
            holder: dict[str, Any] = {}
            _href_link(holder, child, base)
            if "link" in holder:
                link = holder["link"]
        elif local == "id":
            _no_attributes_but(child, ())
            value = _text(child)
            id_value = _urljoin(base, value) if value else value
            entry["id"] = id_value
        elif local == "summary":
            html_bases["summary"] = base
            kinds["summary"] = child.get("type", "text")
            entry["summary"] = _atom_text(child)
            entry["summary_detail"] = {"language": lang}
        elif local == "content":
            if "src" in child.attrib:
                raise Declined("content with src")
            html_bases["content"] = base
            kinds["content"] = child.get("type", "text")
            entry["content"] = [{"value": _atom_text(child), "language": lang}]
        elif local in _DATE_FIELDS:
            _no_attributes_but(child, ())
            entry[_DATE_FIELDS[local]] = _date(child)
        elif local == "author":
            entry["author"] = _atom_author(child)
        else:
            _check_unread(child)
            for inner in child.iterdescendants():
                _check_unread(inner)
    if link is not None:
        entry["link"] = link
    elif id_value is not None:
        entry["link"] = id_value
    html: set[str] = {name for name in ("summary", "content") if kinds.get(name) == "html"}
    if "summary" not in entry and "content" in entry:
        entry["summary"] = entry["content"][0]["value"]
        if "content" in html:
            html.add("summary")
            html_bases["summary"] = html_bases["content"]
    return _with_safe_html(entry, html_bases, html)


def _atom_text(element: Any) -> str:
    kind = element.get("type", "text")
    _no_attributes_but(element, ("type",))
    if kind == "text":
        return _text(element)
    if kind == "html":
        return _markup(_text(element))
    raise Declined(f"Atom text of type {kind!r}")


def _atom_author(element: Any) -> str:
    names = [c for c in element if isinstance(c.tag, str)]
    if [c.tag for c in names if c.tag != f"{{{ATOM}}}uri"] != [f"{{{ATOM}}}name"]:
        raise Declined("author other than one name (and uri)")
    name = _text(next(c for c in names if c.tag == f"{{{ATOM}}}name"))
    if not name:
        raise Declined("author without a name")
    return name
