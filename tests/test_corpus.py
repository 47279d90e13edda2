"""The real corpus: the feedparser conformance files and 229 saved real-world feeds.

Every file goes through parse_feed (a ParseError is the only exception allowed);
where a conformance file's `Expect:` line states an entry field that maps exactly
onto a normalised ParsedEntry field, that field is checked. Then the feeds are
served over loopback HTTP and run through whole fetch cycles on SQLite and
PostgreSQL: every feed gets a status, every story is stored once, and a second
cycle is answered by 304s and stores nothing.
"""

from __future__ import annotations

import ast
import calendar
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import pytest
from sqlalchemy import Engine, func, select

from monitor.config import FeedSettings
from monitor.errors import ParseError
from monitor.feeds.normalize import clean_whitespace, html_to_text, normalize_language
from monitor.feeds.parse import ParsedEntry, ParsedFeed, parse_feed
from monitor.pipeline import CycleReport, run_cycle
from monitor.store.feeds import add_feed
from monitor.store.models import Entry, Feed, Item
from monitor.store.session import make_engine, transaction, upgrade
from tests.conftest import make_settings, require_corpus
from tests.feedserver import FeedServer

CONFORMANCE = "feedparser_tests/tests"
REAL_FEEDS = "feedjira__feedjira"
FETCHED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
#: where the conformance suite serves its files; several expected links resolve against it
SUITE_BASE = "http://127.0.0.1:8097/"
_HEADER_LINE = re.compile(r"^(Description|Expect|Header|SkipUnless):\s*(.*?)\s*$", re.M)
_NOT_WELL_FORMED = "feed is not well-formed"


# ---------------------------------------------------------------- reading the corpus


@dataclass
class Case:
    """One conformance file with what its header comment says."""

    path: Path
    body: bytes
    expect: str = ""
    skip_unless: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The base the suite resolves relative links against.

        Files named http_* or with `Header:` lines are served over HTTP, where a
        Content-Location says where the document lives; the others are parsed as
        bytes with no base.
        """
        if not self.headers and not self.path.name.startswith("http_"):
            return ""
        own = SUITE_BASE + self.path.relative_to(CONFORMANCE).as_posix()
        return urljoin(own, self.headers.get("content-location", ""))

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    def runnable(self) -> bool:
        """False when the case needs a module this environment lacks (SkipUnless)."""
        if not self.skip_unless:
            return True
        try:
            # the suite's own guard, e.g. __import__('chardet')
            eval(self.skip_unless, {"feedparser": feedparser})
        except Exception:
            return False
        return True


def _header_text(body: bytes) -> str:
    """The file's text in whichever Unicode form it was saved (UTF-8, -16, -32)."""
    for encoding in ("utf-8", "utf-16", "utf-32", "utf-16-le", "utf-16-be", "utf-32-le",
                     "utf-32-be"):  # fmt: skip
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "Description:" in text or "Expect:" in text:
            return text
    return body.decode("utf-8", "replace")


def read_case(path: Path, root: Path) -> Case:
    body = path.read_bytes()
    case = Case(path=path.relative_to(root), body=body)
    comment = re.search(r"<!--(.*?)-->", _header_text(body), re.S)
    for name, value in _HEADER_LINE.findall(comment.group(1) if comment else ""):
        if name == "Expect":
            case.expect = value
        elif name == "SkipUnless":
            case.skip_unless = value
        elif name == "Header" and ":" in value:
            key, _, header_value = value.partition(":")
            case.headers[key.strip().lower()] = header_value.strip()
    return case


def conformance_cases(root: Path) -> list[Case]:
    return [read_case(p, root) for p in sorted((root / CONFORMANCE).rglob("*")) if p.is_file()]


def real_feed_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / REAL_FEEDS).rglob("*") if p.is_file())


def parse_case(case: Case) -> ParsedFeed | ParseError:
    try:
        return parse_feed(
            case.body, url=case.url, fetched_at=FETCHED_AT, content_type=case.content_type
        )
    except ParseError as exc:
        return exc


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return conformance_cases(require_corpus())


