"""Read queries for the dashboard: SQL aggregation that returns small DataFrames.

Every function takes an Engine and a ViewFilter and lets the database group and
count; no function loads all items. The time series and group comparisons sum
`item_counts` (items per UTC day, source, language, topic and frame, kept by
triggers; see docs/dashboard-data.md) into ISO weeks or calendar months in SQL,
so both backends give the same table. The one exception to aggregation is
`text_sample`, which returns a bounded sample of titles and summaries for term
counting (see its docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    Select,
    cast,
    exists,
    func,
    literal_column,
    select,
)

from dashboards.filters import ViewFilter
from monitor.store.models import (
    ALL_SOURCES,
    AnalystLabel,
    Feed,
    Item,
    ItemCount,
    ItemTheme,
    Source,
    Tag,
    Theme,
    ThemeCount,
)
from monitor.store.search import has_many_matches, text_matches
from monitor.store.session import transaction
from monitor.store.tags import stored_labels

GROUPINGS = ("source_type", "country", "publisher", "language")
#: how much of a summary the term sample reads (titles are read whole)
SAMPLE_SUMMARY_CHARS = 1000
#: matches from which a search walks items newest first instead of sorting its matches
MANY_MATCHES = 10_000


# --- helpers ---------------------------------------------------------------------------


def _frame(engine: Engine, statement: Any, columns: list[str]) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def period_start(days: pd.Series, period: str) -> pd.Series:
    """Monday of the ISO week or first of the month for 'YYYY-MM-DD' strings."""
    stamps = pd.to_datetime(days.astype(str).str.slice(0, 10), format="%Y-%m-%d")
    if period == "month":
        return stamps.dt.to_period("M").dt.start_time
    return stamps - pd.to_timedelta(stamps.dt.day_of_week, unit="D")


def period_end(start: date, period: str) -> date:
    if period == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=7)


def _rollup(df: pd.DataFrame, period: str, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Sum day or period buckets ('YYYY-MM-DD') into periods."""
    if df.empty:
        return pd.DataFrame(columns=["period_start", *keys, *values])
    df = df.assign(period_start=period_start(df["bucket"], period)).drop(columns="bucket")
    return df.groupby(["period_start", *keys], as_index=False)[values].sum()


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _filtered(query: Select[Any], view: ViewFilter) -> Select[Any]:
    """Restrict a query that reads `Item` to the items the filter selects."""
    if view.start:
        query = query.where(Item.published_at >= _utc(view.start))
    if view.end:
        query = query.where(Item.published_at < _utc(view.end + timedelta(days=1)))
    if view.languages:
        query = query.where(Item.language.in_(view.languages))
    sources = _sources(view)
    if sources is not None:
        query = query.where(Item.source_id.in_(sources))
    return query


def _sources(view: ViewFilter) -> Select[Any] | None:
    """The ids of the sources the filter keeps, or None for all."""
    conditions = []
    if view.source_types:
        conditions.append(Source.source_type.in_(view.source_types))
    if view.countries:
        conditions.append(Source.country.in_(view.countries))
    if view.publishers:
        conditions.append(Source.name.in_(view.publishers))
    return select(Source.id).where(*conditions) if conditions else None


#: items in a group of item_counts rows (decrements can leave rows at 0)
_ITEMS = func.sum(ItemCount.items)


def _period(engine: Engine, period: str) -> ColumnElement[Any]:
    """The first day ('YYYY-MM-DD') of each item_counts row's week or month.

    Grouping by period in SQL, not by day, keeps the rows fetched few: a day
    per frame and group over years would be hundreds of thousands.
    """
    if engine.dialect.name != "sqlite":
        midnight = cast(ItemCount.day, DateTime)  # without a time zone: no session offset
        return func.to_char(func.date_trunc(period, midnight), "YYYY-MM-DD")
    if period == "month":
        return func.substr(ItemCount.day, 1, 8) + "01"
    # julian day numbers: (n + 1) % 7 counts the days since Monday
    number = cast(func.julianday(ItemCount.day), Integer)
    return func.date(number - (number + 1) % 7 + 0.5)


