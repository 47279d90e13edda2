"""What changed: the words that set two periods or two source groups apart."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from dashboards import components as ui
from dashboards import figures, ids, queries, stats
from dashboards.context import current
from dashboards.filters import (
    ViewFilter,
    as_tuple,
    choice,
    filter_from_query,
    parse_day,
    query_string,
)

dash.register_page(
    __name__,
    path="/changed",
    name="What changed",
    order=2,
    title="What changed · Discourse Monitor",
)

#: items read per side: the newest ones of each selection (a bounded sample, not all items);
#: 5,000 titles and summaries give stable top terms and keep the page under a second
SAMPLE_PER_SIDE = 5_000
TOP_TERMS = 15
EXAMPLES_PER_TERM = 3
MODES = (("periods", "two periods"), ("groups", "two source groups"))


def default_periods(last: date | None) -> tuple[tuple[date, date], tuple[date, date]]:
    """The 90 days before the last item (B) against the 90 days before those (A)."""
    last = last or date.today()
    b = (last - timedelta(days=89), last)
    a = (b[0] - timedelta(days=90), b[0] - timedelta(days=1))
    return a, b


def layout(**query: Any) -> html.Div:
    ctx = current()
    view = filter_from_query(query)
    options = queries.filter_options(ctx.reader)
    (a0, a1), (b0, b1) = default_periods(queries.date_span(ctx.reader)[1])
    a_start, a_end = parse_day(query.get("a_start")) or a0, parse_day(query.get("a_end")) or a1
    b_start, b_end = parse_day(query.get("b_start")) or b0, parse_day(query.get("b_end")) or b1
    group_by = choice(query.get("group_by"), [g for g, _ in ui.GROUP_BY], "source_type")
    topics = [("", "any item"), *((t, ctx.legend.name(t)) for t in ctx.topics)]
    return html.Div(
        [
            ui.header(
                "What changed",
                "Distinctive words of one selection against another: the log-odds ratio with "
                "an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008), as z-scores. "
                f"Each side reads the titles and summaries of its newest {SAMPLE_PER_SIDE:,} "
                "items at most. Click a bar for example items.",
            ),
            ui.filter_bar(
                ids.CHANGED,
                options,
                view,
                ui.radio(
                    "Compare",
                    ids.CHANGED_MODE,
                    MODES,
                    choice(query.get("mode"), ("periods", "groups"), "periods"),
                ),
                ui.radio(
                    "Topic",
                    ids.CHANGED_TOPIC,
                    topics,
                    choice(query.get("topic"), ("", *ctx.topics), ""),
                ),
            ),
            html.Div(
                [
                    _period("Period A", ids.CHANGED_DATES_A, a_start, a_end),
                    _period("Period B", ids.CHANGED_DATES_B, b_start, b_end),
                    ui.control(
                        "Groups by",
                        dcc.Dropdown(
                            id=ids.CHANGED_GROUP_BY,
                            options=[{"label": n, "value": v} for v, n in ui.GROUP_BY],
                            value=group_by,
                            clearable=False,
                        ),
                    ),
                    _group("Group A", ids.CHANGED_GROUP_A, query.get("group_a")),
                    _group("Group B", ids.CHANGED_GROUP_B, query.get("group_b")),
                ],
                className="filters sides",
            ),
            html.P(id=ids.CHANGED_SUMMARY, className="caption"),
            ui.chart_card(ids.CHANGED_CHART, "Distinctive terms"),
        ]
    )


def _period(label: str, id_: str, start: date, end: date) -> html.Div:
    return ui.control(
        label,
        dcc.DatePickerRange(
            id=id_,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            display_format="YYYY-MM-DD",
        ),
    )


def _group(label: str, id_: str, chosen: Any) -> html.Div:
    return ui.control(
        label,
        dcc.Dropdown(id=id_, multi=True, value=list(as_tuple(chosen)), placeholder="choose"),
    )


@callback(
    Output(ids.CHANGED_GROUP_A, "options"),
    Output(ids.CHANGED_GROUP_B, "options"),
    Input(ids.CHANGED_GROUP_BY, "value"),
)
def group_options(group_by: str) -> tuple[list[str], list[str]]:
    options = queries.filter_options(current().reader)[ui.GROUP_FILTERS[group_by]]
    return options, options


def sides(
    view: ViewFilter,
    mode: str,
    dates_a: tuple[Any, Any],
    dates_b: tuple[Any, Any],
    group_by: str,
    group_a: list[str],
    group_b: list[str],
) -> tuple[ViewFilter, ViewFilter, str, str]:
    """The two selections to compare and their names."""
    if mode == "groups":
        a, b = (
            ui.in_groups(view, group_by, group_a or ()),
            ui.in_groups(view, group_by, group_b or ()),
        )
        return a, b, " + ".join(group_a or ["all"]), " + ".join(group_b or ["all"])
    a = view.with_(start=parse_day(dates_a[0]), end=parse_day(dates_a[1]))
    b = view.with_(start=parse_day(dates_b[0]), end=parse_day(dates_b[1]))
    name = lambda v: f"{v.start or 'start'} – {v.end or 'end'}"  # noqa: E731
    return a, b, name(a), name(b)


def examples(sample: pd.DataFrame, words: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Up to EXAMPLES_PER_TERM items of the sample that use each word."""
    found: dict[str, list[dict[str, Any]]] = {w: [] for w in words}
    wanted = set(words)
    for row in sample.itertuples():
        for word in wanted.intersection(stats.terms(f"{row.title} {row.summary}")):
            if len(found[word]) < EXAMPLES_PER_TERM:
                found[word].append(
                    {
                        "id": int(row.id),
                        "published_at": ui.iso_day(row.published_at),
                        "title": row.title,
                        "publisher": row.publisher,
                        "link": row.link,
                    }
                )
        wanted = {w for w in wanted if len(found[w]) < EXAMPLES_PER_TERM}
        if not wanted:
            break
    return found


