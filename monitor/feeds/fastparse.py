"""The fast read of a feed: lxml instead of feedparser, for the feeds both read alike.

feedparser spends most of its time in a SAX walk and an sgmllib sanitiser. This
module reads plain RSS (2.0, and the 0.9x feedparser reads alike), RSS 1.0,
Atom 1.0 and Atom 0.3 documents with lxml and hands back the same raw shape
feedparser would (title, link, id, summary, content, dates as struct_time,
author, xml:lang per field), so parse.py normalises both alike. It uses
feedparser's own pieces wherever they are cheap (byte decoding, date parsing,
URI joining, its text fix-ups), follows feedparser's rules where they are simple
(xml:base and xml:lang on any element, media:title, dc:title, an author's email,
whitespace before the XML declaration). A summary, content or entry title
holding markup or entity references feedparser's sanitiser would rewrite goes
through that sanitiser, as feedparser would send it. A well-formed document with
nothing feedparser reads as a feed gets its answer: no feed. It declines —
raises `Declined` — on anything it does not reproduce exactly: encodings
feedparser overrides, DTDs and entities, CDF, elements feedparser would map onto
an entry field that this module does not read, repeated fields, titles that
differ, a feed title with such markup, missing required fields and an entry
count that differs from a byte count of <item>/<entry> tags. parse.py then uses
feedparser.
"""

from __future__ import annotations

import contextlib
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, lru_cache
from html import unescape
from html.entities import name2codepoint
from typing import Any
from xml.sax.saxutils import escape

from feedparser.api import StrictFeedParser, convert_to_utf8, replace_doctype
from feedparser.datetimes import _parse_date
from feedparser.html import _BaseHTMLProcessor, _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris
from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
#: Atom 0.3, its draft: the same elements, dates also named issued, modified, created
_ATOM03 = "http://purl.org/atom/ns#"
_RSS1 = "http://purl.org/rss/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF_ABOUT = f"{{{_RDF}}}about"
#: namespaces that set feedparser's version when it meets their declaration first
_VERSION_NAMESPACES = {_RSS1: "rss10", ATOM.lower(): "atom10",
                       "http://my.netscape.com/rdf/simple/0.9/": "rss090"}  # fmt: skip
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC = "http://purl.org/dc/elements/1.1/"
_DC_TITLE = f"{{{_DC}}}title"
_ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
_ITUNES_SUMMARY = f"{{{_ITUNES}}}summary"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
#: attributes any element may carry: _Bases and _Langs read xml:base and xml:lang, and
#: feedparser ignores xml:space
_XML_ATTRIBUTES = frozenset({_XML_BASE, _XML_LANG, _XML_SPACE})

#: feedparser handlers that touch no entry field we keep
_HARMLESS = frozenset(
    {"category", "comments", "enclosure", "media_content", "media_thumbnail", "media_credit",
     "media_keywords", "media_rating", "media_restriction", "media_player", "media_license",
     "itunes_duration", "itunes_explicit", "itunes_image", "itunes_keywords", "itunes_block",
     "itunes_subtitle", "georss_point", "cc_license", "creativecommons_license",
     "creativeCommons_license", "psc_chapters", "psc_chapter", "url", "width", "height",
     "media_category", "dc_subject", "rights", "dc_rights"}
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
#: what an entry's contributor may hold
_CONTRIBUTOR_PARTS = _HARMLESS | frozenset({"name", "uri", "url", "email", "homepage"})
#: feed-level elements whose children belong to them, not to the feed
_CONTAINERS = frozenset({"image", "textinput", "itunes_owner", "itunes_category", "cloud",
                         "author", "contributor", "skiphours", "skipdays"})  # fmt: skip
#: markup feedparser's sanitiser rewrites in ways that change the text (not a bare <body> or
#: </body>: it drops the tag, which the text reader ignores), and, to be looked at further,
#: script and style tags and images with a "&" in their alt text
#: (possessive runs: each is followed by what cannot extend it, so the regex never backtracks
#: into one; it tests every "<" of every field, and backtracking had doubled its time)
_MARKUP_CHECK = re.compile(
    r"<(?:\s*+/?\s*+(applet|svg|math|noscript|template|iframe|frame|frameset|noframes|xmp|"
    r"plaintext|listing|textarea|select|option|title|head|base|meta|link|html|body(?!>)|"
    r"[a-z]++:)|"
    r"!(?!--)|\?|[^a-z/!?]|!--(?:(?!-->).)*+$|"
    # a tag that does not end at its first ">" outside quotes (the two readers differ)
    r"/?\s*+[a-z](?:[^<>\"']++|\"[^\"<>]*+\"|'[^'<>]*+')*+(?!>)|"
    # (tags written plainly only, from here on)
    r"(?P<raw>\s*+/?\s*+(?:script|style)\b)|"
    r"(?P<image>img\b(?:[^<>\"']++|\"[^\"<>]*+\"|'[^'<>]*+')*?[\s\"'/]alt\s*+=\s*+"
    r"(?:\"(?P<alt1>[^\"<>&]*+&[^\"<>]*+)\"|'(?P<alt2>[^'<>&]*+&[^'<>]*+)'"
    r"|(?P<alt3>[^\s\"'<>=`&]*+&[^\s\"'<>=`]*+))))",
    re.I | re.S,
)
#: references as sgmllib (feedparser's sanitiser) reads them in text, with the character after
_SGML_CHARREF = re.compile(r"&#(?:[0-9]+|[xX][0-9a-fA-F]+)(?=([^0-9a-fA-F]))")
_SGML_ENTITYREF = re.compile(r"&([a-zA-Z][-.a-zA-Z0-9]*)(?=([^a-zA-Z0-9]))")
_NAMED_ENTITY = re.compile(r"&([A-Za-z]\w*);")
#: the references an image's alt text (which the text reader reads) may hold
_ALT_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|([A-Za-z][A-Za-z0-9]*));")
#: named references feedparser's sanitiser writes back with their semicolon
_KNOWN_ENTITIES = frozenset(name2codepoint) | {"apos"}
_TAG = re.compile(r"<[^>]*>")
#: a script or style element the sanitiser reads as the text reader does: it drops what lies
#: inside such an element but keeps its references, and an end tag with no start hides the rest
_CLOSED_RAW_TEXT = re.compile(r"<(script|style)\b[^>]*+>[^<&]*+</\1>", re.I)
_C1_CONTROL = re.compile("[\x80-\x9f]")
#: removed with their content / unwrapped (content kept), as feedparser's sanitiser does
_DROPPED = ("script", "style")
_UNWRAPPED = ("object", "embed", "param")
#: an Atom entry's dates, by the field feedparser files each under
_DATE_FIELDS = {"published": "published_parsed", "issued": "published_parsed",
                "updated": "updated_parsed", "modified": "updated_parsed",
                "created": "created_parsed"}  # fmt: skip