def _counted(query: Select[Any], view: ViewFilter, *, by_source: bool = False) -> Select[Any]:
    """Restrict a query that reads `ItemCount` to the days, sources and languages selected.

    Reads the all-sources rows unless the view picks sources or the query groups
    by source (`by_source`); never both kinds, which would count items twice.
    """
    if view.start:
        query = query.where(ItemCount.day >= view.start)
    if view.end:
        query = query.where(ItemCount.day <= view.end)
    if view.languages:
        query = query.where(ItemCount.language.in_(view.languages))
    sources = _sources(view)
    if sources is not None:
        return query.where(ItemCount.source_id.in_(sources))
    if by_source:
        return query.where(ItemCount.source_id != ALL_SOURCES)
    return query.where(ItemCount.source_id == ALL_SOURCES)


def _labelled(label: str) -> ColumnElement[bool]:
    """Items with `label` positive, for queries that list items newest first.

    A label holds thousands of items: '+ 0' has SQLite test each item it walks
    in date order against them, rather than fetch them all and sort.
    """
    positive = select(Tag.item_id).where(Tag.label == label, Tag.is_positive.is_(True))
    return (Item.id + literal_column("0")).in_(positive)


def _group_column(group_by: str) -> ColumnElement[Any]:
    """The item_counts column (language) or sources column a comparison groups by."""
    return {
        "source_type": Source.source_type,
        "country": Source.country,
        "publisher": Source.name,
        "language": ItemCount.language,
    }[group_by]


# --- filter choices --------------------------------------------------------------------


def filter_options(engine: Engine) -> dict[str, list[str]]:
    """The values the filter controls offer, from the sources and items stored."""
    with engine.connect() as conn:
        sources = conn.execute(select(Source.name, Source.source_type, Source.country)).all()
        languages = conn.scalars(select(Item.language).distinct()).all()
    return {
        "source_types": sorted({s.source_type for s in sources}),
        "countries": sorted({s.country for s in sources}),
        "publishers": sorted(s.name for s in sources),
        "languages": sorted(lang for lang in languages if lang),
    }


def date_span(engine: Engine) -> tuple[date | None, date | None]:
    """The first and last publication day stored (None when there are no items)."""
    # two subqueries: SQLite reads one end of the index for each, but scans it for both
    with engine.connect() as conn:
        first, last = conn.execute(
            select(
                select(func.min(Item.published_at)).scalar_subquery(),
                select(func.max(Item.published_at)).scalar_subquery(),
            )
        ).one()
    return _as_day(first), _as_day(last)


def _as_day(value: Any) -> date | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.date()


# --- overview --------------------------------------------------------------------------


