"""Store the latest theme fit. Functions take a Session and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from monitor.store.models import Item, ItemTheme, Tag, Theme, ThemeCount
from monitor.tagging.themes import ThemeDocument, ThemeFit


def on_topic_documents(session: Session, *, limit: int) -> list[ThemeDocument]:
    """The most recent items with at least one positive topic tag."""
    on_topic = select(Tag.item_id).where(Tag.kind == "topic", Tag.is_positive).distinct()
    rows = session.execute(
        select(Item.id, Item.title, Item.summary_text, Item.content_text, Item.published_at)
        .where(Item.id.in_(on_topic))
        .order_by(Item.published_at.desc(), Item.id.desc())
        .limit(limit)
    ).all()
    return [
        ThemeDocument(row.id, f"{row.title}. {row.summary_text} {row.content_text[:2000]}",
                      row.published_at)
        for row in sorted(rows, key=lambda r: r.id)
    ]  # fmt: skip


def replace_themes(session: Session, fit: ThemeFit, *, now: datetime) -> list[Theme]:
    """Swap the stored themes for this fit's."""
    session.execute(delete(ItemTheme))
    session.execute(delete(ThemeCount))
    session.execute(delete(Theme))
    stored: dict[int, Theme] = {}
    for theme in fit.themes:
        row = Theme(
            fit_id=fit.fit_id,
            position=theme.position,
            label=theme.label[:500],
            top_terms=[[term, weight] for term, weight in theme.top_terms],
            items=theme.items,
            fitted_at=now,
        )
        session.add(row)
        stored[theme.position] = row
    session.flush()
    counts = [
        {"theme_id": stored[t.position].id, "period_start": week, "items": n}
        for t in fit.themes
        for week, n in t.weekly.items()
    ]
    if counts:
        session.execute(insert(ThemeCount), counts)
    links = [
        {"item_id": item_id, "theme_id": stored[position].id, "weight": weight}
        for item_id, position, weight in fit.assignments
    ]
    if links:
        session.execute(insert(ItemTheme), links)
    return [stored[p] for p in sorted(stored)]


def stored_themes(session: Session) -> list[Theme]:
    return list(session.scalars(select(Theme).order_by(Theme.position)).all())
