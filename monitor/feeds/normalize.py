"""Pure text and URL normalisation shared by parsing, dedupe and import."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: query parameters that identify a campaign, not a document
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "igshid", "ref_src", "ref_url",
        "cmpid", "ito", "at_medium", "at_campaign", "spm", "ns_mchannel",
        "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "xtor", "smid", "soc_src",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "oly_", "vero_", "hsa_")

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
     "blockquote", "pre", "section", "article", "table", "hr", "figcaption", "dd", "dt"}
)  # fmt: skip
#: cells and terms sit on one line but must not run together
_SPACED_TAGS = frozenset({"td", "th", "caption"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "svg"})
#: characters PostgreSQL text refuses: NUL and UTF-16 halves with no partner
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: ISO 639-2 codes and names some feeds put in <language>
_LANGUAGE_ALIASES = {
    "eng": "en", "english": "en", "ukr": "uk", "ukrainian": "uk", "українська": "uk",
    "rus": "ru", "russian": "ru", "русский": "ru", "deu": "de", "ger": "de", "german": "de",
    "deutsch": "de", "fra": "fr", "fre": "fr", "french": "fr", "français": "fr",
    "pol": "pl", "polish": "pl", "polski": "pl",
}  # fmt: skip
#: runs of spaces to squeeze, leaving alone the single spaces between words
_SPACES = re.compile(r" [ \t\u00a0\u200b\r\f\v]+|[\t\u00a0\u200b\r\f\v][ \t\u00a0\u200b\r\f\v]*")


def canonical_url(url: str | None) -> str | None:
    """The URL with tracking parameters, fragment and default port removed.

    Two links to one article from different feeds (or campaigns) become equal.
    """
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    path = re.sub(r"/{2,}", "/", parts.path) or "/"
    # http and https copies of one page are one document
    return urlunsplit(("https", host, path, urlencode(query, doseq=True), ""))


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _SPACED_TAGS:
            self.parts.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Readable plain text from an HTML fragment: blocks become lines, tags vanish."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return clean_whitespace(markup)
    simple = _simple_html_to_text(markup)
    if simple is not None:
        return simple
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except AssertionError:  # malformed declarations; fall back to a blunt strip
        return clean_whitespace(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    return clean_whitespace("".join(parser.parts))


_WHITE = r"[ \t\n\r\f]"
_NAME = r"[a-zA-Z_:][-a-zA-Z0-9_:.]*"
#: quoted, or unquoted and not ending in "/" (which html.parser may read as "/>")
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]*[^\s\"'=<>`/])"
#: a start or end tag written so plainly that html.parser can read it only one way
_PLAIN_TAG = re.compile(
    rf"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:{_WHITE}+{_NAME}(?:{_WHITE}*={_WHITE}*{_VALUE})?)*)"
    rf"{_WHITE}*(/?)>"
)
_PLAIN_ATTRIBUTE = re.compile(rf"{_WHITE}+({_NAME})(?:{_WHITE}*={_WHITE}*({_VALUE}))?")
#: where a comment or a script or style element may start (candidates: each is checked)
_OPAQUE_START = re.compile(r"<!--|<(?:script|style)", re.I)
#: where html.parser ends a comment, and the content of a script or style element
_COMMENT_END = re.compile(r"--\s*>")
_RAW_TEXT_END = {name: re.compile(rf"</\s*{name}\s*>", re.I) for name in ("script", "style")}


def _simple_html_to_text(markup: str) -> str | None:
    """html_to_text without html.parser, for markup made of plain tags, closed comments
    and script or style elements only; else None.

    Gives what _TextExtractor gives: the same tags start and end blocks, the same
    text between them, entities decoded by the same html.unescape. A comment or a
    script or style element ends where html.parser ends it (an unclosed script or
    style hides the rest) and yields nothing; the text on either side of it is
    decoded apart, as html.parser hands it over apart.
    """
    parts: list[str] = []
    skip = 0
    start = search_from = 0
    while (found := _OPAQUE_START.search(markup, search_from)) is not None:
        at = found.start()
        if found.group() == "<!--":
            end = _COMMENT_END.search(markup, at + 4)
            if end is None:
                return None  # html.parser reads an unclosed comment its own way
            after = end.end()
        else:
            tag = _PLAIN_TAG.match(markup, at)
            if tag is None:
                return None
            closing, name, _, self_closing = tag.groups()
            name = name.lower()
            if closing or self_closing or name not in _RAW_TEXT_END:
                search_from = tag.end()  # an ordinary tag (<scripts>, <script/>)
                continue
            content_end = _RAW_TEXT_END[name].search(markup, tag.end())
            after = len(markup) if content_end is None else content_end.end()
        skip = _read_plain_tags(markup[start:at], parts, skip)
        if skip < 0:
            return None
        start = search_from = after
    if _read_plain_tags(markup[start:], parts, skip) < 0:
        return None
    return clean_whitespace("".join(parts))


def _read_plain_tags(markup: str, parts: list[str], skip: int) -> int:
    """Append the text of markup made of plain tags only to `parts`; the skip depth after
    it, or -1 when some "<" starts no plain tag (a declaration, a stray "<")."""
    # text, then each tag's four groups (closing, name, attributes, self-closing), then text
    pieces = _PLAIN_TAG.split(markup)
    if len(pieces) // 5 != markup.count("<"):
        return -1
    last = len(pieces) - 1
    for at in range(0, last, 5):
        text = pieces[at]
        if text and not skip:
            parts.append(html.unescape(text) if "&" in text else text)
        closing, tag, attributes, self_closing = pieces[at + 1 : at + 5]
        if closing and (attributes or self_closing):
            return -1  # html.parser reads such end tags its own way
        tag = tag.lower()
        if not closing:
            if tag in _SKIP_TAGS:
                skip += 1
            elif tag in _BLOCK_TAGS:
                parts.append("\n")
            elif tag in _SPACED_TAGS:
                parts.append(" ")
            elif tag == "img" and (alt := _alt_text(attributes)):
                parts.append(f" {alt} ")
        if closing or self_closing:
            if tag in _SKIP_TAGS:
                skip = max(0, skip - 1)
            elif tag in _BLOCK_TAGS:
                parts.append("\n")
    text = pieces[last]
    if text and not skip:
        parts.append(html.unescape(text) if "&" in text else text)
    return skip


def _alt_text(attributes: str) -> str | None:
    alt = None
    for name, value in _PLAIN_ATTRIBUTE.findall(attributes):
        if name.lower() == "alt":
            if value[:1] in ("'", '"'):
                value = value[1:-1]
            alt = html.unescape(value) if value else None
    return alt


def clean_text(value: object) -> str:
    """A feed value as text the store accepts: None becomes '', NUL and lone surrogates go."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\x00" not in text:
        if text.isascii():
            return text  # most values: nothing to remove, and both checks are cheap
        try:
            # strict UTF-8 refuses exactly the lone surrogates, and finds there are none in
            # a quarter of the pattern's time (the benchmark bodies' 7,264 non-ASCII fields)
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return _UNSTORABLE.sub("", text)


def clean_whitespace(text: str) -> str:
    """Runs of spaces become one space; a line break with whitespace around it, one break."""
    text = _SPACES.sub(" ", text)
    if "\n" not in text:
        return text.strip()
    return "\n".join(line for line in (part.strip() for part in text.split("\n")) if line)


def title_key(title: str) -> str:
    """A title reduced to letters and digits, for spotting syndicated copies."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.findall(r"\w+", folded))[:500]


def normalize_language(code: str | None) -> str | None:
    """'en-US', 'EN_gb', 'uk-UA', 'ukr', 'English' -> 'en', 'en', 'uk', 'uk', 'en'; else None."""
    if not code:
        return None
    primary = re.split(r"[-_\s]", code.strip().lower(), maxsplit=1)[0]
    primary = _LANGUAGE_ALIASES.get(primary, primary)
    return primary if len(primary) == 2 and primary.isascii() and primary.isalpha() else None


def sha256_hex(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
