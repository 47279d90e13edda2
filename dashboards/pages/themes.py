"""Themes: the sub-themes `monitor themes` found among on-topic items, and their trends."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html

from dashboards import components as ui
from dashboards import figures, ids, queries
from dashboards.context import current
from dashboards.filters import (
    PERIODS,
    ViewFilter,
    choice,
    filter_from_query,
    parse_day,
    query_string,
)

dash.register_page(
    __name__, path="/themes", name="Themes", order=4, title="Themes · Discourse Monitor"
)


def layout(**query: Any) -> html.Div:
    view = filter_from_query(query)
    return html.Div(
        [
            ui.header(
                "Themes",
                "Sub-themes discovered among on-topic items (NMF over TF-IDF, refitted by "
                "`monitor themes`), with their top terms and how many items each week or month "
                "have the theme as their main one.",
            ),
            html.Div(
                [
                    ui.control(
                        "Week starting",
                        dcc.DatePickerRange(
                            id=ids.THEMES.dates,
                            display_format="YYYY-MM-DD",
                            clearable=True,
                            start_date=view.start.isoformat() if view.start else None,
                            end_date=view.end.isoformat() if view.end else None,
                        ),
                    ),
                    ui.radio(
                        "Per",
                        ids.THEMES_PERIOD,
                        [(p, p) for p in PERIODS],
                        choice(query.get("period"), PERIODS, "week"),
                    ),
                    dcc.Store(id=ids.THEMES.query),
                ],
                className="filters",
            ),
            ui.chart_card(ids.THEMES_CHART, "Themes over time"),
            html.Div(id=ids.THEMES_TABLE, className="card"),
        ]
    )


@callback(
    Output(ids.THEMES_CHART.graph, "figure"),
    Output(ids.THEMES_CHART.data, "data"),
    Output(ids.THEMES_TABLE, "children"),
    Output(ids.THEMES.query, "data"),
    Input(ids.THEMES.dates, "start_date"),
    Input(ids.THEMES.dates, "end_date"),
    Input(ids.THEMES_PERIOD, "value"),
)
def update(start: Any, end: Any, period: str) -> tuple[Any, ...]:
    ctx = current()
    view = ViewFilter(start=parse_day(start), end=parse_day(end))
    table = queries.theme_table(ctx.reader)
    trends = queries.theme_trends(ctx.reader, view, period)
    if table.empty and queries.date_span(ctx.reader)[0] is None:
        figure = figures.empty_figure(ui.EMPTY_DATABASE)
    else:
        figure = figures.theme_trend_figure(trends, period=period)
    if table.empty:
        listing: Any = ui.empty_state(
            "No themes yet. Once items are tagged, run `monitor themes` to discover them."
        )
    else:
        listing = dash_table.DataTable(
            data=table.to_dict("records"),
            columns=[
                {"name": "#", "id": "position"},
                {"name": "theme", "id": "label"},
                {"name": "top terms", "id": "top_terms"},
                {"name": "items", "id": "items", "type": "numeric", "format": {"specifier": ",d"}},
            ],
            sort_action="native",
            style_cell={"textAlign": "left", "whiteSpace": "normal"},
            style_as_list_view=True,
        )
    state = query_string(view, period=period if period != "week" else None)
    return figure, ui.chart_data(trends), html.Div([html.H3("Themes"), listing]), state


def items_at(point: dict[str, Any], period: str) -> Any:
    """The items whose main theme is the clicked one, in the clicked period."""
    ctx = current()
    theme_id, label = int(point["customdata"][0]), point["customdata"][1]
    start = ui.point_day(point)
    items = queries.items_behind(
        ctx.reader, ViewFilter(), theme_id=theme_id, period=period, start=start
    )
    return ui.item_list(items, ctx.legend, heading=f"{label} · {period} of {start}")


ui.register_drill(ids.THEMES_CHART, [State(ids.THEMES_PERIOD, "value")], items_at)
ui.register_csv(ids.THEMES_CHART, "themes_over_time.csv")
ui.register_url_sync(ids.THEMES)
