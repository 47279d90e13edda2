"""The fast parse path against feedparser, on every real feed in the shared corpus.

Each document is read twice: by feedparser alone and by the fast path. Where the
fast path accepts a document, every normalised field that reaches the store must
equal feedparser's; where it declines, parse_feed must hand the document to
feedparser. The corpus is the feedparser conformance suite, the saved real-world
feeds from feedjira, and RSS and Atom feeds built here from the 2022 news entries.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from feedparser.urls import _urljoin
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.feeds import fastparse
from monitor.feeds.fastparse import Declined, _join
from monitor.feeds.normalize import html_to_text
from monitor.feeds.parse import ParsedFeed, parse_fast, parse_feed, parse_with_feedparser

FETCHED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
URL = "https://feeds.example.org/feed.xml"
#: what the store keeps and dedupes on, per entry
ENTRY_FIELDS = (
    "entry_key", "guid", "url", "canonical_url", "title", "title_key", "summary_text",
    "content_text", "author", "language", "language_source", "published_at",
    "published_is_fallback", "content_hash", "content_method",
)  # fmt: skip
FEED_FIELDS = (
    "title", "link", "language", "interval_hint", "prev_archive_url", "next_page_url", "warnings",
)  # fmt: skip
#: every this-many day files of the news entries become a feed (keeps the test fast)
NEWS_STRIDE = 20


@dataclass
class Tally:
    feeds: int = 0
    fast_feeds: int = 0
    entries: int = 0
    fast_entries: int = 0
    mismatches: list[str] = field(default_factory=list)

    def share(self) -> str:
        return (
            f"{self.fast_feeds}/{self.feeds} feeds ({self.fast_feeds / max(self.feeds, 1):.0%}), "
            f"{self.fast_entries}/{self.entries} entries "
            f"({self.fast_entries / max(self.entries, 1):.0%}) on the fast path"
        )


def differences(fast: ParsedFeed, slow: ParsedFeed) -> list[str]:
    found = [
        f"feed {name}: {getattr(fast, name)!r} != {getattr(slow, name)!r}"
        for name in FEED_FIELDS
        if getattr(fast, name) != getattr(slow, name)
    ]
    if len(fast.entries) != len(slow.entries):
        return [*found, f"{len(fast.entries)} entries != {len(slow.entries)}"]
    for position, (a, b) in enumerate(zip(fast.entries, slow.entries, strict=True)):
        found += [
            f"entry {position} {name}: {str(getattr(a, name))[:80]!r} != "
            f"{str(getattr(b, name))[:80]!r}"
            for name in ENTRY_FIELDS
            if getattr(a, name) != getattr(b, name)
        ]
    return found


@dataclass
class Outcome:
    name: str
    read: bool  # feedparser read it as a feed
    fast: bool
    entries: int
    mismatches: list[str]


def judge(name: str, body: bytes) -> Outcome:
    """Read one document both ways. A declined document goes to feedparser by construction
    (parse_feed falls back on Declined; see the routing tests below)."""
    try:
        slow: ParsedFeed | None = parse_with_feedparser(body, url=URL, fetched_at=FETCHED_AT)
    except ParseError as exc:
        slow, slow_error = None, str(exc)
    entries = len(slow.entries) if slow else 0
    try:
        fast = parse_fast(body, url=URL, fetched_at=FETCHED_AT)
    except Declined:
        return Outcome(name, slow is not None, False, entries, [])
    except ParseError as exc:
        # the fast path's "no feed" must be feedparser's, word for word
        if slow is not None or str(exc) != slow_error:
            return Outcome(name, slow is not None, False, entries, [f"{name}: {exc}"])
        return Outcome(name, False, False, 0, [])
    if slow is None:
        return Outcome(name, False, True, 0, [f"{name}: fast path read a non-feed"])
    return Outcome(name, True, True, entries, [f"{name}: {d}" for d in differences(fast, slow)])


def judge_all(tally: Tally, documents: list[tuple[str, bytes]]) -> None:
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        names, bodies = zip(*documents, strict=True)
        for outcome in pool.map(judge, names, bodies, chunksize=16):
            if outcome.read:
                tally.feeds += 1
                tally.entries += outcome.entries
            if outcome.fast and outcome.read:
                tally.fast_feeds += 1
                tally.fast_entries += outcome.entries
            tally.mismatches += outcome.mismatches


# ---------------------------------------------------------------- building news feeds


def news_day_files(root: Path) -> list[Path]:
    files = sorted((root / "rumca-js__RSS-Link-Database-2022").rglob("*_entries.json"))
    return files[::NEWS_STRIDE]


def news_feed(entries: list[dict[str, str]], atom: bool) -> bytes:
    """An RSS 2.0 or Atom 1.0 document of one day's entries of one news source."""
    source = escape(entries[0]["source"]) if entries else "https://news.example/"
    items = []
    for entry in entries:
        published = datetime.fromisoformat(entry["date_published"])
        title, link = escape(entry["title"] or ""), escape(entry["link"] or "")
        summary = escape(entry["description"] or "")
        if atom:
            items.append(
                f"<entry><title>{title}</title><link href={quoteattr(entry['link'] or '')}/>"
                f"<id>{link}</id><updated>{published.isoformat()}</updated>"
                f'<summary type="html">{summary}</summary></entry>'
            )
        else:
            items.append(
                f"<item><title>{title}</title><link>{link}</link>"
                f'<guid isPermaLink="false">{link}</guid>'
                f"<pubDate>{format_datetime(published)}</pubDate>"
                f"<description>{summary}</description></item>"
            )
    if atom:
        head = (
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>'
            f"<link href={quoteattr(entries[0]['source'] if entries else '')}/>"
            "<id>urn:news</id><updated>2022-12-31T00:00:00Z</updated>"
        )
        return f'<?xml version="1.0" encoding="utf-8"?>{head}{"".join(items)}</feed>'.encode()
    head = f'<rss version="2.0"><channel><title>News</title><link>{source}</link>'
    head += "<language>en-us</language><ttl>30</ttl>"
    return f'<?xml version="1.0" encoding="utf-8"?>{head}{"".join(items)}</channel></rss>'.encode()


