"""Tags and analyst labels. Functions take a Session and never commit."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, Text, cast, delete, insert, select
from sqlalchemy.orm import Session

from monitor.store.models import AnalystLabel, Item, ItemScores, Tag
from monitor.tagging.dataset import LabeledItem
from monitor.tagging.tagger import TagInput, TagResult


class TagsMany(Protocol):
    """A Tagger, or anything that answers like one (the fetch cycle's tags computed ahead)."""

    def tag_many(self, items: Sequence[TagInput]) -> list[TagResult]: ...


def tag_items(
    session: Session,
    tagger: TagsMany,
    item_ids: Sequence[int],
    *,
    created: Sequence[_StoredTexts] = (),
) -> int:
    """Tag these stored items with the current tagger, replacing their earlier tags.

    `created`: those of them this transaction inserted, in hand: they are not read
    back, and have no earlier tags to replace.
    """
    wanted = set(item_ids)
    fresh = {item.id: item for item in created if item.id in wanted}
    stored = sorted(wanted - fresh.keys())
    rows: list[_StoredTexts] = list(fresh.values())
    if stored:
        rows += session.execute(
            select(Item.id, Item.title, Item.summary_text, Item.content_text, Item.language)
            .where(Item.id.in_(stored))
            .order_by(Item.id)
        ).all()
    if not rows:
        return 0
    results = tagger.tag_many([item_input(row) for row in rows])
    replace_tags(
        session,
        [(row.id, result) for row, result in zip(rows, results, strict=True)],
        untagged=fresh.keys(),
    )
    return len(rows)


class _ItemTexts(Protocol):
    """What tagging reads of a stored item: the item itself, its row, or the row it was
    inserted from."""

    @property
    def title(self) -> str: ...
    @property
    def summary_text(self) -> str: ...
    @property
    def content_text(self) -> str: ...
    @property
    def language(self) -> str: ...


class _StoredTexts(_ItemTexts, Protocol):
    @property
    def id(self) -> int: ...


def item_input(item: _ItemTexts) -> TagInput:
    return TagInput(item.title, item.summary_text, item.content_text, item.language)


def replace_tags(
    session: Session, tagged: Sequence[tuple[int, TagResult]], *, untagged: Collection[int] = ()
) -> None:
    """Store each item's scores (one ItemScores row) and the labels that apply (Tag rows).

    `untagged`: items known to have no tags yet, so nothing to delete.
    """
    ids = [item_id for item_id, _ in tagged if item_id not in untagged]
    if ids:
        session.execute(delete(Tag).where(Tag.item_id.in_(ids)))
        session.execute(delete(ItemScores).where(ItemScores.item_id.in_(ids)))
    scores, applying = [], []
    for item_id, result in tagged:
        scores.append(
            {
                "item_id": item_id,
                "tagger_version": result.tagger_version,
                "topics": result.topics,
                "frames": result.frames,
                "top_topic_score": max(result.topics.values(), default=0.0),
                "evidence": result.evidence,
            }
        )
        for kind, labels, label_scores in (
            ("topic", result.topic_labels, result.topics),
            ("frame", result.frame_labels, result.frames),
        ):
            for label in labels:
                applying.append(
                    {
                        "item_id": item_id,
                        "kind": kind,
                        "label": label,
                        "score": label_scores[label],
                        "is_positive": True,
                        "evidence": [e for e in result.evidence if e["label"] == label],
                        "tagger_version": result.tagger_version,
                    }
                )
    connection = session.connection()
    if scores:
        connection.execute(insert(ItemScores), scores)
    if applying:
        connection.execute(insert(Tag), applying)


class StoredLabel(NamedTuple):
    """One topic or frame of one item as stored. A tuple, not a dataclass: an export
    builds a dozen per item."""

    kind: str
    score: float
    is_positive: bool
    evidence: list[Any]
    tagger_version: str


def stored_labels(connection: Connection, ids: Sequence[int]) -> dict[int, dict[str, StoredLabel]]:
    """Every label of these items, by item id and label: the score from the ItemScores row,
    applying where a Tag row says so. Items with no scores row keep their Tag rows."""
    applying: dict[int, dict[str, StoredLabel]] = {}
    for item_id, kind, label, score, evidence_text, version in connection.execute(
        select(
            Tag.item_id, Tag.kind, Tag.label, Tag.score, cast(Tag.evidence, Text),
            Tag.tagger_version,
        )
        .where(Tag.item_id.in_(ids), Tag.is_positive.is_(True))
        .order_by(Tag.item_id, Tag.id)
    ):  # fmt: skip
        applying.setdefault(item_id, {})[label] = StoredLabel(
            kind, float(score), True, _json_list(evidence_text), version
        )
    # the JSON as text and the driver's plain tuples: SQLAlchemy's JSON processors and
    # Row objects cost more than the rest of an export's loop
    result = connection.execute(
        select(
            ItemScores.item_id,
            cast(ItemScores.topics, Text),
            cast(ItemScores.frames, Text),
            cast(ItemScores.evidence, Text),
            ItemScores.tagger_version,
        ).where(ItemScores.item_id.in_(ids))
    )
    rows = result.cursor.fetchall()
    result.close()
    found: dict[int, dict[str, StoredLabel]] = {}
    for item_id, topics, frames, all_evidence, version in rows:
        evidence = _json_list(all_evidence)
        positive = applying.pop(item_id, {})
        found[item_id] = labels = {}
        for kind, scores in (("topic", json.loads(topics)), ("frame", json.loads(frames))):
            for label, score in scores.items():
                labels[label] = StoredLabel(
                    kind,
                    float(score),
                    label in positive,
                    [e for e in evidence if e.get("label") == label] if evidence else [],
                    version,
                )
        labels.update({label: tag for label, tag in positive.items() if label not in labels})
    found.update(applying)
    return found


def _json_list(text: str | None) -> list[Any]:
    if not text or text == "[]":
        return []
    value = json.loads(text)
    return value if isinstance(value, list) else []


def item_ids_to_retag(
    session: Session, *, since: datetime | None, batch: int
) -> Iterator[list[int]]:
    """Stored item ids in batches (published since `since`), oldest id first."""
    last = 0
    while True:
        query = select(Item.id).where(Item.id > last).order_by(Item.id).limit(batch)
        if since is not None:
            query = query.where(Item.published_at >= since)
        ids = list(session.scalars(query).all())
        if not ids:
            return
        yield ids
        last = ids[-1]


def corrections_as_labeled(session: Session) -> list[LabeledItem]:
    """Items an analyst corrected, with their labels as corrected (the latest word wins)."""
    corrections = session.scalars(
        select(AnalystLabel).order_by(AnalystLabel.created_at, AnalystLabel.id)
    ).all()
    by_item: dict[int, dict[tuple[str, str], bool]] = {}
    for c in corrections:
        by_item.setdefault(c.item_id, {})[(c.kind, c.label)] = c.applies
    labeled = []
    for item_id, verdicts in sorted(by_item.items()):
        item = session.get(Item, item_id)
        if item is None:
            continue
        current = {
            (t.kind, t.label)
            for t in session.scalars(select(Tag).where(Tag.item_id == item_id, Tag.is_positive))
        }
        for key, applies in verdicts.items():
            (current.add if applies else current.discard)(key)
        topics = tuple(sorted(label for kind, label in current if kind == "topic"))
        frames = (
            tuple(sorted(label for kind, label in current if kind == "frame")) if topics else ()
        )
        labeled.append(
            LabeledItem(
                id=f"store-{item_id}",
                title=item.title,
                summary=item.summary_text,
                content=item.content_text,
                language=item.language,
                published=item.published_at.date().isoformat(),
                topic_labels=topics,
                frame_labels=frames,
            )
        )
    return labeled
