"""`monitor export`: filtered, streamed, typed, reproducible datasets with a datasheet."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from functools import cache

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sqlalchemy import select

import monitor.export.dataset as dataset
import monitor.export.writers as writers
from monitor.cli import cli
from monitor.config import FeedSettings
from monitor.export.dataset import export_dataset, read_session
from monitor.export.datasheet import config_sha256
from monitor.export.query import iso_utc, item_rows, make_filter
from monitor.export.writers import Column, CsvWriter, columns_for, iso_texts, neutralise
from monitor.history.importer import row_to_entry, validate_row
from monitor.store.feeds import add_feed, get_or_create_source
from monitor.store.items import store_entries
from monitor.store.models import AnalystLabel, Feed, Item, Tag
from monitor.store.session import current_revision, make_engine, transaction, upgrade
from monitor.store.tags import tag_items
from monitor.tagging.train import load_tagger
from tests.conftest import make_settings

NOW = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)

#: (publisher, source_type, country, language, feed?) of the test sources
PUBLISHERS = {
    "Atlantic Desk": ("think_tank", "US", "en", True),
    "Bundesamt": ("government", "DE", "de", True),
    "Wire 50%": ("media", "GB", "en", False),
}

#: title, summary, published, publisher
ITEMS = [
    ("Ukraine NATO membership: allies open the door to accession",
     "The alliance reaffirmed the open door and an irreversible path to membership.",
     "2024-01-02T09:00:00Z", "Atlantic Desk"),
    ("Neutrality as a path to peace: the Austrian precedent",
     'A neutral Ukraine modelled on Austria 1955 could end the war, "some" say, quietly.',
     "2024-01-10T10:30:00Z", "Atlantic Desk"),
    ("Security guarantees for Ukraine: a coalition of the willing",
     "Article 5-like guarantees as a bridge to membership.\nSecond line, with a comma.",
     "2024-01-16T08:00:00Z", "Wire 50%"),
    ("Die NATO-Mitgliedschaft der Ukraine",
     "Die Tür der Allianz bleibt offen, sagte der Generalsekretär.",
     "2024-02-05T07:15:00Z", "Bundesamt"),
    ("=HYPERLINK(\"http://evil.example\",\"click\") weather report",
     "@SUM(A1:A9) rain tomorrow", "2024-02-06T11:00:00Z", "Wire 50%"),
    ("-5 reasons the 100% rain forecast is wrong", "+1 for umbrellas",
     "2024-02-20T16:45:00Z", "Wire 50%"),
    ("Harvest festival opens in the capital", "Markets and music all week.",
     "2024-03-01T12:00:00Z", "Bundesamt"),
]  # fmt: skip


@cache
def shipped_tagger():
    return load_tagger(make_settings().tagging)


def populate(engine, *, tag: bool = True) -> None:
    """Sources, feeds, the items above (stored as the pipeline stores them), tags, a correction."""
    with transaction(engine) as session:
        for name, (source_type, country, language, has_feed) in PUBLISHERS.items():
            if not has_feed:
                continue
            add_feed(
                session,
                FeedSettings(
                    url=f"https://{name.split()[0].lower()}.example/feed.xml",
                    publisher=name,
                    source_type=source_type,
                    country=country,
                    language=language,
                ),
                interval_seconds=3600,
            )
    with transaction(engine) as session:
        feeds = {feed.source_id: feed.id for feed in session.scalars(select(Feed))}
        for number, (title, summary, published, publisher) in enumerate(ITEMS):
            source_type, country, language, _ = PUBLISHERS[publisher]
            source = get_or_create_source(session, publisher, source_type, country)
            row = validate_row(
                number + 1,
                {
                    "title": title,
                    "summary": summary,
                    "content": f"Full text of {title}.",
                    "url": f"https://news.example/story/{number}?utm_source=feed",
                    "published": published,
                    "publisher": publisher,
                    "language": language,
                },
            )
            store_entries(
                session,
                source_id=source.id,
                feed_id=feeds.get(source.id),
                entries=[row_to_entry(row)],
                now=NOW,
                title_window=timedelta(days=3),
            )
    if not tag:
        return
    with transaction(engine) as session:
        ids = list(session.scalars(select(Item.id).order_by(Item.id)))
        tag_items(session, shipped_tagger(), ids)
        session.add(
            AnalystLabel(
                item_id=ids[0],
                kind="frame",
                label="membership_foreclosed",
                applies=True,
                analyst="ana",
                note='says "not now", too',
                created_at=datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
            )
        )
        session.add(
            AnalystLabel(
                item_id=ids[0], kind="topic", label="neutrality", applies=False, analyst="bo",
                created_at=datetime(2024, 3, 2, 9, 30, 0, 123456, tzinfo=UTC),
            )
        )  # fmt: skip


@pytest.fixture
def db(sqlite_engine):
    populate(sqlite_engine)
    return sqlite_engine


def export(engine, tmp_path, name, *, fmt=None, selection=None, **options):
    settings = make_settings()
    path = tmp_path / name
    return export_dataset(
        settings,
        engine,
        selection or make_filter(settings),
        path,
        file_format=fmt or name.rsplit(".", 1)[1],
        **options,
    )


def config_for(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return path


def run_cli(engine, tmp_path, *args):
    return CliRunner().invoke(cli, ["--config", str(config_for(engine, tmp_path)), *args])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---- round trip ------------------------------------------------------------


def test_a_jsonl_export_imports_into_an_empty_database_with_identical_items_and_labels(
    db, tmp_path
):
    first = export(db, tmp_path, "a.jsonl", with_content=True)
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(empty)
    imported = run_cli(empty, tmp_path, "import", str(first.path))
    assert imported.exit_code == 0, imported.output
    assert "7 new" in imported.output
    second = export(empty, tmp_path, "b.jsonl", with_content=True)

    def comparable(rows):
        # ids are the new database's own; the feed link is not recreated by an import
        return [{k: v for k, v in row.items() if k not in ("id", "feed_url")} for row in rows]

    before, after = read_jsonl(first.path), read_jsonl(second.path)
    assert len(before) == len(ITEMS)
    assert comparable(after) == comparable(before)
    assert any(row["analyst_labels"] != "[]" for row in after)
    assert any(row["nato_membership"] for row in after)

    def labels(engine):
        with transaction(engine) as session:
            tags = session.execute(
                select(Item.title, Tag.kind, Tag.label, Tag.score, Tag.is_positive,
                       Tag.evidence, Tag.tagger_version).join(Item, Tag.item_id == Item.id)
            ).all()  # fmt: skip
            corrections = session.execute(
                select(Item.title, AnalystLabel.kind, AnalystLabel.label, AnalystLabel.applies,
                       AnalystLabel.analyst, AnalystLabel.note, AnalystLabel.created_at)
                .join(Item, AnalystLabel.item_id == Item.id)
            ).all()  # fmt: skip
        as_text = [json.dumps(list(row), sort_keys=True, default=str) for row in tags]
        return sorted(as_text), sorted(map(repr, corrections))

    assert labels(empty) == labels(db)
    empty.dispose()


def test_importing_an_export_twice_stores_its_items_and_labels_once(db, tmp_path):
    first = export(db, tmp_path, "a.jsonl", with_content=True)
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(empty)
    for _ in range(2):
        assert run_cli(empty, tmp_path, "import", str(first.path)).exit_code == 0
    with transaction(empty) as session:
        assert len(session.scalars(select(Item)).all()) == len(ITEMS)
        assert len(session.scalars(select(AnalystLabel)).all()) == 2
    empty.dispose()


def test_an_export_column_naming_no_codebook_label_is_refused_as_a_whole(db, tmp_path):
    first = export(db, tmp_path, "a.jsonl")
    rows = read_jsonl(first.path)
    rows[3]["invented_score"], rows[3]["invented"] = 0.5, True
    altered = tmp_path / "altered.jsonl"
    altered.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(empty)
    result = run_cli(empty, tmp_path, "import", str(altered))
    assert result.exit_code == 1
    assert "'invented' is not a topic or frame of the codebook" in result.output
    with transaction(empty) as session:
        assert session.scalars(select(Item)).all() == []
    empty.dispose()


# ---- types and formats -------------------------------------------------------


def test_parquet_reads_back_in_pyarrow_with_the_documented_types(db, tmp_path):
    result = export(db, tmp_path, "items.parquet", with_content=True)
    table = pq.read_table(result.path)
    documented = {c["name"]: c["type"] for c in result.sheet["columns"]}
    assert table.schema.names == list(documented)
    for field in table.schema:
        assert str(field.type) == documented[field.name]
    assert table.schema.field("published").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("nato_membership").type == pa.bool_()
    assert table.schema.field("nato_membership_score").type == pa.float64()
    assert table.num_rows == len(ITEMS)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["published"] == datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
    assert first["publisher"] == "Atlantic Desk"
    assert first["feed_url"] == "https://atlantic.example/feed.xml"
    assert first["content"] == f"Full text of {ITEMS[0][0]}."


def test_parquet_reads_back_in_pandas_with_datetimes_floats_and_booleans(db, tmp_path):
    frame = pd.read_parquet(export(db, tmp_path, "items.parquet").path)
    assert str(frame["published"].dtype) == "datetime64[us, UTC]"
    assert str(frame["fetched"].dtype) == "datetime64[us, UTC]"
    assert frame["neutrality_score"].dtype == "float64"
    assert frame["neutrality"].dtype == bool
    assert pd.api.types.is_string_dtype(frame["title"])
    assert frame["id"].dtype == "int64"
    assert frame["published"].iloc[3] == pd.Timestamp("2024-02-05T07:15:00Z")


def test_untagged_items_have_empty_scores_and_labels_not_false(sqlite_engine, tmp_path):
    populate(sqlite_engine, tag=False)
    table = pq.read_table(export(sqlite_engine, tmp_path, "items.parquet").path)
    assert table.column("neutrality").null_count == len(ITEMS)
    assert table.column("neutrality_score").null_count == len(ITEMS)
    csv_rows = list(csv.DictReader(io.StringIO(
        export(sqlite_engine, tmp_path, "items.csv").path.read_text(encoding="utf-8"), newline=""
    )))  # fmt: skip
    assert {row["neutrality"] for row in csv_rows} == {""}
    assert {row["tagger_version"] for row in csv_rows} == {""}


def test_csv_is_rfc_4180_and_reads_back_with_the_csv_module(db, tmp_path):
    result = export(db, tmp_path, "items.csv")
    data = result.path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") >= len(ITEMS) + 1
    with result.path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, strict=True))
    assert rows[0] == [c["name"] for c in result.sheet["columns"]]
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(body) == len(ITEMS)
    assert body[1]["summary"] == ITEMS[1][1]  # quotes and commas survive
    assert body[2]["summary"] == ITEMS[2][1]  # so does a newline inside a cell
    assert body[0]["published"] == "2024-01-02T09:00:00Z"
    assert body[0]["nato_membership"] == "true"
    assert float(body[0]["nato_membership_score"]) > 0.5
    assert body[2]["feed_url"] == ""


def test_csv_reads_back_in_pandas(db, tmp_path):
    result = export(db, tmp_path, "items.csv")
    frame = pd.read_csv(result.path, encoding="utf-8", keep_default_na=False,
                        dtype={"country": str})  # fmt: skip
    assert len(frame) == len(ITEMS)
    published = pd.to_datetime(frame["published"], format="ISO8601", utc=True)
    assert published.iloc[0] == pd.Timestamp("2024-01-02T09:00:00Z")
    assert frame["nato_membership_score"].dtype == "float64"
    assert frame["title"].iloc[1] == ITEMS[1][0]
    assert set(frame["country"]) == {"US", "DE", "GB"}


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_csv_cells_that_start_like_a_formula_get_a_leading_quote(cell, written):
    assert neutralise(cell) == written
    out = io.BytesIO()
    writer = CsvWriter(out, [Column("title", pa.string(), "")])
    writer.write({"title": [cell]})
    writer.close()
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8"), newline="")))
    assert rows[1] == [written]


def test_formula_like_titles_are_neutralised_in_csv_unless_raw(db, tmp_path):
    def titles(name, **options):
        path = export(db, tmp_path, name, **options).path
        with path.open(encoding="utf-8", newline="") as f:
            return [row["title"] for row in csv.DictReader(f)] + [
                row["summary"] for row in csv.DictReader(path.open(encoding="utf-8", newline=""))
            ]

    safe, raw = titles("safe.csv"), titles("raw.csv", raw=True)
    assert "'" + ITEMS[4][0] in safe and "'-5 reasons the 100% rain forecast is wrong" in safe
    assert "'@SUM(A1:A9) rain tomorrow" in safe and "'+1 for umbrellas" in safe
    assert ITEMS[4][0] in raw and "+1 for umbrellas" in raw
    jsonl_titles = [row["title"] for row in read_jsonl(export(db, tmp_path, "x.jsonl").path)]
    assert ITEMS[4][0] in jsonl_titles  # only CSV is meant for spreadsheets


# ---- determinism and provenance ----------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_the_same_data_and_query_give_a_byte_identical_file(db, tmp_path, fmt, monkeypatch):
    monkeypatch.setattr(writers, "ROW_GROUP_ROWS", 3)  # several row groups
    selection = make_filter(make_settings(), since="2024-01-01", topics=["nato_membership"])
    first = export(db, tmp_path, f"a.{fmt}", selection=selection, now=NOW)
    later = export(db, tmp_path, f"b.{fmt}", selection=selection, now=NOW + timedelta(days=9))
    assert first.path.read_bytes() == later.path.read_bytes()
    assert first.sha256 == later.sha256
    assert first.sheet["exported_at"] != later.sheet["exported_at"]
    if fmt == "parquet":
        assert pq.ParquetFile(first.path).num_row_groups == 1  # two items match
        everything = export(db, tmp_path, "all.parquet")
        assert pq.ParquetFile(everything.path).num_row_groups == 3


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_the_file_does_not_depend_on_how_many_rows_are_written_at_a_time(
    db, tmp_path, fmt, monkeypatch
):
    monkeypatch.setattr(writers, "ROW_GROUP_ROWS", 3)
    whole = export(db, tmp_path, f"whole.{fmt}")
    monkeypatch.setattr(dataset, "BATCH_ROWS", 2)  # batches straddle the row groups
    batched = export(db, tmp_path, f"batched.{fmt}")
    assert batched.path.read_bytes() == whole.path.read_bytes()
    if fmt == "parquet":
        meta = pq.read_metadata(batched.path)
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [3, 3, 1]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 1, 2, 9, 0, tzinfo=UTC),
        datetime(2024, 3, 2, 9, 30, 0, 123456, tzinfo=UTC),
        datetime(2024, 6, 1, 2, 15, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2024, 6, 1, 2, 15, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
)
def test_timestamp_columns_are_utc_in_every_format(moment):
    assert iso_texts([moment, None]) == [iso_utc(moment), None]
    out = io.BytesIO()
    writer = writers.ParquetWriter(out, [Column("published", pa.timestamp("us", tz="UTC"), "")])
    writer.write({"published": [moment, None]})
    writer.close()
    assert pq.read_table(out).column("published").to_pylist() == [moment.astimezone(UTC), None]


def test_the_datasheet_records_query_counts_versions_codebook_hashes_and_columns(db, tmp_path):
    settings = make_settings()
    selection = make_filter(settings, topics=["nato_membership"], until="2024-12-31",
                            countries=["de", "US"])  # fmt: skip
    result = export(db, tmp_path, "items.parquet", selection=selection, now=NOW)
    sheet = json.loads(result.datasheet_json.read_text(encoding="utf-8"))
    assert sheet["query"]["filters"]["topics"] == ["nato_membership"]
    assert sheet["query"]["filters"]["countries"] == ["DE", "US"]
    assert sheet["query"]["filters"]["until"] == "2024-12-31"
    assert sheet["query"]["format"] == "parquet"
    assert sheet["rows"] == result.rows == pq.read_metadata(result.path).num_rows == 2
    assert sheet["exported_at"] == "2024-03-20T12:00:00Z"
    assert sheet["schema_revision"] == current_revision(db)
    assert sheet["tagger_versions"] == [load_tagger(settings.tagging).version]
    assert [t["id"] for t in sheet["codebook"]["topics"]] == [t.id for t in settings.tagging.topics]
    assert all(f["description"] for f in sheet["codebook"]["frames"])
    assert sheet["config_sha256"] == config_sha256(settings)
    assert sheet["sha256"] == result.sha256
    assert [c["name"] for c in sheet["columns"]] == pq.read_schema(result.path).names
    assert all(c["meaning"] and c["type"] for c in sheet["columns"])
    markdown = result.datasheet_md.read_text(encoding="utf-8")
    assert result.sha256 in markdown and "`nato_membership_score`" in markdown


def test_the_configuration_hash_follows_the_codebook_not_the_database_location():
    base = config_sha256(make_settings("sqlite:///a.db"))
    assert config_sha256(make_settings("sqlite:///elsewhere.db")) == base
    assert config_sha256(make_settings(dedupe={"title_window_days": 9.0})) != base


def test_reading_in_small_chunks_gives_the_same_rows_in_id_order(db):
    selection = make_filter(make_settings())
    with read_session(db) as session:
        whole = [r.id for r in item_rows(session, selection)]
        chunked = [r.id for r in item_rows(session, selection, chunk=2)]
        page = [r.id for r in item_rows(session, selection, after=whole[1], limit=3, chunk=2)]
    assert whole == sorted(whole) == chunked
    assert page == whole[2:5]


# ---- filters on both databases -----------------------------------------------


FILTER_CASES = [
    ({}, {0, 1, 2, 3, 4, 5, 6}),
    ({"since": "2024-01-10", "until": "2024-02-05"}, {1, 2, 3}),
    ({"topics": ["nato_membership"]}, {0, 3}),
    ({"topics": ["neutrality", "security_guarantees"]}, {1, 2}),
    ({"frames": ["guarantees_as_alternative"]}, {2}),
    ({"topics": ["nato_membership"], "frames": ["sovereign_choice"]}, {0, 3}),
    ({"min_score": 0.5}, {0, 1, 2, 3}),
    ({"topics": ["neutrality"], "min_score": 0.5}, {1}),
    ({"publishers": ["Wire 50%"]}, {2, 4, 5}),
    ({"source_types": ["government", "think_tank"]}, {0, 1, 3, 6}),
    ({"countries": ["de"]}, {3, 6}),
    ({"languages": ["de"]}, {3, 6}),
    ({"query": "UKRAINE"}, {0, 1, 2, 3}),
    ({"query": "100%"}, {5}),
    ({"query": "a_b"}, set()),  # LIKE wildcards are matched literally
    ({"query": "umbrellas"}, {5}),
]


def test_filters_select_the_same_items_on_sqlite_and_postgresql(engine):
    populate(engine)
    for given, expected in FILTER_CASES:
        selection = make_filter(make_settings(), **given)
        with read_session(engine) as session:
            titles = {row.title for row in item_rows(session, selection)}
        assert titles == {ITEMS[i][0] for i in expected}, given


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"topics": ["nato"]}, "topic: unknown value 'nato'"),
        ({"frames": ["x"]}, "frame: unknown value 'x'"),
        ({"since": "2024-13-01"}, "since: not a date YYYY-MM-DD"),
        ({"since": "2024-02-01", "until": "2024-01-01"}, "since: 2024-02-01 is after until"),
        ({"min_score": "1.5"}, "min_score: must be between 0 and 1"),
        ({"min_score": "nan"}, "min_score: must be between 0 and 1"),
        ({"source_types": ["blog"]}, "source_type: unknown value 'blog'"),
        ({"query": "  "}, "query: must not be empty"),
    ],
)
def test_bad_filters_are_refused_naming_the_parameter(given, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        make_filter(make_settings(), **given)


# ---- the command ---------------------------------------------------------------


def test_the_export_command_writes_the_file_and_both_datasheets(db, tmp_path):
    out = tmp_path / "nato.csv"
    result = run_cli(db, tmp_path, "export", "--output", str(out), "--topic", "nato_membership",
                     "--since", "2024-01-01", "--with-content")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 items (csv" in result.output
    assert out.with_name("nato.csv.datasheet.json").exists()
    assert out.with_name("nato.csv.datasheet.md").exists()
    assert not out.with_name("nato.csv.partial").exists()
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == [c.name for c in columns_for(make_settings().tagging, with_content=True)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "x.csv", "--topic", "nato"], "topic: unknown value 'nato'"),
        (["--output", "x.csv", "--since", "last week"], "since: not a date"),
        (["--output", "x.txt"], "cannot tell the format from the name"),
        (["--output", "missing/x.csv"], "does not exist"),
    ],
)
def test_the_export_command_reports_bad_arguments_in_one_line(db, tmp_path, args, message):
    args = [a if not a.endswith((".csv", ".txt")) else str(tmp_path / a) for a in args]
    result = run_cli(db, tmp_path, "export", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