#: Atom text types as feedparser maps them (Atom 0.3 names MIME types), by our name
_ATOM_KINDS = {"text/plain": "text", "text/html": "html", "application/xhtml+xml": "xhtml"}
#: cheap independent count of entries in the bytes
_ITEM_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
#: what gives feedparser a version or an entry in any document: these elements (under
#: any prefix), the namespaces it reads versions from, Netscape's RSS DOCTYPE
FEED_MARKERS = re.compile(
    rb"<(?:[\w.-]+:)?(?:rss|feed|item|entry|channel)[\s/>]|purl\.org/rss/1\.0|w3\.org/2005/atom"
    rb"|netscape",
    re.I,
)
#: feedparser's declaration, whitespace, then the document's own
_LATE_DECLARATION = re.compile(rb"<\?xml[^>]*\?>\s+(?=<\?xml\s)(<\?xml[^>]*\?>)")
#: an absolute http(s) URL that urljoin gives back as it is: lower-case scheme, a host,
#: no empty query or fragment, no ";" (path parameters), brackets, spaces or non-ASCII
_URL_CHARS = r"[A-Za-z0-9._~%!$&'()*+,=:@/-]"
_PLAIN_URL = re.compile(
    rf"https?://[A-Za-z0-9._~%!$&'()*+,=:@-]+(?:/{_URL_CHARS}*)?(?:\?{_URL_CHARS}+)?(?:#{_URL_CHARS}+)?"
)
_UNSAFE_ATTRIBUTES = frozenset({"style", "formaction", "srcdoc", "xmlns"})
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "background", "cite", "poster"})
_SCRIPT_URL = re.compile(r"\s*(javascript|vbscript|data|livescript):", re.I)
#: (possessive, and the closing "/" taken off afterwards: a lazy run tried "/>" at every
#: character of every attribute)
_VOID_ELEMENT = re.compile(r"<(area|br|col|hr|img|input|param|source|track|wbr)\b([^>]*+)>", re.I)
#: markup safe_html leaves as it is, told without parsing it: text and tags written plainly
#: (every "<" starts one), none of the elements it removes or unwraps, no attribute it
#: removes, and every link attribute a double-quoted absolute URL it keeps as written.
#: Anything else, however harmless, goes to lxml. (Of the benchmark's 8,849 fields with
#: markup, lxml leaves 6,330 unchanged; this tells 4,852 of them in 0.10 s, lxml in 0.40 s.)
_HTML_WHITE = r"[ \t\n\r\f]"
_NAME_ENDS = r"(?![-a-zA-Z0-9_:.])"
_LINK_ATTRIBUTE = rf"(?i:{'|'.join(sorted(_URL_ATTRIBUTES))}){_NAME_ENDS}"
_KEPT_ATTRIBUTE = (
    rf"(?!(?i:on|xmlns|(?:{'|'.join(sorted(_UNSAFE_ATTRIBUTES - {'xmlns'}))}){_NAME_ENDS}))"
    rf"(?!{_LINK_ATTRIBUTE})[a-zA-Z_:][-a-zA-Z0-9_:.]*+"
)
_ATTRIBUTE_VALUE = r"(?:\"[^\"]*+\"|'[^']*+'|[^ \t\n\r\f\"'=<>`]++)"
_KEPT_URL = _PLAIN_URL.pattern.replace("&", "")  # "&" may start a reference lxml decodes
_NOTHING_TO_CLEAN = re.compile(
    rf"(?:[^<]++|</?(?!(?i:{'|'.join(_DROPPED + _UNWRAPPED)}){_NAME_ENDS})[a-zA-Z][a-zA-Z0-9]*+"
    rf"(?:{_HTML_WHITE}++(?:{_LINK_ATTRIBUTE}{_HTML_WHITE}*+={_HTML_WHITE}*+\"{_KEPT_URL}\""
    rf"|{_KEPT_ATTRIBUTE}(?:{_HTML_WHITE}*+={_HTML_WHITE}*+{_ATTRIBUTE_VALUE})?+))*+"
    rf"{_HTML_WHITE}*+/?>)*+"
)
#: lxml's HTML parser with plain elements: lxml.html's element classes are looked up in
#: Python for every element it makes
_HTML_PARSER = etree.HTMLParser()
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=False, load_dtd=False
)


