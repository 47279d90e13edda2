"""Sources: every feed with how it fares (status line, last success, failures, output)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, callback, dash_table, html

from dashboards import components as ui
from dashboards import ids, queries
from dashboards.context import current
from dashboards.filters import as_tuple, query_string

dash.register_page(
    __name__, path="/sources", name="Sources", order=6, title="Sources · Discourse Monitor"
)

COLUMNS = (
    ("publisher", "publisher"),
    ("source_type", "type"),
    ("country", "country"),
    ("language", "lang."),
    ("status", "status"),
    ("status_line", "status line"),
    ("last_success", "last success (UTC)"),
    ("failure_score", "failure score"),
    ("consecutive_failures", "failures in a row"),
    ("items_per_week", "items / week (4 wk)"),
    ("next_check", "next check (UTC)"),
    ("enabled", "on"),
    ("url", "feed URL"),
)
STATUSES = ("new", "ok", "error", "gone", "rate_limited", "not_modified", "disabled")


def layout(**query: Any) -> html.Div:
    chosen = list(as_tuple(query.get("status")))
    return html.Div(
        [
            ui.header(
                "Sources",
                "Every configured feed: how its last fetch went, when it last "
                "succeeded, its weighted failure score, what it published per week over "
                "the last four weeks, and when it is checked next.",
            ),
            html.Div(
                [
                    ui.control(
                        "Status",
                        dash.dcc.Dropdown(
                            id=ids.SOURCES_STATUS,
                            multi=True,
                            value=chosen,
                            placeholder="all",
                            options=[{"label": s, "value": s} for s in STATUSES],
                        ),
                    ),
                    dash.dcc.Store(id=ids.SOURCES.query),
                ],
                className="filters",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.H2("Feeds"),
                            html.Button(
                                "Download CSV",
                                id=ids.SOURCES_DATA.csv_button,
                                className="button small",
                            ),
                        ],
                        className="card-head",
                    ),
                    html.Div(id=ids.SOURCES_TABLE),
                    dash.dcc.Store(id=ids.SOURCES_DATA.data),
                    dash.dcc.Download(id=ids.SOURCES_DATA.download),
                ],
                className="card",
            ),
        ]
    )


@callback(
    Output(ids.SOURCES_TABLE, "children"),
    Output(ids.SOURCES_DATA.data, "data"),
    Output(ids.SOURCES.query, "data"),
    Input(ids.SOURCES_STATUS, "value"),
)
def update(statuses: list[str] | None) -> tuple[Any, ...]:
    ctx = current()
    feeds = queries.feed_table(ctx.reader, datetime.now(UTC))
    if statuses:
        wanted = set(statuses)
        feeds = feeds[
            feeds["status"].isin(wanted) | (("disabled" in wanted) & ~feeds["enabled"].astype(bool))
        ]
    if feeds.empty:
        message = (
            "No feeds with this status."
            if statuses
            else "No feeds yet: run `monitor up` (or `monitor init`) to load the configured feeds."
        )
        return ui.empty_state(message), ui.chart_data(feeds), query_string(status=statuses)
    shown = feeds.assign(
        last_success=[ui.iso_minute(v) for v in feeds["last_success_at"]],
        next_check=[ui.iso_minute(v) for v in feeds["next_check_at"]],
        enabled=["yes" if v else "no" for v in feeds["enabled"]],
        failure_score=feeds["failure_score"].round(1),
    ).drop(columns=["last_success_at", "next_check_at"])
    table = dash_table.DataTable(
        data=shown.to_dict("records"),
        columns=[{"name": name, "id": key} for key, name in COLUMNS],
        sort_action="native",
        filter_action="native",
        page_size=50,
        style_cell={
            "textAlign": "left",
            "whiteSpace": "normal",
            "maxWidth": "320px",
            "fontSize": "13px",
        },
        style_data_conditional=[
            {"if": {"filter_query": '{status} = "error"'}, "backgroundColor": "#fdf0e6"},
            {"if": {"filter_query": '{enabled} = "no"'}, "color": "#777"},
        ],
        style_as_list_view=True,
    )
    return table, ui.chart_data(shown), query_string(status=statuses)


ui.register_csv(ids.SOURCES_DATA, "feeds.csv")
ui.register_url_sync(ids.SOURCES)
