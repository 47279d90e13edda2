"""Items: search and filter items, see each one's tags and evidence, correct a label."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from dashboards import components as ui
from dashboards import ids, queries
from dashboards.context import current
from dashboards.figures import Legend
from dashboards.filters import (
    EXPORT_FORMATS,
    ViewFilter,
    as_tuple,
    export_link,
    filter_from_query,
    query_string,
)

dash.register_page(
    __name__, path="/items", name="Items", order=5, title="Items · Discourse Monitor"
)

PAGE_SIZE = 50


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def layout(**query: Any) -> html.Div:
    c = current()
    view = filter_from_query(query)
    labels = [
        {"label": f"{c.legend.name(x)} ({kind})", "value": x}
        for kind, group in (("topic", c.topics), ("frame", c.frames))
        for x in group
    ]
    return html.Div(
        [
            ui.header(
                "Items",
                "Search titles and summaries (every word must occur), filter by "
                "label and source, open an item to see its tags with the evidence "
                "highlighted, and correct a label; corrections feed `monitor train`.",
            ),
            ui.filter_bar(
                ids.ITEMS,
                queries.filter_options(c.reader),
                view,
                ui.control(
                    "Search",
                    dcc.Input(
                        id=ids.ITEMS_SEARCH,
                        type="search",
                        debounce=True,
                        value=query.get("q", ""),
                        placeholder="words…",
                    ),
                    html_for=ids.ITEMS_SEARCH,
                ),
                ui.control(
                    "Labels (all must apply)",
                    dcc.Dropdown(
                        id=ids.ITEMS_LABELS,
                        options=labels,
                        multi=True,
                        value=list(as_tuple(query.get("labels"))),
                        placeholder="any",
                    ),
                ),
            ),
            export_bar(view, str(query.get("q") or ""), as_tuple(query.get("labels"))),
            dcc.Store(id=ids.ITEMS_PAGE, data=_int(query.get("page"), 0)),
            dcc.Store(id=ids.ITEMS_SELECTED, data=_int(query.get("item"), None)),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(id=ids.ITEMS_LIST),
                            html.Div(
                                [
                                    html.Button("← newer", id=ids.ITEMS_PREV, className="button"),
                                    html.Button("older →", id=ids.ITEMS_NEXT, className="button"),
                                ],
                                className="pager",
                            ),
                        ],
                        className="card half",
                    ),
                    html.Div(
                        [html.Div(id=ids.ITEMS_DETAIL), correction_form(labels)],
                        className="card half",
                    ),
                ],
                className="row",
            ),
        ]
    )


def export_bar(view: ViewFilter, text: str, labels: tuple[str, ...]) -> html.Div:
    """A link to the export API for the items the filters select (the file, not this page)."""
    link = export_link(view, text=text, labels=labels, topics=current().topics)
    return html.Div(
        [
            dcc.RadioItems(
                id=ids.ITEMS_EXPORT_FORMAT,
                options=[{"label": name, "value": f} for f, name in EXPORT_FORMATS],
                value="csv",
                inline=True,
                className="radio",
            ),
            html.A(
                "Download dataset",
                id=ids.ITEMS_EXPORT_LINK,
                href=link.href,
                className="button small",
                download="",
            ),
            html.Span(export_note(link.dropped), id=ids.ITEMS_EXPORT_NOTE, className="caption"),
        ],
        className="card-head",
    )


def export_note(dropped: tuple[str, ...]) -> str:
    if not dropped:
        return "All items matching these filters, every page, with their tags."
    return "The file ignores: " + "; ".join(dropped) + "."


@callback(
    Output(ids.ITEMS_EXPORT_LINK, "href"),
    Output(ids.ITEMS_EXPORT_NOTE, "children"),
    Input(ids.ITEMS_EXPORT_FORMAT, "value"),
    Input(ids.ITEMS_SEARCH, "value"),
    Input(ids.ITEMS_LABELS, "value"),
    *ui.filter_inputs(ids.ITEMS),
)
def update_export(file_format: Any, text: Any, labels: Any, *values: Any) -> tuple[str, str]:
    link = export_link(
        ui.view_from(values),
        file_format=file_format or "csv",
        text=text or "",
        labels=as_tuple(labels),
        topics=current().topics,
    )
    return link.href, export_note(link.dropped)


def correction_form(labels: list[dict[str, str]]) -> html.Div:
    return html.Div(
        [
            html.H3("Correct a label"),
            ui.control(
                "Label",
                dcc.Dropdown(id=ids.ITEMS_FIX_LABEL, options=labels, clearable=False),
                html_for=ids.ITEMS_FIX_LABEL,
            ),
            dcc.RadioItems(
                id=ids.ITEMS_FIX_APPLIES,
                value="applies",
                inline=True,
                options=[
                    {"label": "applies", "value": "applies"},
                    {"label": "does not apply", "value": "rejects"},
                ],
            ),
            ui.control(
                "Your name",
                dcc.Input(
                    id=ids.ITEMS_FIX_ANALYST,
                    type="text",
                    persistence=True,
                    placeholder="who corrects",
                ),
                html_for=ids.ITEMS_FIX_ANALYST,
            ),
            ui.control(
                "Note",
                dcc.Input(id=ids.ITEMS_FIX_NOTE, type="text", placeholder="optional"),
                html_for=ids.ITEMS_FIX_NOTE,
            ),
            html.Button("Save correction", id=ids.ITEMS_FIX_SAVE, className="button"),
            html.Div(id=ids.ITEMS_FIX_RESULT, role="status"),
            html.Div(id=ids.ITEMS_CORRECTIONS),
        ],
        className="correction",
    )


@callback(
    Output(ids.ITEMS_PAGE, "data"),
    Input(ids.ITEMS_PREV, "n_clicks"),
    Input(ids.ITEMS_NEXT, "n_clicks"),
    Input(ids.ITEMS_SEARCH, "value"),
    Input(ids.ITEMS_LABELS, "value"),
    *ui.filter_inputs(ids.ITEMS),
    State(ids.ITEMS_PAGE, "data"),
    prevent_initial_call=True,
)
def turn_page(*values: Any) -> int:
    page = values[-1] or 0
    if ctx.triggered_id == ids.ITEMS_NEXT:
        return int(page) + 1
    if ctx.triggered_id == ids.ITEMS_PREV:
        return max(0, int(page) - 1)
    return 0


@callback(
    Output(ids.ITEMS_LIST, "children"),
    Input(ids.ITEMS_SEARCH, "value"),
    Input(ids.ITEMS_LABELS, "value"),
    Input(ids.ITEMS_PAGE, "data"),
    *ui.filter_inputs(ids.ITEMS),
)
def search(text: str | None, labels: list[str] | None, page: int | None, *values: Any) -> Any:
    c = current()
    page = page or 0
    found = queries.search_items(
        c.reader,
        ui.view_from(values),
        text=text or "",
        labels=tuple(labels or ()),
        offset=page * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    if found.empty:
        if queries.date_span(c.reader)[0] is None:
            return ui.empty_state(ui.EMPTY_DATABASE)
        return ui.empty_state("No items match. Remove a word or a filter.")
    first = page * PAGE_SIZE + 1
    rows = [
        html.Li(
            [
                html.Span(ui.iso_day(r.published_at), className="day"),
                html.Span(r.publisher, className="publisher"),
                html.Button(
                    r.title or "(untitled)",
                    id={"type": ids.ITEMS_OPEN, "index": int(r.id)},
                    className="linklike",
                ),
                html.Span(ui.label_chips(r.labels, c.legend), className="chips"),
            ],
            className="item",
        )
        for r in found.itertuples()
    ]
    return html.Div(
        [
            html.H3(f"Items {first:,}–{first + len(found) - 1:,}, newest first"),
            html.Ul(rows, className="items"),
        ]
    )


@callback(
    Output(ids.ITEMS_SELECTED, "data"),
    Input({"type": ids.ITEMS_OPEN, "index": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_item(clicks: list[int | None]) -> Any:
    if not ctx.triggered_id or not any(clicks):
        return dash.no_update
    return int(ctx.triggered_id["index"])


@callback(
    Output(ids.ITEMS.query, "data"),
    Input(ids.ITEMS_SEARCH, "value"),
    Input(ids.ITEMS_LABELS, "value"),
    Input(ids.ITEMS_PAGE, "data"),
    Input(ids.ITEMS_SELECTED, "data"),
    *ui.filter_inputs(ids.ITEMS),
    prevent_initial_call=True,
)
def remember(text: Any, labels: Any, page: Any, item: Any, *values: Any) -> str:
    return query_string(
        ui.view_from(values), q=text or None, labels=labels, page=page or None, item=item
    )


def highlighted(text: str, spans: list[tuple[int, int, str]], legend: Legend) -> list[Any]:
    """The text with evidence spans marked in their label's colour (overlaps: first wins)."""
    out: list[Any] = []
    position = 0
    for start, end, label in sorted(spans):
        if start < position or end > len(text) or start >= end:
            continue
        out.append(text[position:start])
        out.append(
            html.Mark(
                text[start:end],
                title=legend.name(label),
                style={"borderBottom": f"3px solid {legend.color(label)}"},
            )
        )
        position = end
    out.append(text[position:])
    return out


