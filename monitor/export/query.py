"""Which items an export or an API page holds: one filter, one SQL query, read in chunks.

The CLI export, the API's item pages and its downloads all go through
`ItemFilter` and `item_rows`, so the same parameters select the same rows
everywhere. Rows are read by keyset pagination on the item id (``id > last
ORDER BY id LIMIT n``): memory stays bounded on every backend, the order is
stable, and an API cursor is nothing but the last id seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, literal, or_, select
from sqlalchemy.orm import Session, aliased

from monitor.config import SOURCE_TYPES, Settings
from monitor.errors import InputError
from monitor.store.models import AnalystLabel, Feed, Item, ItemScores, Source, Tag
from monitor.store.search import in_id_order, search_words, text_matches
from monitor.store.tags import StoredLabel, stored_labels

#: items read per query; the tags and analyst labels of a chunk are read with one IN list each
CHUNK = 1000


@dataclass(frozen=True)
class ItemFilter:
    """The selection of an export: every field empty means every item.

    Within one field the values are alternatives (any of these topics); the
    fields are combined with AND. Dates are UTC days, both ends included.
    """

    since: date | None = None
    until: date | None = None
    topics: tuple[str, ...] = ()
    frames: tuple[str, ...] = ()
    #: with topics or frames: their score must reach it (instead of being positive);
    #: alone: some topic's score must reach it
    min_score: float | None = None
    publishers: tuple[str, ...] = ()
    source_types: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    #: words that must all occur in the title, summary or content (monitor.store.search)
    query: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The filter normalised: what the datasheet records and a cursor is bound to."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "topics": list(self.topics),
            "frames": list(self.frames),
            "min_score": self.min_score,
            "publishers": list(self.publishers),
            "source_types": list(self.source_types),
            "countries": list(self.countries),
            "languages": list(self.languages),
            "query": self.query,
        }

    def fingerprint(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))


def make_filter(
    settings: Settings,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    topics: Sequence[str] = (),
    frames: Sequence[str] = (),
    min_score: str | float | None = None,
    publishers: Sequence[str] = (),
    source_types: Sequence[str] = (),
    countries: Sequence[str] = (),
    languages: Sequence[str] = (),
    query: str | None = None,
) -> ItemFilter:
    """Check and normalise raw values; InputError names the bad parameter."""
    topic_ids = [t.id for t in settings.tagging.topics]
    frame_ids = [f.id for f in settings.tagging.frames]
    since_day = _day("since", since)
    until_day = _day("until", until)
    if since_day and until_day and since_day > until_day:
        raise InputError(f"since: {since_day} is after until {until_day}")
    return ItemFilter(
        since=since_day,
        until=until_day,
        topics=_choices("topic", topics, topic_ids),
        frames=_choices("frame", frames, frame_ids),
        min_score=_score(min_score),
        publishers=_texts("publisher", publishers),
        source_types=_choices("source_type", source_types, list(SOURCE_TYPES)),
        countries=tuple(sorted({c.upper() for c in _texts("country", countries)})),
        languages=tuple(sorted({lang.lower() for lang in _texts("language", languages)})),
        query=_query(query),
    )


def _day(name: str, value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{name}: not a date YYYY-MM-DD: {value!r}") from None


def _choices(name: str, values: Sequence[str], allowed: list[str]) -> tuple[str, ...]:
    for value in values:
        if value not in allowed:
            raise InputError(f"{name}: unknown value {value!r}; one of {', '.join(allowed)}")
    return tuple(sorted(set(values), key=allowed.index))


def _texts(name: str, values: Sequence[str]) -> tuple[str, ...]:
    cleaned = {v.strip() for v in values}
    if "" in cleaned:
        raise InputError(f"{name}: must not be empty")
    return tuple(sorted(cleaned))


def _score(value: str | float | None) -> float | None:
    if value is None:
        return None
    try:
        score = float(value)
    except ValueError:
        raise InputError(f"min_score: not a number: {value!r}") from None
    if not 0.0 <= score <= 1.0:  # also refuses NaN
        raise InputError(f"min_score: must be between 0 and 1, not {value!r}")
    return score


def _query(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise InputError("query: must not be empty")
    if len(value) > 500:
        raise InputError("query: longer than 500 characters")
    if not search_words(value):
        raise InputError("query: no word to search for (letters or digits)")
    return value


# ---- SQL -------------------------------------------------------------------

_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _tag_condition(kind: str, labels: tuple[str, ...], min_score: float | None) -> Any:
    if min_score is not None:
        return _score_condition(kind, labels, min_score)
    # an alias, so a query that also joins tags (the series) does not correlate with it
    tag = aliased(Tag)
    conditions = [tag.item_id == Item.id, tag.kind == kind, tag.is_positive.is_(True)]
    if labels:
        conditions.append(tag.label.in_(labels))
    return exists().where(and_(*conditions))


def _score_condition(kind: str, labels: tuple[str, ...], min_score: float) -> Any:
    """Some of these labels' scores (no labels: some topic's) reach min_score."""
    if not labels:
        reached = ItemScores.top_topic_score >= min_score
    else:
        scores = ItemScores.topics if kind == "topic" else ItemScores.frames
        reached = or_(*(scores[label].as_float() >= min_score for label in labels))
    return exists().where(ItemScores.item_id == Item.id, reached)


def filtered(query: _Query, selection: ItemFilter) -> _Query:
    """Add the filter's WHERE clauses to a query over items joined with sources."""
    f = selection
    if f.since:
        query = query.where(Item.published_at >= _day_start(f.since))
    if f.until:
        query = query.where(Item.published_at < _day_start(f.until + timedelta(days=1)))
    if f.topics:
        query = query.where(_tag_condition("topic", f.topics, f.min_score))
    if f.frames:
        query = query.where(_tag_condition("frame", f.frames, f.min_score))
    if f.min_score is not None and not (f.topics or f.frames):
        query = query.where(_tag_condition("topic", (), f.min_score))
    if f.publishers:
        query = query.where(Source.name.in_(f.publishers))
    if f.source_types:
        query = query.where(Source.source_type.in_(f.source_types))
    if f.countries:
        query = query.where(Source.country.in_(f.countries))
    if f.languages:
        query = query.where(Item.language.in_(f.languages))
    if f.query:
        query = query.where(text_matches(f.query))
    return query


