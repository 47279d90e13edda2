"""`monitor import`: validate every row, then store all accepted rows or none."""

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from monitor.cli import cli
from monitor.config import FeedSettings
from monitor.errors import ImportFailed, InputError
from monitor.feeds.parse import parse_feed
from monitor.history.importer import check_file, import_file, row_to_entry, validate_row
from monitor.pipeline import run_cycle
from monitor.store.feeds import add_feed
from monitor.store.models import Entry, Item, Source
from monitor.store.session import transaction
from tests.conftest import REPO, make_settings

DATA = REPO / "tests" / "data" / "import"
HEADER = "title,url,summary,content,published,publisher,source_type,country,language,guid\n"


def count(engine, model=Item):
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def items_by_title(engine):
    with transaction(engine) as session:
        rows = session.execute(select(Item, Source).join(Source)).all()
        return {item.title: (item, source) for item, source in rows}


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def config_for(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    return write(tmp_path, "config.toml", f'[database]\nurl = "{url}"\n')


def invoke(engine, tmp_path, *args):
    config = config_for(engine, tmp_path)
    return CliRunner().invoke(cli, ["--config", str(config), *args])


# ---- validation (no store) -------------------------------------------------


def test_malformed_csv_rows_are_rejected_with_their_line_numbers():
    report = check_file(DATA / "malformed.csv")
    assert report.accepted == 2
    assert [str(r) for r in report.rejected] == [
        "line 3: published: not an ISO 8601 date 'yesterday'",
        "line 4: publisher: missing",
        "line 5: expected 10 fields, found 3",
        "line 7: malformed CSV (record runs to line 8: unbalanced quote?): unexpected end of data",
    ]


def test_a_quoted_field_may_span_lines_and_keeps_line_numbers_right():
    report = check_file(DATA / "good.csv")
    assert (report.accepted, report.rejected) == (4, [])


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"title": "T", "published": "2024-01-01"', "not valid JSON"),
        ('["title", "published"]', "not a JSON object but list"),
        ('{"title": "T", "published": "2024-01-01", "publisher": "P", "tags": "x"}',
         "unknown field 'tags'"),
        ('{"title": "T", "published": 20240101, "publisher": "P"}',
         "published: must be text, not int"),
        ('{"title": "T\\u0000", "published": "2024-01-01", "publisher": "P"}',
         "title: contains a NUL character"),
        ('{"title": "T", "published": "2024-01-01", "publisher": "P", "source_type": "blog"}',
         "source_type: must be one of government, think_tank, intergovernmental, media"),
        ('{"title": "T", "published": "2024-01-01", "publisher": "P", "language": "english!"}',
         "language: not an ISO 639-1 code 'english!'"),
        ('{"title": "T", "published": "2024-01-01", "publisher": "P", "url": "ftp://x.org/a"}',
         "url: not an http(s) URL 'ftp://x.org/a'"),
        ('{"title": "<b></b>", "published": "2024-01-01", "publisher": "P"}', "title: no text"),
        ('{"published": "2024-01-01", "publisher": "P"}', "title: missing"),
    ],
)  # fmt: skip
def test_jsonl_row_rejected_with_line_number_and_reason(tmp_path, line, reason):
    good = '{"title": "Fine", "published": "2024-01-01", "publisher": "P"}'
    path = write(tmp_path, "rows.jsonl", f"{good}\n\n{line}\n{good}\n")
    report = check_file(path)
    assert report.accepted == 2
    assert len(report.rejected) == 1
    assert report.rejected[0].line == 3
    assert reason in report.rejected[0].reason


def test_published_is_converted_to_utc_and_a_naive_time_is_utc():
    row = {"title": "T", "publisher": "P"}
    aware = validate_row(1, {**row, "published": "2024-03-03T10:00:00+02:00"})
    naive = validate_row(1, {**row, "published": "2024-03-03 10:00"})
    assert aware.published_at == datetime(2024, 3, 3, 8, 0, tzinfo=UTC)
    assert naive.published_at == datetime(2024, 3, 3, 10, 0, tzinfo=UTC)


def test_imported_row_normalises_exactly_like_the_same_fetched_entry():
    link = "https://www.example.org/news/nato-talks?utm_source=mail&id=7"
    summary = "<p>Ministers met <b>again</b> to discuss the accession timetable.</p>"
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<item><title>NATO accession talks resume in Brussels</title><link>{link}</link>"
        f"<description>{summary.replace('<', '&lt;').replace('>', '&gt;')}</description>"
        "<pubDate>Fri, 01 Mar 2024 09:30:00 GMT</pubDate></item></channel></rss>"
    ).encode()
    fetched = parse_feed(feed, url="https://example.org/feed", fetched_at=datetime.now(UTC))
    [expected] = fetched.entries
    imported = row_to_entry(
        validate_row(
            2,
            {
                "title": "NATO accession talks resume in Brussels",
                "url": link,
                "summary": summary,
                "published": "2024-03-01T09:30:00Z",
                "publisher": "Example Times",
            },
        )
    )
    for name in ("entry_key", "url", "canonical_url", "title", "title_key", "summary_text",
                 "content_text", "published_at", "content_hash", "language"):  # fmt: skip
        assert getattr(imported, name) == getattr(expected, name), name