def topic_counts(
    engine: Engine, view: ViewFilter, period: str, topics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Items per topic per period: period_start, topic, items."""
    chosen = ItemCount.topic.in_(list(topics)) if topics else ItemCount.topic != ""
    bucket = _period(engine, period).label("bucket")
    query = _counted(
        select(bucket, ItemCount.topic, _ITEMS)
        .where(chosen, ItemCount.frame == "")
        .group_by(ItemCount.topic, bucket)
        .having(_ITEMS > 0),
        view,
    )
    df = _frame(engine, query, ["bucket", "topic", "items"])
    return _rollup(df, period, ["topic"], ["items"])


def item_totals(engine: Engine, view: ViewFilter, period: str) -> pd.DataFrame:
    """All items per period from the filtered sources (the denominator of attention)."""
    bucket = _period(engine, period).label("bucket")
    query = _counted(
        select(bucket, _ITEMS)
        .where(ItemCount.topic == "", ItemCount.frame == "")
        .group_by(bucket)
        .having(_ITEMS > 0),
        view,
    )
    df = _frame(engine, query, ["bucket", "total"])
    return _rollup(df, period, [], ["total"])


def topic_attention(
    engine: Engine, view: ViewFilter, period: str, topics: Sequence[str] | None = None
) -> pd.DataFrame:
    """period_start, topic, items, total: counts and the all-items denominator per period."""
    counts = topic_counts(engine, view, period, topics)
    totals = item_totals(engine, view, period)
    if counts.empty:
        return pd.DataFrame(columns=["period_start", "topic", "items", "total"])
    merged = counts.merge(totals, on="period_start", how="left").fillna({"total": 0})
    merged["total"] = merged["total"].astype(int)
    return merged.sort_values(["topic", "period_start"], ignore_index=True)


def latest_on_topic(
    engine: Engine, view: ViewFilter, limit: int = 10, topics: Sequence[str] | None = None
) -> pd.DataFrame:
    """The newest items with any topic, with their topics comma-joined."""
    query = _filtered(
        select(Item.id, Item.published_at, Item.title, Source.name, Item.canonical_url, Item.url)
        .join(Source, Source.id == Item.source_id)
        # walk items newest first, look each one's topics up, stop at `limit`
        .where(
            exists().where(
                Tag.item_id == Item.id,
                Tag.kind == "topic",
                Tag.is_positive.is_(True),
                *([Tag.label.in_(list(topics))] if topics else []),
            )
        )
        .order_by(Item.published_at.desc(), Item.id.desc())
        .limit(limit),
        view,
    )
    df = _frame(engine, query, ["id", "published_at", "title", "publisher", "canonical_url", "url"])
    return _with_labels(engine, _with_link(df), kind="topic")


def _with_link(df: pd.DataFrame) -> pd.DataFrame:
    link = df["canonical_url"].where(df["canonical_url"].notna(), df["url"]) if len(df) else []
    return df.assign(link=link).drop(columns=["canonical_url", "url"])


def _with_labels(engine: Engine, df: pd.DataFrame, *, kind: str | None = None) -> pd.DataFrame:
    """Add 'labels': the positive topic/frame ids of each item, comma-joined."""
    if df.empty:
        return df.assign(labels=pd.Series(dtype=str))
    query = select(Tag.item_id, Tag.label).where(
        Tag.item_id.in_([int(i) for i in df["id"]]), Tag.is_positive.is_(True)
    )
    if kind:
        query = query.where(Tag.kind == kind)
    labels: dict[int, list[str]] = {}
    with engine.connect() as conn:
        for item_id, label in conn.execute(query.order_by(Tag.kind.desc(), Tag.label)):
            labels.setdefault(item_id, []).append(label)
    return df.assign(labels=[", ".join(labels.get(int(i), [])) for i in df["id"]])


def feed_health(engine: Engine) -> pd.DataFrame:
    """Feeds per status: status, enabled, feeds."""
    query = select(Feed.status, Feed.enabled, func.count()).group_by(Feed.status, Feed.enabled)
    df = _frame(engine, query, ["status", "enabled", "feeds"])
    return df.sort_values(["enabled", "feeds"], ascending=[False, False], ignore_index=True)


# --- framing ---------------------------------------------------------------------------


def frame_counts(engine: Engine, view: ViewFilter, topic: str, period: str) -> pd.DataFrame:
    """period_start, frame, items, total: items of `topic` per period and per frame.

    `total` is the topic's items in the period, so items/total is the frame's
    share; every (period, frame) pair that has topic items is present, with 0
    items where the frame is absent, so share series have no holes.
    """
    bucket = _period(engine, period).label("bucket")
    totals_q = _group_counts(view, topic, (bucket,), frames=False, by_source=False)
    frames_q = _group_counts(view, topic, (bucket,), frames=True, by_source=False)
    totals = _rollup(_frame(engine, totals_q, ["bucket", "total"]), period, [], ["total"])
    frames = _rollup(
        _frame(engine, frames_q, ["bucket", "frame", "items"]), period, ["frame"], ["items"]
    )
    if totals.empty:
        return pd.DataFrame(columns=["period_start", "frame", "items", "total"])
    labels = sorted(set(frames["frame"])) if not frames.empty else []
    grid = totals.merge(pd.DataFrame({"frame": labels}), how="cross")
    out = grid.merge(frames, on=["period_start", "frame"], how="left").fillna({"items": 0})
    out["items"] = out["items"].astype(int)
    out["total"] = out["total"].astype(int)
    return out[["period_start", "frame", "items", "total"]].sort_values(
        ["frame", "period_start"], ignore_index=True
    )


# --- compare ---------------------------------------------------------------------------


def _group_counts(
    view: ViewFilter, topic: str, keys: tuple[Any, ...], *, frames: bool, by_source: bool
) -> Select[Any]:
    """The topic's items (or its frame pairs) grouped by `keys` (and the frame)."""
    keys = (*keys, *([ItemCount.frame] if frames else []))
    query = (
        select(*keys, _ITEMS)
        .select_from(ItemCount)
        .where(
            ItemCount.topic == topic,
            ItemCount.frame != "" if frames else ItemCount.frame == "",
        )
        .group_by(*keys)
        .having(_ITEMS > 0)
    )
    return _counted(query, view, by_source=by_source)


def frame_by_group(engine: Engine, view: ViewFilter, topic: str, group_by: str) -> pd.DataFrame:
    """group, frame, items, total: the frame mix of `topic` within each source group.

    Counted per source and named here: SQLite then groups in key order, without
    joining sources or sorting.
    """
    by_source = group_by != "language"
    key = ItemCount.source_id if by_source else ItemCount.language
    totals_q = _group_counts(view, topic, (key,), frames=False, by_source=by_source)
    frames_q = _group_counts(view, topic, (key,), frames=True, by_source=by_source)
    totals = _frame(engine, totals_q, ["group", "total"])
    frames = _frame(engine, frames_q, ["group", "frame", "items"])
    if totals.empty:
        return pd.DataFrame(columns=["group", "frame", "items", "total"])
    if by_source:
        with engine.connect() as conn:
            names = dict(conn.execute(select(Source.id, _group_column(group_by))).all())
        totals = totals.assign(group=totals["group"].map(names))
        totals = totals.groupby("group", as_index=False).sum()
        frames = frames.assign(group=frames["group"].map(names))
        frames = frames.groupby(["group", "frame"], as_index=False).sum()
    labels = sorted(set(frames["frame"])) if not frames.empty else []
    grid = totals.merge(pd.DataFrame({"frame": labels}), how="cross")
    out = grid.merge(frames, on=["group", "frame"], how="left").fillna({"items": 0})
    out["items"] = out["items"].astype(int)
    return out[["group", "frame", "items", "total"]].sort_values(
        ["total", "group", "frame"], ascending=[False, True, True], ignore_index=True
    )


def frame_by_group_over_time(
    engine: Engine, view: ViewFilter, topic: str, group_by: str, groups: list[str], period: str
) -> pd.DataFrame:
    """group, period_start, frame, items, total for the chosen groups (small multiples)."""
    columns = ["group", "period_start", "frame", "items", "total"]
    if not groups:
        return pd.DataFrame(columns=columns)
    group = _group_column(group_by)
    by_source = group_by != "language"
    keys = (group, _period(engine, period).label("bucket"))
    totals_q = _group_counts(view, topic, keys, frames=False, by_source=by_source)
    frames_q = _group_counts(view, topic, keys, frames=True, by_source=by_source)
    if by_source:
        # the chosen groups' sources first: the key then leads to their rows only
        chosen = ItemCount.source_id.in_(select(Source.id).where(group.in_(groups)))
        totals_q = totals_q.join(Source, Source.id == ItemCount.source_id).where(chosen)
        frames_q = frames_q.join(Source, Source.id == ItemCount.source_id).where(chosen)
    else:
        totals_q = totals_q.where(group.in_(groups))
        frames_q = frames_q.where(group.in_(groups))
    totals = _rollup(
        _frame(engine, totals_q, ["group", "bucket", "total"]), period, ["group"], ["total"]
    )
    frames = _rollup(
        _frame(engine, frames_q, ["group", "bucket", "frame", "items"]),
        period,
        ["group", "frame"],
        ["items"],
    )
    if totals.empty:
        return pd.DataFrame(columns=columns)
    labels = sorted(set(frames["frame"])) if not frames.empty else []
    grid = totals.merge(pd.DataFrame({"frame": labels}), how="cross")
    out = grid.merge(frames, on=["group", "period_start", "frame"], how="left")
    out = out.fillna({"items": 0}).astype({"items": int, "total": int})
    order = {name: n for n, name in enumerate(groups)}
    out = out.assign(_order=out["group"].map(order)).sort_values(
        ["_order", "frame", "period_start"]
    )
    return out[columns].reset_index(drop=True)


# --- what changed ----------------------------------------------------------------------


def text_sample(
    engine: Engine, view: ViewFilter, topic: str | None, limit: int = 20_000
) -> pd.DataFrame:
    """The newest `limit` items of the filter (and topic): id, day, title, summary, publisher.

    Term statistics need the words, not counts, so this is the one query that
    returns rows per item. It is bounded: at most `limit` items, summaries cut
    to SAMPLE_SUMMARY_CHARS, newest first (the index on published_at serves it).
    """
    query = (
        select(
            Item.id,
            Item.published_at,
            Item.title,
            func.substr(Item.summary_text, 1, SAMPLE_SUMMARY_CHARS),
            Source.name,
            Item.canonical_url,
            Item.url,
        )
        .join(Source, Source.id == Item.source_id)
        .order_by(Item.published_at.desc(), Item.id.desc())
        .limit(limit)
    )
    if topic:
        query = query.where(_labelled(topic))
    df = _frame(
        engine,
        _filtered(query, view),
        ["id", "published_at", "title", "summary", "publisher", "canonical_url", "url"],
    )
    return _with_link(df)


# --- drill-down ------------------------------------------------------------------------


def items_behind(
    engine: Engine,
    view: ViewFilter,
    *,
    labels: tuple[str, ...] = (),
    period: str | None = None,
    start: date | None = None,
    theme_id: int | None = None,
    limit: int = 50,
) -> pd.DataFrame:
    """The items counted in one point of a chart: all `labels` positive, in one period."""
    if start is not None and period is not None:
        end = period_end(start, period)
        lo = max(start, view.start) if view.start else start
        hi = min(end - timedelta(days=1), view.end) if view.end else end - timedelta(days=1)
        view = view.with_(start=lo, end=hi)
    query = _item_list()
    for label in labels:
        query = query.where(_labelled(label))
    if theme_id is not None:
        query = query.where(
            Item.id.in_(select(ItemTheme.item_id).where(ItemTheme.theme_id == theme_id))
        )
    query = _filtered(query.order_by(Item.published_at.desc(), Item.id.desc()).limit(limit), view)
    return _item_list_frame(engine, query)


_ITEM_LIST_COLUMNS = (
    Item.id,
    Item.published_at,
    Item.title,
    Source.name,
    Item.language,
    Item.canonical_url,
    Item.url,
)


def _item_list() -> Select[Any]:
    """The columns of an item list (Items page, the items behind a chart point)."""
    return select(*_ITEM_LIST_COLUMNS).join(Source, Source.id == Item.source_id)


def _item_list_frame(engine: Engine, query: Select[Any]) -> pd.DataFrame:
    names = ["id", "published_at", "title", "publisher", "language", "canonical_url", "url"]
    return _with_labels(engine, _with_link(_frame(engine, query, names)))


# --- themes ----------------------------------------------------------------------------


def theme_table(engine: Engine) -> pd.DataFrame:
    """theme_id, position, label, top_terms (text), items of the latest fit."""
    query = select(Theme.id, Theme.position, Theme.label, Theme.top_terms, Theme.items).order_by(
        Theme.position
    )
    df = _frame(engine, query, ["theme_id", "position", "label", "top_terms", "items"])
    if not df.empty:
        df["top_terms"] = [", ".join(str(t[0]) for t in terms) for terms in df["top_terms"]]
    return df


def theme_trends(engine: Engine, view: ViewFilter, period: str) -> pd.DataFrame:
    """theme_id, label, period_start, items (weekly counts stored by the fit, rolled up)."""
    query = select(
        ThemeCount.theme_id, Theme.label, ThemeCount.period_start, ThemeCount.items
    ).join(Theme, Theme.id == ThemeCount.theme_id)
    if view.start:
        query = query.where(ThemeCount.period_start >= _utc(view.start))
    if view.end:
        query = query.where(ThemeCount.period_start < _utc(view.end + timedelta(days=1)))
    df = _frame(engine, query, ["theme_id", "label", "bucket", "items"])
    if df.empty:
        return pd.DataFrame(columns=["period_start", "theme_id", "label", "items"])
    df["bucket"] = [d.date().isoformat() for d in df["bucket"]]
    return _rollup(df, period, ["theme_id", "label"], ["items"])


# --- items -----------------------------------------------------------------------------


def search_items(
    engine: Engine,
    view: ViewFilter,
    *,
    text: str = "",
    labels: tuple[str, ...] = (),
    offset: int = 0,
    limit: int = 50,
) -> pd.DataFrame:
    """One page of items, newest first, with every word of `text` (see monitor.store.search)."""
    query = _item_list()
    if text.strip():
        with engine.connect() as conn:
            many = has_many_matches(conn, text, MANY_MATCHES)
        query = query.where(text_matches(text, many=many))
    for label in labels:
        query = query.where(_labelled(label))
    query = _filtered(
        query.order_by(Item.published_at.desc(), Item.id.desc()).offset(offset).limit(limit), view
    )
    return _item_list_frame(engine, query)


def item_detail(engine: Engine, item_id: int) -> dict[str, Any] | None:
    """One item with every label's score and its analysts' corrections."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                Item.id,
                Item.published_at,
                Item.title,
                Item.summary_text,
                Item.language,
                Item.canonical_url,
                Item.url,
                Source.name,
                Source.source_type,
                Source.country,
            )
            .join(Source, Source.id == Item.source_id)
            .where(Item.id == item_id)
        ).first()
        if row is None:
            return None
        tags = _item_tags(conn, item_id)
        corrections = conn.execute(
            select(
                AnalystLabel.kind,
                AnalystLabel.label,
                AnalystLabel.applies,
                AnalystLabel.analyst,
                AnalystLabel.note,
                AnalystLabel.created_at,
            )
            .where(AnalystLabel.item_id == item_id)
            .order_by(AnalystLabel.created_at.desc(), AnalystLabel.id.desc())
        ).all()
    return {
        "id": row.id,
        "published_at": row.published_at,
        "title": row.title,
        "summary": row.summary_text,
        "language": row.language,
        "link": row.canonical_url or row.url,
        "publisher": row.name,
        "source_type": row.source_type,
        "country": row.country,
        "tags": pd.DataFrame(
            [tuple(t) for t in tags],
            columns=["kind", "label", "score", "is_positive", "evidence", "tagger_version"],
        ),
        "corrections": pd.DataFrame(
            [tuple(c) for c in corrections],
            columns=["kind", "label", "applies", "analyst", "note", "created_at"],
        ),
    }


def _item_tags(conn: Connection, item_id: int) -> list[tuple[Any, ...]]:
    """(kind, label, score, is_positive, evidence, tagger_version) of every label, topics
    first, each kind by score."""
    labels = stored_labels(conn, [item_id]).get(item_id, {})
    return sorted(
        ((t.kind, label, t.score, t.is_positive, t.evidence, t.tagger_version)
         for label, t in labels.items()),
        key=lambda row: (row[0] != "topic", -row[2]),
    )  # fmt: skip


def store_correction(
    engine: Engine,
    *,
    item_id: int,
    kind: str,
    label: str,
    applies: bool,
    analyst: str,
    note: str = "",
    now: datetime | None = None,
) -> int:
    """Record an analyst's verdict on one label of one item; returns its id."""
    if not analyst.strip():
        raise ValueError("say who makes the correction")
    with transaction(engine) as session:
        row = AnalystLabel(
            item_id=item_id,
            kind=kind,
            label=label,
            applies=applies,
            analyst=analyst.strip()[:200],
            note=note.strip(),
            created_at=now or datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return int(row.id)


# --- sources ---------------------------------------------------------------------------


def feed_table(engine: Engine, now: datetime, *, weeks: int = 4) -> pd.DataFrame:
    """Every feed with its state and items per week over the last `weeks` weeks."""
    since = now - timedelta(weeks=weeks)
    # a range on published_at first, then group: the few recent items, not every feed's
    feed = (Item.feed_id + literal_column("0")).label("feed")  # '+ 0': not via ix_items_feed_id
    recent = _frame(
        engine,
        select(feed, func.count())
        .where(Item.published_at >= since, Item.feed_id.is_not(None))
        .group_by(feed),
        ["feed_id", "recent_items"],
    )
    query = (
        select(
            Feed.id,
            Source.name,
            Source.source_type,
            Source.country,
            Feed.language,
            Feed.url,
            Feed.enabled,
            Feed.status,
            Feed.status_line,
            Feed.last_success_at,
            Feed.failure_score,
            Feed.consecutive_failures,
            Feed.next_check_at,
        )
        .join(Source, Source.id == Feed.source_id)
        .order_by(Source.name, Feed.url)
    )
    df = _frame(
        engine,
        query,
        [
            "feed_id",
            "publisher",
            "source_type",
            "country",
            "language",
            "url",
            "enabled",
            "status",
            "status_line",
            "last_success_at",
            "failure_score",
            "consecutive_failures",
            "next_check_at",
        ],
    )
    df = df.merge(recent, on="feed_id", how="left").fillna({"recent_items": 0})
    df["items_per_week"] = (df["recent_items"] / weeks).round(1)
    return df.drop(columns="recent_items")