def evidence_spans(tags: pd.DataFrame, field: str, text: str) -> list[tuple[int, int, str]]:
    """Where each positive label's evidence sits in one field (offsets checked, else searched)."""
    spans = []
    for tag in tags[tags["is_positive"].astype(bool)].itertuples():
        for ev in tag.evidence or []:
            if ev.get("field") != field or not ev.get("text"):
                continue
            start, end = ev.get("start"), ev.get("end")
            if not (
                isinstance(start, int)
                and isinstance(end, int)
                and text[start:end].lower() == str(ev["text"]).lower()
            ):
                start = text.lower().find(str(ev["text"]).lower())
                end = start + len(str(ev["text"]))
            if start >= 0:
                spans.append((start, end, tag.label))
    return spans


def evidence_text(evidence: list[dict[str, Any]] | None) -> str:
    parts = []
    for ev in evidence or []:
        if ev.get("kind") == "model":
            feats = ev.get("features") or []
            parts.append(
                "model: " + ", ".join(str(f[0] if isinstance(f, list) else f) for f in feats[:5])
            )
        else:
            parts.append(
                f"“{ev.get('text', '')}” ({ev.get('rule', 'rule')}, {ev.get('field', '')})"
            )
    return "; ".join(parts)


@callback(
    Output(ids.ITEMS_DETAIL, "children"),
    Output(ids.ITEMS_FIX_LABEL, "value"),
    Input(ids.ITEMS_SELECTED, "data"),
)
def detail(item_id: int | None) -> tuple[Any, Any]:
    if item_id is None:
        return html.P("Open an item to see its tags and evidence.", className="hint"), None
    c = current()
    item = queries.item_detail(c.reader, int(item_id))
    if item is None:
        return ui.empty_state(f"Item {item_id} is not in the database."), None
    tags: pd.DataFrame = item["tags"]
    rows = [
        html.Tr(
            [
                html.Td(t.kind),
                html.Td(ui.label_chips(t.label, c.legend)),
                html.Td(f"{t.score:.2f}"),
                html.Td("yes" if t.is_positive else "no"),
                html.Td(evidence_text(t.evidence) if t.is_positive else ""),
            ],
            className="positive" if t.is_positive else "",
        )
        for t in tags.itertuples()
    ]
    version = tags["tagger_version"].iloc[0] if len(tags) else "not tagged yet"
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("kind", "label", "score", "applies", "evidence")])
    )
    first_positive = next((t.label for t in tags.itertuples() if t.is_positive), None)
    body = html.Div(
        [
            html.H2(
                highlighted(item["title"], evidence_spans(tags, "title", item["title"]), c.legend),
                className="item-title",
            ),
            html.P(
                [
                    ui.iso_minute(item["published_at"]),
                    " · ",
                    item["publisher"],
                    f" ({item['source_type']}, {item['country']}) · language {item['language']} · ",
                    html.A("open the original", href=item["link"], target="_blank", rel="noopener")
                    if item["link"]
                    else "no link",
                ],
                className="meta",
            ),
            html.P(
                highlighted(
                    item["summary"], evidence_spans(tags, "summary", item["summary"]), c.legend
                ),
                className="summary",
            ),
            html.Table([head, html.Tbody(rows)], className="table"),
            html.P(f"tagger {version}", className="caption"),
        ],
        id=f"item-{item['id']}",
    )
    return body, first_positive


