"""Dashboard queries on SQLite and PostgreSQL against seeded data with known answers.

The seed (tests/conftest.py, `seed_dashboard`): 24 weeks from 2022-01-03, three
publishers, each week each publishes 2 NATO-membership items, 1 neutrality item
and 2 off-topic items; from week 12 on, one NATO item a week per publisher is
framed `enlargement_provocation` instead of `sovereign_choice`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, insert, select, text

from dashboards import queries
from dashboards.filters import ViewFilter
from monitor.store.models import AnalystLabel, ItemTheme, Theme, ThemeCount
from monitor.store.session import make_engine, upgrade
from tests.conftest import (
    DASHBOARD_SHIFT_WEEK,
    DASHBOARD_WEEKS,
    POSTGRES_ADMIN_URL,
    require_postgres,
    seed_dashboard,
)

ALL = ViewFilter()
SHIFT_MONDAY = pd.Timestamp("2022-03-28")  # week 12


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The seeded data, built once per backend for the read-only tests of this module."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("dashboard") / "monitor.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        seed_dashboard(engine)
        yield engine
        engine.dispose()
        return
    require_postgres()
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade(engine)
        seed_dashboard(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_topic_attention_counts_items_per_topic_and_all_items_per_week(seeded):
    table = queries.topic_attention(seeded, ALL, "week")
    nato = table[table["topic"] == "nato_membership"]
    assert len(nato) == DASHBOARD_WEEKS
    assert set(nato["items"]) == {6}
    assert set(nato["total"]) == {15}
    assert nato["period_start"].iloc[0] == pd.Timestamp("2022-01-03")
    assert set(table[table["topic"] == "neutrality"]["items"]) == {3}


def test_topic_attention_rolls_weeks_up_into_calendar_months(seeded):
    table = queries.topic_attention(seeded, ALL, "month").set_index(["period_start", "topic"])
    # January 2022 holds the weeks of the 3rd, 10th, 17th, 24th and 31st
    assert table.loc[(pd.Timestamp("2022-01-01"), "nato_membership"), "items"] == 30
    assert table.loc[(pd.Timestamp("2022-01-01"), "nato_membership"), "total"] == 75


@pytest.mark.parametrize(
    ("view", "per_week"),
    [
        (ViewFilter(source_types=("think_tank",)), 2),
        (ViewFilter(countries=("RU", "UA")), 4),
        (ViewFilter(languages=("uk",)), 2),
        (ViewFilter(publishers=("Kremlin",)), 2),
        (ViewFilter(source_types=("government",), countries=("UA",)), 2),
    ],
)
def test_filters_narrow_the_counted_sources(seeded, view, per_week):
    nato = queries.topic_counts(seeded, view, "week")
    assert set(nato[nato["topic"] == "nato_membership"]["items"]) == {per_week}


def test_date_range_keeps_whole_days_at_both_ends(seeded):
    view = ViewFilter(start=date(2022, 1, 10), end=date(2022, 1, 17))
    table = queries.topic_counts(seeded, view, "week")
    assert sorted(set(table["period_start"])) == [
        pd.Timestamp("2022-01-10"),
        pd.Timestamp("2022-01-17"),
    ]


def test_frame_counts_give_each_frames_items_among_the_topics_items(seeded):
    table = queries.frame_counts(seeded, ALL, "nato_membership", "week")
    assert set(table["frame"]) == {"sovereign_choice", "enlargement_provocation"}
    assert set(table["total"]) == {6}
    by = table.set_index(["frame", "period_start"])["items"]
    assert by[("sovereign_choice", pd.Timestamp("2022-01-03"))] == 6
    assert by[("sovereign_choice", SHIFT_MONDAY)] == 3
    # present with zero items before the shift, so the share series has no holes
    assert by[("enlargement_provocation", pd.Timestamp("2022-01-03"))] == 0
    assert by[("enlargement_provocation", SHIFT_MONDAY)] == 3


def test_frame_counts_of_an_unused_topic_are_empty(seeded):
    assert queries.frame_counts(seeded, ALL, "security_guarantees", "week").empty


def test_frame_by_group_gives_every_groups_frame_mix(seeded):
    table = queries.frame_by_group(seeded, ALL, "nato_membership", "publisher")
    kremlin = table[table["group"] == "Kremlin"].set_index("frame")
    assert kremlin.loc["sovereign_choice", "items"] == 2 * DASHBOARD_WEEKS - (
        DASHBOARD_WEEKS - DASHBOARD_SHIFT_WEEK
    )
    assert kremlin.loc["enlargement_provocation", "items"] == DASHBOARD_WEEKS - DASHBOARD_SHIFT_WEEK
    assert set(table["total"]) == {2 * DASHBOARD_WEEKS}
    by_type = queries.frame_by_group(seeded, ALL, "nato_membership", "source_type")
    assert by_type.groupby("group")["total"].first().to_dict() == {
        "government": 96,
        "think_tank": 48,
    }


def test_frame_by_group_over_time_has_one_series_per_chosen_group(seeded):
    table = queries.frame_by_group_over_time(
        seeded, ALL, "nato_membership", "country", ["RU", "DE"], "month"
    )
    assert set(table["group"]) == {"RU", "DE"}
    ru_jan = table[(table["group"] == "RU") & (table["period_start"] == pd.Timestamp("2022-01-01"))]
    assert set(ru_jan["total"]) == {10}


def test_items_behind_a_point_are_that_periods_items_with_every_label(seeded):
    items = queries.items_behind(
        seeded,
        ALL,
        labels=("nato_membership", "enlargement_provocation"),
        period="week",
        start=SHIFT_MONDAY.date(),
    )
    assert len(items) == 3
    assert all("enlargement_provocation" in labels for labels in items["labels"])
    assert {d.date() for d in items["published_at"]} == {SHIFT_MONDAY.date()}
    assert items["link"].str.startswith("https://example.org/").all()


def test_items_behind_respect_the_filter_inside_the_period(seeded):
    items = queries.items_behind(
        seeded,
        ViewFilter(publishers=("Kremlin",)),
        labels=("nato_membership",),
        period="month",
        start=date(2022, 1, 1),
    )
    assert len(items) == 10
    assert set(items["publisher"]) == {"Kremlin"}


def test_latest_on_topic_lists_newest_on_topic_items_with_their_topics(seeded):
    items = queries.latest_on_topic(seeded, ALL, limit=5)
    assert len(items) == 5
    assert list(items["published_at"]) == sorted(items["published_at"], reverse=True)
    assert all(labels in {"nato_membership", "neutrality"} for labels in items["labels"])


def test_search_requires_every_word_in_title_or_summary(seeded):
    found = queries.search_items(seeded, ALL, text="ESCALATION kremlin", limit=500)
    assert len(found) == 2 * (DASHBOARD_WEEKS - DASHBOARD_SHIFT_WEEK)
    assert set(found["publisher"]) == {"Kremlin"}
    assert queries.search_items(seeded, ALL, text="100%").empty


def test_search_pages_and_label_filters(seeded):
    first = queries.search_items(seeded, ALL, labels=("neutrality",), limit=10)
    second = queries.search_items(seeded, ALL, labels=("neutrality",), offset=10, limit=10)
    assert len(first) == len(second) == 10
    assert not set(first["id"]) & set(second["id"])
    assert first["published_at"].min() >= second["published_at"].max()


def test_text_sample_is_bounded_and_newest_first(seeded):
    sample = queries.text_sample(seeded, ALL, "nato_membership", limit=7)
    assert len(sample) == 7
    assert sample["title"].str.contains("escalation").all()
    assert list(sample["published_at"]) == sorted(sample["published_at"], reverse=True)


def test_store_correction_keeps_who_and_when_and_item_detail_shows_it(dashboard_engine):
    when = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    queries.store_correction(
        dashboard_engine,
        item_id=1,
        kind="frame",
        label="sovereign_choice",
        applies=False,
        analyst=" Dana ",
        note="reports, does not argue",
        now=when,
    )
    with dashboard_engine.connect() as conn:
        row = conn.execute(select(AnalystLabel)).one()
    assert (row.item_id, row.label, row.applies, row.analyst) == (
        1,
        "sovereign_choice",
        False,
        "Dana",
    )
    assert row.created_at == when
    detail = queries.item_detail(dashboard_engine, 1)
    assert detail["corrections"]["analyst"].tolist() == ["Dana"]
    tags = detail["tags"].set_index("label")
    assert len(tags) == 12
    assert bool(tags.loc["nato_membership", "is_positive"])
    assert tags.loc["nato_membership", "evidence"][0]["text"] == "join NATO"


def test_store_correction_refuses_an_anonymous_correction(dashboard_engine):
    with pytest.raises(ValueError, match="who"):
        queries.store_correction(
            dashboard_engine,
            item_id=1,
            kind="topic",
            label="neutrality",
            applies=True,
            analyst="  ",
        )


def test_feed_table_lists_every_feed_with_items_per_week(seeded):
    feeds = queries.feed_table(seeded, datetime(2022, 6, 20, tzinfo=UTC))
    assert feeds["publisher"].tolist() == ["Example Institute", "Kremlin", "President of Ukraine"]
    # the four weeks before 2022-06-20 hold weeks 20–23: 5 items each
    assert set(feeds["items_per_week"]) == {5.0}
    assert (
        feeds.set_index("publisher").loc["Example Institute", "status_line"].startswith("HTTP 503")
    )


def test_feed_health_counts_feeds_per_status(seeded):
    health = queries.feed_health(seeded)
    assert dict(zip(health["status"], health["feeds"], strict=True)) == {"ok": 2, "error": 1}


def test_filter_options_and_date_span_come_from_the_store(seeded):
    options = queries.filter_options(seeded)
    assert options["source_types"] == ["government", "think_tank"]
    assert options["languages"] == ["en", "ru", "uk"]
    assert queries.date_span(seeded) == (date(2022, 1, 3), date(2022, 6, 13))


def test_theme_queries_read_the_latest_fit(dashboard_engine):
    now = datetime(2022, 7, 1, tzinfo=UTC)
    with dashboard_engine.begin() as conn:
        conn.execute(
            insert(Theme).values(
                id=1,
                fit_id="f",
                position=0,
                label="door, open",
                top_terms=[["door", 0.5], ["open", 0.3]],
                items=2,
                fitted_at=now,
            )
        )
        conn.execute(
            insert(ThemeCount),
            [
                {"theme_id": 1, "period_start": datetime(2022, 1, 3, tzinfo=UTC), "items": 1},
                {"theme_id": 1, "period_start": datetime(2022, 1, 10, tzinfo=UTC), "items": 1},
            ],
        )
        conn.execute(insert(ItemTheme), [{"item_id": 1, "theme_id": 1, "weight": 0.9}])
    assert queries.theme_table(dashboard_engine)["top_terms"].tolist() == ["door, open"]
    monthly = queries.theme_trends(dashboard_engine, ALL, "month")
    assert monthly[["period_start", "items"]].values.tolist() == [[pd.Timestamp("2022-01-01"), 2]]
    behind = queries.items_behind(
        dashboard_engine, ALL, theme_id=1, period="week", start=date(2022, 1, 3)
    )
    assert behind["id"].tolist() == [1]


def test_every_query_answers_an_empty_database_with_an_empty_table(engine):
    assert queries.topic_attention(engine, ALL, "week").empty
    assert queries.frame_counts(engine, ALL, "neutrality", "month").empty
    assert queries.frame_by_group(engine, ALL, "neutrality", "country").empty
    assert queries.latest_on_topic(engine, ALL).empty
    assert queries.search_items(engine, ALL, text="nato").empty
    assert queries.feed_table(engine, datetime.now(UTC)).empty
    assert queries.theme_trends(engine, ALL, "week").empty
    assert queries.date_span(engine) == (None, None)
    assert queries.item_detail(engine, 1) is None