# ---------------------------------------------------------------- the corpus


def test_fast_path_agrees_with_feedparser_on_every_real_feed(corpus: Path) -> None:
    tallies = {"conformance": Tally(), "real-world": Tally(), "news 2022": Tally()}
    for name, folder in (("conformance", "feedparser_tests"), ("real-world", "feedjira__feedjira")):
        paths = sorted(p for p in (corpus / folder).rglob("*") if p.is_file())
        judge_all(tallies[name], [(str(p.relative_to(corpus)), p.read_bytes()) for p in paths])
    news = []
    for number, path in enumerate(news_day_files(corpus)):
        entries = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(entries, dict):
            entries = entries.get("entries", [])
        news.append((str(path.relative_to(corpus)), news_feed(entries, atom=number % 2 == 1)))
    judge_all(tallies["news 2022"], news)

    for name, tally in tallies.items():
        print(f"{name}: {tally.share()}")
    mismatches = [m for tally in tallies.values() for m in tally.mismatches]
    assert not mismatches, "\n".join(mismatches[:30])
    # plain, well-formed news feeds are what the fast path is for
    built = tallies["news 2022"]
    assert built.feeds >= 100 and built.fast_feeds >= 0.95 * built.feeds
    assert tallies["real-world"].fast_feeds >= 197
    assert tallies["conformance"].fast_feeds >= 560


