"""Layout pieces and callback wiring every page shares.

`register_*` functions add callbacks; pages call them when Dash imports them
(inside `create_app`), never at this module's import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pandas as pd
from dash import Input, Output, State, clientside_callback, dcc, html, no_update
from dash import callback as dash_callback

from dashboards.figures import Legend
from dashboards.filters import ViewFilter, choice, filter_from_values
from dashboards.ids import ChartIds, FilterIds

GRAPH_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}

#: ways to split the sources into groups, and the filter (and filter_options key) each sets
GROUP_BY = (
    ("source_type", "source type"),
    ("country", "country"),
    ("publisher", "publisher"),
    ("language", "language"),
)
GROUP_FILTERS = {
    "source_type": "source_types",
    "country": "countries",
    "publisher": "publishers",
    "language": "languages",
}

EMPTY_DATABASE = (
    "No items yet. Start the monitor with `monitor up` (or load an archive with "
    "`monitor import PATH`) and wait for the first fetch; items appear here once tagged."
)


def iso_day(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return "—"
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def iso_minute(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")


def header(title: str, intro: str) -> html.Div:
    return html.Div([html.H1(title), html.P(intro, className="intro")], className="page-header")


def _options(values: Sequence[str]) -> list[dict[str, str]]:
    return [{"label": v, "value": v} for v in values]


def filter_bar(
    ids: FilterIds, options: dict[str, list[str]], view: ViewFilter, *extra: Any
) -> html.Div:
    """Date range, source type, country, language and publisher, set from the URL."""
    return html.Div(
        [
            *extra,
            control(
                "Published",
                dcc.DatePickerRange(
                    id=ids.dates,
                    start_date=view.start.isoformat() if view.start else None,
                    end_date=view.end.isoformat() if view.end else None,
                    display_format="YYYY-MM-DD",
                    clearable=True,
                    start_date_placeholder_text="first day",
                    end_date_placeholder_text="last day",
                ),
                html_for=ids.dates,
            ),
            control(
                "Source type",
                dcc.Checklist(
                    id=ids.source_types,
                    options=_options(options["source_types"]),
                    value=list(view.source_types),
                    inline=True,
                    className="checklist",
                ),
            ),
            _dropdown("Country", ids.countries, options["countries"], view.countries),
            _dropdown("Language", ids.languages, options["languages"], view.languages),
            _dropdown("Publisher", ids.publishers, options["publishers"], view.publishers),
            dcc.Store(id=ids.query),
        ],
        className="filters",
    )


def control(label: str, widget: Any, *, html_for: str | None = None) -> html.Div:
    """One labelled control of a filter row or form."""
    caption = html.Label(label, htmlFor=html_for) if html_for else html.Label(label)
    return html.Div([caption, widget], className="control")


def _dropdown(label: str, id_: str, values: list[str], chosen: Sequence[str]) -> html.Div:
    return control(
        label,
        dcc.Dropdown(
            id=id_, options=_options(values), value=list(chosen), multi=True, placeholder="all"
        ),
        html_for=id_,
    )


def radio(label: str, id_: str, choices: Sequence[tuple[str, str]], value: str) -> html.Div:
    return control(
        label,
        dcc.RadioItems(
            id=id_,
            options=[{"label": name, "value": v} for v, name in choices],
            value=value,
            inline=True,
            className="radio",
        ),
    )


def topic_radio(id_: str, topics: tuple[str, ...], legend: Legend, chosen: Any) -> html.Div:
    """The choice of the one topic a page shows (unknown or none: the first topic)."""
    return radio(
        "Topic",
        id_,
        [(t, legend.name(t)) for t in topics],
        choice(chosen, topics, topics[0] if topics else ""),
    )


def filter_inputs(ids: FilterIds) -> list[Input]:
    return [
        Input(ids.dates, "start_date"),
        Input(ids.dates, "end_date"),
        Input(ids.source_types, "value"),
        Input(ids.countries, "value"),
        Input(ids.languages, "value"),
        Input(ids.publishers, "value"),
    ]


def filter_states(ids: FilterIds) -> list[State]:
    return [State(i.component_id, i.component_property) for i in filter_inputs(ids)]


def view_from(values: Sequence[Any]) -> ViewFilter:
    """The six filter values, in filter_inputs order, as a ViewFilter."""
    return filter_from_values(*values)


def in_groups(view: ViewFilter, group_by: str, groups: Sequence[str]) -> ViewFilter:
    """The view narrowed to the sources of `groups` of one GROUP_BY kind (none: all)."""
    return view.with_(**{GROUP_FILTERS[group_by]: tuple(groups)})


def chart_card(ids: ChartIds, title: str, caption: str = "") -> html.Div:
    """A chart, its CSV button, and the list of items behind a clicked point."""
    return html.Div(
        [
            html.Div(
                [
                    html.H2(title),
                    html.Button("Download CSV", id=ids.csv_button, className="button small"),
                ],
                className="card-head",
            ),
            html.P(caption, className="caption") if caption else None,
            dcc.Loading(dcc.Graph(id=ids.graph, config=GRAPH_CONFIG), type="dot"),
            dcc.Store(id=ids.data),
            dcc.Download(id=ids.download),
            html.Div(
                html.P("Click a point to see the items behind it.", className="hint"),
                id=ids.items,
                className="drilldown",
            ),
        ],
        className="card",
    )


def chart_data(df: pd.DataFrame) -> dict[str, Any]:
    """A chart's table for its CSV download (dates as ISO days)."""
    out = df.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return {"columns": list(out.columns), "rows": out.astype(object).values.tolist()}