@pytest.fixture(scope="module")
def parsed_cases(cases: list[Case]) -> list[tuple[Case, ParsedFeed | ParseError]]:
    """Every conformance file parsed once; any exception but ParseError fails here."""
    return [(case, parse_case(case)) for case in cases]


# ---------------------------------------------------------------- parsing every file


def test_every_conformance_file_parses_or_raises_parse_error(
    parsed_cases: list[tuple[Case, ParsedFeed | ParseError]],
) -> None:
    # json/ holds a JSON Feed; it must be refused cleanly, like any non-RSS/Atom body
    assert len(parsed_cases) > 2000
    refused = {str(c.path): str(r) for c, r in parsed_cases if isinstance(r, ParseError)}
    assert all(message for message in refused.values())
    assert refused[f"{CONFORMANCE}/json/example.json"] == "a JSON document, not an RSS or Atom feed"
    # an empty document and the obsolete CDF format are the only other refusals
    others = {p for p in refused if "/cdf/" not in p and not p.endswith(".json")}
    assert others == {f"{CONFORMANCE}/illformed/rss_empty_document.xml"}


def test_illformed_conformance_files_give_parse_error_or_warnings(
    parsed_cases: list[tuple[Case, ParsedFeed | ParseError]],
) -> None:
    # (illformed/ also holds a few well-formed controls, marked `not bozo`, and geo cases)
    illformed = [
        (c, r)
        for c, r in parsed_cases
        if c.path.parts[2] == "illformed"
        and _bozo_claim(c.expect) is not False
        and "where" not in c.expect
    ]
    assert len(illformed) >= 14
    silent = [str(c.path) for c, r in illformed if not isinstance(r, ParseError) and not r.warnings]
    assert silent == []


def test_bozo_expectations_match_our_warnings(
    parsed_cases: list[tuple[Case, ParsedFeed | ParseError]],
) -> None:
    """`bozo` in Expect means the suite calls the file broken: we must say so too."""
    checked, wrong = 0, []
    for case, result in parsed_cases:
        claim = _bozo_claim(case.expect)
        if claim is None or not case.runnable():
            continue
        if isinstance(result, ParseError) and "/cdf/" in str(case.path):
            continue  # CDF, a pre-RSS format, is refused on purpose (see the first test)
        checked += 1
        flagged = isinstance(result, ParseError) or any(
            w.startswith(_NOT_WELL_FORMED) for w in result.warnings
        )
        if flagged != claim:
            wrong.append(f"{case.path}: expected bozo={claim}")
    assert checked > 1500
    assert wrong == []


def _bozo_claim(expect: str) -> bool | None:
    if not expect:
        return None
    terms = _and_terms(expect)
    for term in terms:
        if isinstance(term, ast.Name) and term.id == "bozo":
            return True
        if (
            isinstance(term, ast.UnaryOp)
            and isinstance(term.op, ast.Not)
            and isinstance(term.operand, ast.Name)
            and term.operand.id == "bozo"
        ):
            return False
    return None


def _and_terms(expect: str) -> list[ast.expr]:
    try:
        tree = ast.parse(expect, mode="eval").body
    except SyntaxError:
        return []
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And):
        return list(tree.values)
    return [tree]


# ---------------------------------------------------------------- Expect → ParsedEntry


@dataclass(frozen=True)
class Claim:
    """`entries[index][path...] == value` from an Expect line."""

    index: int
    path: tuple[str | int, ...]
    value: object


def entry_claims(expect: str) -> list[Claim]:
    claims = []
    for term in _and_terms(expect):
        if not (
            isinstance(term, ast.Compare) and len(term.ops) == 1 and isinstance(term.ops[0], ast.Eq)
        ):
            continue
        subscripts = _subscript_path(term.left)
        if subscripts is None or len(subscripts) < 2 or not isinstance(subscripts[0], int):
            continue
        try:
            value = ast.literal_eval(term.comparators[0])
        except ValueError:
            continue
        claims.append(Claim(subscripts[0], tuple(subscripts[1:]), value))
    return claims


