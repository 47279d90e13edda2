"""every label's score in one row per item; tag rows only for labels that apply

Revision ID: 0006
Revises: 0005

A tag row per label and item cost the benchmark's first fetch 35,520 rows, each
through three indexes and the count triggers, for six labels that applied. The
scores of all labels move to item_scores; tags keeps the rows of the labels that
apply, which is all that filters, counts, themes and alerts read. Downgrading
writes the other labels' rows back.

Create Date: 2026-12-07 16:20:00
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

import monitor.store.models
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: items moved per round trip
_BATCH = 1000

_TAGS = sa.table(
    "tags",
    sa.column("id", sa.Integer),
    sa.column("item_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("label", sa.String),
    sa.column("score", sa.Float),
    sa.column("is_positive", sa.Boolean),
    sa.column("evidence", sa.JSON),
    sa.column("tagger_version", sa.String),
    sa.column("created_at", monitor.store.models.UTCDateTime(timezone=True)),
)
_SCORES = sa.table(
    "item_scores",
    sa.column("item_id", sa.Integer),
    sa.column("tagger_version", sa.String),
    sa.column("topics", sa.JSON),
    sa.column("frames", sa.JSON),
    sa.column("top_topic_score", sa.Float),
    sa.column("evidence", sa.JSON),
    sa.column("created_at", monitor.store.models.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "item_scores",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tagger_version", sa.String(length=64), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("frames", sa.JSON(), nullable=False),
        sa.Column("top_topic_score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_item_scores_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_scores")),
    )
    conn = op.get_bind()
    for item_ids in _item_batches(conn, sa.select(_TAGS.c.item_id)):
        rows = conn.execute(
            sa.select(_TAGS).where(_TAGS.c.item_id.in_(item_ids)).order_by(_TAGS.c.id)
        ).all()
        conn.execute(sa.insert(_SCORES), list(_scores_rows(rows)))
    conn.execute(sa.delete(_TAGS).where(_TAGS.c.is_positive.is_(False)))


def _item_batches(conn: sa.Connection, ids: sa.Select[Any]) -> Iterator[list[int]]:
    last = 0
    while True:
        column = ids.selected_columns[0]
        batch = list(
            conn.scalars(ids.where(column > last).distinct().order_by(column).limit(_BATCH))
        )
        if not batch:
            return
        yield batch
        last = batch[-1]


def _scores_rows(tag_rows: list[Any]) -> Iterator[dict[str, Any]]:
    """One row per item from its tag rows in id order: the newest row of a label wins."""
    by_item: dict[int, dict[str, Any]] = {}
    for tag in tag_rows:
        row = by_item.setdefault(
            tag.item_id,
            {"item_id": tag.item_id, "topics": {}, "frames": {}, "labels": {}},
        )
        row["topics" if tag.kind == "topic" else "frames"][tag.label] = tag.score
        row["labels"][tag.label] = tag.evidence or []
        row["tagger_version"], row["created_at"] = tag.tagger_version, tag.created_at
    for row in by_item.values():
        labels = row.pop("labels")
        row["evidence"] = [found for evidence in labels.values() for found in evidence]
        row["top_topic_score"] = max(row["topics"].values(), default=0.0)
        yield row


def downgrade() -> None:
    conn = op.get_bind()
    for item_ids in _item_batches(conn, sa.select(_SCORES.c.item_id)):
        applying = {
            (item_id, label)
            for item_id, label in conn.execute(
                sa.select(_TAGS.c.item_id, _TAGS.c.label).where(_TAGS.c.item_id.in_(item_ids))
            )
        }
        rows = []
        for scores in conn.execute(sa.select(_SCORES).where(_SCORES.c.item_id.in_(item_ids))):
            for kind, labels in (("topic", scores.topics), ("frame", scores.frames)):
                for label, score in labels.items():
                    if (scores.item_id, label) in applying:
                        continue
                    rows.append({
                        "item_id": scores.item_id, "kind": kind, "label": label, "score": score,
                        "is_positive": False, "tagger_version": scores.tagger_version,
                        "evidence": [e for e in scores.evidence if e.get("label") == label],
                        "created_at": scores.created_at,
                    })  # fmt: skip
        if rows:
            conn.execute(sa.insert(_TAGS), rows)
    op.drop_table("item_scores")