def data_csv(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    return pd.DataFrame(data["rows"], columns=data["columns"]).to_csv(index=False)


def register_csv(ids: ChartIds, filename: str) -> None:
    @dash_callback(
        Output(ids.download, "data"),
        Input(ids.csv_button, "n_clicks"),
        State(ids.data, "data"),
        prevent_initial_call=True,
    )
    def _download(_clicks: int | None, data: dict[str, Any] | None) -> dict[str, Any]:
        return dcc.send_string(data_csv(data), filename, type="text/csv")


def register_drill(chart: ChartIds, states: Sequence[State], items_at: Callable[..., Any]) -> None:
    """Clicking a point of the chart lists the items behind it below the chart.

    `items_at(point, *values)` gets the clicked point (one with customdata) and
    the values of `states` at the click.
    """

    @dash_callback(
        Output(chart.items, "children"),
        Input(chart.graph, "clickData"),
        *states,
        prevent_initial_call=True,
    )
    def _drill(click: dict[str, Any] | None, *values: Any) -> Any:
        point = clicked_point(click)
        if point is None or not point.get("customdata"):
            return no_update
        return items_at(point, *values)


def register_url_sync(ids: FilterIds) -> None:
    """Mirror the page's state into the address bar without reloading the page.

    history.replaceState keeps Dash's page router from re-rendering the page
    (changing its dcc.Location would), so controls keep focus; the router still
    reads the query string when a shared link is opened.
    """
    clientside_callback(
        """
        function(search) {
            if (typeof search === 'string' && search !== window.location.search) {
                window.history.replaceState(null, '', window.location.pathname + search);
            }
        }
        """,
        Input(ids.query, "data"),
        prevent_initial_call=True,
    )


def label_chips(labels: str, legend: Legend) -> list[html.Span]:
    return [
        html.Span(legend.name(label), className="chip", style={"borderColor": legend.color(label)})
        for label in (s.strip() for s in (labels or "").split(","))
        if label
    ]


def item_list(df: pd.DataFrame, legend: Legend, *, heading: str = "", empty: str = "") -> html.Div:
    """Items as lines: ISO day · publisher · linked title · label chips."""
    if df.empty:
        return html.Div(
            [html.H3(heading) if heading else None, html.P(empty or "No items.", className="hint")]
        )
    rows = []
    for row in df.itertuples():
        link = getattr(row, "link", None)
        title = row.title or "(untitled)"
        rows.append(
            html.Li(
                [
                    html.Span(iso_day(row.published_at), className="day"),
                    html.Span(row.publisher, className="publisher"),
                    html.A(title, href=link, target="_blank", rel="noopener")
                    if link
                    else html.Span(title),
                    html.Span(label_chips(getattr(row, "labels", ""), legend), className="chips"),
                    html.A("details", href=f"/items?item={row.id}", className="details"),
                ],
                className="item",
            )
        )
    return html.Div([html.H3(heading) if heading else None, html.Ul(rows, className="items")])


def empty_state(message: str) -> html.Div:
    return html.Div(html.P(message), className="empty")


def clicked_point(click: dict[str, Any] | None) -> dict[str, Any] | None:
    if not click or not click.get("points"):
        return None
    point: dict[str, Any] = click["points"][0]
    return point


def point_day(point: dict[str, Any]) -> date:
    """The first day of the period a clicked point of a time chart stands for."""
    return date.fromisoformat(str(point["x"])[:10])