def test_unknown_csv_column_rejects_the_whole_file(tmp_path):
    path = write(tmp_path, "x.csv", "title,published,publisher,tags\nT,2024-01-01,P,x\n")
    with pytest.raises(InputError, match="unknown column 'tags'"):
        check_file(path)


# ---- storing (both databases) ----------------------------------------------


def test_good_csv_is_stored_with_sources_dates_and_languages(engine):
    report = import_file(make_settings(), engine, DATA / "good.csv")
    assert (report.new, report.already_stored, report.rejected, report.stored) == (4, 0, [], True)

    items = items_by_title(engine)
    nato, times = items["NATO accession talks resume in Brussels"]
    assert (nato.origin, nato.feed_id) == ("import", None)
    assert nato.canonical_url == "https://example.org/news/nato-talks?id=7"
    assert nato.summary_text == "Ministers met again to discuss the accession timetable."
    assert (nato.language, nato.language_source) == ("en", "item")
    assert (times.name, times.source_type, times.country) == ("Example Times", "media", "GB")

    neutrality, institute = items["Neutrality, revisited: a century of Swiss policy"]
    assert neutrality.published_at == datetime(2024, 3, 2, 12, 0, tzinfo=UTC)
    assert neutrality.summary_text == "A long essay on armed neutrality,\nwritten over two lines."
    assert (neutrality.content_text, neutrality.content_method) == (
        "Full text of the essay about neutrality.",
        "feed",
    )
    assert (institute.source_type, institute.country) == ("think_tank", "CH")

    ukrainian, _ = items["Гарантії безпеки для України обговорили в Києві"]
    assert ukrainian.published_at == datetime(2024, 3, 3, 8, 0, tzinfo=UTC)
    assert (ukrainian.language, ukrainian.language_source) == ("uk", "detected")

    statement, same_institute = items["Statement"]
    assert statement.guid == "pi-statement-2024-03-04"
    assert same_institute.id == institute.id
    assert count(engine, Source) == 3


def test_good_jsonl_is_stored(engine):
    report = import_file(make_settings(), engine, DATA / "good.jsonl")
    assert (report.new, report.rejected) == (3, [])
    items = items_by_title(engine)
    german, _source = items["Neutralität im Wandel der Zeit"]
    assert (german.language, german.language_source) == ("de", "detected")
    assert german.published_at == datetime(2024, 4, 2, 8, 0, tzinfo=UTC)
    assert items["Security guarantees debated at the summit"][0].language == "en"
    assert items["Briefing"][1].source_type == "government"


def test_reimport_adds_nothing_and_loads_no_model(engine, monkeypatch):
    settings = make_settings()
    import_file(settings, engine, DATA / "good.csv")

    def refuse(_tagging):
        raise AssertionError("the model was loaded with nothing new to tag")

    monkeypatch.setattr("monitor.history.importer.load_tagger", refuse)
    again = import_file(settings, engine, DATA / "good.csv")
    assert (again.new, again.already_stored) == (0, 4)
    assert count(engine) == 4


def test_rows_repeating_each_other_within_one_file_are_stored_once(engine, tmp_path):
    row = (
        "Alliance summit ends with a joint declaration,https://example.org/s,,,2024-06-01,P,,,en,\n"
    )
    path = write(tmp_path, "dup.csv", HEADER + row + row.replace("https://", "http://www."))
    report = import_file(make_settings(), engine, path)
    assert (report.new, report.already_stored) == (1, 1)
    assert count(engine) == 1


def test_fetched_and_imported_copies_of_a_story_are_one_item(engine, feed_server, tmp_path):
    feed_url = feed_server.add(
        "/feed.xml",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><guid>urn:example:g1</guid><title>Fetched story about neutrality</title>"
        b"<link>https://example.org/fetched</link>"
        b"<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>"
        b"<item><guid>urn:example:g2</guid><title>Imported first, fetched later</title>"
        b"<link>https://example.org/imported</link>"
        b"<pubDate>Tue, 24 Nov 2026 11:00:00 GMT</pubDate></item>"
        b"</channel></rss>",
    )
    spec = FeedSettings(
        url=feed_url, publisher="Example Times", source_type="media", country="GB", language="en"
    )
    with transaction(engine) as session:
        add_feed(session, spec, interval_seconds=3600)
    settings = make_settings()

    def row(title, url, published):
        record = {"title": title, "url": url, "published": published, "publisher": "Example Times"}
        return json.dumps(record) + "\n"

    first = write(
        tmp_path,
        "first.jsonl",
        row("Imported first, fetched later", "https://example.org/imported?utm_campaign=x",
            "2026-11-24T11:00:00Z"),
    )  # fmt: skip
    assert import_file(settings, engine, first).new == 1

    cycle = run_cycle(settings, engine, include_not_due=True)
    assert (cycle.items.new, cycle.items.linked) == (1, 1)

    later = write(
        tmp_path,
        "later.jsonl",
        row("Fetched story about neutrality", "https://example.org/fetched", "2026-11-24T10:00Z"),
    )
    again = import_file(settings, engine, later)
    assert (again.new, again.already_stored) == (0, 1)
    assert count(engine) == 2
    with transaction(engine) as session:
        matched = dict(session.execute(select(Entry.entry_key, Entry.matched_by)).all())
    assert matched == {"urn:example:g1": "new", "urn:example:g2": "url"}


