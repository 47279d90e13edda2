"""URL, text, title and language normalisation: the keys dedupe relies on."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.feeds.normalize import (
    _simple_html_to_text,
    _TextExtractor,
    canonical_url,
    clean_text,
    clean_whitespace,
    html_to_text,
    normalize_language,
    title_key,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://example.org/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://example.org/a",
        ),
        (
            "https://example.org/a?fbclid=abc&gclid=def&msclkid=1&mc_cid=2&_hsenc=3",
            "https://example.org/a",
        ),
        ("https://example.org/a#comments", "https://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:80/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("https://EXAMPLE.Org./A", "https://example.org/A"),
        ("https://www.example.org/a", "https://example.org/a"),
        ("http://example.org/a", "https://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org//news///a", "https://example.org/news/a"),
        ("  https://example.org/a  ", "https://example.org/a"),
        ("http://[2001:db8::1]:8080/a?utm_source=x", "https://[2001:db8::1]:8080/a"),
    ],
)
def test_canonical_url_drops_what_does_not_identify_the_document(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_keeps_meaningful_query_parameters_in_order() -> None:
    url = "https://example.org/news.php?id=42&utm_source=x&lang=uk&page=2&fbclid=y"
    assert canonical_url(url) == "https://example.org/news.php?id=42&lang=uk&page=2"


def test_canonical_url_makes_copies_from_different_campaigns_equal() -> None:
    a = canonical_url("http://www.example.org/story?utm_source=twitter#top")
    b = canonical_url("https://example.org/story?utm_source=rss&utm_medium=email")
    assert a == b == "https://example.org/story"


@pytest.mark.parametrize(
    "url", [None, "", "mailto:press@example.org", "urn:uuid:1225c695", "/relative/path"]
)
def test_canonical_url_leaves_non_web_addresses_alone(url: str | None) -> None:
    assert canonical_url(url) == (url or None)


def test_canonical_url_survives_a_broken_port() -> None:
    assert canonical_url("https://example.org:99999/a") == "https://example.org:99999/a"


def test_html_to_text_turns_blocks_into_lines() -> None:
    html = "<h2>Title</h2><p>First <b>bold</b> para.</p><ul><li>one</li><li>two</li></ul>x<br>y"
    assert html_to_text(html) == "Title\nFirst bold para.\none\ntwo\nx\ny"


def test_html_to_text_drops_scripts_styles_and_comments() -> None:
    html = (
        "<style>p {color: red}</style><p>Kept</p><script>var a = '<p>no</p>';</script>"
        "<!-- a comment --><noscript>enable js</noscript><p>also kept</p>"
    )
    assert html_to_text(html) == "Kept\nalso kept"


def test_html_to_text_decodes_entities_and_squeezes_spaces() -> None:
    assert html_to_text("Fish&nbsp;&amp;&#160;chips &mdash; &#8220;good&#x201D;") == (
        "Fish & chips — “good”"
    )
    assert html_to_text("  many   spaces\t\tand\r\n\n\n lines ") == "many spaces and\nlines"


def test_html_to_text_keeps_image_alt_text_and_separates_table_cells() -> None:
    html = '<table><tr><td>a</td><td>b</td></tr></table><img src="x.png" alt="A map">'
    assert html_to_text(html) == "a b\nA map"


def test_html_to_text_treats_a_lone_angle_bracket_as_text() -> None:
    assert html_to_text("3 < 5 and 7 > 2") == "3 < 5 and 7 > 2"
    assert html_to_text(None) == "" and html_to_text("") == ""


def test_clean_text_removes_what_a_database_cannot_store() -> None:
    assert clean_text("a\x00b\ud800c") == "abc"
    assert clean_text("Київ\udc80 — ü") == clean_text("Київ — ü\x00") == "Київ — ü"
    assert clean_text(None) == "" and clean_text(42) == "42"


# lone surrogates drawn as often as NUL and all other characters (st.text draws them rarely)
_ANY_CHARACTER = st.one_of(st.characters(categories=["Cs"]), st.characters(), st.just("\x00"))


@given(st.lists(_ANY_CHARACTER).map("".join))
def test_clean_text_keeps_every_character_but_nul_and_lone_surrogates(text: str) -> None:
    kept = clean_text(text)
    assert kept == "".join(c for c in text if c != "\x00" and not "\ud800" <= c <= "\udfff")


def test_title_key_ignores_case_punctuation_and_width() -> None:
    assert (
        title_key("NATO: Ukraine's “Security Guarantees”!") == "nato ukraine s security guarantees"
    )
    assert title_key("ＮＡＴＯ summit") == title_key("nato SUMMIT") == "nato summit"
    assert title_key("Україна — НАТО") == "україна нато"
    assert len(title_key("word " * 200)) <= 500


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("EN_gb", "en"),
        ("uk-UA", "uk"),
        (" ru ", "ru"),
        ("ukr", "uk"),
        ("ger", "de"),
        ("fra", "fr"),
        ("English", "en"),
        ("Polski", "pl"),
        ("", None),
        (None, None),
        ("x", None),
        ("klingon", None),
        ("12", None),
        ("и", None),
    ],
)
def test_normalize_language_gives_iso_639_1_or_none(code: str | None, expected: str | None) -> None:
    assert normalize_language(code) == expected


# ---------------------------------------------------------------- quick readers, plain answers


def parser_text(markup: str) -> str:
    """html_to_text as html.parser reads it (what _simple_html_to_text must equal)."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return clean_whitespace("".join(parser.parts))


