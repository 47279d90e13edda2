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

from monitor.errors import ParseError
from monitor.feeds.fastparse import Declined
from monitor.feeds.parse import ParsedFeed, parse_fast, parse_feed, parse_with_feedparser

FETCHED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
URL = "https://feeds.example.org/feed.xml"
#: what the store keeps and dedupes on, per entry
ENTRY_FIELDS = (
    "entry_key", "guid", "url", "canonical_url", "title", "title_key", "summary_text",
    "content_text", "author", "language", "language_source", "published_at",
    "published_is_fallback", "content_hash", "content_method",
)  # fmt: skip
FEED_FIELDS = ("title", "link", "language", "interval_hint", "prev_archive_url", "next_page_url")
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
    except ParseError:
        slow = None
    entries = len(slow.entries) if slow else 0
    try:
        fast = parse_fast(body, url=URL, fetched_at=FETCHED_AT)
    except (Declined, ParseError):
        return Outcome(name, slow is not None, False, entries, [])
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
    assert built.feeds >= 100 and built.fast_feeds >= 0.8 * built.feeds
    assert tallies["real-world"].fast_feeds >= 85
    assert tallies["conformance"].fast_feeds >= 150


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
    ("name", "body"),
    [
        ("a DTD with entities", RSS.replace(b"<rss", b'<!DOCTYPE rss [<!ENTITY x "y">]><rss', 1)),
        ("a legacy encoding", RSS.replace(b"utf-8", b"windows-1251", 1)),
        ("RSS 0.91", RSS.replace(b'version="2.0"', b'version="0.91"')),
        ("xml:lang below the root", RSS.replace(b"<item>", b'<item xml:lang="uk">')),
        ("an item the tree does not see", RSS.replace(b"</channel>", b"<!-- <item> --></channel>")),
        ("an iframe in the summary", RSS.replace(b"&lt;b&gt;", b"&lt;iframe&gt;x&lt;/iframe&gt;")),
        ("an iTunes summary", RSS.replace(b"</item>", b"<itunes:summary xmlns:itunes="
                                          b'"http://www.itunes.com/dtds/podcast-1.0.dtd">'
                                          b"other</itunes:summary></item>")),
        ("an item with no guid or link", RSS.replace(b"<guid>https://gov.example/a</guid>", b"")
         .replace(b"<link>https://gov.example/a?utm_source=rss</link>", b"")),
        ("a document that is not well-formed", RSS.replace(b"</title>", b"</titel>", 1)),
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
