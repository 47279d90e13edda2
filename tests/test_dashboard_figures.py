"""Figure functions, URL state and the app factory, without a browser."""

from __future__ import annotations

import sys
from datetime import date
from urllib.parse import parse_qs

import pandas as pd
import pytest
from flask import Blueprint
from sqlalchemy import select

from dashboards import figures, stats
from dashboards.app import create_app
from dashboards.components import chart_data, data_csv
from dashboards.events import DEFAULT_EVENTS, KeyEvent, events_between, key_events
from dashboards.filters import ViewFilter, filter_from_query, query_string
from monitor.store.models import AnalystLabel
from tests.conftest import make_settings

LEGEND = figures.Legend(
    names={
        "nato_membership": "NATO membership",
        "neutrality": "Neutrality",
        "sovereign_choice": "Sovereign choice",
        "factual_report": "Factual report",
    },
    colors={
        "nato_membership": "#0072B2",
        "neutrality": "#009E73",
        "sovereign_choice": "#0072B2",
        "factual_report": "#999999",
    },
)
WEEKS = pd.to_datetime(["2022-01-03", "2022-01-10", "2022-01-17"])


def attention() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period_start": list(WEEKS) * 2,
            "topic": ["nato_membership"] * 3 + ["neutrality"] * 3,
            "items": [6, 3, 0, 3, 3, 3],
            "total": [15, 15, 10, 15, 15, 10],
        }
    )


def test_topic_trend_draws_one_line_per_topic_in_its_own_colour():
    fig = figures.topic_trend_figure(attention(), LEGEND, measure="count", period="week")
    assert [t.name for t in fig.data] == ["NATO membership", "Neutrality"]
    assert [t.line.color for t in fig.data] == ["#0072B2", "#009E73"]
    assert list(fig.data[0].y) == [6, 3, 0]
    assert fig.data[0].customdata[0][0] == "nato_membership"
    assert fig.layout.xaxis.tickformat == "%Y-%m-%d"
    assert fig.layout.yaxis.title.text == "items per week"


def test_topic_trend_as_share_is_percent_of_all_items():
    fig = figures.topic_trend_figure(attention(), LEGEND, measure="share", period="month")
    assert list(fig.data[0].y) == pytest.approx([40.0, 20.0, 0.0])
    assert fig.layout.yaxis.ticksuffix == "%"
    assert "% of all items per month" in fig.layout.yaxis.title.text
    assert "%{customdata[1]:,} items" in fig.data[0].hovertemplate


def test_frame_share_figure_has_a_band_and_a_line_per_frame_shifts_and_events():
    counts = pd.DataFrame(
        {
            "period_start": list(WEEKS) * 2,
            "frame": ["sovereign_choice"] * 3 + ["factual_report"] * 3,
            "items": [6, 3, 3, 0, 3, 3],
            "total": [6, 6, 6, 6, 6, 6],
        }
    )
    shares = stats.with_shares(counts)
    fig = figures.frame_share_figure(
        shares,
        LEGEND,
        period="week",
        changes={"sovereign_choice": [(date(2022, 1, 10), 1.0, 0.5)]},
        events=[KeyEvent(date(2022, 1, 12), "Talks")],
    )
    bands = [t for t in fig.data if t.fill == "toself"]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(bands) == len(lines) == 2
    sovereign = next(t for t in lines if t.name == "Sovereign choice")
    assert sovereign.line.color == "#0072B2"
    assert list(sovereign.y) == pytest.approx([100.0, 50.0, 50.0])
    band = next(t for t in bands if t.legendgroup == "sovereign_choice")
    assert band.fillcolor == "rgba(0,114,178,0.08)" and band.mode == "lines"
    # every band lies under every line
    order = list(fig.data)
    assert max(order.index(b) for b in bands) < min(order.index(t) for t in lines)
    texts = [a.text for a in fig.layout.annotations]
    assert "2022-01-10 -50 pp" in texts
    assert "Talks" in texts
    assert len(fig.layout.shapes) == 1


def test_empty_figures_say_what_to_do_instead_of_drawing_axes():
    fig = figures.empty_figure("No items yet: run `monitor up`.")
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert fig.layout.annotations[0].text == "No items yet: run `monitor up`."
    empty = figures.topic_trend_figure(
        attention().iloc[0:0], LEGEND, measure="count", period="week"
    )
    assert empty.data == ()
    assert "No tagged items" in empty.layout.annotations[0].text


def test_compare_heatmap_shows_percent_of_each_groups_items():
    mix = pd.DataFrame(
        {
            "group": ["Kremlin", "Kremlin", "NATO"],
            "frame": ["sovereign_choice", "factual_report", "sovereign_choice"],
            "items": [1, 3, 2],
            "total": [4, 4, 2],
        }
    )
    fig = figures.compare_heatmap(mix, LEGEND)
    heat = fig.data[0]
    assert list(heat.x) == ["Factual report", "Sovereign choice"]
    assert list(heat.y) == ["Kremlin (n=4)", "NATO (n=2)"]
    assert heat.z[0].tolist() == [75.0, 25.0]
    assert heat.customdata[1][1][:2] == ["NATO", "sovereign_choice"]