@callback(
    Output(ids.ITEMS_FIX_RESULT, "children"),
    Input(ids.ITEMS_FIX_SAVE, "n_clicks"),
    State(ids.ITEMS_SELECTED, "data"),
    State(ids.ITEMS_FIX_LABEL, "value"),
    State(ids.ITEMS_FIX_APPLIES, "value"),
    State(ids.ITEMS_FIX_ANALYST, "value"),
    State(ids.ITEMS_FIX_NOTE, "value"),
    prevent_initial_call=True,
)
def save(_clicks: Any, item_id: Any, label: Any, applies: str, analyst: Any, note: Any) -> Any:
    c = current()
    if item_id is None:
        return html.P("Open an item first.", className="error")
    if not label:
        return html.P("Choose the label to correct.", className="error")
    if not (analyst or "").strip():
        return html.P(
            "Say who you are: the correction is stored with your name.", className="error"
        )
    kind = "topic" if label in c.topics else "frame"
    queries.store_correction(
        c.engine,
        item_id=int(item_id),
        kind=kind,
        label=label,
        applies=applies == "applies",
        analyst=analyst,
        note=note or "",
    )
    verdict = "applies" if applies == "applies" else "does not apply"
    return html.P(
        f"Stored: {c.legend.name(label)} {verdict} to item {item_id}, by {analyst.strip()}.",
        className="ok",
    )


@callback(
    Output(ids.ITEMS_CORRECTIONS, "children"),
    Input(ids.ITEMS_SELECTED, "data"),
    Input(ids.ITEMS_FIX_RESULT, "children"),
)
def corrections(item_id: Any, _result: Any) -> Any:
    if item_id is None:
        return None
    c = current()
    item = queries.item_detail(c.reader, int(item_id))
    if item is None or item["corrections"].empty:
        return html.P("No corrections of this item yet.", className="hint")
    rows = [
        html.Li(
            f"{ui.iso_minute(r.created_at)} · {r.analyst}: {c.legend.name(r.label)} "
            f"{'applies' if r.applies else 'does not apply'}" + (f" — {r.note}" if r.note else "")
        )
        for r in item["corrections"].itertuples()
    ]
    return html.Div([html.H3("Corrections"), html.Ul(rows, className="corrections")])


ui.register_url_sync(ids.ITEMS)