def _subscript_path(node: ast.expr) -> list[str | int] | None:
    """entries[0]['content'][0]['value'] → [0, 'content', 0, 'value']; other shapes → None."""
    path: list[str | int] = []
    while isinstance(node, ast.Subscript | ast.Attribute):
        if isinstance(node, ast.Attribute):
            path.append(node.attr)
        elif isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str | int):
            path.append(node.slice.value)
        else:
            return None
        node = node.value
    if not (isinstance(node, ast.Name) and node.id == "entries"):
        return None
    return path[::-1]


_TEXT_FIELDS = (
    ("title",), ("title_detail", "value"), ("summary",), ("description",),
    ("summary_detail", "value"), ("content", 0, "value"),
)  # fmt: skip


def check_claim(case: Case, feed: ParsedFeed, entry: ParsedEntry, claim: Claim) -> bool | None:
    """True/False when the claim maps exactly onto our entry, None when it does not map."""
    path, value = claim.path, claim.value
    if path in (("title",), ("title_detail", "value")) and isinstance(value, str):
        expected = html_to_text(value)
        # an empty title is replaced by the start of the summary
        return entry.title == expected if expected else None
    if path == ("link",) and isinstance(value, str) and value.strip():
        return entry.url == value.strip()
    if path in (("id",), ("guid",)) and isinstance(value, str) and value.strip():
        return entry.guid == value.strip()
    summary_paths = (("summary",), ("description",), ("summary_detail", "value"))
    if path in summary_paths and isinstance(value, str):
        return entry.summary_html == value and entry.summary_text == html_to_text(value)
    if path == ("content", 0, "value") and isinstance(value, str):
        # several content elements are joined by newlines, the first comes first
        return entry.content_html == value or entry.content_html.startswith(value + "\n")
    if path == ("author",) and isinstance(value, str):
        return entry.author == clean_whitespace(value)
    if path == ("title_detail", "language") and "content-language" not in case.headers:
        # the title's own language (one the feed does not declare) is the item's; a
        # Content-Language header, which we do not read, would have set it too
        code = normalize_language(value if isinstance(value, str) else None)
        return entry.language == code if code and code != feed.language else None
    if path == ("published_parsed",) and isinstance(value, tuple) and value:
        return entry.published_at == _utc(value) and not entry.published_is_fallback
    return None


def check_skipped(claim: Claim) -> bool | None:
    """An entry we skipped must really have had no title, link or text."""
    if claim.path in _TEXT_FIELDS and isinstance(claim.value, str):
        return html_to_text(claim.value) == ""
    if claim.path == ("link",) and isinstance(claim.value, str):
        return claim.value.strip() == ""
    return None


def _utc(value: tuple[int, ...]) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def test_expected_entry_fields_hold_for_normalised_entries(
    parsed_cases: list[tuple[Case, ParsedFeed | ParseError]],
) -> None:
    """title → .title (as text), link → .url, id → .guid, summary, content, dates → UTC."""
    checked, wrong = 0, []
    for case, result in parsed_cases:
        claims = entry_claims(case.expect)
        if not claims or isinstance(result, ParseError) or not case.runnable():
            continue
        skipped = {
            int(m.group(1)) for w in result.warnings if (m := re.match(r"entry (\d+) skipped", w))
        }
        for claim in claims:
            if claim.index in skipped:
                verdict = check_skipped(claim)
            else:
                position = claim.index - sum(1 for s in skipped if s < claim.index)
                if position >= len(result.entries):
                    wrong.append(f"{case.path}: no entry {claim.index}")
                    continue
                verdict = check_claim(case, result, result.entries[position], claim)
            if verdict is None:
                continue
            checked += 1
            if not verdict:
                wrong.append(f"{case.path}: {claim}")
    print(f"{checked} Expect claims about entries checked")
    assert checked >= 800
    assert wrong == []


