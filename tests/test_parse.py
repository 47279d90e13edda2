"""parse_feed: every feed format we meet, turned into normalised entries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from monitor.errors import ParseError
from monitor.feeds.parse import ParsedFeed, detect_language, parse_feed, parse_with_feedparser

FETCHED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
URL = "https://example.org/feed.xml"


def parse(doc: str | bytes, **kwargs: object) -> ParsedFeed:
    body = doc.encode() if isinstance(doc, str) else doc
    return parse_feed(body, url=URL, fetched_at=FETCHED, **kwargs)  # type: ignore[arg-type]


def rss2(items: str, channel: str = "", head: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {head}><channel>'
        f"<title>Feed</title><link>https://example.org/</link>{channel}{items}</channel></rss>"
    )


def item(
    title: str = "A story", extra: str = "", date: str = "Tue, 24 Nov 2026 10:00:00 GMT"
) -> str:
    return (
        f"<item><title>{title}</title><link>https://example.org/a</link>"
        f"<guid>https://example.org/?p=1</guid><pubDate>{date}</pubDate>{extra}</item>"
    )


# ---------------------------------------------------------------- formats

RSS_091 = """<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>https://example.org/</link>
<description>d</description><language>en-us</language>
<item><title>NATO summit opens</title><link>https://example.org/summit</link>
<description>Leaders meet.</description></item></channel></rss>"""

RSS_092 = """<?xml version="1.0"?><rss version="0.92"><channel><title>Old</title>
<link>https://example.org/</link><description>d</description>
<item><title>Neutrality debate</title><link>https://example.org/neutral</link>
<description>&lt;p&gt;A &lt;b&gt;long&lt;/b&gt; debate.&lt;/p&gt;</description></item>
</channel></rss>"""

RSS_10 = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://example.org/"><title>RDF feed</title>
<link>https://example.org/</link><description>d</description>
<items><rdf:Seq><rdf:li rdf:resource="https://example.org/rdf1"/></rdf:Seq></items></channel>
<item rdf:about="https://example.org/rdf1"><title>Security guarantees</title>
<link>https://example.org/rdf1</link><description>Text.</description>
<dc:date>2026-11-24T12:00:00+02:00</dc:date></item></rdf:RDF>"""

ATOM_03 = """<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Atom 0.3</title>
<link rel="alternate" type="text/html" href="https://example.org/"/>
<modified>2026-11-24T10:00:00Z</modified>
<entry><title>Alliance enlargement</title>
<link rel="alternate" type="text/html" href="https://example.org/enlargement"/>
<id>tag:example.org,2026:1</id><issued>2026-11-24T10:00:00-05:00</issued>
<modified>2026-11-24T10:00:00-05:00</modified>
<summary>Short.</summary></entry></feed>"""

