"""Overview: how much each topic is discussed, the newest on-topic items, feed health."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, html

from dashboards import components as ui
from dashboards import figures, ids, queries
from dashboards.context import current
from dashboards.filters import PERIODS, choice, filter_from_query, query_string

dash.register_page(
    __name__, path="/", name="Overview", order=0, title="Overview · Discourse Monitor"
)

MEASURES = (("count", "items"), ("share", "% of all items"))


def layout(**query: Any) -> html.Div:
    ctx = current()
    view = filter_from_query(query)
    return html.Div(
        [
            ui.header(
                "Overview",
                "How much each topic is discussed: items per period, or their share of all "
                "items from the same sources (attention). Click a point for its items.",
            ),
            ui.filter_bar(
                ids.OVERVIEW,
                queries.filter_options(ctx.reader),
                view,
                ui.radio(
                    "Per",
                    ids.OVERVIEW_PERIOD,
                    [(p, p) for p in PERIODS],
                    choice(query.get("period"), PERIODS, "week"),
                ),
                ui.radio(
                    "Show",
                    ids.OVERVIEW_MEASURE,
                    MEASURES,
                    choice(query.get("measure"), ("count", "share"), "count"),
                ),
            ),
            ui.chart_card(ids.OVERVIEW_TOPICS, "Topics over time"),
            html.Div(
                [
                    html.Div(id=ids.OVERVIEW_LATEST, className="card half"),
                    html.Div(id=ids.OVERVIEW_HEALTH, className="card half"),
                ],
                className="row",
            ),
        ]
    )


@callback(
    Output(ids.OVERVIEW_TOPICS.graph, "figure"),
    Output(ids.OVERVIEW_TOPICS.data, "data"),
    Output(ids.OVERVIEW_LATEST, "children"),
    Output(ids.OVERVIEW_HEALTH, "children"),
    Output(ids.OVERVIEW.query, "data"),
    *ui.filter_inputs(ids.OVERVIEW),
    Input(ids.OVERVIEW_PERIOD, "value"),
    Input(ids.OVERVIEW_MEASURE, "value"),
)
def update(*values: Any) -> tuple[Any, ...]:
    ctx = current()
    view = ui.view_from(values[:6])
    period, measure = values[6], values[7]
    attention = queries.topic_attention(ctx.reader, view, period, ctx.topics)
    if attention.empty and queries.date_span(ctx.reader)[0] is None:
        figure = figures.empty_figure(ui.EMPTY_DATABASE)
    else:
        figure = figures.topic_trend_figure(attention, ctx.legend, measure=measure, period=period)
    latest = ui.item_list(
        queries.latest_on_topic(ctx.reader, view, limit=10, topics=ctx.topics),
        ctx.legend,
        heading="Latest on-topic items",
        empty="No on-topic items in this selection yet.",
    )
    return (
        figure,
        ui.chart_data(attention),
        latest,
        health_summary(queries.feed_health(ctx.reader)),
        query_string(
            view,
            period=period if period != "week" else None,
            measure=measure if measure != "count" else None,
        ),
    )


def health_summary(health: Any) -> html.Div:
    if health.empty:
        return html.Div(
            [
                html.H3("Feed health"),
                ui.empty_state(
                    "No feeds yet: run `monitor up` to load the configured "
                    "feeds and start fetching."
                ),
            ]
        )
    enabled = health[health["enabled"]]
    total = int(health["feeds"].sum())
    by_status = enabled.groupby("status")["feeds"].sum().sort_values(ascending=False)
    disabled = int(health.loc[~health["enabled"], "feeds"].sum())
    tiles = [html.Div([html.Strong(f"{total:,}"), html.Span(" feeds")], className="tile")]
    tiles += [
        html.Div(
            [html.Strong(f"{int(n):,}"), html.Span(f" {status}")], className=f"tile status-{status}"
        )
        for status, n in by_status.items()
    ]
    if disabled:
        tiles.append(
            html.Div(
                [html.Strong(f"{disabled:,}"), html.Span(" disabled")],
                className="tile status-disabled",
            )
        )
    return html.Div(
        [
            html.H3("Feed health"),
            html.Div(tiles, className="tiles"),
            dash.dcc.Link("Every feed with its status line →", href="/sources"),
        ]
    )


def items_at(point: dict[str, Any], *values: Any) -> Any:
    """The items of one topic in the clicked period."""
    ctx = current()
    topic, period = point["customdata"][0], values[6]
    start = ui.point_day(point)
    items = queries.items_behind(
        ctx.reader, ui.view_from(values[:6]), labels=(topic,), period=period, start=start
    )
    return ui.item_list(
        items, ctx.legend, heading=f"{ctx.legend.name(topic)} · {period} of {start.isoformat()}"
    )


ui.register_drill(
    ids.OVERVIEW_TOPICS,
    [*ui.filter_states(ids.OVERVIEW), State(ids.OVERVIEW_PERIOD, "value")],
    items_at,
)
ui.register_csv(ids.OVERVIEW_TOPICS, "topics_over_time.csv")
ui.register_url_sync(ids.OVERVIEW)
