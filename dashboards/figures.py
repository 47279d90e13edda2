"""Pure figure functions: a small DataFrame in, a plotly figure out.

One colour per topic and per frame, from the settings (Okabe–Ito in config.toml),
everywhere; dates on axes in ISO form; units in axis titles and hover text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards.events import KeyEvent

#: Okabe–Ito, for labels without a configured colour and for themes
OKABE_ITO = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#999999",
)
DASHES = ("solid", "dash", "dot", "dashdot")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
SIDE_COLORS = {"A": "#0072B2", "B": "#D55E00"}


@dataclass(frozen=True)
class Legend:
    """Display names and colours of topic and frame ids."""

    names: Mapping[str, str] = field(default_factory=dict)
    colors: Mapping[str, str] = field(default_factory=dict)

    def name(self, label: str) -> str:
        return self.names.get(label, label.replace("_", " ").capitalize())

    def color(self, label: str) -> str:
        if self.colors.get(label):
            return self.colors[label]
        return OKABE_ITO[sum(map(ord, label)) % len(OKABE_ITO)]


def _arr(values: Any) -> np.ndarray:
    """Columns as numpy arrays: plotly validates lists element by element, arrays at once."""
    return np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)


def _custom(*columns: Any) -> np.ndarray:
    """customdata rows (one per point) from columns of equal length or scalars."""
    n = max(
        (len(c) for c in columns if hasattr(c, "__len__") and not isinstance(c, str)), default=1
    )
    out = np.empty((n, len(columns)), dtype=object)
    for j, column in enumerate(columns):
        out[:, j] = (
            _arr(column) if hasattr(column, "__len__") and not isinstance(column, str) else column
        )
    return out


#: a light template set at creation: applying plotly's named templates to a figure
#: costs more than building it (they carry defaults for every trace type)
_TEMPLATE = {"layout": {"colorway": list(OKABE_ITO)}}
_AXIS = {
    "showline": True,
    "linecolor": "#444",
    "ticks": "outside",
    "tickcolor": "#444",
    "zeroline": False,
    "automargin": True,
}


def new_figure() -> go.Figure:
    return go.Figure(layout={"template": _TEMPLATE})


def _style(fig: go.Figure, *, height: int = 420) -> go.Figure:
    fig.update_layout(
        plot_bgcolor="white",
        paper_bgcolor="white",
        font={"family": FONT, "size": 13},
        height=height,
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        hoverlabel={"font": {"family": FONT, "size": 13}, "bgcolor": "white"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    fig.update_xaxes(showgrid=False, **_AXIS)
    fig.update_yaxes(showgrid=True, gridcolor="#e5e5e5", **_AXIS)
    return fig


def _finish(fig: go.Figure, traces: list[Any], *, height: int = 420) -> go.Figure:
    """Style first, add the traces last: every layout change after them copies their data."""
    _style(fig, height=height)
    placed = [t for t in traces if isinstance(t, tuple)]
    if placed:
        fig.add_traces(
            [t for t, _r, _c in placed],
            rows=[r for _t, r, _c in placed],
            cols=[c for _t, _r, c in placed],
        )
    else:
        fig.add_traces(traces)
    return fig


def _date_axis(fig: go.Figure) -> None:
    fig.update_xaxes(tickformat="%Y-%m-%d", hoverformat="%Y-%m-%d", title_text=None)


def empty_figure(message: str) -> go.Figure:
    """No axes, just what to do next: an empty chart must not look like 'zero'."""
    fig = new_figure()
    fig.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 15, "color": "#444"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, height=260)


def period_word(period: str) -> str:
    return "month" if period == "month" else "week"


def topic_trend_figure(df: pd.DataFrame, legend: Legend, *, measure: str, period: str) -> go.Figure:
    """Items per topic per period, as counts or as % of all items from the same sources."""
    if df.empty:
        return empty_figure("No tagged items in this selection yet.")
    fig = new_figure()
    traces: list[Any] = []
    word = period_word(period)
    for topic, part in df.groupby("topic", sort=True):
        share = 100 * part["items"] / part["total"].where(part["total"] > 0, 1)
        y = share if measure == "share" else part["items"]
        traces.append(
            go.Scatter(
                x=_arr(part["period_start"]),
                y=_arr(y),
                mode="lines+markers",
                name=legend.name(str(topic)),
                line={"color": legend.color(str(topic)), "width": 2},
                marker={"size": 5},
                customdata=_custom(str(topic), part["items"], part["total"], share.round(2)),
                hovertemplate=(
                    f"<b>{legend.name(str(topic))}</b><br>{word} of %{{x|%Y-%m-%d}}<br>"
                    "%{customdata[1]:,} items · %{customdata[3]:.1f}% of %{customdata[2]:,}"
                    "<extra></extra>"
                ),
            )
        )
    _date_axis(fig)
    title = f"% of all items per {word}" if measure == "share" else f"items per {word}"
    fig.update_yaxes(
        title_text=title, ticksuffix="%" if measure == "share" else "", rangemode="tozero"
    )
    return _finish(fig, traces)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def frame_share_figure(
    df: pd.DataFrame,
    legend: Legend,
    *,
    period: str,
    changes: Mapping[str, Sequence[tuple[date, float, float]]] = {},
    events: Iterable[KeyEvent] = (),
    topic_name: str = "",
) -> go.Figure:
    """Each frame's share of a topic's items, with 95% Wilson bands, shifts and key events.

    `df` has period_start, frame, items, total, share, share_low, share_high.
    """
    if df.empty:
        return empty_figure(f"No items tagged {topic_name or 'with this topic'} in this selection.")
    fig = new_figure()
    # bands first, lines and shifts over them: nine overlapping bands must not hide a line
    bands: list[Any] = []
    traces: list[Any] = []
    word = period_word(period)
    for frame, part in df.groupby("frame", sort=True):
        frame = str(frame)
        color, name = legend.color(frame), legend.name(frame)
        bands.append(
            go.Scatter(
                x=np.concatenate([_arr(part["period_start"]), _arr(part["period_start"])[::-1]]),
                y=np.concatenate(
                    [100 * _arr(part["share_high"]), 100 * _arr(part["share_low"])[::-1]]
                ),
                mode="lines",  # plotly's default adds a marker at every corner of the band
                fill="toself",
                fillcolor=_rgba(color, 0.08),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=frame,
                name=f"{name} 95% interval",
            )
        )
        traces.append(
            go.Scatter(
                x=_arr(part["period_start"]),
                y=100 * _arr(part["share"]),
                mode="lines+markers",
                name=name,
                legendgroup=frame,
                line={"color": color, "width": 2},
                marker={"size": 5},
                customdata=_custom(
                    frame,
                    part["items"],
                    part["total"],
                    100 * part["share_low"],
                    100 * part["share_high"],
                ),
                hovertemplate=(
                    f"<b>{name}</b><br>{word} of %{{x|%Y-%m-%d}}<br>%{{y:.1f}}% "
                    "(95% CI %{customdata[3]:.1f}–%{customdata[4]:.1f}%)<br>"
                    "%{customdata[1]:,} of %{customdata[2]:,} items<extra></extra>"
                ),
            )
        )
        for day, before, after in changes.get(frame, ()):
            traces.append(
                go.Scatter(
                    x=[day],
                    y=[100 * after],
                    mode="markers",
                    showlegend=False,
                    legendgroup=frame,
                    marker={
                        "symbol": "diamond",
                        "size": 12,
                        "color": color,
                        "line": {"color": "white", "width": 1.5},
                    },
                    customdata=[[frame, before, after]],
                    hovertemplate=(
                        f"<b>shift in {name}</b><br>from %{{x|%Y-%m-%d}}: "
                        f"{100 * before:.1f}% → {100 * after:.1f}% "
                        f"({100 * (after - before):+.1f} pp)<extra></extra>"
                    ),
                )
            )
            fig.add_annotation(
                x=day,
                y=100 * after,
                text=f"{day.isoformat()} {100 * (after - before):+.0f} pp",
                showarrow=True,
                arrowhead=0,
                ax=0,
                ay=-28,
                font={"size": 11, "color": "#222"},
                bgcolor="rgba(255,255,255,0.8)",
            )
    _add_events(fig, events)
    _date_axis(fig)
    fig.update_yaxes(
        title_text=f"% of the topic's items per {word}", ticksuffix="%", rangemode="tozero"
    )
    return _finish(fig, bands + traces, height=480)


def _add_events(fig: go.Figure, events: Iterable[KeyEvent]) -> None:
    for i, event in enumerate(events):
        fig.add_shape(
            type="line",
            x0=event.day,
            x1=event.day,
            y0=0,
            y1=1,
            yref="paper",
            line={"color": "#555", "width": 1, "dash": "dot"},
        )
        fig.add_annotation(
            x=event.day,
            y=1.0 - 0.06 * (i % 3),
            yref="paper",
            text=event.label,
            showarrow=False,
            xanchor="left",
            font={"size": 11, "color": "#333"},
            bgcolor="rgba(255,255,255,0.7)",
            hovertext=f"{event.day.isoformat()}: {event.label}",
        )


def log_odds_figure(top: pd.DataFrame, *, side_a: str, side_b: str) -> go.Figure:
    """The most distinctive terms of each side as bars of their z-scores."""
    if top.empty:
        return empty_figure("Too few words in one of the two selections to compare them.")
    top = top.sort_values("z")
    fig = new_figure()
    traces: list[Any] = []
    for side, name in (("B", side_b), ("A", side_a)):
        part = top[top["side"] == side]
        traces.append(
            go.Bar(
                x=part["z"],
                y=part["term"],
                orientation="h",
                name=f"typical of {name}",
                marker_color=SIDE_COLORS[side],
                customdata=list(zip(part["term"], part["count_a"], part["count_b"], strict=True)),
                hovertemplate=(
                    "<b>%{customdata[0]}</b><br>z = %{x:.2f}<br>"
                    f"{side_a}: %{{customdata[1]:,}} uses<br>"
                    f"{side_b}: %{{customdata[2]:,}} uses<extra></extra>"
                ),
            )
        )
    fig.update_xaxes(title_text="z-score of the log-odds ratio (informative Dirichlet prior)")
    fig.update_yaxes(
        title_text=None, showgrid=False, categoryorder="array", categoryarray=list(top["term"])
    )
    return _finish(fig, traces, height=max(360, 22 * len(top) + 120))


def compare_heatmap(df: pd.DataFrame, legend: Legend) -> go.Figure:
    """Share of each frame (columns) within each source group (rows)."""
    if df.empty:
        return empty_figure("No items with this topic in these source groups.")
    groups = list(dict.fromkeys(df["group"]))
    frames = sorted(set(df["frame"]))
    table = df.assign(pct=100 * df["items"] / df["total"].where(df["total"] > 0, 1))
    pivot = table.pivot(index="group", columns="frame", values="pct").reindex(groups)[frames]
    pivot = pivot.fillna(0.0)
    counts = table.pivot(index="group", columns="frame", values="items").reindex(groups)[frames]
    counts = counts.fillna(0)
    totals = table.groupby("group")["total"].first().reindex(groups)
    custom = [[[g, f, int(counts.loc[g, f]), int(totals[g])] for f in frames] for g in groups]
    fig = new_figure()
    fig.add_trace(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=[legend.name(f) for f in frames],
            y=[f"{g} (n={int(totals[g]):,})" for g in groups],
            colorscale="Blues",
            zmin=0,
            colorbar={"title": {"text": "% of items"}, "ticksuffix": "%"},
            text=pivot.round(0).to_numpy(),
            texttemplate="%{text:.0f}%",
            customdata=custom,
            hovertemplate=(
                "<b>%{customdata[0]}</b> · %{x}<br>%{z:.1f}% "
                "(%{customdata[2]:,} of %{customdata[3]:,} items)<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(tickangle=-30, showgrid=False)
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return _style(fig, height=max(320, 48 * len(groups) + 160))


def compare_small_multiples(df: pd.DataFrame, legend: Legend, *, period: str) -> go.Figure:
    """One panel per source group: each frame's share over time, same colours and scale."""
    if df.empty:
        return empty_figure("No items with this topic in these source groups.")
    groups = list(dict.fromkeys(df["group"]))
    cols = 2 if len(groups) > 1 else 1
    rows = (len(groups) + cols - 1) // cols
    spacing = 0.12 / max(1, rows - 1) + 0.04
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=groups,
        vertical_spacing=min(spacing, 0.15),
        figure=new_figure(),
    )
    word = period_word(period)
    traces: list[Any] = []
    shown: set[str] = set()
    for i, group in enumerate(groups):
        part = df[df["group"] == group]
        for frame, series in part.groupby("frame", sort=True):
            frame = str(frame)
            share = 100 * series["items"] / series["total"].where(series["total"] > 0, 1)
            traces.append(
                (
                    go.Scatter(
                        x=_arr(series["period_start"]),
                        y=_arr(share),
                        mode="lines",
                        name=legend.name(frame),
                        legendgroup=frame,
                        showlegend=frame not in shown,
                        line={"color": legend.color(frame), "width": 1.8},
                        customdata=_custom(group, frame, series["items"], series["total"]),
                        hovertemplate=(
                            f"<b>{group}</b> · {legend.name(frame)}<br>{word} of "
                            "%{x|%Y-%m-%d}: %{y:.1f}% (%{customdata[2]:,} of "
                            "%{customdata[3]:,} items)<extra></extra>"
                        ),
                    ),
                    i // cols + 1,
                    i % cols + 1,
                )
            )
            shown.add(frame)
    fig.update_xaxes(tickformat="%Y-%m-%d", showgrid=False)
    fig.update_yaxes(ticksuffix="%", rangemode="tozero", showgrid=True, gridcolor="#e5e5e5")
    return _finish(fig, traces, height=max(320, 230 * rows + 80))


def theme_trend_figure(df: pd.DataFrame, *, period: str) -> go.Figure:
    """Items per theme per period; themes have no fixed colour, so lines also differ in dash."""
    if df.empty:
        return empty_figure("No themes yet: run `monitor themes` once items are tagged.")
    fig = new_figure()
    traces: list[Any] = []
    word = period_word(period)
    for i, ((theme_id, label), part) in enumerate(df.groupby(["theme_id", "label"], sort=True)):
        traces.append(
            go.Scatter(
                x=_arr(part["period_start"]),
                y=_arr(part["items"]),
                mode="lines",
                name=str(label)[:40],
                line={
                    "color": OKABE_ITO[i % len(OKABE_ITO)],
                    "dash": DASHES[(i // 9) % 4],
                    "width": 2,
                },
                customdata=_custom(part["items"] * 0 + int(theme_id), str(label)),
                hovertemplate=(
                    f"<b>%{{customdata[1]}}</b><br>{word} of %{{x|%Y-%m-%d}}: "
                    "%{y:,} items<extra></extra>"
                ),
            )
        )
    _date_axis(fig)
    fig.update_yaxes(title_text=f"items per {word}", rangemode="tozero")
    return _finish(fig, traces)