ATOM_10 = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom 1.0</title>
<link href="https://example.org/"/><id>urn:feed</id><updated>2026-11-24T10:00:00Z</updated>
<entry><title type="html">Talks &lt;em&gt;resume&lt;/em&gt;</title>
<link rel="alternate" href="/talks"/><id>urn:uuid:1225c695</id>
<published>2026-11-24T10:00:00+01:00</published><updated>2026-11-25T10:00:00Z</updated>
<summary type="html">&lt;p&gt;Summary&lt;/p&gt;</summary>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Full text.</p></div></content>
</entry></feed>"""


@pytest.mark.parametrize(
    ("doc", "title", "url", "guid", "published"),
    [
        (RSS_091, "NATO summit opens", "https://example.org/summit", None, None),
        (RSS_092, "Neutrality debate", "https://example.org/neutral", None, None),
        (
            RSS_10,
            "Security guarantees",
            "https://example.org/rdf1",
            "https://example.org/rdf1",
            datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        ),
        (
            ATOM_03,
            "Alliance enlargement",
            "https://example.org/enlargement",
            "tag:example.org,2026:1",
            datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        ),
        (
            ATOM_10,
            "Talks resume",
            "https://example.org/talks",
            "urn:uuid:1225c695",
            datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        ),
    ],
    ids=["rss0.91", "rss0.92", "rss1.0-rdf", "atom0.3", "atom1.0"],
)
def test_each_feed_format_yields_its_entry(
    doc: str, title: str, url: str, guid: str | None, published: datetime | None
) -> None:
    feed = parse(doc)
    assert feed.warnings == []
    [entry] = feed.entries
    assert (entry.title, entry.url, entry.guid) == (title, url, guid)
    assert entry.canonical_url == url
    assert entry.entry_key == (guid or url)
    if published is None:
        assert entry.published_at == FETCHED and entry.published_is_fallback
    else:
        assert entry.published_at == published and not entry.published_is_fallback


def test_atom_content_is_kept_as_html_and_as_text() -> None:
    [entry] = parse(ATOM_10).entries
    assert entry.content_html == "<p>Full text.</p>"
    assert entry.content_text == "Full text."
    assert entry.content_method == "feed"


def test_plain_text_is_made_from_html_summary_and_html_is_kept() -> None:
    description = (
        "&lt;p&gt;First &lt;b&gt;para&lt;/b&gt;&amp;nbsp;here.&lt;/p&gt;"
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;ul&gt;&lt;li&gt;one&lt;/li&gt;"
        "&lt;li&gt;two&lt;/li&gt;&lt;/ul&gt;"
    )
    [entry] = parse(rss2(item(extra=f"<description>{description}</description>"))).entries
    assert entry.summary_text == "First para here.\none\ntwo"
    # the stored HTML is sanitised (no script) but otherwise the publisher's
    assert (
        entry.summary_html == "<p>First <b>para</b>&nbsp;here.</p><ul><li>one</li><li>two</li></ul>"
    )


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 24 Nov 2026 10:00:00 GMT", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 13:00:00 +0300", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 05:00:00 EST", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 02:00:00 -0800", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("Wed, 25 Nov 2026 01:30:00 +1530", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
        ("2026-11-24T11:00:00+01:00", datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),
    ],
)
def test_dates_from_any_time_zone_become_utc(date: str, expected: datetime) -> None:
    [entry] = parse(rss2(item(date=date))).entries
    assert entry.published_at == expected
    assert entry.published_at.tzinfo is UTC


def test_missing_or_unreadable_date_falls_back_to_fetch_time() -> None:
    feed = parse(rss2(item(date="") + item(title="Other story", date="sometime soon")))
    assert [(e.published_at, e.published_is_fallback) for e in feed.entries] == [
        (FETCHED, True),
        (FETCHED, True),
    ]


def test_updated_date_stands_in_for_a_missing_published_date() -> None:
    doc = ATOM_10.replace("<published>2026-11-24T10:00:00+01:00</published>", "")
    [entry] = parse(doc).entries
    assert entry.published_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert not entry.published_is_fallback


# ---------------------------------------------------------------- language


def test_language_from_the_item_beats_the_feed() -> None:
    doc = ATOM_10.replace("<feed ", '<feed xml:lang="en-GB" ').replace(
        "<entry>", '<entry xml:lang="uk">'
    )
    feed = parse(doc)
    assert feed.language == "en"
    assert (feed.entries[0].language, feed.entries[0].language_source) == ("uk", "item")


def test_language_from_the_feed_when_the_item_has_none() -> None:
    feed = parse(rss2(item(), channel="<language>de-DE</language>"), feed_language="fr")
    assert (feed.entries[0].language, feed.entries[0].language_source) == ("de", "feed")


def test_language_from_config_when_the_feed_says_nothing() -> None:
    [entry] = parse(rss2(item()), feed_language="pl").entries
    assert (entry.language, entry.language_source) == ("pl", "config")


@pytest.mark.parametrize(
    ("code", "title", "summary"),
    [
        (
            "uk",
            "Україна і НАТО",
            "Президент заявив, що членство в Альянсі залишається метою держави.",
        ),
        (
            "ru",
            "Россия и НАТО",
            "Министр заявил, что расширение альянса угрожает безопасности страны.",
        ),
        (
            "de",
            "Deutschland und die NATO",
            "Die Bundesregierung kündigte neue Sicherheitsgarantien an.",
        ),
        (
            "fr",
            "La France et l'OTAN",
            "Le gouvernement a annoncé de nouvelles garanties de sécurité.",
        ),
        ("pl", "Polska i NATO", "Rząd ogłosił dziś nowe gwarancje bezpieczeństwa dla sojuszników."),
        (
            "en",
            "Britain and NATO",
            "The government announced new security guarantees for its allies.",
        ),
    ],
)
def test_language_is_detected_when_nobody_declares_it(code: str, title: str, summary: str) -> None:
    [entry] = parse(rss2(item(title=title, extra=f"<description>{summary}</description>"))).entries
    assert (entry.language, entry.language_source) == (code, "detected")


def test_too_little_text_gets_no_language_guess() -> None:
    [entry] = parse(rss2(item(title="Ok"))).entries
    assert (entry.language, entry.language_source) == ("", "")
    assert detect_language("NATO") is None


# ---------------------------------------------------------------- entry keys


def test_entry_key_is_guid_then_link_then_hash_of_title_and_date() -> None:
    with_guid = (
        "<item><guid>tag:example.org,2026:g-1</guid><link>https://example.org/1</link>"
        "<title>T</title></item>"
    )
    with_link = "<item><link>https://example.org/2</link><title>T</title></item>"
    dated = (
        "<item><title>Only a title</title><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>"
    )
    other_day = dated.replace("24 Nov", "25 Nov")
    undated = "<item><title>Only a title</title></item>"
    feed = parse(rss2(with_guid + with_link + dated + other_day + undated))
    keys = [e.entry_key for e in feed.entries]
    assert keys[:2] == ["tag:example.org,2026:g-1", "https://example.org/2"]
    assert all(k.startswith("hash:") for k in keys[2:]) and len(set(keys[2:])) == 3
    # the same document parsed later gives the same keys, whatever the fetch time
    later = parse_feed(
        rss2(with_guid + with_link + dated + other_day + undated).encode(),
        url=URL,
        fetched_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert [e.entry_key for e in later.entries] == keys


def test_overlong_guid_gets_a_hashed_key_and_overlong_link_is_dropped() -> None:
    long_guid = "g" * 800
    long_link = "https://example.org/" + "x" * 2100
    feed = parse(rss2(f"<item><guid isPermaLink='false'>{long_guid}</guid><title>T</title>"
                      f"<link>{long_link}</link></item>"))  # fmt: skip
    [entry] = feed.entries
    assert entry.entry_key.startswith("sha256:") and len(entry.entry_key) <= 500
    assert entry.url is None and entry.canonical_url is None


def test_entry_without_title_takes_the_start_of_its_summary() -> None:
    [entry] = parse(rss2("<item><description>Words of the summary.</description></item>")).entries
    assert entry.title == "Words of the summary."
    assert entry.title_key == "words of the summary"


def test_entry_with_no_title_link_or_text_is_skipped_with_a_warning() -> None:
    empty = (
        "<item><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>"
        "<description>&lt;img src='x'&gt;</description></item>"
    )
    feed = parse(rss2(empty + item()))
    assert [e.title for e in feed.entries] == ["A story"]
    assert feed.warnings == ["entry 0 skipped: no title, link or text"]


def test_characters_a_database_refuses_are_removed() -> None:
    [entry] = parse(
        rss2(item(title="Nul\x00 in title", extra="<description>a\x00b</description>"))
    ).entries
    assert entry.title == "Nul in title"
    assert entry.summary_html == "ab"


# ---------------------------------------------------------------- not a feed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
            "an HTML page, not a feed",
        ),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            b'"x"><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
            "an HTML page, not a feed",
        ),
        (
            b'{"version": "https://jsonfeed.org/version/1", "items": []}',
            "a JSON document, not an RSS or Atom feed",
        ),
        (b"", "the document is empty"),
        (b"\x00\x01garbage\xff\xfe bytes", "not an RSS or Atom feed: XML error at line"),
        (
            b'<?xml version="1.0"?><opml version="1.0"><body/></opml>',
            "not an RSS or Atom feed (root element <opml>)",
        ),
    ],
    ids=["html", "xhtml", "json", "empty", "garbage", "opml"],
)
def test_a_body_that_is_no_feed_raises_parse_error_saying_what_it_is(
    body: bytes, message: str
) -> None:
    with pytest.raises(ParseError) as raised:
        parse(body)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_broken_xml_that_still_yields_entries_is_kept_with_a_warning() -> None:
    feed = parse(rss2(item(title="Fish &amp; chips &nbsp; <b>bold</b>")).replace("</channel>", ""))
    assert [e.title for e in feed.entries] == ["Fish & chips bold"]
    assert feed.warnings and feed.warnings[0].startswith("feed is not well-formed: XML error at")


def test_a_body_without_content_type_is_read_as_utf8_without_warning() -> None:
    feed = parse(rss2(item(title="Київ")).replace(' encoding="utf-8"', ""))
    assert feed.entries[0].title == "Київ"
    assert feed.warnings == []


def test_declared_charset_is_honoured() -> None:
    body = rss2(item(title="Zürich")).replace("utf-8", "iso-8859-1").encode("iso-8859-1")
    feed = parse(body, content_type="application/rss+xml; charset=iso-8859-1")
    assert feed.entries[0].title == "Zürich" and feed.warnings == []


# ---------------------------------------------------------------- feed hints


def test_ttl_gives_the_refresh_hint_in_seconds() -> None:
    assert parse(rss2(item(), channel="<ttl>90</ttl>")).interval_hint == 5400.0


def test_sy_update_period_and_frequency_give_the_refresh_hint() -> None:
    head = 'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
    channel = "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"
    assert parse(rss2(item(), channel=channel, head=head)).interval_hint == 21600.0


def test_the_longer_of_ttl_and_update_period_wins_and_none_without_hints() -> None:
    head = 'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
    channel = "<ttl>30</ttl><sy:updatePeriod>hourly</sy:updatePeriod>"
    assert parse(rss2(item(), channel=channel, head=head)).interval_hint == 3600.0
    assert parse(rss2(item(), channel="<ttl>soon</ttl>")).interval_hint is None


def test_archive_and_paging_links_are_found() -> None:
    doc = ATOM_10.replace(
        '<link href="https://example.org/"/>',
        '<link href="https://example.org/"/><link rel="prev-archive" href="/archive/2026-10"/>'
        '<link rel="next" href="https://example.org/feed?page=2"/>',
    )
    feed = parse(doc)
    assert feed.prev_archive_url == "https://example.org/archive/2026-10"
    assert feed.next_page_url == "https://example.org/feed?page=2"
    assert (feed.title, feed.link) == ("Atom 1.0", "https://example.org/")


def test_rss_next_link_in_atom_namespace_is_found() -> None:
    head = 'xmlns:atom="http://www.w3.org/2005/Atom"'
    channel = '<atom:link rel="next" href="https://example.org/feed?paged=2"/>'
    feed = parse(rss2(item(), channel=channel, head=head))
    assert (feed.prev_archive_url, feed.next_page_url) == (None, "https://example.org/feed?paged=2")


def test_an_html_page_is_told_apart_without_reading_it_all(monkeypatch) -> None:
    def unread(*args: object, **kwargs: object) -> None:
        raise AssertionError("read by feedparser")

    monkeypatch.setattr(feedparser, "parse", unread)
    page = b"<!DOCTYPE html><html><body><p>Our <a href='/rss'>feeds</a> moved.</p></body></html>"
    with pytest.raises(ParseError, match=r"^an HTML page, not a feed$"):
        parse(page)


@pytest.mark.parametrize(
    "page",
    [
        '<!DOCTYPE html><html><body><div xmlns="http://www.w3.org/2005/Atom">x</div></body></html>',
        '<!DOCTYPE html><html><body><div xmlns:r="http://purl.org/rss/1.0/">x</div></body></html>',
        "<!DOCTYPE html><html><body><feed>x</feed></body></html>",
        '<!DOCTYPE html><html><body><rss version="2.0">x</rss></body></html>',
        "<!DOCTYPE html><html><body><x:entry><title>A</title></x:entry></body></html>",
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x"><html></html>',
    ],
    ids=["atom-namespace", "rss1-namespace", "feed", "rss", "prefixed-entry", "netscape"],
)
def test_an_html_page_holding_feed_markup_gets_feedparsers_answer(page: str) -> None:
    body = page.encode()
    assert _outcome(parse_feed, body) == _outcome(parse_with_feedparser, body)


_OPML = (
    b'<?xml version="1.0"?><opml version="1.0"><head><title>Subscriptions</title></head><body>'
    b'<outline text="News" type="rss" xmlUrl="https://gov.example/feed.xml"/></body></opml>'
)


@pytest.mark.parametrize(
    "document",
    [
        _OPML,
        b'<?xml version="1.0"?><sitemap xmlns="https://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<loc>https://gov.example/</loc></sitemap>",
    ],
    ids=["opml", "sitemap"],
)
def test_an_xml_document_with_nothing_of_a_feed_is_told_apart_without_feedparser(
    monkeypatch, document: bytes
) -> None:
    expected = _outcome(parse_with_feedparser, document)
    assert isinstance(expected, str) and "not an RSS or Atom feed" in expected

    def unread(*args: object, **kwargs: object) -> None:
        raise AssertionError("read by feedparser")

    monkeypatch.setattr(feedparser, "parse", unread)
    assert _outcome(parse_feed, document) == expected


@pytest.mark.parametrize(
    "document",
    [
        _OPML.replace(b"<body>", b'<body><entry xmlns="urn:x"><title>A</title></entry>'),
        _OPML.replace(b"<body>", b"<body><x:rss xmlns:x='urn:x'/>"),
        _OPML.replace(b"<opml", b'<opml xmlns:a="http://www.w3.org/2005/Atom"'),
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x">'
        + _OPML.split(b"?>", 1)[1],
    ],
    ids=["entry-inside", "prefixed-rss-inside", "atom-namespace", "netscape-doctype"],
)
def test_an_xml_document_holding_feed_markup_gets_feedparsers_answer(document: bytes) -> None:
    assert _outcome(parse_feed, document) == _outcome(parse_with_feedparser, document)


def _outcome(read: Any, body: bytes) -> object:
    try:
        return read(body, url=URL, fetched_at=FETCHED).entries
    except ParseError as error:
        return str(error)


def test_html_pages_of_the_corpus_get_the_answer_feedparser_gives(corpus: Path) -> None:
    pages = 0
    for path in sorted(corpus.rglob("*")):
        body = path.read_bytes() if path.is_file() else b""
        if b"<html" not in body[:1100].lower():
            continue
        pages += 1
        assert _outcome(parse_feed, body) == _outcome(parse_with_feedparser, body), path.name
    assert pages >= 5