# ---------------------------------------------------------------- routing


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Ministry news</title><link>https://gov.example/</link>
<item><title>Talks on security guarantees</title><link>https://gov.example/a?utm_source=rss</link>
<guid>https://gov.example/a</guid><pubDate>Tue, 01 Mar 2022 10:00:00 GMT</pubDate>
<description>&lt;p&gt;The minister &lt;b&gt;met&lt;/b&gt; envoys.&lt;/p&gt;</description></item>
</channel></rss>"""


def test_plain_rss_takes_the_fast_path_and_says_so() -> None:
    parsed = parse_feed(RSS, url=URL, fetched_at=FETCHED_AT)
    assert parsed.parser == "fast"
    (entry,) = parsed.entries
    assert entry.canonical_url == "https://gov.example/a"
    assert entry.summary_text == "The minister met envoys."
    assert entry.published_at == datetime(2022, 3, 1, 10, 0, tzinfo=UTC)
    assert differences(parsed, parse_with_feedparser(RSS, url=URL, fetched_at=FETCHED_AT)) == []


def test_fast_path_stores_cleaned_markup() -> None:
    body = RSS.replace(
        b"&lt;b&gt;met&lt;/b&gt;",
        b"&lt;a href=&quot;/m&quot; onclick=&quot;steal()&quot;&gt;met&lt;/a&gt;",
    )
    entry = parse_feed(body, url=URL, fetched_at=FETCHED_AT).entries[0]
    assert 'href="https://feeds.example.org/m"' in entry.summary_html
    assert "onclick" not in entry.summary_html
    assert entry.summary_text == "The minister met envoys."


@pytest.mark.parametrize(
    ("markup", "cleaned"),
    [
        ('Lead <p>A <a href="https://x.example/a">link</a></p>',
         'Lead <p>A <a href="https://x.example/a">link</a></p>'),
        ("<p>One<br>two<br/>three<hr class=rule/></p>",
         "<p>One<br />two<br />three<hr class=rule /></p>"),
        ('<p style="color:red" onClick="steal()">Text</p>', "<p>Text</p>"),
        ('<a href="/m">Moved</a> and <img src="i.png" alt="x">',
         '<a href="https://feeds.example.org/m">Moved</a> and '
         '<img src="https://feeds.example.org/i.png" alt="x" />'),
        ('<a href=" javascript:steal()">No</a>', "<a>No</a>"),
        ("<p>Kept</p><script>steal()</script><style>p{}</style> tail",
         "<p>Kept</p> tail"),
        ("<object><param name=a><embed src=https://x.example/v>Inner</object>",
         "Inner"),
        ('<p title="x">a&nbsp;b</p><b onmouseover=x>c</b>', "<p title=\"x\">a&nbsp;b</p><b>c</b>"),
    ],
)  # fmt: skip
def test_safe_html_removes_what_runs_and_makes_links_absolute(markup: str, cleaned: str) -> None:
    fastparse.safe_html.cache_clear()
    assert fastparse.safe_html(markup, "https://feeds.example.org/") == cleaned


_MARKUP_PIECES = st.sampled_from(
    ["text ", "a < b", "&amp;", "\xa0", "<p>", "</p>", "<br>", "<br/>", "<hr class=rule/>", "<b>",
     "</b >", "<P CLASS='x'>", "<h1>", "<my-tag>", "<x:y>", "</a>", "<!-- c -->", "<!x>", "<",
     '<a href="https://x.example/a">', '<a HREF="https://x.example/a?b=c#d">',
     '<a href="/relative">', '<a href="https://x.example/?a=1&amp;b=2">',
     '<a href="https://x.example/&#x0a;">', '<a href="https://x.example/a&#9;b">',
     '<a href="https://x.example/a&#10b">', '<a href="https://x.example/a&#32">', '<a href=" https://x.example/">',
     "<a href=https://x.example/>", "<a href='https://x.example/'>", '<a href="javascript:x()">',
     "<a href>", '<img src="http://x.example/i.png" alt="A > B">', '<img alt="a <b>">',
     '<p onclick="x()">', "<p ONMOUSEOVER=x>", "<p once=1>", "<p style='color:red'>",
     '<svg xmlns="http://www.w3.org/2000/svg">', '<p xmlns:o="urn:o">', "<p data-src=x>",
     "<p formaction=x srcdoc=y>", "<p hrefs=x>", "<p\xa0onclick=x>", "<p\tid=a\ntitle=\"t\">",
     "<script>x()</script>", "<SCRIPT/>", "<scripts>", "<style>p{}</style>", "<object>", "<embed>",
     "<param name=a>", "<body>", "</body>", '<body onload="x()">', "\x00", "<p title=\"x\x00\">"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_MARKUP_PIECES, max_size=12).map("".join))
def test_markup_left_alone_without_lxml_is_markup_lxml_leaves_alone(markup: str) -> None:
    """safe_html skips lxml for markup it can tell needs no cleaning; lxml must agree."""
    if fastparse._NOTHING_TO_CLEAN.fullmatch(markup):
        assert fastparse._cleaned(markup, "https://feeds.example.org/") == markup


def test_markup_wrapped_in_a_bare_body_is_read_without_the_sanitiser(monkeypatch) -> None:
    """Some feeds wrap every description in <body>, which the sanitiser only drops."""
    body = RSS.replace(b"&lt;p&gt;The minister", b"&lt;body&gt;&lt;p&gt;The minister").replace(
        b"envoys.&lt;/p&gt;", b"envoys.&lt;/p&gt;&lt;/body&gt;&lt;p&gt;Ad&lt;/p&gt;"
    )
    expected = parse_with_feedparser(body, url=URL, fetched_at=FETCHED_AT)

    def refused(*args: object) -> str:
        raise AssertionError("sanitiser called")

    monkeypatch.setattr(fastparse, "_sanitize_html", refused)
    fast = parse_fast(body, url=URL, fetched_at=FETCHED_AT)
    assert differences(fast, expected) == []
    assert fast.entries[0].summary_text == "The minister met envoys.\nAd"


def test_an_item_whose_summary_is_its_content_has_its_markup_cleaned_once(monkeypatch) -> None:
    parses: list[str] = []

    html_body = fastparse._html_body

    def counted(markup: str) -> object:
        parses.append(markup)
        return html_body(markup)

    monkeypatch.setattr(fastparse, "_html_body", counted)
    fastparse.safe_html.cache_clear()
    # content:encoded alone: feedparser files it as the summary and as the content
    body = RSS.replace(
        RSS[RSS.index(b"<description>") : RSS.index(b"</item>")],
        CONTENT_ENCODED.replace(b"&lt;i&gt;", b'&lt;a href="/t"&gt;').replace(
            b"&lt;/i&gt;", b"&lt;/a&gt;"
        ),
    )
    parsed = parse_feed(body, url=URL, fetched_at=FETCHED_AT)
    assert parsed.parser == "fast"
    (entry,) = parsed.entries
    assert entry.summary_html == entry.content_html
    assert 'href="https://feeds.example.org/t"' in entry.content_html
    assert parses == ['<p>The full <a href="/t">text</a>.</p>']


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>Institute</title>
<link href="https://think.example/"/><id>urn:think</id>
<entry><title>Neutrality as a settlement</title><link href="https://think.example/n"/>
<id>urn:n</id><updated>2022-03-01T10:00:00Z</updated>
<author><name>A. Analyst</name><email>a@think.example</email></author>
<content type="html" xml:lang="uk">&lt;p&gt;Text&lt;/p&gt;</content></entry></feed>"""


