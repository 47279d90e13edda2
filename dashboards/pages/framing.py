"""Framing: for one topic, each frame's share over time, its shifts, and key events."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, callback, html

from dashboards import components as ui
from dashboards import figures, ids, queries, stats
from dashboards.context import current
from dashboards.events import events_between
from dashboards.filters import PERIODS, choice, filter_from_query, query_string

dash.register_page(
    __name__, path="/framing", name="Framing", order=1, title="Framing · Discourse Monitor"
)


def layout(**query: Any) -> html.Div:
    ctx = current()
    view = filter_from_query(query)
    return html.Div(
        [
            ui.header(
                "Framing",
                "For one topic, the share of its items carrying each frame, with 95% Wilson "
                "intervals. Diamonds mark detected shifts (binomial segmentation) with their "
                "date and size; dotted lines are key events. An item can carry several frames.",
            ),
            ui.filter_bar(
                ids.FRAMING,
                queries.filter_options(ctx.reader),
                view,
                ui.topic_radio(ids.FRAMING_TOPIC, ctx.topics, ctx.legend, query.get("topic")),
                ui.radio(
                    "Per",
                    ids.FRAMING_PERIOD,
                    [(p, p) for p in PERIODS],
                    choice(query.get("period"), PERIODS, "month"),
                ),
            ),
            ui.chart_card(ids.FRAMING_CHART, "Frame shares"),
            html.Div(id=ids.FRAMING_SHIFTS, className="card"),
        ]
    )


def shifts_by_frame(shares: pd.DataFrame) -> dict[str, list[tuple[date, float, float]]]:
    """Change points of every frame's share series, as (first day, share before, after)."""
    out: dict[str, list[tuple[date, float, float]]] = {}
    for frame, part in shares.groupby("frame", sort=True):
        part = part.sort_values("period_start")
        found = stats.change_points(part["items"].tolist(), part["total"].tolist())
        days = [d.date() for d in part["period_start"]]
        out[str(frame)] = [(days[c.index], c.before, c.after) for c in found]
    return out


@callback(
    Output(ids.FRAMING_CHART.graph, "figure"),
    Output(ids.FRAMING_CHART.data, "data"),
    Output(ids.FRAMING_SHIFTS, "children"),
    Output(ids.FRAMING.query, "data"),
    *ui.filter_inputs(ids.FRAMING),
    Input(ids.FRAMING_TOPIC, "value"),
    Input(ids.FRAMING_PERIOD, "value"),
)
def update(*values: Any) -> tuple[Any, ...]:
    ctx = current()
    view = ui.view_from(values[:6])
    topic, period = values[6], values[7]
    counts = queries.frame_counts(ctx.reader, view, topic, period)
    shares = stats.with_shares(counts) if not counts.empty else counts
    changes = shifts_by_frame(shares) if not shares.empty else {}
    if counts.empty and queries.date_span(ctx.reader)[0] is None:
        figure = figures.empty_figure(ui.EMPTY_DATABASE)
    else:
        first = shares["period_start"].min().date() if not shares.empty else view.start
        last = shares["period_start"].max().date() if not shares.empty else view.end
        figure = figures.frame_share_figure(
            shares,
            ctx.legend,
            period=period,
            changes=changes,
            events=events_between(ctx.events, view.start or first, view.end or last),
            topic_name=ctx.legend.name(topic),
        )
    return (
        figure,
        ui.chart_data(shares),
        shift_table(changes, ctx.legend),
        query_string(view, topic=topic, period=period if period != "month" else None),
    )


def shift_table(changes: dict[str, list[tuple[date, float, float]]], legend: Any) -> html.Div:
    rows = [
        html.Tr(
            [
                html.Td(legend.name(frame)),
                html.Td(day.isoformat()),
                html.Td(f"{100 * before:.1f}% → {100 * after:.1f}%"),
                html.Td(f"{100 * (after - before):+.1f} pp"),
            ]
        )
        for frame, found in changes.items()
        for day, before, after in found
    ]
    if not rows:
        return html.Div(
            [
                html.H3("Shifts"),
                html.P(
                    "No significant shift in any frame's share in this selection (a shift needs at "
                    "least 3 periods on each side and a change of 5 percentage points or more).",
                    className="hint",
                ),
            ]
        )
    head = html.Thead(html.Tr([html.Th(h) for h in ("frame", "from", "share", "size")]))
    return html.Div([html.H3("Shifts"), html.Table([head, html.Tbody(rows)], className="table")])


def items_at(point: dict[str, Any], *values: Any) -> Any:
    """The items of one frame and topic in the clicked period."""
    ctx = current()
    frame, topic, period = point["customdata"][0], values[6], values[7]
    start = ui.point_day(point)
    items = queries.items_behind(
        ctx.reader, ui.view_from(values[:6]), labels=(topic, frame), period=period, start=start
    )
    heading = f"{ctx.legend.name(topic)} · {ctx.legend.name(frame)} · {period} of {start}"
    return ui.item_list(items, ctx.legend, heading=heading)


ui.register_drill(
    ids.FRAMING_CHART,
    [
        *ui.filter_states(ids.FRAMING),
        State(ids.FRAMING_TOPIC, "value"),
        State(ids.FRAMING_PERIOD, "value"),
    ],
    items_at,
)
ui.register_csv(ids.FRAMING_CHART, "frame_shares.csv")
ui.register_url_sync(ids.FRAMING)