# ---- rows ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    """One item as exported: the item, where it came from, its tags and corrections."""

    id: int
    canonical_url: str | None
    url: str | None
    title: str
    summary: str
    content: str
    published_at: datetime
    fetched_at: datetime
    publisher: str
    feed_url: str | None
    source_type: str
    country: str
    language: str
    content_hash: str
    #: label id → its tag (one tagger version: the newest row per label)
    tags: dict[str, StoredLabel]
    #: analyst corrections, oldest first
    analyst_labels: list[dict[str, Any]]


def item_rows(
    session: Session,
    selection: ItemFilter,
    *,
    after: int = 0,
    limit: int | None = None,
    with_content: bool = False,
    chunk: int = CHUNK,
) -> Iterator[ItemRow]:
    """Matching items in id order, from the first id above `after`, at most `limit`."""
    last, left = after, limit
    while left is None or left > 0:
        size = chunk if left is None else min(chunk, left)
        page = _item_chunk(session, selection, last, size, with_content)
        if not page:
            return
        ids = [row[0] for row in page]
        tags = stored_labels(session.connection(), ids)
        corrections = _corrections_of(session, ids)
        for row in page:
            yield _item_row(row, tags.get(row[0], {}), corrections.get(row[0], []))
        last = ids[-1]
        if left is not None:
            left -= len(page)
        if len(page) < size:
            return
        # each chunk's rows leave the identity map: memory stays bounded
        session.expunge_all()


def _item_chunk(
    session: Session, selection: ItemFilter, after: int, size: int, with_content: bool
) -> list[Any]:
    content = Item.content_text if with_content else literal("")
    query = (
        select(
            Item.id,
            Item.canonical_url,
            Item.url,
            Item.title,
            Item.summary_text,
            content,
            Item.published_at,
            Item.fetched_at,
            Source.name,
            Feed.url,
            Source.source_type,
            Source.country,
            Item.language,
            Item.content_hash,
        )
        .join(Source, Item.source_id == Source.id)
        .outerjoin(Feed, Item.feed_id == Feed.id)
    )
    item_id: ColumnElement[int] = Item.__table__.c.id
    if selection.query:
        dialect = session.get_bind().dialect.name
        query, item_id = in_id_order(query, selection.query, dialect)
        selection = replace(selection, query=None)
    query = query.where(item_id > after).order_by(item_id).limit(size)
    return list(session.connection().execute(filtered(query, selection)).all())


def _corrections_of(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    rows = session.scalars(
        select(AnalystLabel)
        .where(AnalystLabel.item_id.in_(ids))
        .order_by(AnalystLabel.item_id, AnalystLabel.created_at, AnalystLabel.id)
    )
    for label in rows:
        found.setdefault(label.item_id, []).append(
            {
                "kind": label.kind,
                "label": label.label,
                "applies": label.applies,
                "analyst": label.analyst,
                "note": label.note,
                "created_at": iso_utc(label.created_at),
            }
        )
    return found


def _item_row(row: Any, tags: dict[str, StoredLabel], corrections: list[dict[str, Any]]) -> ItemRow:
    (item_id, canonical, url, title, summary, content, published, fetched,
     publisher, feed_url, source_type, country, language, content_hash) = row  # fmt: skip
    return ItemRow(
        id=item_id,
        canonical_url=canonical,
        url=url,
        title=title,
        summary=summary,
        content=content or "",
        published_at=published,
        fetched_at=fetched,
        publisher=publisher,
        feed_url=feed_url,
        source_type=source_type,
        country=country,
        language=language,
        content_hash=content_hash,
        tags=tags,
        analyst_labels=corrections,
    )


def iso_utc(moment: datetime) -> str:
    """UTC ISO 8601 with a Z; microseconds only when there are some."""
    moment = moment.astimezone(UTC)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