ITUNES_SUMMARY = (
    b'<itunes:summary xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">Plain words &amp; '
    b"more</itunes:summary>"
)
CONTENT_ENCODED = (
    b'<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">&lt;p&gt;The full '
    b"&lt;i&gt;text&lt;/i&gt;.&lt;/p&gt;</content:encoded>"
)


XHTML = (
    b'<content type="xhtml" xml:base="https://think.example/a/">\n  <div xmlns="http://www.w3.org/'
    b'1999/xhtml">Lead <p>Text</p> tail</div>\n</content>'
)


RDF = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://gov.example/rss"><title>Ministry</title><link>https://gov.example/</link>
<items><rdf:Seq><rdf:li rdf:resource="https://gov.example/a"/></rdf:Seq></items></channel>
<item rdf:about="https://gov.example/a"><title>Statement on neutrality</title>
<link>https://gov.example/a?utm_source=rss</link><dc:date>2022-03-01T10:00:00Z</dc:date>
<description>The &lt;b&gt;minister&lt;/b&gt; spoke.</description>
<dc:subject>policy</dc:subject></item>
</rdf:RDF>"""


ATOM03 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xml:lang="en"><title>Institute</title>
<link rel="alternate" type="text/html" href="https://think.example/"/><id>urn:think</id>
<tagline>Notes</tagline><modified>2022-03-02T10:00:00Z</modified>
<entry><title>Neutrality as a settlement</title>
<link rel="alternate" type="text/html" href="https://think.example/n"/><id>urn:n</id>
<issued>2022-03-01T12:00:00+02:00</issued><modified>2022-03-01T10:30:00Z</modified>
<created>2022-03-01T10:00:00Z</created>
<author><name>A. Analyst</name><url>https://think.example/a</url></author>
<summary>A lead.</summary>
<content type="text/html" mode="escaped" xml:lang="uk">&lt;p&gt;Text&lt;/p&gt;</content>
</entry></feed>"""


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("Atom with xml:lang below the root and an author's email", ATOM),
        ("RSS 0.91", RSS.replace(b'version="2.0"', b'version="0.91"')),
        ("RSS 0.91 with Netscape's DOCTYPE", RSS.replace(b'<rss version="2.0">', (
            b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91">'))),
        ("RSS with no version", RSS.replace(b' version="2.0"', b"")),
        ("RSS 1.0 whose channel and items repeat their titles in dc:title", RDF.replace(
            b"<title>Ministry</title>", b"<dc:title>Ministry</dc:title><title>Ministry</title>")
         .replace(b"<title>Statement on neutrality</title>", b"<title>Statement on neutrality"
                  b"</title><dc:title>Statement on neutrality</dc:title>")),
        ("an item's dc:rights and its two dc:creators", RDF.replace(
            b"<dc:subject>", b"<dc:rights>(c) Ministry</dc:rights><dc:creator>A. Clerk"
                             b"</dc:creator><dc:creator>B. Clerk</dc:creator><dc:subject>")),
        ("Atom 0.3: issued, modified, created; an author's url; MIME text types", ATOM03),
        ("Atom 0.3 xhtml content", ATOM03.replace(
            b'<content type="text/html" mode="escaped" xml:lang="uk">&lt;p&gt;Text&lt;/p&gt;'
            b"</content>\n", XHTML.replace(b'type="xhtml"', b'type="application/xhtml+xml"'))),
        ("RSS 1.0", RDF),
        ("RSS 1.0, xml:lang on its root", RDF.replace(b"<rdf:RDF ", b'<rdf:RDF xml:lang="uk" ')),
        ("RSS 1.0 with FeedBurner's atom10:link in its channel", RDF.replace(
            b"</channel>", b'<atom10:link xmlns:atom10="http://www.w3.org/2005/Atom" '
                           b'rel="self" href="https://feeds.example/r" '
                           b'type="application/rss+xml"/></channel>')),
        # RSS 0.90's namespace sets feedparser's version only as the default namespace
        ("RSS 1.0 whose root names RSS 0.90's namespace by a prefix first", RDF.replace(
            b'xmlns="http://purl.org/rss/1.0/"',
            b'xmlns:n="http://my.netscape.com/rdf/simple/0.9/" xmlns="http://purl.org/rss/1.0/"')),
        ("an ampersand that names no entity", RSS.replace(b"envoys.", b"envoys for a Q&amp;A.")),
        ("RSS with xml:lang on an item", RSS.replace(b"<item>", b'<item xml:lang="uk">')),
        ("whitespace before the XML declaration", b"\n  " + RSS),
        ("a media:title beside the title", RSS.replace(b"</item>", b'<media:title xmlns:media='
                                                       b'"http://search.yahoo.com/mrss/">Other'
                                                       b"</media:title></item>")),
        ("a legacy encoding", RSS.replace(b"utf-8", b"windows-1251", 1)),
        ("an encoding feedparser overrides", RSS.replace(b"utf-8", b"x-no-such-charset", 1)),
        ("an item's itunes:author", RSS.replace(
            b"<guid>", b'<itunes:author xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
                       b"Press Office</itunes:author><guid>")),
        # feedparser files these by their order: summary, content, or a summary replaced
        ("itunes:summary after the description",
         RSS.replace(b"</item>", ITUNES_SUMMARY + b"</item>")),
        ("itunes:summary before the description", RSS.replace(b"<description>", ITUNES_SUMMARY
                                                             + b"<description>")),
        ("itunes:summary alone, looking like HTML", RSS.replace(
            b"<description>&lt;p&gt;The minister &lt;b&gt;met&lt;/b&gt; envoys.&lt;/p&gt;"
            b"</description>",
            ITUNES_SUMMARY.replace(b"Plain words", b"&lt;p&gt;Plain&lt;/p&gt;"))),
        ("description, content:encoded, itunes:summary", RSS.replace(
            b"</item>", CONTENT_ENCODED + ITUNES_SUMMARY + b"</item>")),
        ("content:encoded, itunes:summary, description", RSS.replace(
            b"<description>", CONTENT_ENCODED + ITUNES_SUMMARY + b"<description>")),
        ("an item's Atom and Dublin Core contributors", RSS.replace(
            b"<guid>", b'<atom:contributor xmlns:atom="http://www.w3.org/2005/Atom"><atom:name>'
                       b"A. Aide</atom:name><atom:uri>https://gov.example/aide</atom:uri>"
                       b'</atom:contributor><dc:contributor xmlns:dc="http://purl.org/dc/elements/'
                       b'1.1/">B. Clerk</dc:contributor><guid>')),
        ("an item's author, dc:creator and itunes:author", RSS.replace(
            b"<guid>", b"<author>press@gov.example (Press)</author><dc:creator xmlns:dc="
                       b'"http://purl.org/dc/elements/1.1/">A. Clerk</dc:creator><itunes:author '
                       b'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">Office'
                       b"</itunes:author><guid>")),
        ("an item's atom:link of another relation", RSS.replace(
            b"<guid>", b'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="payment" '
                       b'href="/pay" title="Pay"/><guid>')),
        ("windows-1252 with C1 quotes", RSS.replace(b"utf-8", b"windows-1252", 1)
         .replace(b"envoys.", b"envoys \x93caf\xe9\x94 \x85")),
        ("ISO-8859-1 with C1 quotes, mapped as cp1252", RSS.replace(b"utf-8", b"iso-8859-1", 1)
         .replace(b"envoys.", b"envoys \x93caf\xe9\x94 \x85")),
        # markup feedparser's sanitiser rewrites: that field goes through the sanitiser
        ("an iframe in the summary", RSS.replace(b"&lt;b&gt;", b"&lt;iframe&gt;x&lt;/iframe&gt;")),
        ("a known entity, no semicolon", RSS.replace(b"envoys.", b"envoys &amp;copy 2022.")),
        ("an iframe in a title", RSS.replace(b"Talks on", b"Talks &lt;iframe&gt;x&lt;/iframe&gt;")),
        ("a title with markup and a name the sanitiser escapes", RSS.replace(
            b"Talks on", b"Talks &lt;b&gt;on&lt;/b&gt; &amp;copyx")),
        ("a title that is no HTML, with an unknown name", RSS.replace(
            b"Talks on", b"Talks &amp;notify on")),
        ("a stray < in the summary", RSS.replace(b"envoys.", b"envoys &lt; 5 days &lt;&lt; more.")),
        ("a script and a namespaced tag", RSS.replace(
            b"envoys.", b"envoys.&lt;script&gt;alert(1)&lt;/script&gt;&lt;o:p&gt;x&lt;/o:p&gt;")),
        ("Atom xhtml content", ATOM.replace(b'<content type="html" xml:lang="uk">&lt;p&gt;Text'
                                            b"&lt;/p&gt;</content>", XHTML)),
        ("Atom xhtml: entities, attributes, empty elements, a script, a relative link",
         ATOM.replace(b'<content type="html" xml:lang="uk">&lt;p&gt;Text&lt;/p&gt;</content>',
                      XHTML.replace(b"<p>Text</p>", b'<p class="a&amp;b" title=\'say "hi"\'>'
                                    b"Q&amp;A &lt;5&gt; <br/><a href='/x?a=1&amp;b=2'>x</a>"
                                    b"<script>alert(1)</script><img src='i.png' alt=''/></p>"))),
        ("an Atom feed title in xhtml", ATOM.replace(
            b"<title>Institute</title>", b"<title type='xhtml'><div xmlns='http://www.w3.org/1999/"
                                         b"xhtml'>The Institute</div></title>")),
        ("xml:space on an Atom title, mode=escaped on its content", ATOM.replace(
            b"<title>Neutrality", b'<title xml:space="preserve">Neutrality').replace(
            b'<content type="html"', b'<content type="html" mode="escaped"')),
        ("an Atom author with an email and an empty name", ATOM.replace(
            b"<name>A. Analyst</name>", b"<name></name>")),
        ("an Atom author with nothing but an empty name", ATOM.replace(
            b"<email>a@think.example</email>", b"").replace(b"A. Analyst", b"")),
        ("an RSS feed title with an ampersand and angle brackets", RSS.replace(
            b"<title>Ministry news</title>", b"<title>Q&amp;A &lt;&lt; notes</title>")),
        ("an Atom text feed title with an ampersand", ATOM.replace(
            b"<title>Institute</title>", b"<title>Peace &amp; Security</title>")),
        ("an Atom entry title in xhtml", ATOM.replace(
            b"<title>Neutrality as a settlement</title>",
            b"<title type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>Neutrality as a "
            b"<em>settlement</em></div></title>")),
        ("an Atom entry title in html the sanitiser rewrites", ATOM.replace(
            b"<title>Neutrality as a settlement</title>",
            b"<title type='html'>Neutrality &lt;b&gt;as&lt;/b&gt; a &amp;copyx deal</title>")),
        ("an Atom feed title in html", ATOM.replace(
            b"<title>Institute</title>", b'<title type="html">The Institute</title>')),
        ("Atom xhtml summary beside html content", ATOM.replace(
            b"<content", XHTML.replace(b"content", b"summary") + b"<content")),
        ("an iframe in Atom html content", ATOM.replace(
            b"&lt;p&gt;Text&lt;/p&gt;", b"a &lt;iframe src='/v'&gt;&lt;/iframe&gt; b")),
    ],
)  # fmt: skip
def test_constructs_the_fast_path_reads_as_feedparser_does(name: str, body: bytes) -> None:
    fast = parse_fast(body, url=URL, fetched_at=FETCHED_AT)
    assert differences(fast, parse_with_feedparser(body, url=URL, fetched_at=FETCHED_AT)) == []


def test_item_language_author_rdf_id_and_declaration_warning_on_the_fast_path() -> None:
    (entry,) = parse_fast(ATOM, url=URL, fetched_at=FETCHED_AT).entries
    assert (entry.language, entry.language_source) == ("uk", "item")
    assert entry.author == "A. Analyst (a@think.example)"
    (item,) = parse_fast(RDF, url=URL, fetched_at=FETCHED_AT).entries
    assert (item.guid, item.canonical_url) == ("https://gov.example/a", "https://gov.example/a")
    late = parse_fast(b"\n" + RSS, url=URL, fetched_at=FETCHED_AT)
    assert late.warnings == [
        "feed is not well-formed: XML error at line 3, column 0: "
        "XML or text declaration not at start of entity"
    ]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("a DTD with entities", RSS.replace(b"<rss", b'<!DOCTYPE rss [<!ENTITY x "y">]><rss', 1)),
        # feedparser takes the version of the first such namespace declared: Atom here
        ("RSS 1.0 whose root declares the Atom namespace first", RDF.replace(
            b'xmlns="http://purl.org/rss/1.0/"',
            b'xmlns:atom="http://www.w3.org/2005/Atom" xmlns="http://purl.org/rss/1.0/"')),
        ("an item whose dc:title is not its title", RDF.replace(
            b"<dc:subject>", b"<dc:title>Another</dc:title><dc:subject>")),
        ("a channel whose dc:title is not its title", RDF.replace(
            b"<title>Ministry</title>", b"<title>Ministry</title><dc:title>Other</dc:title>")),
        ("Atom 0.3 with a date under two names", ATOM03.replace(
            b"<created>", b"<published>2022-03-01T09:00:00Z</published><created>")),
        ("Atom 0.3 content in mode xml", ATOM03.replace(b'mode="escaped"', b'mode="xml"')),
        ("an item whose only title is a media:title", RSS.replace(
            b"<title>Talks on security guarantees</title>",
            b'<media:title xmlns:media="http://search.yahoo.com/mrss/">Talks</media:title>')),
        ("an item the tree does not see", RSS.replace(b"</channel>", b"<!-- <item> --></channel>")),
        ("an item with no guid or link", RSS.replace(b"<guid>https://gov.example/a</guid>", b"")
         .replace(b"<link>https://gov.example/a?utm_source=rss</link>", b"")),
        ("a document that is not well-formed", RSS.replace(b"</title>", b"</titel>", 1)),
        ("Atom content in base64", ATOM.replace(
            b'<content type="html"', b'<content type="html" mode="base64"')),
        ("an RSS feed title that looks like HTML", RSS.replace(
            b"<title>Ministry news</title>", b"<title>Ministry &lt;b&gt;news&lt;/b&gt;</title>")),
        ("Atom xhtml in two divs", ATOM.replace(
            b'<content type="html" xml:lang="uk">&lt;p&gt;Text&lt;/p&gt;</content>',
            XHTML.replace(b"</div>", b"</div><div xmlns='http://www.w3.org/1999/xhtml'>2</div>"))),
        ("Atom xhtml with an element of another namespace", ATOM.replace(
            b'<content type="html" xml:lang="uk">&lt;p&gt;Text&lt;/p&gt;</content>',
            XHTML.replace(b"<p>Text</p>", b"<m:math xmlns:m='http://www.w3.org/1998/Math/MathML'/>"))),
    ],
)  # fmt: skip
def test_unsupported_constructs_are_read_by_feedparser(name: str, body: bytes) -> None:
    with pytest.raises(Declined):
        parse_fast(body, url=URL, fetched_at=FETCHED_AT)
    try:
        parsed = parse_feed(body, url=URL, fetched_at=FETCHED_AT)
    except ParseError:
        return
    assert parsed.parser == "feedparser"
    assert parsed == parse_with_feedparser(body, url=URL, fetched_at=FETCHED_AT)