def test_strict_import_with_a_rejected_row_stores_nothing(engine):
    report = import_file(make_settings(), engine, DATA / "malformed.csv", strict=True)
    assert (report.accepted, len(report.rejected), report.stored) == (2, 4, False)
    assert count(engine) == 0


def test_without_strict_accepted_rows_are_stored_despite_rejected_ones(engine):
    report = import_file(make_settings(), engine, DATA / "malformed.csv")
    assert (report.new, len(report.rejected), report.stored) == (2, 4, True)
    assert set(items_by_title(engine)) == {
        "First accepted row about NATO",
        "Second accepted row about neutrality",
    }


def _refuse_inserts_titled(engine, title):
    """Make the database itself refuse one row, as a full disk or a constraint would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON items "
                    f"WHEN NEW.title = '{title}' BEGIN SELECT * FROM no_such_table; END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.title = '{title}' THEN RAISE EXCEPTION 'refused by the test'; "
                    "END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON items "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


def test_a_storage_failure_rolls_back_every_row_and_raises_import_failed(engine):
    _refuse_inserts_titled(engine, "Statement")  # the last row of good.csv
    with pytest.raises(ImportFailed, match="nothing imported"):
        import_file(make_settings(), engine, DATA / "good.csv")
    assert count(engine) == 0
    assert count(engine, Source) == 0


# ---- the command -------------------------------------------------------------


def test_cli_import_of_a_good_file_exits_0_with_a_summary(engine, tmp_path):
    result = invoke(engine, tmp_path, "import", str(DATA / "good.csv"))
    assert result.exit_code == 0, result.output
    assert "4 rows: 4 new, 0 already stored, 0 rejected" in result.stdout
    again = invoke(engine, tmp_path, "import", str(DATA / "good.csv"))
    assert again.exit_code == 0
    assert "4 rows: 0 new, 4 already stored, 0 rejected" in again.stdout


def test_cli_import_with_rejected_rows_lists_them_stores_the_rest_and_exits_1(engine, tmp_path):
    result = invoke(engine, tmp_path, "import", str(DATA / "malformed.csv"))
    assert result.exit_code == 1
    assert "line 3: published: not an ISO 8601 date 'yesterday'" in result.stderr
    assert len(result.stderr.splitlines()) == 4
    assert "6 rows: 2 new, 0 already stored, 4 rejected" in result.stdout
    assert count(engine) == 2


def test_cli_strict_import_with_rejected_rows_exits_1_and_stores_nothing(engine, tmp_path):
    result = invoke(engine, tmp_path, "import", "--strict", str(DATA / "malformed.csv"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "monitor: error: 4 of 6 rows rejected; nothing stored (--strict)"
    )
    assert "Traceback" not in result.output
    assert count(engine) == 0


def test_cli_storage_failure_is_one_line_and_exit_1(engine, tmp_path):
    _refuse_inserts_titled(engine, "Statement")
    result = invoke(engine, tmp_path, "import", str(DATA / "good.csv"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("monitor: error: ")
    assert "nothing imported" in result.stderr
    assert count(engine) == 0


def test_cli_format_option_reads_a_file_whose_name_does_not_tell(sqlite_engine, tmp_path):
    path = write(tmp_path, "export.txt", (DATA / "good.jsonl").read_text(encoding="utf-8"))
    unnamed = invoke(sqlite_engine, tmp_path, "import", str(path))
    assert unnamed.exit_code == 2
    assert "use --format csv|jsonl" in unnamed.stderr
    named = invoke(sqlite_engine, tmp_path, "import", "--format", "jsonl", str(path))
    assert named.exit_code == 0, named.output
    assert count(sqlite_engine) == 3


def test_cli_file_with_a_bad_header_exits_2_with_one_line(sqlite_engine, tmp_path):
    path = write(tmp_path, "x.csv", "title,when,publisher\nT,2024-01-01,P\n")
    result = invoke(sqlite_engine, tmp_path, "import", str(path))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "unknown column 'when'" in result.stderr


def test_cli_file_that_is_not_utf8_exits_2(sqlite_engine, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "Neutralität,,,,2024-01-01,P,,,,\n".encode("latin-1"))
    result = invoke(sqlite_engine, tmp_path, "import", str(path))
    assert result.exit_code == 2
    assert "not UTF-8 text" in result.stderr
    assert count(sqlite_engine) == 0