#: whether the document being read came as UTF-8 (feedparser's fix-ups differ)
_UTF8: ContextVar[bool] = ContextVar("utf8", default=True)


class Declined(Exception):
    """The fast path will not read this document; feedparser must."""


def read_feed(body: bytes, *, url: str, content_type: str | None) -> dict[str, Any]:
    """The feed as feedparser's result shape, or Declined.

    Entry dicts carry `summary_html` / `content_html`: the markup cleaned for
    storage, since this path runs feedparser's sanitiser only where it must.
    """
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    result: dict[str, Any] = {"bozo": False, "entries": [], "feed": {}, "headers": {}}
    result["headers"].update(headers)
    data = convert_to_utf8(result["headers"], body, result)
    encoding = str(result.get("encoding", "")).lower()
    if not encoding:
        raise Declined("encoding unknown")
    # an overridden declaration (bozo, CharacterEncodingOverride): feedparser reads on
    # in the encoding it chose, as this path does, and keeps the error for the warnings
    token = _UTF8.set(encoding == "utf-8")
    try:
        return _read_document(data, result, url)
    finally:
        _UTF8.reset(token)


def _read_document(data: bytes, result: dict[str, Any], url: str) -> dict[str, Any]:
    """read_feed on the document as UTF-8 bytes, whatever it was sent in."""
    version, data, entities = replace_doctype(data)
    if entities or b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise Declined("DTD or entities")
    data = _drop_late_declaration(data, result)
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Declined(f"not well-formed for lxml: {exc}") from None
    base = _base(root, data, make_safe_absolute_uri("", url) or make_safe_absolute_uri(url) or "")
    own = root.get(_XML_BASE, root.get("base"))
    nested = data.count(b"base=") > (1 if own is not None else 0)
    bases = _Bases(root, base, nested)
    langs = _Langs(root, data)
    if root.tag == "rss" and version in (None, "", "rss091n"):  # the last from Netscape's DOCTYPE
        # every version feedparser reads by RSS 2.0's rules; parse.py reads only that
        # there is one, not feedparser's finer names for it
        feed, entries = _read_rss(root, bases, langs)
        result["version"] = version or "rss"
    elif root.tag == f"{{{ATOM}}}feed" and not version:
        feed, entries = _read_atom(root, bases, langs, ATOM)
        result["version"] = "atom10"
    elif (
        root.tag == f"{{{_ATOM03}}}feed"
        and root.get("version") == "0.3"
        and not version
        and _rdf_version(root) is None
    ):
        feed, entries = _read_atom(root, bases, langs, _ATOM03)
        result["version"] = "atom03"
    elif root.tag == f"{{{_RDF}}}RDF" and not version and _rdf_version(root) == "rss10":
        feed, entries = _read_rdf(root, bases, langs)
        result["version"] = "rss10"
    elif not version and not FEED_MARKERS.search(data):
        return result  # feedparser's answer too: no version, no entries, so no feed
    else:
        raise Declined(f"root element {root.tag!r} version {root.get('version')!r}")
    if len(_ITEM_TAG.findall(data)) != len(entries):
        raise Declined("entry count differs from the <item>/<entry> tags in the bytes")
    result["feed"] = feed
    result["entries"] = entries
    return result


def _rdf_version(root: Any) -> str | None:
    """The version feedparser gives an RDF document: that of the first namespace of
    _VERSION_NAMESPACES whose declaration it meets (RSS 0.90's only as the default
    namespace). Known here when the root declares one, as the root's declarations come
    first, in order; None when only a descendant does.

    RSS 1.0 from FeedBurner declares the Atom namespace for an <atom10:link> inside the
    channel: after the root's RSS 1.0 namespace, so feedparser reads it as RSS 1.0.
    """
    for prefix, uri in root.nsmap.items():
        version = _VERSION_NAMESPACES.get(uri.lower())
        if version and (version != "rss090" or prefix is None):
            return version
    return None


def _drop_late_declaration(data: bytes, result: dict[str, Any]) -> bytes:
    """The document's own XML declaration, when whitespace came before it, removed.

    feedparser then writes its own declaration ahead of that whitespace; expat
    refuses the second one and feedparser reads on with its loose parser, which
    gives the same fields for the documents that pass this module's checks. The
    error is kept, as feedparser keeps it, for the feed's warnings.
    """
    match = _LATE_DECLARATION.match(data)
    if match is None:
        return data
    at = match.start(1)
    line = data.count(b"\n", 0, at) + 1
    column = at - data.rfind(b"\n", 0, at) - 1
    result["bozo"] = True
    result["bozo_exception"] = ValueError(
        f"<unknown>:{line}:{column}: XML or text declaration not at start of entity"
    )
    return data[:at] + data[match.end(1) :]