def regex_whitespace(text: str) -> str:
    """clean_whitespace's rule written as the two substitutions it stands for."""
    text = re.sub(r"[ \t\u00a0\u200b\r\f\v]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text).strip()


_PIECES = st.sampled_from(
    ["a", "Word", " ", "  ", "\n", "\t", "\xa0", "\u200b", "\u2028", "&amp;", "&nbsp;", "&lt;",
     "&#8220;", "&bogus;", "&amp", "<p>", "</p>", "<P class='x'>", "<br>", "<br/>", "<br />",
     "<div>", "</div>", "<b>", "</b>", "<td>", "</td>", "<img alt='A &amp; B' src=x.png>",
     "<img src=/a/>", '<img alt="" src="y">', "<iframe>", "</iframe>", "<iframe/>", "<svg>",
     "</svg>", "<a href=\"/x?a=1&amp;b=2\">", "</a>", "<li>", "</ul >", "<!-- c -->", "<", ">",
     "</p class=x>", "<x:y>", "<script>", "</script>", "<a b=c/>", "<a\xa0b>", "<!--", "-->",
     "-- >", "<!---->", "<!-- <p> -->", "<SCRIPT type='t'>", "</script >", "</ScRiPt>", "<style>",
     "</style>", "<script/>", "<scripts>", "if (a<b && c>d)", "&am", "p;", "<!", "<!x>"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_plain_markup_reads_as_html_parser_reads_it(markup: str) -> None:
    simple = _simple_html_to_text(markup)
    if simple is not None:
        assert simple == parser_text(markup)


@pytest.mark.parametrize(
    "markup",
    [
        "a<!--x-- >b-->c",
        "&am<!---->p; and &amp<!-- -->;",
        "<p>One</p><script>if (a<b && c>d) {}</script><p>Two</p>",
        "<iframe><script>x</script>hidden</iframe>after",
        "<style type='t'>p{}</STYLE >Three</style>",
        "Kept<script>never closed <p>lost",
        "<SCRIPT/>shown <scripts>too</scripts>",
    ],
)
def test_comments_scripts_and_styles_read_as_html_parser_reads_them(markup: str) -> None:
    assert _simple_html_to_text(markup) == parser_text(markup)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=" \t\n\r\f\v\xa0\u200b\u2028\x85\u3000\x1cab", max_size=20))
def test_clean_whitespace_is_the_two_substitutions(text: str) -> None:
    assert clean_whitespace(text) == regex_whitespace(text)


def test_real_feed_markup_reads_as_html_parser_reads_it(corpus: Path) -> None:
    markups = []
    for path in sorted((corpus / "feedjira__feedjira").rglob("*.xml")):
        for entry in feedparser.parse(path.read_bytes(), sanitize_html=False).entries:
            values = [entry.get("summary"), *(c.get("value") for c in entry.get("content", []))]
            markups += [v for v in values if v and "<" in v]
    simple = [(m, _simple_html_to_text(m)) for m in markups]
    read = [(m, text) for m, text in simple if text is not None]
    # most real markup takes the quick reader, and every one of them reads alike
    assert len(read) >= 0.98 * len(markups) > 1000
    assert [text for _, text in read] == [parser_text(m) for m, _ in read]
    assert [regex_whitespace(m) for m in markups] == [clean_whitespace(m) for m in markups]