def test_small_multiples_share_colours_and_list_each_frame_once_in_the_legend():
    rows = [
        (g, w, f, 1, 2)
        for g in ("A", "B", "C")
        for w in WEEKS
        for f in ("sovereign_choice", "factual_report")
    ]
    df = pd.DataFrame(rows, columns=["group", "period_start", "frame", "items", "total"])
    fig = figures.compare_small_multiples(df, LEGEND, period="week")
    assert len(fig.data) == 6
    assert sum(1 for t in fig.data if t.showlegend) == 2
    assert {t.line.color for t in fig.data if t.legendgroup == "sovereign_choice"} == {"#0072B2"}
    assert [a.text for a in fig.layout.annotations] == ["A", "B", "C"]


def test_log_odds_figure_puts_each_side_in_its_own_colour():
    top = pd.DataFrame(
        {
            "term": ["accession", "escalation"],
            "count_a": [9, 0],
            "count_b": [0, 9],
            "delta": [1.0, -1.0],
            "z": [3.0, -3.0],
            "side": ["A", "B"],
        }
    )
    fig = figures.log_odds_figure(top, side_a="A (2021)", side_b="B (2022)")
    assert [t.name for t in fig.data] == ["typical of B (2022)", "typical of A (2021)"]
    assert list(fig.data[1].y) == ["accession"]


def test_theme_trend_figure_keys_points_by_theme_id():
    df = pd.DataFrame(
        {"period_start": WEEKS, "theme_id": [4, 4, 4], "label": ["door"] * 3, "items": [1, 2, 3]}
    )
    fig = figures.theme_trend_figure(df, period="week")
    assert fig.data[0].customdata[0].tolist() == [4, "door"]


def test_labels_without_a_configured_colour_get_a_stable_okabe_ito_colour():
    legend = figures.Legend()
    assert legend.color("custom_frame") == legend.color("custom_frame")
    assert legend.color("custom_frame") in figures.OKABE_ITO
    assert legend.name("custom_frame") == "Custom frame"


def test_filter_state_survives_the_round_trip_through_the_query_string():
    view = ViewFilter(
        start=date(2022, 2, 24),
        end=date(2022, 12, 31),
        source_types=("government", "media"),
        countries=("UA",),
        languages=("uk",),
        publishers=("President of Ukraine",),
    )
    search = query_string(view, topic="neutrality", period=None)
    assert search.startswith(
        "?start=2022-02-24&end=2022-12-31&source_types=government&source_types=media"
    )
    assert "period" not in search
    # what Dash's page router hands to layout(): one value as a string, repeats as a list
    parsed = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(search[1:]).items()}
    assert filter_from_query(parsed) == view


def test_bad_values_in_a_shared_link_fall_back_to_defaults():
    assert filter_from_query({"start": "not a day", "countries": ""}) == ViewFilter()


def test_chart_data_downloads_as_csv_with_iso_days():
    csv = data_csv(chart_data(attention().head(1)))
    assert csv.splitlines() == ["period_start,topic,items,total", "2022-01-03,nato_membership,6,15"]


def test_key_events_default_to_the_codebook_dates_and_accept_an_override():
    assert DEFAULT_EVENTS[0] == KeyEvent(date(2008, 4, 3), "Bucharest summit")
    assert date(2022, 2, 24) in {e.day for e in DEFAULT_EVENTS}
    custom = key_events([{"date": "2023-07-11", "label": "Vilnius"}, ("2008-04-03", "Bucharest")])
    assert [e.label for e in custom] == ["Bucharest", "Vilnius"]
    assert [e.label for e in events_between(custom, date(2020, 1, 1), None)] == ["Vilnius"]


def test_create_app_serves_every_page_on_a_flask_server_that_takes_blueprints(sqlite_engine):
    app = create_app(make_settings(str(sqlite_engine.url)), sqlite_engine)
    extra = Blueprint("extra", __name__)
    extra.add_url_rule("/ping", "ping", lambda: "pong")
    app.server.register_blueprint(extra)
    client = app.server.test_client()
    for path in (
        "/",
        "/framing",
        "/changed",
        "/compare",
        "/themes",
        "/items",
        "/sources",
        "/alerts",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/ping").data == b"pong"


def test_page_callbacks_compose_query_statistics_and_figure(sqlite_engine):
    from tests.conftest import seed_dashboard

    seed_dashboard(sqlite_engine)
    app = create_app(make_settings(str(sqlite_engine.url)), sqlite_engine)
    framing = sys.modules["dashboards.pages.framing"]
    items = sys.modules["dashboards.pages.items"]
    with app.server.test_request_context("/"):
        _figure, data, shifts, search = framing.update(
            None, None, ["government"], [], [], [], "nato_membership", "week"
        )
        assert search == "?source_types=government&topic=nato_membership&period=week"
        assert "2022-03-28" in str(shifts) and "+50.0 pp" in str(shifts)
        assert data["columns"][:4] == ["period_start", "frame", "items", "total"]
        message = items.save(1, 5, "neutrality", "applies", "Dana", "")
        assert "Stored" in str(message)
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(AnalystLabel.analyst, AnalystLabel.kind)).one() == (
            "Dana",
            "topic",
        )


def test_pages_show_an_honest_empty_state_before_any_data(sqlite_engine):
    app = create_app(make_settings(str(sqlite_engine.url)), sqlite_engine)
    overview = sys.modules["dashboards.pages.overview"]
    with app.server.test_request_context("/"):
        figure, _data, _latest, health, _search = overview.update(*[None] * 6, "week", "count")
    assert "monitor up" in figure.layout.annotations[0].text
    assert "No feeds yet" in str(health)