def _base(root: Any, data: bytes, base: str) -> str:
    """The document's base URI after the root's xml:base."""
    return _apply_base(base, root)


def _join(base: str, uri: str) -> str:
    """feedparser's _urljoin, skipped for the plain absolute URLs it returns unchanged."""
    return uri if _PLAIN_URL.fullmatch(uri) else str(_urljoin(base, uri))


def _apply_base(base: str, element: Any) -> str:
    # feedparser's rule, applied at every start tag
    return _resolved_base(base, element.get(_XML_BASE, element.get("base")) or base)


@lru_cache(maxsize=1024)
def _resolved_base(base: str, own: str) -> str:
    """Remembered: a document with nested xml:base asks for the same few pairs at every
    element (the benchmark's 500 bodies: 31,142 URL joins of 6 µs each, 613 with this)."""
    return (make_safe_absolute_uri(base, own) or base) if base else _join(base, own)


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


class _Langs:
    """The xml:lang in force at an element, as feedparser tracks it ('' unsets it).

    The root's is the feed's language; ancestors are walked only when an
    element below the root sets one.
    """

    def __init__(self, root: Any, data: bytes) -> None:
        self.root = root
        own = root.get(_XML_LANG, root.get("lang"))
        self.lang: str | None = own.replace("_", "-") if own else None
        self.nested = b"lang=" in data and any(
            element is not root for element in root.xpath("//*[@xml:lang or @lang]")
        )

    def at(self, element: Any) -> str | None:
        node = element
        while self.nested and node is not None and node is not self.root:
            own = node.get(_XML_LANG, node.get("lang"))
            if own is not None:
                return own.replace("_", "-") if own else None
            node = node.getparent()
        return self.lang


# ---------------------------------------------------------------- text as feedparser pops it


def _text(element: Any) -> str:
    """Element text the way feedparser's pop() leaves it (before sanitising)."""
    if len(element):
        raise Declined(f"markup inside <{element.tag}>")
    return _fixup((element.text or "").strip())


def _fixup(output: str) -> str:
    # feedparser repairs UTF-8 read as ISO-8859-1 (in a document sent as UTF-8),
    # then maps C1 controls to cp1252; neither changes ASCII
    if output.isascii():
        return output
    if _UTF8.get():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            output = output.encode("iso-8859-1").decode("utf-8")
    # str.translate looks up every character; most text has no C1 control to map
    return output.translate(_cp1252) if _C1_CONTROL.search(output) else output


def _markup(value: str) -> str:
    """HTML feedparser would sanitise: accepted only when sanitising keeps its text."""
    if "]]>" in value:
        raise Declined("markup the sanitiser would rewrite")
    closed_until = 0  # the end of the last plain script or style element
    for found in _MARKUP_CHECK.finditer(value):
        if found.group("raw") is not None:
            if found.start() < closed_until:
                continue  # that element's end tag
            closed = _CLOSED_RAW_TEXT.match(value, found.start())
            if closed is None:
                raise Declined("a script or style the sanitiser reads its own way")
            closed_until = closed.end()
        elif found.group("image") is not None:
            alt = found.group("alt1") or found.group("alt2") or found.group("alt3")
            references = _ALT_REFERENCE.findall(alt)
            if len(references) != alt.count("&") or not _KNOWN_ENTITIES.issuperset(
                name for name in references if name
            ):
                raise Declined("a reference in an alt text the sanitiser would rewrite")
        else:
            raise Declined("markup the sanitiser would rewrite")
    if "&" in value:
        text = _TAG.sub(" ", value)
        # the sanitiser writes a reference back with ";" when it knows the name (and every
        # numeric one), without when it does not: accepted only where that changes nothing
        if any(ref.group(1) != ";" for ref in _SGML_CHARREF.finditer(text)) or any(
            (ref.group(2) == ";") != (ref.group(1) in _KNOWN_ENTITIES)
            # an unknown name the sanitiser escapes, but the text reader decodes in part
            # ("&notify": "¬ify")
            or (ref.group(2) != ";" and _decoded(ref.group(1)))
            for ref in _SGML_ENTITYREF.finditer(text)
        ):
            raise Declined("an entity reference the sanitiser would rewrite")
        if not _KNOWN_ENTITIES.issuperset(_NAMED_ENTITY.findall(value)):
            raise Declined("an entity the sanitiser writes without its semicolon")
    return value


def _decoded(name: str) -> bool:
    return unescape(f"&{name}") != f"&{name}"


def _rss_title(element: Any, base: str) -> str:
    """An item's title as feedparser leaves it: sanitised only where it looks like HTML."""
    if _FeedParserMixin.looks_like_html((element.text or "").strip()):
        return _html(element, base)
    return _text(element)


