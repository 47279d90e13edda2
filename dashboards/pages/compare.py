"""Compare: a topic's frame mix side by side across source groups."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, html

from dashboards import components as ui
from dashboards import figures, ids, queries
from dashboards.context import current
from dashboards.filters import PERIODS, choice, filter_from_query, query_string

dash.register_page(
    __name__, path="/compare", name="Compare", order=3, title="Compare · Discourse Monitor"
)

#: panels in the small multiples: the groups with the most items of the topic
MAX_PANELS = 6


def layout(**query: Any) -> html.Div:
    ctx = current()
    view = filter_from_query(query)
    return html.Div(
        [
            ui.header(
                "Compare",
                "How each source group frames a topic: the share of the topic's items carrying "
                "each frame, per group (heatmap), and over time for the largest groups.",
            ),
            ui.filter_bar(
                ids.COMPARE,
                queries.filter_options(ctx.reader),
                view,
                ui.topic_radio(ids.COMPARE_TOPIC, ctx.topics, ctx.legend, query.get("topic")),
                ui.radio(
                    "Groups",
                    ids.COMPARE_GROUP_BY,
                    ui.GROUP_BY,
                    choice(query.get("group_by"), [g for g, _ in ui.GROUP_BY], "source_type"),
                ),
                ui.radio(
                    "Per",
                    ids.COMPARE_PERIOD,
                    [(p, p) for p in PERIODS],
                    choice(query.get("period"), PERIODS, "month"),
                ),
            ),
            ui.chart_card(ids.COMPARE_HEATMAP, "Frame mix per group"),
            ui.chart_card(ids.COMPARE_MULTIPLES, f"Over time, the {MAX_PANELS} largest groups"),
        ]
    )


@callback(
    Output(ids.COMPARE_HEATMAP.graph, "figure"),
    Output(ids.COMPARE_HEATMAP.data, "data"),
    Output(ids.COMPARE_MULTIPLES.graph, "figure"),
    Output(ids.COMPARE_MULTIPLES.data, "data"),
    Output(ids.COMPARE.query, "data"),
    *ui.filter_inputs(ids.COMPARE),
    Input(ids.COMPARE_TOPIC, "value"),
    Input(ids.COMPARE_GROUP_BY, "value"),
    Input(ids.COMPARE_PERIOD, "value"),
)
def update(*values: Any) -> tuple[Any, ...]:
    ctx = current()
    view = ui.view_from(values[:6])
    topic, group_by, period = values[6:]
    mix = queries.frame_by_group(ctx.reader, view, topic, group_by)
    largest = list(dict.fromkeys(mix["group"]))[:MAX_PANELS]
    over_time = queries.frame_by_group_over_time(ctx.reader, view, topic, group_by, largest, period)
    if mix.empty and queries.date_span(ctx.reader)[0] is None:
        heat = multiples = figures.empty_figure(ui.EMPTY_DATABASE)
    else:
        heat = figures.compare_heatmap(mix, ctx.legend)
        multiples = figures.compare_small_multiples(over_time, ctx.legend, period=period)
    state = query_string(
        view, topic=topic, group_by=group_by, period=period if period != "month" else None
    )
    return heat, ui.chart_data(mix), multiples, ui.chart_data(over_time), state


def items_in_cell(point: dict[str, Any], *values: Any) -> Any:
    """The items of one group with the topic and the clicked frame."""
    ctx = current()
    group, frame = point["customdata"][0], point["customdata"][1]
    topic, group_by = values[6], values[7]
    view = ui.in_groups(ui.view_from(values[:6]), group_by, [group])
    items = queries.items_behind(ctx.reader, view, labels=(topic, frame))
    return ui.item_list(
        items, ctx.legend, heading=f"{group} · {ctx.legend.name(topic)} · {ctx.legend.name(frame)}"
    )


def items_at(point: dict[str, Any], *values: Any) -> Any:
    """The items of one group, topic and frame in the clicked period."""
    ctx = current()
    group, frame = point["customdata"][0], point["customdata"][1]
    topic, group_by, period = values[6], values[7], values[8]
    start = ui.point_day(point)
    view = ui.in_groups(ui.view_from(values[:6]), group_by, [group])
    items = queries.items_behind(
        ctx.reader, view, labels=(topic, frame), period=period, start=start
    )
    return ui.item_list(
        items, ctx.legend, heading=f"{group} · {ctx.legend.name(frame)} · {period} of {start}"
    )


DRILL_STATES = [
    *ui.filter_states(ids.COMPARE),
    State(ids.COMPARE_TOPIC, "value"),
    State(ids.COMPARE_GROUP_BY, "value"),
    State(ids.COMPARE_PERIOD, "value"),
]
ui.register_drill(ids.COMPARE_HEATMAP, DRILL_STATES, items_in_cell)
ui.register_drill(ids.COMPARE_MULTIPLES, DRILL_STATES, items_at)
ui.register_csv(ids.COMPARE_HEATMAP, "frame_mix_by_group.csv")
ui.register_csv(ids.COMPARE_MULTIPLES, "frame_shares_by_group.csv")
ui.register_url_sync(ids.COMPARE)