def _term_counts(sample: pd.DataFrame) -> Counter[str]:
    return stats.term_counts(
        f"{t} {s}" for t, s in zip(sample["title"], sample["summary"], strict=True)
    )


def distinctive_terms(
    engine: Any, a: ViewFilter, b: ViewFilter, topic: str | None, limit: int = SAMPLE_PER_SIDE
) -> tuple[pd.DataFrame, dict[str, list[dict[str, Any]]], int, int]:
    """Top terms of each side, example items per term, and the sample sizes."""
    sample_a = queries.text_sample(engine, a, topic, limit)
    sample_b = queries.text_sample(engine, b, topic, limit)
    top = stats.top_terms(
        stats.log_odds_dirichlet(_term_counts(sample_a), _term_counts(sample_b)), TOP_TERMS
    )
    found = examples(sample_a, top.loc[top["side"] == "A", "term"].tolist()) if len(top) else {}
    if len(top):
        found.update(examples(sample_b, top.loc[top["side"] == "B", "term"].tolist()))
    return top, found, len(sample_a), len(sample_b)


@callback(
    Output(ids.CHANGED_CHART.graph, "figure"),
    Output(ids.CHANGED_CHART.data, "data"),
    Output(ids.CHANGED_SUMMARY, "children"),
    Output(ids.CHANGED.query, "data"),
    *ui.filter_inputs(ids.CHANGED),
    Input(ids.CHANGED_MODE, "value"),
    Input(ids.CHANGED_TOPIC, "value"),
    Input(ids.CHANGED_DATES_A, "start_date"),
    Input(ids.CHANGED_DATES_A, "end_date"),
    Input(ids.CHANGED_DATES_B, "start_date"),
    Input(ids.CHANGED_DATES_B, "end_date"),
    Input(ids.CHANGED_GROUP_BY, "value"),
    Input(ids.CHANGED_GROUP_A, "value"),
    Input(ids.CHANGED_GROUP_B, "value"),
)
def update(*values: Any) -> tuple[Any, ...]:
    ctx = current()
    view = ui.view_from(values[:6])
    mode, topic, a0, a1, b0, b1, group_by, group_a, group_b = values[6:]
    a, b, name_a, name_b = sides(view, mode, (a0, a1), (b0, b1), group_by, group_a, group_b)
    top, found, n_a, n_b = distinctive_terms(ctx.reader, a, b, topic or None)
    if n_a == 0 and n_b == 0 and queries.date_span(ctx.reader)[0] is None:
        figure = figures.empty_figure(ui.EMPTY_DATABASE)
    elif n_a == 0 or n_b == 0:
        figure = figures.empty_figure(f"No items in {'A' if n_a == 0 else 'B'}: widen that side.")
    else:
        figure = figures.log_odds_figure(top, side_a=f"A ({name_a})", side_b=f"B ({name_b})")
    summary = f"A: {name_a}, {n_a:,} items read · B: {name_b}, {n_b:,} items read"
    state = query_string(
        view,
        mode=mode if mode != "periods" else None,
        topic=topic or None,
        a_start=a0 if mode == "periods" else None,
        a_end=a1 if mode == "periods" else None,
        b_start=b0 if mode == "periods" else None,
        b_end=b1 if mode == "periods" else None,
        group_by=group_by if mode == "groups" else None,
        group_a=group_a if mode == "groups" else None,
        group_b=group_b if mode == "groups" else None,
    )
    data = ui.chart_data(top)
    data["examples"] = found
    return figure, data, summary, state


def items_using(point: dict[str, Any], data: dict[str, Any] | None) -> Any:
    """The example items of the clicked term, kept with the chart's data."""
    if not data:
        return dash.no_update
    term = point["customdata"][0]
    rows = pd.DataFrame(
        data.get("examples", {}).get(term, []),
        columns=["id", "published_at", "title", "publisher", "link"],
    )
    return ui.item_list(rows, current().legend, heading=f"Items using “{term}”")


ui.register_drill(ids.CHANGED_CHART, [State(ids.CHANGED_CHART.data, "data")], items_using)
ui.register_csv(ids.CHANGED_CHART, "distinctive_terms.csv")
ui.register_url_sync(ids.CHANGED)
