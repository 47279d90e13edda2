"""OPML: reading subscription lists, writing ours, and the import/export commands."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import FeedSettings, load_settings
from monitor.errors import InputError
from monitor.opml import (
    ImportDefaults,
    ImportPlan,
    Outline,
    parse_opml,
    plan_import,
    render_opml,
)
from monitor.store.feeds import feed_rows, sync_configured_feeds
from monitor.store.session import make_engine, transaction, upgrade
from tests.test_cli import (
    assert_one_line_error,
    feed_spec,
    json_output,
    no_environment_overrides,  # noqa: F401  (autouse fixture)
    run_cli,
    write_config,
)

DATA = Path(__file__).parent / "data" / "opml"
REPO = Path(__file__).resolve().parents[1]
CREATED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def opml(body: str) -> bytes:
    return f'<opml version="2.0"><head/><body>{body}</body></opml>'.encode()


def plan(
    data: bytes, defaults: ImportDefaults | None = None, present: set[str] | None = None
) -> ImportPlan:
    return plan_import(
        parse_opml(data), defaults or ImportDefaults(), present_urls=present or set()
    )


def by_url(specs: tuple[FeedSettings, ...]) -> dict[str, FeedSettings]:
    return {spec.url: spec for spec in specs}


# --- reading -------------------------------------------------------------------------


def test_parse_reads_nested_folders_and_metadata_attributes() -> None:
    document = parse_opml(read("subscriptions.opml"))
    assert document.title == "Security policy reading list"
    outlines = {o.url: o for o in document.outlines}
    brookings = outlines["https://www.brookings.edu/feed/"]
    assert (brookings.text, brookings.title, brookings.html_url, brookings.folder) == (
        "Brookings",
        "Brookings – Foreign Policy",
        "https://www.brookings.edu/",
        "Think tanks",
    )
    carnegie = outlines["https://carnegieeurope.eu/rss"]
    assert (carnegie.publisher, carnegie.source_type, carnegie.country, carnegie.language) == (
        "Carnegie Endowment for International Peace",
        "think_tank",
        "be",
        "en-GB",
    )
    # the snake_case spelling of the type attribute and the innermost folder
    pism = outlines["https://pism.pl/rss"]
    assert (pism.source_type, pism.folder) == ("think_tank", "European think tanks")
    assert outlines["https://kyivindependent.com/feed/"].folder == ""


def test_opml_1_in_latin_1_is_read_and_title_stands_in_for_missing_text() -> None:
    result = plan(read("opml1.opml"))
    diplo = by_url(result.to_add)["https://www.monde-diplomatique.fr/recents.xml"]
    assert diplo.publisher == "Le Monde diplomatique (édition française)"
    assert diplo.language == "fr"
    assert len(result.to_add) == 2 and not result.invalid


def test_invalid_outlines_are_skipped_with_a_reason_and_valid_ones_kept() -> None:
    result = plan(read("subscriptions.opml"))
    assert [str(s) for s in result.invalid] == [
        "outline 8 ('Gov newsletter (no feed)'): no xmlUrl",
        "outline 9 ('Old FTP mirror'): not an http(s) URL: 'ftp://ftp.example.org/feed.xml'",
        "outline 10 ('Bad type'): source type must be one of government, think_tank, "
        "intergovernmental, media, not 'blog'",
    ]
    assert sorted(by_url(result.to_add)) == [
        "https://carnegieeurope.eu/rss",
        "https://kyivindependent.com/feed/",
        "https://pism.pl/rss",
        "https://www.auswaertiges-amt.de/rss",
        "https://www.brookings.edu/feed/",
    ]


def test_a_url_listed_twice_is_added_once_and_the_repeat_reported() -> None:
    result = plan(read("subscriptions.opml"))
    assert [str(s) for s in result.already_present] == [
        "outline 12 ('Kyiv Independent again'): already present: "
        "https://kyivindependent.com/feed/ (listed earlier)"
    ]


def test_urls_already_in_the_store_are_reported_as_already_present() -> None:
    result = plan(read("opml1.opml"), present={"https://www.monde-diplomatique.fr/recents.xml"})
    assert [s.reason for s in result.already_present] == [
        "already present: https://www.monde-diplomatique.fr/recents.xml"
    ]
    assert [spec.url for spec in result.to_add] == [
        "https://www.nato.int/cps/rss/en/natohq/rssFeed.xsl/rssFeed.xml"
    ]


@pytest.mark.parametrize(
    ("publisher_from", "expected"),
    [("text", "Brookings"), ("title", "Brookings – Foreign Policy"), ("folder", "Think tanks")],
)
def test_publisher_comes_from_text_title_or_folder(publisher_from: str, expected: str) -> None:
    defaults = ImportDefaults(publisher_from=publisher_from)  # type: ignore[arg-type]
    result = plan(read("subscriptions.opml"), defaults)
    assert by_url(result.to_add)["https://www.brookings.edu/feed/"].publisher == expected


def test_publisher_from_folder_falls_back_to_text_outside_any_folder() -> None:
    result = plan(read("subscriptions.opml"), ImportDefaults(publisher_from="folder"))
    assert by_url(result.to_add)["https://kyivindependent.com/feed/"].publisher == (
        "Kyiv Independent"
    )


def test_outline_attributes_win_over_defaults_which_fill_the_rest() -> None:
    defaults = ImportDefaults(
        publisher_from="folder", source_type="government", country="UA", language="uk"
    )
    feeds = by_url(plan(read("subscriptions.opml"), defaults).to_add)
    carnegie = feeds["https://carnegieeurope.eu/rss"]
    assert (carnegie.publisher, carnegie.source_type, carnegie.country, carnegie.language) == (
        "Carnegie Endowment for International Peace",
        "think_tank",
        "BE",
        "en",
    )
    kyiv = feeds["https://kyivindependent.com/feed/"]
    assert (kyiv.source_type, kyiv.country, kyiv.language) == ("government", "UA", "uk")
    assert feeds["https://www.auswaertiges-amt.de/rss"].full_text is True
    assert feeds["https://pism.pl/rss"].full_text is False


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ('language="english"', "language must be an ISO 639-1 code"),
        ('country="Germany"', "country must be an ISO 3166-1 code"),
        ('xmlUrl="javascript:alert(1)"', "not an http(s) URL"),
        ('text=""', "no publisher"),
    ],
)
def test_bad_metadata_skips_the_outline_with_a_reason(attributes: str, reason: str) -> None:
    base = {"text": '"Example"', "xmlUrl": '"https://example.org/feed.xml"'}
    key = attributes.split("=", 1)[0]
    base[key] = attributes.split("=", 1)[1]
    outline = "<outline " + " ".join(f"{k}={v}" for k, v in base.items()) + "/>"
    result = plan(opml(outline))
    assert not result.to_add
    [skipped] = result.invalid
    assert reason in skipped.reason


def test_attribute_names_are_read_case_insensitively() -> None:
    [outline] = parse_opml(
        opml('<outline TEXT="Example" XMLURL="https://example.org/f" SourceType="media"/>')
    ).outlines
    assert (outline.text, outline.url, outline.source_type) == (
        "Example",
        "https://example.org/f",
        "media",
    )


@pytest.mark.parametrize("name", ["external-entity.opml", "entity-expansion.opml"])
def test_doctype_declarations_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="DOCTYPE"):
        parse_opml(read(name))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>", "root element is <rss>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (b"<opml version='2.0'><body><outline text='x'></body></opml>", "not well-formed"),
        (b"", "not well-formed"),
    ],
)
def test_documents_that_are_not_opml_are_input_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_opml(data)


# --- writing -------------------------------------------------------------------------

FEEDS = (
    FeedSettings(
        url="https://example.org/a?x=1&y=2",
        publisher='Institute "A" & <Partners>',
        source_type="think_tank",
        country="US",
        language="en",
        title="Analysis",
        full_text=True,
    ),
    FeedSettings(
        url="https://mfa.example.gov.ua/rss",
        publisher="Міністерство закордонних справ",
        source_type="government",
        country="UA",
        language="uk",
    ),
    FeedSettings(
        url="https://news.example.com/feed",
        publisher="Example News",
        source_type="media",
        country="",
        language="",
    ),
)


def test_render_writes_opml_2_with_one_folder_per_source_type() -> None:
    root = ET.fromstring(render_opml(FEEDS, title="Feeds", created_at=CREATED_AT))
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "Feeds"
    assert root.findtext("head/dateCreated") == "Thu, 26 Nov 2026 12:00:00 +0000"
    folders = root.findall("body/outline")
    assert [f.get("text") for f in folders] == ["Governments", "Think tanks", "Media"]
    [analysis] = folders[1].findall("outline")
    assert analysis.attrib == {
        "type": "rss",
        "text": "Analysis",
        "title": "Analysis",
        "xmlUrl": "https://example.org/a?x=1&y=2",
        "publisher": 'Institute "A" & <Partners>',
        "sourceType": "think_tank",
        "country": "US",
        "language": "en",
        "fullText": "true",
    }


def test_render_then_plan_import_gives_back_the_same_feeds() -> None:
    document = render_opml(FEEDS, title="Feeds", created_at=CREATED_AT)
    result = plan(document.encode("utf-8"), ImportDefaults(source_type="intergovernmental"))
    assert not result.invalid and not result.already_present
    assert by_url(result.to_add) == by_url(FEEDS)


# --- the commands ----------------------------------------------------------------------


def test_import_opml_adds_new_feeds_and_reports_the_rest(database_url: str, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.toml",
        database_url,
        (feed_spec("https://www.brookings.edu/feed/", "Brookings Institution"),),
    )
    assert run_cli(config, "init").exit_code == 0
    path = DATA / "subscriptions.opml"

    result = run_cli(config, "feeds", "import-opml", str(path), "--country", "gb")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == f"imported 4 feeds from {path}; 2 already present, 3 invalid"
    assert (
        "  skipped outline 2 ('Brookings'): already present: https://www.brookings.edu/feed/"
        in lines
    )
    assert "  invalid outline 8 ('Gov newsletter (no feed)'): no xmlUrl" in lines
    feeds = {f["url"]: f for f in json_output(run_cli(config, "feeds", "list", "--json"))}
    assert len(feeds) == 5
    assert feeds["https://www.brookings.edu/feed/"]["publisher"] == "Brookings Institution"
    kyiv = feeds["https://kyivindependent.com/feed/"]
    assert (kyiv["publisher"], kyiv["source_type"], kyiv["country"], kyiv["language"]) == (
        "Kyiv Independent",
        "media",
        "GB",
        "",
    )

    again = run_cli(config, "feeds", "import-opml", str(path))
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1].startswith("imported 0 feeds")
    assert len(json_output(run_cli(config, "feeds", "list", "--json"))) == 5


def test_import_opml_with_a_doctype_fails_with_one_line_and_stores_nothing(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "config.toml", f"sqlite:///{tmp_path / 'monitor.db'}")
    assert run_cli(config, "init").exit_code == 0
    result = run_cli(config, "feeds", "import-opml", str(DATA / "external-entity.opml"))
    assert_one_line_error(result, 2, "DOCTYPE")
    assert json_output(run_cli(config, "feeds", "list", "--json")) == []


def test_import_opml_rejects_a_bad_language_default_with_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", f"sqlite:///{tmp_path / 'monitor.db'}")
    assert run_cli(config, "init").exit_code == 0
    result = run_cli(
        config, "feeds", "import-opml", str(DATA / "opml1.opml"), "--language", "french"
    )
    assert_one_line_error(result, 2, "--language")


def test_export_opml_writes_stdout_by_default_or_the_output_file(
    database_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "config.toml",
        database_url,
        (
            feed_spec("https://example.org/feed.xml", "Example Institute"),
            feed_spec("https://example.gov/rss", "Example Ministry", source_type="government"),
        ),
    )
    assert run_cli(config, "init").exit_code == 0

    to_stdout = run_cli(config, "feeds", "export-opml")
    assert to_stdout.exit_code == 0, to_stdout.output
    exported = parse_opml(to_stdout.stdout.encode())
    assert [(o.url, o.folder) for o in exported.outlines] == [
        ("https://example.gov/rss", "Governments"),
        ("https://example.org/feed.xml", "Think tanks"),
    ]

    target = tmp_path / "feeds.opml"
    to_file = run_cli(config, "feeds", "export-opml", "--output", str(target))
    assert to_file.exit_code == 0, to_file.output
    assert to_file.stdout == f"exported 2 feeds to {target}\n"
    assert parse_opml(target.read_bytes()).outlines == exported.outlines


def stored_feeds(database_url: str) -> list[tuple[object, ...]]:
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            return sorted(
                (
                    row.feed.url,
                    row.source.name,
                    row.source.source_type,
                    row.source.country,
                    row.feed.language,
                    row.feed.full_text,
                    row.feed.title,
                )
                for row in feed_rows(session)
            )
    finally:
        engine.dispose()


def test_export_then_import_into_an_empty_database_round_trips_every_feed(
    database_url: str, tmp_path: Path
) -> None:
    # the source: the repository's configured feeds plus one added by hand
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    engine = make_engine(source_url)
    upgrade(engine)
    configured = load_settings(REPO / "config.toml").feeds
    with transaction(engine) as session:
        sync_configured_feeds(session, configured, interval_seconds=3600)
    engine.dispose()
    source_config = write_config(tmp_path / "source.toml", source_url)
    added = run_cli(
        source_config,
        *("feeds", "add", "https://example.org/x", "--publisher", "Ad hoc", "--full-text"),
    )
    assert added.exit_code == 0, added.output
    opml_file = tmp_path / "feeds.opml"
    assert run_cli(source_config, "feeds", "export-opml", "--output", str(opml_file)).exit_code == 0

    target_config = write_config(tmp_path / "target.toml", database_url)
    assert run_cli(target_config, "init").exit_code == 0
    imported = run_cli(target_config, "feeds", "import-opml", str(opml_file))
    assert imported.exit_code == 0, imported.output
    expected = stored_feeds(source_url)
    assert len(expected) == len(configured) + 1
    assert imported.stdout.splitlines()[-1].startswith(f"imported {len(expected)} feeds")
    assert stored_feeds(database_url) == expected


def test_outline_dataclass_label_names_the_outline() -> None:
    assert Outline(position=3, url="https://e.org/f", text="Example").label == (
        "outline 3 ('Example')"
    )
    assert Outline(position=4, url="https://e.org/f").label == "outline 4 ('https://e.org/f')"