# ---------------------------------------------------------------- pieces


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(["", "https://base.example/x/y", "http://base.example/", "ftp://b/"]),
    st.sampled_from(["http://", "https://", "HTTP://", "http:///", "", "/"]),
    st.text(alphabet="aZ09._~%!$&'()*+,=:@/-?#;[] \t\\\"é", max_size=14),
)
def test_joining_a_link_to_its_base_is_feedparsers_join(base: str, start: str, rest: str) -> None:
    assert _join(base, start + rest) == _urljoin(base, start + rest)


_FIELD_PIECES = st.sampled_from(
    ["Text ", "x", "a &amp; b", "&copy", "&nbsp;", "&AMP;", "&amp", "&#x26;", "&#38;", "&#38",
     "&notify", "<p>", "</p>", "<p/>", "</p x>", "<br/>", "<b>", "</b>", '<a href="/x">', "</a>",
     "<body>", "</body>", "<BODY>", "< body>", "</ body>", "<body >", '<body class="x">',
     "<body/>", "<bodyx>", "<title>", "</title>", "<iframe>", "</iframe>", "<script>",
     "</script>", "<SCRIPT>", "</SCRIPT >", "<script type=x>", "<style>", "</style>", "<", ">",
     "<!", "<!-->", "-->", "<!-- c -->", "<img alt='A &amp; B' src=i.png>",
     "<img alt='x &notify' src=i.png>", "<img alt='&#38;' src=i.png>", "<img alt='&copy'>",
     "<img alt='&copy;'>", "<img alt='&bogus;'>", "<img alt=a alt=b>", '<IMG ALT="a>b &notify">',
     '<img alt="x &notify>', '<a href="/x?a=1&b=2">', "<img/alt='&notify'>", "<IMG ALT=&copy>"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_FIELD_PIECES, max_size=10).map("".join))
@example("<Text <img alt=a alt=b>")  # a "<" inside a tag
@example("</script>Text")  # an end tag with no start
@example('<img alt="&amp;" title=\'x>')  # a quote that does not close, after an alt
def test_markup_taken_without_the_sanitiser_reads_as_its_output_does(markup: str) -> None:
    """An HTML field _markup accepts as it is must give the text feedparser's resolver and
    sanitiser would leave of it."""
    try:
        accepted = fastparse._markup(markup)
    except Declined:
        return
    resolved = fastparse.resolve_relative_uris(markup, URL, "utf-8", "text/html")
    sanitised = fastparse._sanitize_html(resolved, "utf-8", "text/html")
    assert html_to_text(accepted) == html_to_text(sanitised)