def _html(element: Any, base: str) -> str:
    """An HTML field as feedparser leaves it.

    Markup its sanitiser would rewrite goes through feedparser's own URI resolver
    and sanitiser, in feedparser's order (fix-ups last): then only this field pays
    for them, not the whole feed.
    """
    if len(element):
        raise Declined(f"markup inside <{element.tag}>")
    raw = (element.text or "").strip()
    try:
        return _markup(_fixup(raw))
    except Declined:
        resolved = resolve_relative_uris(raw, base, "utf-8", "text/html")
        return _fixup(_sanitize_html(resolved, "utf-8", "text/html"))


@lru_cache(maxsize=4)
def safe_html(markup: str, base: str) -> str:
    """Markup fit to store and show: event handlers, styles and script URLs gone, links absolute.

    Scripts, styles, frames, objects and forms never get here: _markup declines them.
    Remembered for the last few fields: an item's summary is often its content again
    (2,156 of the 10,009 fields the benchmark's 500 bodies clean).
    """
    if "<" not in markup:
        return markup
    if _NOTHING_TO_CLEAN.fullmatch(markup) is None:
        markup = _cleaned(markup, base)
    # void elements written the way feedparser's sanitiser writes them: <br />
    return _VOID_ELEMENT.sub(_void_element, markup)


def _cleaned(markup: str, base: str) -> str:
    """safe_html's cleaning, by lxml: the markup as it came when nothing needed cleaning."""
    fragment = _html_body(markup)
    changed = False
    if fragment.find(".//script") is not None or fragment.find(".//style") is not None:
        etree.strip_elements(fragment, *_DROPPED, with_tail=False)
        changed = True
    if next(fragment.iter(*_UNWRAPPED), None) is not None:
        etree.strip_tags(fragment, *_UNWRAPPED)
        changed = True
    for element in fragment.xpath(".//*[@*]"):
        attrib = element.attrib
        for name in list(attrib):
            lowered = name.lower()
            if lowered.startswith("on") or lowered in _UNSAFE_ATTRIBUTES:
                del attrib[name]
                changed = True
            elif lowered in _URL_ATTRIBUTES:
                url = _join(base, attrib[name].strip()) if base else attrib[name].strip()
                if _SCRIPT_URL.match(url):
                    del attrib[name]
                    changed = True
                elif url != attrib[name]:
                    attrib[name] = url
                    changed = True
    if changed:
        # lxml writes entities as characters; a no-break space stays visible in the markup
        html = etree.tostring(fragment, encoding="unicode", method="html")
        markup = html.removeprefix("<body>").removesuffix("</body>").replace("\xa0", "&nbsp;")
    return markup


def _html_body(markup: str) -> Any:
    """The <body> lxml's HTML parser makes of a fragment."""
    try:
        document = etree.fromstring(f"<html><body>{markup}</body></html>", _HTML_PARSER)
    except (etree.ParserError, ValueError):
        raise Declined("markup lxml cannot read") from None
    body = document.find("body") if document is not None else None
    if body is None:
        raise Declined("markup lxml cannot read")
    return body


def _void_element(match: re.Match[str]) -> str:
    attributes = match.group(2)
    return f"<{match.group(1)}{attributes.removesuffix('/').rstrip()} />"


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


def _read_rss(root: Any, bases: _Bases, langs: _Langs) -> tuple[dict[str, Any], list[Any]]:
    channels = [child for child in root if isinstance(child.tag, str)]
    if len(channels) != 1 or channels[0].tag != "channel":
        raise Declined("rss without exactly one channel")
    feed: dict[str, Any] = {"links": []}
    if langs.lang:
        feed["language"] = langs.lang
    entries = _read_channel(channels[0], feed, bases, langs)
    return feed, entries


def _read_rdf(root: Any, bases: _Bases, langs: _Langs) -> tuple[dict[str, Any], list[Any]]:
    """RSS 1.0: items beside the channel, not in it; an item's rdf:about is its id.

    feedparser matches the root's name in lower case here, so the root's xml:lang
    is not the feed's language (it still applies to the entries).
    """
    channels = [child for child in root if child.tag == f"{{{_RSS1}}}channel"]
    if len(channels) != 1:
        raise Declined("RSS 1.0 without exactly one channel")
    feed: dict[str, Any] = {"links": []}
    entries = _read_channel(channels[0], feed, bases, langs)
    for child in root:
        if not isinstance(child.tag, str) or child is channels[0]:
            continue
        if child.tag == f"{{{_RSS1}}}item":
            entries.append(_rss_item(child, bases, langs))
        else:
            _check_feed_child(child)
    return feed, entries


def _read_channel(
    channel: Any, feed: dict[str, Any], bases: _Bases, langs: _Langs
) -> list[dict[str, Any]]:
    """The channel's fields into `feed`; its items as entries."""
    entries: list[dict[str, Any]] = []
    for child in channel:
        tag = _rss_tag(child.tag)
        if not isinstance(tag, str):
            continue
        if tag == "item":
            entries.append(_rss_item(child, bases, langs))
        elif tag in ("title", _DC_TITLE):
            # feedparser reads dc:title as a title; of several, which one it keeps depends
            # on their order and on an image's title between them: equal ones agree
            title = _rss_feed_title(child)
            if feed.setdefault("title", title) != title:
                raise Declined("channel titles that differ")
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
    return entries


