"""The item_counts table: what it must hold, and recomputing it from items and tags.

Triggers keep the table current (alembic/versions/0004_counts_and_search.py);
this module states the same numbers as one GROUP BY over items and tags, used
to fill the table after a bulk load or the migration, and by the tests that
check the triggers never drift from it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Date,
    and_,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from monitor.store.models import ALL_SOURCES, Item, ItemCount, Tag

COLUMNS = ("topic", "frame", "source_id", "day", "language", "items")


def utc_day(dialect: str, published_at: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp, as the triggers compute it."""
    if dialect == "sqlite":
        # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC
        return func.substr(published_at, 1, 10)
    return cast(func.timezone("UTC", published_at), Date)


def counts_from_scratch(dialect: str) -> CompoundSelect[Any]:
    """(topic, frame, source_id, day, language, items) computed from items and tags."""
    day = utc_day(dialect, Item.published_at).label("day")
    keys = (Item.source_id, day, Item.language)
    topic, frame = aliased(Tag), aliased(Tag)
    positive_topic = and_(topic.kind == "topic", topic.is_positive.is_(True))
    empty: ColumnElement[str] = literal_column("''")
    items = func.count().label("items")
    totals = select(empty.label("topic"), empty.label("frame"), *keys, items).group_by(*keys)
    topics = (
        select(topic.label, empty, *keys, items)
        .join(Item, Item.id == topic.item_id)
        .where(positive_topic)
        .group_by(topic.label, *keys)
    )
    pairs = (
        select(topic.label, frame.label, *keys, items)
        .select_from(topic)
        .join(
            frame,
            and_(
                frame.item_id == topic.item_id,
                frame.kind == "frame",
                frame.is_positive.is_(True),
            ),
        )
        .join(Item, Item.id == topic.item_id)
        .where(positive_topic)
        .group_by(topic.label, frame.label, *keys)
    )
    per_source = union_all(totals, topics, pairs).cte("per_source")
    c = per_source.c
    all_sources = select(
        c.topic, c.frame, literal_column(str(ALL_SOURCES)), c.day, c.language, func.sum(c["items"])
    ).group_by(c.topic, c.frame, c.day, c.language)
    return union_all(select(per_source), all_sources)


def rebuild_counts(conn: Connection) -> None:
    """Replace every count by its value computed from scratch."""
    conn.execute(delete(ItemCount))
    conn.execute(
        insert(ItemCount).from_select(list(COLUMNS), counts_from_scratch(conn.dialect.name))
    )