def manifest_rows(root: Path) -> dict[str, dict[str, str]]:
    with (root / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["local_path"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_every_real_feed_parses_with_the_manifest_counts_and_dates(
    corpus: Path, served_real_feeds: list[Served]
) -> None:
    """The manifest lists each saved feed's entry count and date range: ours match, in UTC.

    (The conformance files carry no checkable dates: their dated entries hold nothing
    else, and an entry with no title, link or text is skipped.)
    """
    manifest = manifest_rows(corpus)
    assert len(served_real_feeds) == 229
    refused, dated = [], 0
    for feed in served_real_feeds:
        row = manifest[feed.path]
        if isinstance(feed.parsed, ParseError):
            refused.append(feed.name)
            # saved HTML pages, fragments, an OPML list; JSON Feed is not RSS or Atom
            assert row["format"].startswith(("unparsed", "jsonfeed")), f"{feed}"
            continue
        entries = feed.parsed.entries
        assert len(entries) == int(row["n_items"]), feed.name
        assert not any(w.startswith("entry ") for w in feed.parsed.warnings), feed.name
        assert all(e.entry_key and e.title and e.published_at.tzinfo is UTC for e in entries)
        dates = [e.published_at.date() for e in entries if not e.published_is_fallback]
        if row["date_range"]:
            first, last = (date.fromisoformat(d) for d in row["date_range"].split(".."))
            assert (min(dates), max(dates)) == (first, last), feed.name
            dated += 1
        else:
            assert dates == [], feed.name
    assert len(refused) == 14 and dated > 200


# ---------------------------------------------------------------- end to end over HTTP


@dataclass(frozen=True)
class Served:
    """One corpus file as a feed on the loopback server, and how it parses offline."""

    name: str
    #: the file's path in the corpus
    path: str
    url: str
    content_type: str
    parsed: ParsedFeed | ParseError


def _content_type(path: Path, headers: dict[str, str]) -> str:
    if "content-type" in headers:
        return headers["content-type"]
    # no charset: the XML declaration (or UTF-8) decides, as for a bare file on disk
    return "application/json" if path.suffix == ".json" else "application/xml"


def _serve(server: FeedServer, name: str, path: str, content_type: str) -> Served:
    body = (require_corpus() / path).read_bytes()
    url = server.add(f"/{name}", body, content_type=content_type)
    try:
        parsed: ParsedFeed | ParseError = parse_feed(
            body, url=url, fetched_at=FETCHED_AT, content_type=content_type
        )
    except ParseError as exc:
        parsed = exc
    return Served(name, path, url, content_type, parsed)


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture(scope="module")
def served_real_feeds(corpus_server: FeedServer) -> list[Served]:
    root = require_corpus()
    return [
        _serve(
            corpus_server, f"real/{p.name}", p.relative_to(root).as_posix(), _content_type(p, {})
        )
        for p in real_feed_files(root)
    ]


@pytest.fixture(scope="module")
def served_conformance(corpus_server: FeedServer, cases: list[Case]) -> list[Served]:
    """Every 20th conformance file (about 100), each as its own feed."""
    return [
        _serve(
            corpus_server,
            "suite/" + case.path.relative_to(CONFORMANCE).as_posix(),
            case.path.as_posix(),
            _content_type(case.path, case.headers),
        )
        for case in cases[::20]
    ]


def expected_stories(feeds: list[Served], title_window: timedelta) -> int:
    """Distinct stories by the rules in the README, each feed its own publisher.

    Per feed an entry is known by its key; across feeds a story is one when the
    canonical URL matches; within a publisher when the title (4+ words) matches
    within the window and the summaries agree.
    """
    parent: dict[int, int] = {}

    def find(node: int) -> int:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    stories: list[tuple[int, ParsedEntry]] = []
    for feed_index, feed in enumerate(feeds):
        if isinstance(feed.parsed, ParseError):
            continue
        keys: set[str] = set()
        for entry in feed.parsed.entries:
            if entry.entry_key not in keys:
                keys.add(entry.entry_key)
                stories.append((feed_index, entry))
    by_url: dict[str, int] = {}
    by_title: dict[tuple[int, str], list[int]] = {}
    for node, (feed_index, entry) in enumerate(stories):
        find(node)
        if entry.canonical_url:
            parent[find(node)] = find(by_url.setdefault(entry.canonical_url, node))
        if len(entry.title_key.split()) >= 4:
            for other in by_title.setdefault((feed_index, entry.title_key), []):
                other_entry = stories[other][1]
                close = abs(other_entry.published_at - entry.published_at) <= title_window
                a, b = (e.summary_text[:200].casefold() for e in (other_entry, entry))
                if close and (not a or not b or a == b):
                    parent[find(node)] = find(other)
            by_title[(feed_index, entry.title_key)].append(node)
    return len({find(node) for node in range(len(stories))})


def add_feeds(engine: Engine, feeds: list[Served]) -> None:
    with transaction(engine) as session:
        for number, feed in enumerate(feeds):
            spec = FeedSettings(
                url=feed.url, publisher=f"Publisher {number:03d}", source_type="media",
                country="US", language="en",
            )  # fmt: skip
            add_feed(session, spec, interval_seconds=3600)


@dataclass
class EndToEnd:
    feeds: list[Served]
    first: CycleReport
    second: CycleReport
    title_window: timedelta


def run_two_cycles(database_url: str, feeds: list[Served]) -> tuple[Engine, EndToEnd]:
    settings = make_settings(database_url, fetch={"per_host_concurrency": 8})
    engine = make_engine(database_url)
    upgrade(engine)
    add_feeds(engine, feeds)
    first = run_cycle(settings, engine, now=FETCHED_AT, include_not_due=True)
    later = FETCHED_AT + timedelta(hours=2)
    second = run_cycle(settings, engine, now=later, include_not_due=True)
    window = timedelta(days=settings.dedupe.title_window_days)
    return engine, EndToEnd(feeds, first, second, window)


def assert_stored_once_and_refetched_with_304(engine: Engine, run: EndToEnd) -> None:
    failing = {f.url for f in run.feeds if isinstance(f.parsed, ParseError)}
    # every feed has a status: ok, or the parse error that explains it
    assert run.first.feeds_checked == len(run.feeds)
    assert run.first.feeds_failed == len(failing), run.first.failures
    with transaction(engine) as session:
        feeds = session.scalars(select(Feed)).all()
        for feed in feeds:
            if feed.url in failing:
                assert feed.status == "error" and feed.status_line.startswith("parse error: ")
            else:
                assert feed.status == "ok" and feed.verified, feed.status_line
        items = session.scalar(select(func.count()).select_from(Item))
        shared_urls = session.execute(
            select(Item.canonical_url)
            .where(Item.canonical_url.is_not(None))
            .group_by(Item.canonical_url)
            .having(func.count() > 1)
        ).all()
        repeated_keys = session.execute(
            select(Entry.feed_id, Entry.entry_key)
            .group_by(Entry.feed_id, Entry.entry_key)
            .having(func.count() > 1)
        ).all()
    assert items == expected_stories(run.feeds, run.title_window)
    assert run.first.items.new == items
    assert shared_urls == [] and repeated_keys == []
    # the second cycle: every feed that worked answers 304, nothing is added or changed
    assert (run.second.items.new, run.second.items.updated) == (0, 0)
    assert run.second.feeds_unchanged == len(run.feeds) - len(failing)
    assert run.second.feeds_failed == len(failing)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == items
        assert "304" in session.scalars(select(Feed.status_line).where(Feed.status == "ok")).first()


def test_real_feeds_and_suite_sample_are_stored_once_on_sqlite(
    tmp_path: Path, served_real_feeds: list[Served], served_conformance: list[Served]
) -> None:
    feeds = served_real_feeds + served_conformance
    engine, run = run_two_cycles(f"sqlite:///{tmp_path / 'monitor.db'}", feeds)
    try:
        assert_stored_once_and_refetched_with_304(engine, run)
        with transaction(engine) as session:
            stored_from_real = session.scalar(
                select(func.count(func.distinct(Entry.feed_id)))
                .join(Feed)
                .where(Feed.url.contains("/real/"))
            )
        assert stored_from_real >= 200  # real feeds that carried entries
    finally:
        engine.dispose()


def test_corpus_sample_is_stored_once_on_postgresql(
    postgres_url: str, served_real_feeds: list[Served], served_conformance: list[Served]
) -> None:
    feeds = served_real_feeds[::10] + served_conformance[::10]
    engine, run = run_two_cycles(postgres_url, feeds)
    try:
        assert len(feeds) >= 30
        assert_stored_once_and_refetched_with_304(engine, run)
    finally:
        engine.dispose()