def _rss_tag(tag: Any) -> Any:
    """RSS 1.0's elements by their RSS 2.0 names: feedparser reads the namespace as none."""
    return tag[len(_RSS1) + 2 :] if isinstance(tag, str) and tag.startswith(f"{{{_RSS1}}}") else tag


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
    # the feed title is kept as feedparser gives it, not through html_to_text: markup the
    # sanitiser would have rewritten declines
    if "<" in title or "&" in title:
        raise Declined("feed title with markup")
    return title


def _rss_feed_title(element: Any) -> str:
    """An RSS feed title is plain text to feedparser, unless it looks like HTML."""
    title = _text(element)
    if _FeedParserMixin.looks_like_html((element.text or "").strip()):
        raise Declined("feed title with markup")
    return title


def _text_link(context: dict[str, Any], element: Any, base: str) -> None:
    value = _text(element)
    if element.attrib:
        raise Declined("link element with attributes")
    if value:
        value = _join(base, value)
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
    href = _join(base, href)
    context.setdefault("links", []).append({"rel": rel, "href": href})
    mapped = _FeedParserMixin.map_content_type(kind)
    if rel == "alternate" and mapped in _FeedParserMixin.html_types:
        context["link"] = href


#: the item's elements read here: each may come once (the others only map to nothing)
_ITEM_FIELDS = frozenset(
    {"link", "guid", "description", _CONTENT, _ITUNES_SUMMARY, "pubDate", f"{{{_DC}}}date"}
)  # fmt: skip


def _rss_item(item: Any, bases: _Bases, langs: _Langs) -> dict[str, Any]:
    if set(item.attrib) - _XML_ATTRIBUTES - {_RDF_ABOUT}:
        raise Declined("item with attributes (CDF)")
    entry: dict[str, Any] = {}
    if item.get(_RDF_ABOUT):
        entry["id"] = item.get(_RDF_ABOUT)
    link: str | None = None
    guid_link: str | None = None
    texts = _ItemTexts()
    seen: set[str] = set()
    titles = _Titles()
    for child in item:
        tag = _rss_tag(child.tag)
        if not isinstance(tag, str):
            continue
        if tag in seen and tag in _ITEM_FIELDS:
            raise Declined(f"repeated <{tag}> in an item")
        seen.add(tag)
        base = bases.at(child)
        if tag in ("title", _DC_TITLE):
            language = langs.at(child)
            entry["title"] = titles.read(_rss_title(child, base), language)
            entry["title_detail"] = {"language": language}
        elif tag == "link":
            if child.attrib:
                raise Declined("link element with attributes")
            link = _text(child)
            if link:
                link = _join(base, link)
            link = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", link.replace("&amp;", "&"))
        elif tag == "guid":
            permalink = {k.lower(): v for k, v in child.attrib.items()}.get("ispermalink", "true")
            value = _text(child)
            if permalink == "true":
                value = _join(base, value) if value else value
                guid_link = value
            entry["id"] = value
        elif tag in ("description", _ITUNES_SUMMARY, _CONTENT):
            texts.read(tag, child, base, langs.at(child))
        elif tag == "pubDate":
            entry["published_parsed"] = _date(child)
        elif tag == f"{{{_DC}}}date":
            entry["updated_parsed"] = _date(child)
        elif tag in ("author", f"{{{_DC}}}creator", f"{{{_ITUNES}}}author"):
            entry["author"] = _text(child)  # of several, feedparser keeps the last
        elif tag == f"{{{ATOM}}}link" and _other_relation(child):
            continue  # feedparser files it under the entry's links, which nothing reads
        else:
            _check_unread_tree(child, titles)
            continue
        if tag not in ("guid", "link"):
            _no_attributes_but(child, ())
    titles.check()
    if link is not None:
        entry["link"] = link
    elif guid_link is not None:
        entry["link"] = guid_link
    texts.write(entry)
    return entry


@dataclass(frozen=True)
class _ItemText:
    value: str
    base: str
    language: str | None
    #: HTML to sanitise for the store; else plain text, stored as it is
    html: bool


class _ItemTexts:
    """Where feedparser files an item's description, itunes:summary and content:encoded.

    It depends on their order. The first of description and itunes:summary is the
    summary; the other one is content while no content:encoded came before it, and
    replaces the summary after one. content:encoded is content, and the summary too
    while there is none. itunes:summary, and a description read as content, are
    plain text unless they look like HTML.
    """

    def __init__(self) -> None:
        self.summary: _ItemText | None = None
        #: the summary's own element (not a copy of the content): feedparser's summary_detail
        self.summary_detail = False
        self.contents: list[_ItemText] = []

    def read(self, tag: str, element: Any, base: str, language: str | None) -> None:
        if tag == _CONTENT:
            text = _ItemText(_html(element, base), base, language, html=True)
            self.contents.append(text)
            if self.summary is None:
                self.summary = text
        elif self.summary is not None and not self.contents:
            self.contents.append(_plain_or_html(element, base, language))
        else:
            html = tag == "description"
            self.summary = (
                _ItemText(_html(element, base), base, language, html=True)
                if html
                else _plain_or_html(element, base, language)
            )
            self.summary_detail = True

    def write(self, entry: dict[str, Any]) -> None:
        summary = self.summary
        if summary is not None:
            entry["summary"] = summary.value
            if self.summary_detail:
                entry["summary_detail"] = {"language": summary.language}
            if summary.html:
                entry["summary_html"] = safe_html(summary.value, summary.base)
        if self.contents:
            entry["content"] = [{"value": t.value, "language": t.language} for t in self.contents]
            entry["content_html"] = "\n".join(
                safe_html(t.value, t.base) if t.html else t.value for t in self.contents if t.value
            )


def _plain_or_html(element: Any, base: str, language: str | None) -> _ItemText:
    """Text of a nominally plain element: feedparser reads it as HTML if it looks like some."""
    if len(element):
        raise Declined(f"markup inside <{element.tag}>")
    if _FeedParserMixin.looks_like_html((element.text or "").strip()):
        return _ItemText(_html(element, base), base, language, html=True)
    return _ItemText(_text(element), base, language, html=False)


def _other_relation(link: Any) -> bool:
    """An atom:link that is not the item's alternate (payment, enclosure, self…)."""
    return link.get("href") is not None and link.get("rel", "alternate") != "alternate"


def _check_unread_tree(element: Any, titles: _Titles) -> None:
    if _handler_name(element) in ("contributor", "dc_contributor"):
        # feedparser files a contributor, and the parts inside, under the entry's
        # contributors, which nothing reads
        for node in element.iterdescendants():
            _check_unread(node, _CONTRIBUTOR_PARTS)
        return
    for node in element.iter():
        if _handler_name(node) == "media_title":
            titles.media()
        else:
            _check_unread(node)


class _Titles:
    """feedparser's rules for an entry's titles.

    Of several titles (<title>, dc:title), the first non-empty one is kept: read
    here only when they agree, text and language. media:title is the entry's
    title only until a non-empty title has been read, and a later title replaces it.
    """

    def __init__(self) -> None:
        self.value: str | None = None
        self.language: str | None = None
        self.media_first = False

    def read(self, value: str, language: str | None = None) -> str:
        if self.value is not None and (value, language) != (self.value, self.language):
            raise Declined("titles that differ")
        self.value, self.language = value, language
        return value

    def media(self) -> None:
        if self.value is None:
            self.media_first = True
        elif not self.value:
            raise Declined("media:title after an empty title")

    def check(self) -> None:
        if self.media_first and self.value is None:
            raise Declined("media:title and no title")


def _no_attributes_but(element: Any, allowed: tuple[str, ...]) -> None:
    for name in element.attrib:
        if name not in allowed and name not in _XML_ATTRIBUTES:
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


# ---------------------------------------------------------------- Atom 1.0 and 0.3


def _read_atom(
    root: Any, bases: _Bases, langs: _Langs, namespace: str
) -> tuple[dict[str, Any], list[Any]]:
    feed: dict[str, Any] = {"links": []}
    if langs.lang:
        feed["language"] = langs.lang
    entries: list[dict[str, Any]] = []
    seen_title = False
    feed_id: str | None = None
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == f"{{{namespace}}}entry":
            entries.append(_atom_entry(child, bases, langs, namespace))
        elif tag == f"{{{namespace}}}title":
            if seen_title:
                raise Declined("two feed titles")
            seen_title = True
            kind = _atom_kind(child)
            title = _atom_text(child, bases.at(child))
            # text stays as written; html and xhtml went through the sanitiser
            feed["title"] = title if kind == "text" else _plain_title(title)
        elif tag == f"{{{namespace}}}link":
            _href_link(feed, child, bases.at(child))
        elif tag == f"{{{namespace}}}id":
            feed_id = _text(child)
            feed_id = _join(bases.at(child), feed_id) if feed_id else feed_id
        else:
            _check_feed_child(child)
    if "link" not in feed and feed_id is not None:
        feed["link"] = feed_id
    return feed, entries


def _atom_entry(element: Any, bases: _Bases, langs: _Langs, namespace: str) -> dict[str, Any]:
    if set(element.attrib) - _XML_ATTRIBUTES:
        raise Declined("entry with attributes")
    entry: dict[str, Any] = {}
    link: str | None = None
    id_value: str | None = None
    kinds: dict[str, str] = {}
    html_bases: dict[str, str] = {}
    seen: set[str] = set()
    titles = _Titles()
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = tag[len(namespace) + 2 :] if tag.startswith(f"{{{namespace}}}") else ""
        field = _DATE_FIELDS.get(local, local)  # two dates filed under one field repeat it
        if field in seen and field not in ("", "link", "category"):
            raise Declined(f"repeated <{local}> in an entry")
        seen.add(field)
        base = bases.at(child)
        if local == "title":
            # html and xhtml as feedparser leaves them: through its sanitiser where it must
            entry["title"] = titles.read(_atom_text(child, base))
            entry["title_detail"] = {"language": langs.at(child)}
        elif local == "link":
            holder: dict[str, Any] = {}
            _href_link(holder, child, base)
            if "link" in holder:
                link = holder["link"]
        elif local == "id":
            _no_attributes_but(child, ())
            value = _text(child)
            id_value = _join(base, value) if value else value
            entry["id"] = id_value
        elif local == "summary":
            html_bases["summary"] = base
            kinds["summary"] = _atom_kind(child)
            entry["summary"] = _atom_text(child, base)
            entry["summary_detail"] = {"language": langs.at(child)}
        elif local == "content":
            if "src" in child.attrib:
                raise Declined("content with src")
            html_bases["content"] = base
            kinds["content"] = _atom_kind(child)
            entry["content"] = [{"value": _atom_text(child, base), "language": langs.at(child)}]
        elif local in _DATE_FIELDS:
            _no_attributes_but(child, ())
            entry[_DATE_FIELDS[local]] = _date(child)
        elif local == "author":
            entry["author"] = _atom_author(child, namespace)
        else:
            _check_unread_tree(child, titles)
    titles.check()
    if link is not None:
        entry["link"] = link
    elif id_value is not None:
        entry["link"] = id_value
    html: set[str] = {
        name for name in ("summary", "content") if kinds.get(name) in ("html", "xhtml")
    }
    if "summary" not in entry and "content" in entry:
        entry["summary"] = entry["content"][0]["value"]
        if "content" in html:
            html.add("summary")
            html_bases["summary"] = html_bases["content"]
    return _with_safe_html(entry, html_bases, html)


def _atom_kind(element: Any) -> str:
    """'text', 'html' or 'xhtml'."""
    mapped = _FeedParserMixin.map_content_type(element.get("type", "text"))
    kind = _ATOM_KINDS.get(mapped)
    if kind is None:
        raise Declined(f"Atom text of type {mapped!r}")
    return kind


def _atom_text(element: Any, base: str | None = None) -> str:
    """Atom text; html or xhtml (`base` given) may go through the sanitiser."""
    kind = _atom_kind(element)
    # mode="escaped" (Atom 0.3's word for the default) changes nothing for feedparser
    if element.get("mode", "escaped") != "escaped":
        raise Declined(f"Atom text of mode {element.get('mode')!r}")
    _no_attributes_but(element, ("type", "mode"))
    if kind == "text":
        return _text(element)
    if kind == "html":
        return _markup(_text(element)) if base is None else _html(element, base)
    if kind == "xhtml" and base is not None:
        return _xhtml(element, base)
    raise Declined("an xhtml title")


_XHTML = "http://www.w3.org/1999/xhtml"


def _xhtml(element: Any, base: str) -> str:
    """Atom xhtml as feedparser leaves it: the wrapping div's inside, written back as
    markup, through its URI resolver and sanitiser. (In Atom 0.3 feedparser keeps the
    div too: the same text, and nothing the store keeps of the markup depends on it.)"""
    div = element[0] if len(element) == 1 else None
    if (
        div is None
        or (element.text or "").strip()
        or div.tag != f"{{{_XHTML}}}div"
        or div.attrib
        or (div.tail or "").strip()
    ):
        raise Declined("xhtml other than one plain div")
    try:
        # markup its sanitiser would leave as it is, but for the way it closes void elements
        short = escape(div.text or "") + "".join(_xhtml_markup(c, short=True) for c in div)
        return _markup(_fixup(short.strip()))
    except Declined:
        markup = escape(div.text or "") + "".join(_xhtml_markup(child) for child in div)
        resolved = resolve_relative_uris(markup.strip(), base, "utf-8", "application/xhtml+xml")
        return _fixup(_sanitize_html(resolved, "utf-8", "application/xhtml+xml"))


def _xhtml_markup(element: Any, short: bool = False) -> str:
    """An element as feedparser writes xhtml back; `short` closes an empty void element as
    its sanitiser does ("<br />")."""
    if not isinstance(element.tag, str):
        raise Declined("a comment or processing instruction in xhtml")
    if not element.tag.startswith(f"{{{_XHTML}}}"):
        raise Declined("an element of another namespace in xhtml")
    tag = element.tag[len(_XHTML) + 2 :]
    attributes = ""
    for name, value in element.attrib.items():
        if name.startswith("{"):
            raise Declined("a namespaced attribute in xhtml")
        attributes += f' {name}="{escape(value, {chr(34): "&quot;"})}"'
    inner = escape(element.text or "") + "".join(_xhtml_markup(c, short) for c in element)
    tail = escape(element.tail or "")
    if short and tag in _BaseHTMLProcessor.elements_no_end_tag:
        if inner:
            raise Declined(f"a void element <{tag}> with content")
        return f"<{tag}{attributes} />{tail}"
    return f"<{tag}{attributes}>{inner}</{tag}>{tail}"


def _atom_author(element: Any, namespace: str) -> str:
    """feedparser's author string: "name (email)", the name or the email alone, or none."""
    parts: dict[str, str] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        local = child.tag[len(namespace) + 2 :] if child.tag.startswith(f"{{{namespace}}}") else ""
        # uri and url (Atom 0.3's name) go only to the author's details
        if local not in ("name", "email", "uri", "url") or local in parts or len(child):
            raise Declined("author other than one name, email and uri")
        # pushed without expecting text: feedparser keeps these as written, stripped
        parts[local] = (child.text or "").strip()
    name, email = parts.get("name"), parts.get("email")
    return f"{name} ({email})" if name and email else name or email or ""
